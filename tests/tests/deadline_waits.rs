//! The GitHub and Port clients under a deadline (`port_github_core::deadline`): a wait that ends
//! before the deadline is slept, a longer one ends the call at once with the wait it needed, and
//! the deadline remembers that a wait was refused. Against the simulators; the GitHub client
//! sleeps on the simulator's manual clock and the Port client's waits are recorded, so nothing
//! here really sleeps.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use port_github_core::deadline::{self, Deadline};
use port_github_core::github::{Feature, GitHubError};
use port_github_core::port::{Entity, UpsertOptions, UpsertResult};
use port_github_simulators::github_sim::{OrgSpec, SimHarness};
use port_github_simulators::port_sim::harness::spawn_with;
use port_github_simulators::port_sim::{Endpoint, Fault};
use serde_json::json;

fn repository(identifier: &str) -> Entity {
    serde_json::from_value(
        json!({"identifier": identifier, "blueprint": "githubRepository",
        "properties": {}, "relations": {}}),
    )
    .unwrap()
}

#[tokio::test]
async fn github_sleeps_a_rate_limit_that_fits_and_hands_back_one_that_does_not() {
    let github = SimHarness::start(OrgSpec::default()).await.unwrap();
    let client = github.pat_client(github.client_config()).unwrap();

    // A secondary limit of 3 s, 10 s before the deadline: slept (on the manual clock), then served.
    github.sim.faults(|f| {
        f.secondary_next = 1;
        f.secondary_retry_after = Some(3);
    });
    let served = Deadline::after(Duration::from_secs(10))
        .scope(async {
            let answer = client.get("/orgs/sim-org", Feature::Required).await;
            (answer, deadline::take_refused())
        })
        .await;
    assert!(served.0.is_ok(), "{:?}", served.0);
    assert_eq!(served.1, None, "nothing refused");
    assert!(github.clock.total_slept() >= Duration::from_secs(3));

    // A secondary limit of 30 s with 5 s left: not slept, the call hands back "retry at".
    let before = github.clock.total_slept();
    let total_before = github.sim.total().total;
    github.sim.faults(|f| {
        f.secondary_next = 1;
        f.secondary_retry_after = Some(30);
    });
    let (answer, refused) = Deadline::after(Duration::from_secs(5))
        .scope(async {
            let answer = client.get("/orgs/sim-org/members", Feature::Required).await;
            (answer, deadline::take_refused())
        })
        .await;
    let error = answer.unwrap_err();
    assert!(
        matches!(error, GitHubError::RateLimited { .. }),
        "handed back: {error}"
    );
    assert!(error.retry_at().is_some());
    assert_eq!(github.clock.total_slept(), before, "nothing slept");
    assert_eq!(
        github.sim.total().total,
        total_before + 1,
        "one request, no retry"
    );
    let refused = refused.expect("the deadline knows a wait was refused");
    assert!(refused >= Duration::from_secs(29), "{refused:?}");
}

#[tokio::test]
async fn github_does_not_back_off_past_the_deadline() {
    let github = SimHarness::start(OrgSpec::default()).await.unwrap();
    let mut config = github.client_config();
    config.retry_base = Duration::from_secs(2);
    let client = github.pat_client(config).unwrap();
    github.sim.faults(|f| f.bad_gateway_next = 10);
    let total_before = github.sim.total().total;
    let answer = Deadline::after(Duration::from_secs(1))
        .scope(client.get("/orgs/sim-org", Feature::Required))
        .await;
    assert!(
        matches!(answer, Err(GitHubError::Transient { .. })),
        "{answer:?}"
    );
    assert_eq!(
        github.sim.total().total,
        total_before + 1,
        "a 2 s back-off does not fit 1 s: no retry"
    );
    // Without a deadline the same client retries through the burst.
    github.sim.faults(|f| f.bad_gateway_next = 2);
    assert!(client.get("/orgs/sim-org", Feature::Required).await.is_ok());
}

#[tokio::test]
async fn port_sleeps_a_retry_after_that_fits_and_gives_up_on_one_that_does_not() {
    let (port, client, sleeper) = spawn_with(|config| {
        config.retry.max_wait = Duration::from_secs(60);
    })
    .await
    .unwrap();

    // Retry-After 3 s with a minute left: slept, then stored.
    port.fail_next(
        Some(Endpoint::BulkUpsert),
        Fault::RateLimited {
            retry_after_secs: 3,
        },
        1,
    );
    let outcomes = Deadline::after(Duration::from_secs(60))
        .scope(client.upsert_entities(&[repository("a")], UpsertOptions::default()))
        .await;
    assert!(outcomes[0].is_ok(), "{outcomes:?}");
    assert_eq!(sleeper.waits(), [Duration::from_secs(3)]);

    // Retry-After 30 s with 5 s left: not slept; transient, carrying Port's hint.
    port.fail_next(
        Some(Endpoint::BulkUpsert),
        Fault::RateLimited {
            retry_after_secs: 30,
        },
        10,
    );
    let (outcomes, refused) = Deadline::after(Duration::from_secs(5))
        .scope(async {
            let outcomes = client
                .upsert_entities(&[repository("b")], UpsertOptions::default())
                .await;
            (outcomes, deadline::take_refused())
        })
        .await;
    let UpsertResult::Failed(failure) = &outcomes[0].result else {
        panic!("not stored: {outcomes:?}");
    };
    assert!(failure.transient);
    assert_eq!(failure.retry_after, Some(Duration::from_secs(30)));
    assert_eq!(sleeper.waits().len(), 1, "the 30 s wait was not slept");
    assert_eq!(refused, Some(Duration::from_secs(30)));
    assert!(port.entity("githubRepository", "b").is_none());
}
