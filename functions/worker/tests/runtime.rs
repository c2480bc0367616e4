//! The real `worker` binary under a Lambda Runtime API emulator: an SQS batch event in, the Port
//! simulator's catalog updated from the GitHub simulator, `batchItemFailures` out.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::Duration;

use port_github_core::github::Feature;
use port_github_simulators::fixtures::fixtures_dir;
use port_github_simulators::github_sim::{OrgSpec, SimHarness};
use port_github_simulators::port_sim::harness::{INTEGRATION_ID, INTEGRATION_TYPE, spawn};
use port_github_simulators::port_sim::{CLIENT_ID, CLIENT_SECRET};
use port_github_tests::lambda_runtime_api::{
    KillOnDrop, Outcome, RuntimeApi, events_record as record,
};
use serde_json::{Value, json};

fn worker(runtime: &RuntimeApi, env: &[(&str, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_worker"));
    command
        .env_clear()
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (key, value) in runtime.lambda_env("worker") {
        command.env(key, value);
    }
    command
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x");
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

#[tokio::test]
async fn applies_an_sqs_batch_and_hands_back_only_the_unreadable_message() {
    let github = SimHarness::start(OrgSpec::default()).await.unwrap();
    let client = github.pat_client(github.client_config()).unwrap();
    let (port, _, _) = spawn().await.unwrap();
    let repos = client
        .get("/orgs/sim-org/repos?per_page=100", Feature::Required)
        .await
        .unwrap();
    let repo = repos[0].clone();
    let prs = client
        .get(
            &format!(
                "/repos/sim-org/{}/pulls?state=open",
                repo["name"].as_str().unwrap()
            ),
            Feature::Required,
        )
        .await
        .unwrap();
    let pr = prs[0].clone();

    let runtime = RuntimeApi::start().await.unwrap();
    let env = [
        ("GITHUB_API_URL", github.sim.base_url().to_owned()),
        (
            "GITHUB_TOKEN",
            github.sim.personal_token().unwrap().to_owned(),
        ),
        ("PORT_API_URL", port.base_url().to_owned()),
        ("PORT_CLIENT_ID", CLIENT_ID.to_owned()),
        ("PORT_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("PORT_INTEGRATION_ID", INTEGRATION_ID.to_owned()),
        ("PORT_INTEGRATION_TYPE", INTEGRATION_TYPE.to_owned()),
        (
            "PORT_APP_CONFIG",
            fixtures_dir()
                .join("ocean/port-app-config.yml")
                .display()
                .to_string(),
        ),
    ];
    let _worker = KillOnDrop(
        worker(&runtime, &env)
            .spawn()
            .expect("spawn the worker binary"),
    );

    let envelope = json!({"version": 1, "event": "pull_request", "action": "opened", "delivery_id": "d-1",
        "received_at": "2026-11-24T00:00:00Z", "organization": "sim-org",
        "payload": {"action": "opened", "pull_request": pr, "repository": repo, "organization": {"login": "sim-org"}}});
    let event = json!({"Records": [
        record("m-1", "repo-1-pr-1", envelope.to_string()),
        record("m-2", "repo-1-pr-2", "not an envelope".to_owned()),
    ]});
    let answer = match runtime
        .invoke(&event, Duration::from_secs(60))
        .await
        .unwrap()
    {
        Outcome::Response(answer) => answer,
        Outcome::Error(error) => panic!("the worker reported an error: {error}"),
    };
    // Without EVENTS_DLQ_URL the message that can never be read is handed back, for the
    // queue's redrive policy to move to the dead-letter queue: kept, never dropped.
    assert_eq!(
        answer["batchItemFailures"],
        json!([{"itemIdentifier": "m-2"}]),
        "{answer}"
    );
    let identifier = format!(
        "{}{}",
        pr["head"]["repo"]["name"].as_str().unwrap(),
        pr["id"]
    );
    assert!(
        port.entity("githubPullRequest", &identifier).is_some(),
        "the PR is in the catalog"
    );
}

#[tokio::test]
async fn refuses_to_start_without_github_credentials() {
    let runtime = RuntimeApi::start().await.unwrap();
    let env = [
        (
            "PORT_CREDENTIALS_ARN",
            "arn:aws:secretsmanager:us-east-1:1:secret:p".to_owned(),
        ),
        ("PORT_INTEGRATION_ID", "gh".to_owned()),
    ];
    let output = worker(&runtime, &env).output().unwrap();
    assert!(!output.status.success());
    assert_eq!(
        output.status.code(),
        Some(2),
        "the start-up failure exit status"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("GITHUB_APP_ID") && stderr.contains("GITHUB_TOKEN"),
        "{stderr}"
    );
    assert!(runtime.first_poll().is_none());
}

/// The worker's settings against the two simulators.
fn simulator_env(
    github: &SimHarness,
    port: &port_github_simulators::port_sim::PortSim,
) -> Vec<(&'static str, String)> {
    vec![
        ("GITHUB_API_URL", github.sim.base_url().to_owned()),
        (
            "GITHUB_TOKEN",
            github.sim.personal_token().unwrap().to_owned(),
        ),
        ("PORT_API_URL", port.base_url().to_owned()),
        ("PORT_CLIENT_ID", CLIENT_ID.to_owned()),
        ("PORT_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("PORT_INTEGRATION_ID", INTEGRATION_ID.to_owned()),
        ("PORT_INTEGRATION_TYPE", INTEGRATION_TYPE.to_owned()),
        (
            "PORT_APP_CONFIG",
            fixtures_dir()
                .join("ocean/port-app-config.yml")
                .display()
                .to_string(),
        ),
    ]
}

/// A repository deleted (only Port's delete, no upsert), then three pull-request events in two
/// groups (each an upsert), about repository `repo`.
async fn deletion_then_upserts(github: &SimHarness) -> (String, Value) {
    let client = github.pat_client(github.client_config()).unwrap();
    let repos = client
        .get("/orgs/sim-org/repos?per_page=100", Feature::Required)
        .await
        .unwrap();
    let (gone, repo) = (repos[1].clone(), repos[0].clone());
    let name = repo["name"].as_str().unwrap();
    let prs = client
        .get(
            &format!("/repos/sim-org/{name}/pulls?state=open"),
            Feature::Required,
        )
        .await
        .unwrap();
    let pr_event = |delivery: &str, action: &str, pr: &Value| {
        json!({"version": 1, "event": "pull_request", "action": action, "delivery_id": delivery,
            "received_at": "2026-11-24T00:00:00Z", "organization": "sim-org",
            "payload": {"action": action, "pull_request": pr, "repository": repo, "organization": {"login": "sim-org"}}})
        .to_string()
    };
    let deleted =
        json!({"version": 1, "event": "repository", "action": "deleted", "delivery_id": "d-gone",
        "received_at": "2026-11-24T00:00:00Z", "organization": "sim-org",
        "payload": {"action": "deleted", "repository": gone, "organization": {"login": "sim-org"}}})
        .to_string();
    let event = json!({"Records": [
        record("m-1", "repo-gone", deleted),
        record("m-2", "pr-1", pr_event("d-2", "opened", &prs[0])),
        record("m-3", "pr-2", pr_event("d-3", "opened", &prs[1])),
        record("m-4", "pr-1", pr_event("d-4", "edited", &prs[0])),
    ]});
    (gone["name"].as_str().unwrap().to_owned(), event)
}

#[tokio::test]
async fn a_wait_past_the_deadline_hands_back_only_what_was_not_applied() {
    use port_github_simulators::port_sim::{Endpoint, Fault};
    let github = SimHarness::start(OrgSpec::default()).await.unwrap();
    let (port, _, _) = spawn().await.unwrap();
    let (gone, event) = deletion_then_upserts(&github).await;
    // The deleted repository is in the catalog, written by this integration.
    port.seed_entity(
        "githubRepository",
        json!({"identifier": gone, "properties": {}}),
        Some(&format!(
            "port-ocean/{INTEGRATION_TYPE}/{}/{INTEGRATION_ID}/exporter",
            env!("CARGO_PKG_VERSION")
        )),
    )
    .unwrap();
    // Port turns every upsert away for 30 s.
    port.fail_next(
        Some(Endpoint::BulkUpsert),
        Fault::RateLimited {
            retry_after_secs: 30,
        },
        100,
    );
    // A short invocation: 12 s, of which the worker keeps 5 s for its answer.
    let timeout = Duration::from_secs(12);
    let runtime = RuntimeApi::start_with_timeout(timeout).await.unwrap();
    let _worker = KillOnDrop(
        worker(&runtime, &simulator_env(&github, &port))
            .spawn()
            .expect("spawn the worker binary"),
    );
    let answer = match runtime
        .invoke(&event, Duration::from_secs(60))
        .await
        .unwrap()
    {
        Outcome::Response(answer) => answer,
        Outcome::Error(error) => panic!("the worker reported an error: {error}"),
    };
    let invocation = runtime.invocations().pop().unwrap();
    let took = invocation.finished.unwrap() - invocation.started;
    println!(
        "answered in {} ms of a {} s timeout",
        took.as_millis(),
        timeout.as_secs()
    );
    assert!(
        !invocation.late(),
        "answered before the deadline ({took:?})"
    );
    let failures: Vec<&str> = answer["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap())
        .collect();
    assert_eq!(
        failures,
        ["m-2", "m-3", "m-4"],
        "the applied deletion is not handed back; the rest is: {answer}"
    );
    assert!(
        port.entity("githubRepository", &gone).is_none(),
        "m-1 was applied"
    );
    assert_eq!(
        port.requests_to(Endpoint::BulkUpsert).len(),
        1,
        "m-2's upsert was tried once and not slept on; m-3 and m-4 were not started"
    );
    assert!(port.entities_of("githubPullRequest").is_empty());
}

#[tokio::test]
async fn a_wait_that_fits_the_deadline_is_slept_and_nothing_is_handed_back() {
    use port_github_simulators::port_sim::{Endpoint, Fault};
    let github = SimHarness::start(OrgSpec::default()).await.unwrap();
    let (port, _, _) = spawn().await.unwrap();
    let (_, event) = deletion_then_upserts(&github).await;
    port.fail_next(
        Some(Endpoint::BulkUpsert),
        Fault::RateLimited {
            retry_after_secs: 2,
        },
        1,
    );
    // The template's timeout: plenty of time for a 2 s wait.
    let runtime = RuntimeApi::start_with_timeout(Duration::from_secs(120))
        .await
        .unwrap();
    let _worker = KillOnDrop(
        worker(&runtime, &simulator_env(&github, &port))
            .spawn()
            .expect("spawn the worker binary"),
    );
    let answer = match runtime
        .invoke(&event, Duration::from_secs(60))
        .await
        .unwrap()
    {
        Outcome::Response(answer) => answer,
        Outcome::Error(error) => panic!("the worker reported an error: {error}"),
    };
    assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    assert_eq!(port.entities_of("githubPullRequest").len(), 2);
    let invocation = runtime.invocations().pop().unwrap();
    let took = invocation.finished.unwrap() - invocation.started;
    assert!(took >= Duration::from_secs(2), "slept Port's 2 s: {took:?}");
}
