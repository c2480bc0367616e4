//! The organization webhook against the GitHub simulator: reconciliation (create, update on
//! drift, other hooks left alone, duplicates, missing permission) and redelivery of failed
//! deliveries (exactly the failed events, once across runs, within GitHub's 3-day window).

use chrono::{DateTime, TimeDelta, Utc};
use port_github_core::github::{Clock as _, GitHubClient, PER_PAGE};
use port_github_core::hook_admin::reconcile::{
    DesiredHook, HookChange, HookOutcome, ensure_org_webhook, find_org_webhooks,
};
use port_github_core::hook_admin::redelivery::redeliver_failed;
use port_github_core::state::{InMemoryStateStore, StateStore};
use port_github_core::webhook::events::handled_event_names;
use port_github_simulators::github_sim::{HooksAccess, OrgSpec, SimDelivery, SimHarness, SimHook};
use secrecy::SecretString;

const URL: &str = "https://abc123.lambda-url.eu-west-1.on.aws/";

async fn setup() -> (SimHarness, GitHubClient) {
    let harness = SimHarness::start(OrgSpec::default())
        .await
        .expect("simulator starts");
    let client = harness
        .pat_client(harness.client_config())
        .expect("client builds");
    (harness, client)
}

fn secret(text: &str) -> SecretString {
    SecretString::from(text.to_owned())
}

fn handled() -> Vec<String> {
    let mut names: Vec<String> = handled_event_names().map(str::to_owned).collect();
    names.sort();
    names.dedup();
    names
}

fn other_hook(url: &str, now: DateTime<Utc>) -> SimHook {
    SimHook {
        id: 0,
        active: true,
        events: vec!["push".to_owned()],
        url: url.to_owned(),
        content_type: "form".to_owned(),
        insecure_ssl: "0".to_owned(),
        secret: Some("theirs".to_owned()),
        created_at: now,
    }
}

async fn ensure(
    harness: &SimHarness,
    client: &GitHubClient,
    state: &dyn StateStore,
    url: &str,
    current: &str,
) -> HookOutcome {
    let secret = secret(current);
    let desired = DesiredHook::new(url, &secret, handled_event_names());
    ensure_org_webhook(
        client,
        harness.sim.org(),
        &desired,
        state,
        harness.clock.now(),
    )
    .await
    .expect("ensure runs")
}

#[tokio::test]
async fn creates_the_hook_then_leaves_it_unchanged() {
    let (harness, client) = setup().await;
    let state = InMemoryStateStore::default();
    let created = ensure(&harness, &client, &state, URL, "s3cret").await;
    let HookOutcome::Created { hook_id } = created else {
        panic!("expected Created, got {created:?}");
    };
    let hooks = harness.sim.hooks();
    assert_eq!(hooks.len(), 1);
    let hook = &hooks[0];
    assert_eq!(hook.id, hook_id);
    assert!(hook.active);
    assert_eq!(hook.url, URL);
    assert_eq!(hook.content_type, "json");
    assert_eq!(hook.insecure_ssl, "0");
    assert_eq!(hook.secret.as_deref(), Some("s3cret"));
    assert_eq!(hook.events, handled());

    let again = ensure(&harness, &client, &state, URL, "s3cret").await;
    assert_eq!(again, HookOutcome::Unchanged { hook_id });
    assert_eq!(harness.sim.count("PATCH /orgs/{org}/hooks/{id}").total, 0);
    assert_eq!(harness.sim.count("POST /orgs/{org}/hooks").total, 1);
}

#[tokio::test]
async fn updates_every_kind_of_drift_and_keeps_the_secret() {
    let (harness, client) = setup().await;
    let state = InMemoryStateStore::default();
    let now = harness.clock.now();
    let mut events = handled();
    events.retain(|name| name != "issues");
    events.push("fork".to_owned());
    let hook_id = harness.sim.add_hook(SimHook {
        id: 0,
        active: false,
        events,
        url: URL.to_ascii_uppercase().replace("HTTPS", "https"),
        content_type: "form".to_owned(),
        insecure_ssl: "1".to_owned(),
        secret: None,
        created_at: now,
    });
    let outcome = ensure(&harness, &client, &state, URL, "s3cret").await;
    let HookOutcome::Updated {
        hook_id: updated,
        changed,
    } = outcome
    else {
        panic!("expected Updated, got {outcome:?}");
    };
    assert_eq!(updated, hook_id);
    assert!(changed.contains(&HookChange::Active));
    assert!(changed.contains(&HookChange::Events {
        added: vec!["issues".to_owned()],
        removed: vec!["fork".to_owned()],
    }));
    assert!(changed.contains(&HookChange::ContentType {
        was: "form".to_owned()
    }));
    assert!(changed.contains(&HookChange::InsecureSsl));
    assert!(changed.iter().any(|c| matches!(c, HookChange::Url { .. })));
    assert!(changed.contains(&HookChange::Secret));
    let hooks = harness.sim.hooks();
    assert_eq!(hooks.len(), 1);
    let hook = &hooks[0];
    assert!(hook.active);
    assert_eq!(hook.url, URL);
    assert_eq!(hook.content_type, "json");
    assert_eq!(hook.insecure_ssl, "0");
    assert_eq!(hook.events, handled());
    assert_eq!(hook.secret.as_deref(), Some("s3cret"));

    // Nothing differs: another hook appearing changes nothing for ours.
    harness
        .sim
        .add_hook(other_hook("https://elsewhere.example/hook", now));
    let outcome = ensure(&harness, &client, &state, URL, "s3cret").await;
    assert_eq!(outcome, HookOutcome::Unchanged { hook_id });

    // A rotated secret is set, with the whole config.
    let outcome = ensure(&harness, &client, &state, URL, "rotated").await;
    assert_eq!(
        outcome,
        HookOutcome::Updated {
            hook_id,
            changed: vec![HookChange::Secret]
        }
    );
    let ours = harness
        .sim
        .hooks()
        .into_iter()
        .find(|h| h.id == hook_id)
        .expect("our hook is still there");
    assert_eq!(ours.secret.as_deref(), Some("rotated"));
    assert_eq!(ours.url, URL);
}

#[tokio::test]
async fn leaves_other_hooks_alone_and_removes_duplicates_of_ours() {
    let (harness, client) = setup().await;
    let state = InMemoryStateStore::default();
    let now = harness.clock.now();
    let theirs = other_hook("https://ci.example/github", now);
    let theirs_id = harness.sim.add_hook(theirs.clone());
    let mut oldest = other_hook(URL, now - TimeDelta::days(2));
    oldest.events = handled();
    oldest.content_type = "json".to_owned();
    let oldest_id = harness.sim.add_hook(oldest);
    let duplicate_id = harness
        .sim
        .add_hook(other_hook(URL.trim_end_matches('/'), now));

    let outcome = ensure(&harness, &client, &state, URL, "s3cret").await;
    let HookOutcome::Updated { hook_id, changed } = outcome else {
        panic!("expected Updated, got {outcome:?}");
    };
    assert_eq!(hook_id, oldest_id);
    assert!(changed.contains(&HookChange::RemovedDuplicate {
        hook_id: duplicate_id
    }));
    let hooks = harness.sim.hooks();
    assert_eq!(hooks.len(), 2);
    let kept_theirs = hooks
        .iter()
        .find(|h| h.id == theirs_id)
        .expect("their hook is kept");
    assert_eq!(
        *kept_theirs,
        SimHook {
            id: theirs_id,
            ..theirs
        }
    );
    let ours = find_org_webhooks(&client, harness.sim.org(), URL)
        .await
        .expect("lists");
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].id, oldest_id);
}

#[tokio::test]
async fn missing_permission_is_an_outcome_not_an_error() {
    let (harness, client) = setup().await;
    let state = InMemoryStateStore::default();
    for (access, status) in [(HooksAccess::Forbidden, 403), (HooksAccess::NotFound, 404)] {
        harness.sim.set_hooks_access(access);
        let outcome = ensure(&harness, &client, &state, URL, "s3cret").await;
        assert_eq!(outcome, HookOutcome::NotPermitted { status });
    }
    // The rest still works with the same client.
    let org = client
        .get(
            &format!("/orgs/{}", harness.sim.org()),
            port_github_core::github::Feature::Required,
        )
        .await
        .expect("other endpoints still answer");
    assert_eq!(org["login"], harness.sim.org());
    assert!(harness.sim.hooks().is_empty());
}

#[tokio::test]
async fn a_4xx_on_write_is_not_retried() {
    let (harness, client) = setup().await;
    let body = serde_json::json!({"name": "web", "config": {"content_type": "json"}});
    let err = client
        .send_json(
            reqwest::Method::POST,
            &format!("/orgs/{}/hooks", harness.sim.org()),
            &body,
        )
        .await
        .expect_err("GitHub refuses a hook without a URL");
    assert!(!err.is_retryable(), "{err}");
    assert_eq!(harness.sim.count("POST /orgs/{org}/hooks").total, 1);
    harness.sim.faults(|f| f.bad_gateway_next = 1);
    let body = serde_json::json!({"name": "web", "config": {"url": URL}});
    client
        .send_json(
            reqwest::Method::POST,
            &format!("/orgs/{}/hooks", harness.sim.org()),
            &body,
        )
        .await
        .expect("a 502 is retried");
    assert_eq!(harness.sim.count("POST /orgs/{org}/hooks").total, 3);
}

fn delivery(guid: &str, status_code: u16, at: DateTime<Utc>, redelivery: bool) -> SimDelivery {
    SimDelivery {
        guid: guid.to_owned(),
        status_code,
        delivered_at: at,
        redelivery,
        event: "push".to_owned(),
    }
}

#[tokio::test]
async fn redelivers_exactly_the_failed_events_once_across_runs() {
    let (harness, client) = setup().await;
    let state = InMemoryStateStore::default();
    let created = ensure(&harness, &client, &state, URL, "s3cret").await;
    let hook = created.hook_id().expect("a hook");
    let now = harness.clock.now();
    let at = |minutes: i64| now - TimeDelta::minutes(minutes);
    let sim = &harness.sim;
    // ok: one success.
    sim.add_delivery(hook, delivery("ok", 200, at(50), false));
    // failed twice: redeliver once, its latest delivery.
    sim.add_delivery(hook, delivery("twice", 502, at(40), false));
    let twice_latest = sim.add_delivery(hook, delivery("twice", 504, at(30), false));
    // failed, then a success: nothing to do.
    sim.add_delivery(hook, delivery("healed", 500, at(20), false));
    sim.add_delivery(hook, delivery("healed", 200, at(10), true));
    // failed once.
    let single = sim.add_delivery(hook, delivery("single", 503, at(5), false));
    // a failed redelivery of an event whose original succeeded: ours, not a new failure.
    sim.add_delivery(hook, delivery("ok", 500, at(4), true));
    // too old: outside GitHub's 3-day window.
    sim.add_delivery(
        hook,
        delivery(
            "ancient",
            500,
            now - TimeDelta::days(3) - TimeDelta::minutes(1),
            false,
        ),
    );
    // Enough successes to need several pages.
    for n in 0..(PER_PAGE as i64 + 5) {
        sim.add_delivery(hook, delivery(&format!("bulk-{n}"), 200, at(60 + n), false));
    }

    let report = redeliver_failed(&client, sim.org(), hook, &state, now)
        .await
        .expect("redelivery runs");
    let mut redelivered = report.redelivered.clone();
    redelivered.sort();
    assert_eq!(redelivered, vec!["single".to_owned(), "twice".to_owned()]);
    assert_eq!(report.succeeded_since, 1);
    assert_eq!(report.already_handled, 0);
    assert!(report.refused.is_empty() && report.deferred.is_empty());
    let mut requested = sim.redeliveries();
    requested.sort();
    let mut expected = vec![(hook, twice_latest), (hook, single)];
    expected.sort();
    assert_eq!(requested, expected);
    assert!(sim.count("GET /orgs/{org}/hooks/{id}/deliveries").total >= 2);

    // A second run: the redeliveries succeeded (logged as new deliveries); nothing is sent again.
    harness.clock.advance(std::time::Duration::from_secs(600));
    let report = redeliver_failed(&client, sim.org(), hook, &state, harness.clock.now())
        .await
        .expect("second run");
    assert!(report.redelivered.is_empty(), "{report:?}");
    assert_eq!(sim.redeliveries().len(), 2);

    // A third run where the redeliveries had failed: still not sent twice.
    sim.set_redelivery_status(502);
    let failing = sim.add_delivery(hook, delivery("late", 500, harness.clock.now(), false));
    let report = redeliver_failed(&client, sim.org(), hook, &state, harness.clock.now())
        .await
        .expect("third run");
    assert_eq!(report.redelivered, vec!["late".to_owned()]);
    harness.clock.advance(std::time::Duration::from_secs(600));
    let report = redeliver_failed(&client, sim.org(), hook, &state, harness.clock.now())
        .await
        .expect("fourth run");
    assert!(report.redelivered.is_empty(), "{report:?}");
    assert_eq!(
        sim.redeliveries()
            .iter()
            .filter(|(_, id)| *id == failing)
            .count(),
        1
    );
}

#[tokio::test]
async fn handled_events_are_remembered_without_a_checkpoint() {
    let (harness, client) = setup().await;
    let state = InMemoryStateStore::default();
    let hook = ensure(&harness, &client, &state, URL, "s3cret")
        .await
        .hook_id()
        .expect("a hook");
    let now = harness.clock.now();
    harness.sim.set_redelivery_status(500);
    harness.sim.add_delivery(
        hook,
        delivery("lost", 502, now - TimeDelta::hours(30), false),
    );
    let first = redeliver_failed(&client, harness.sim.org(), hook, &state, now)
        .await
        .expect("first run");
    assert_eq!(first.redelivered, vec!["lost".to_owned()]);
    // Forget the checkpoint: the handled GUID alone stops a second redelivery.
    state
        .delete(port_github_core::state::Key::new(
            port_github_core::hook_admin::redelivery::REDELIVERY_PARTITION,
            &format!(
                "{}/{hook}/checkpoint",
                harness.sim.org().to_ascii_lowercase()
            ),
        ))
        .await
        .expect("delete");
    let second = redeliver_failed(&client, harness.sim.org(), hook, &state, now)
        .await
        .expect("second run");
    assert!(second.redelivered.is_empty());
    assert_eq!(second.already_handled, 1);
    assert_eq!(harness.sim.redeliveries().len(), 1);
}

#[tokio::test]
async fn redelivery_without_permission_is_reported() {
    let (harness, client) = setup().await;
    let state = InMemoryStateStore::default();
    let hook = ensure(&harness, &client, &state, URL, "s3cret")
        .await
        .hook_id()
        .expect("a hook");
    harness.sim.set_hooks_access(HooksAccess::Forbidden);
    let err = redeliver_failed(
        &client,
        harness.sim.org(),
        hook,
        &state,
        harness.clock.now(),
    )
    .await
    .expect_err("forbidden");
    let status = err
        .github()
        .and_then(port_github_core::hook_admin::permission_denied);
    assert_eq!(status, Some(403));
}

#[tokio::test]
async fn no_double_redelivery_with_the_dynamodb_store() {
    let sdk = port_github_tests::moto::moto().sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let table = port_github_tests::moto::create_state_table(&dynamodb, "hooks")
        .await
        .expect("state table in moto");
    let state = port_github_core::state::DynamoDbStateStore::new(dynamodb, table);
    let (harness, client) = setup().await;
    let hook = ensure(&harness, &client, &state, URL, "s3cret")
        .await
        .hook_id()
        .expect("a hook");
    // The fingerprint lives in DynamoDB: a second ensure leaves the secret alone.
    let again = ensure(&harness, &client, &state, URL, "s3cret").await;
    assert_eq!(again, HookOutcome::Unchanged { hook_id: hook });
    let now = harness.clock.now();
    harness.sim.set_redelivery_status(500);
    harness.sim.add_delivery(
        hook,
        delivery("dropped", 503, now - TimeDelta::hours(2), false),
    );
    let first = redeliver_failed(&client, harness.sim.org(), hook, &state, now)
        .await
        .expect("first run");
    assert_eq!(first.redelivered, vec!["dropped".to_owned()]);
    harness.clock.advance(std::time::Duration::from_secs(300));
    let second = redeliver_failed(
        &client,
        harness.sim.org(),
        hook,
        &state,
        harness.clock.now(),
    )
    .await
    .expect("second run");
    assert!(second.redelivered.is_empty(), "{second:?}");
    assert_eq!(harness.sim.redeliveries().len(), 1);
}

#[tokio::test]
async fn resync_upkeep_ensures_then_redelivers_and_survives_a_missing_permission() {
    use port_github_core::hook_admin::upkeep_org_webhook;
    let (harness, client) = setup().await;
    let state = InMemoryStateStore::default();
    let secret = secret("s3cret");
    let desired = DesiredHook::new(URL, &secret, handled_event_names());
    let org = harness.sim.org().to_owned();
    let now = harness.clock.now();
    let first = upkeep_org_webhook(&client, &org, &desired, &state, now)
        .await
        .expect("upkeep runs");
    let hook = first.hook.hook_id().expect("created");
    assert!(matches!(first.hook, HookOutcome::Created { .. }));
    assert_eq!(first.redelivery.map(|r| r.deliveries_seen), Some(0));
    harness
        .sim
        .add_delivery(hook, delivery("missed", 500, now, false));
    let second = upkeep_org_webhook(&client, &org, &desired, &state, now)
        .await
        .expect("upkeep runs");
    assert_eq!(second.hook, HookOutcome::Unchanged { hook_id: hook });
    assert_eq!(
        second.redelivery.map(|r| r.redelivered),
        Some(vec!["missed".to_owned()])
    );
    harness.sim.set_hooks_access(HooksAccess::NotFound);
    let refused = upkeep_org_webhook(&client, &org, &desired, &state, now)
        .await
        .expect("a missing permission is not an error");
    assert_eq!(refused.hook, HookOutcome::NotPermitted { status: 404 });
    assert_eq!(refused.redelivery, None);
}

#[tokio::test]
async fn an_events_only_drift_patches_the_events_alone() {
    let (harness, client) = setup().await;
    let state = InMemoryStateStore::default();
    let hook = ensure(&harness, &client, &state, URL, "s3cret")
        .await
        .hook_id()
        .expect("a hook");
    // Someone narrows the events by hand.
    client
        .send_json(
            reqwest::Method::PATCH,
            &format!("/orgs/{}/hooks/{hook}", harness.sim.org()),
            &serde_json::json!({"events": ["push"]}),
        )
        .await
        .expect("patch");
    let outcome = ensure(&harness, &client, &state, URL, "s3cret").await;
    let HookOutcome::Updated { changed, .. } = outcome else {
        panic!("expected Updated, got {outcome:?}");
    };
    assert!(
        matches!(changed.as_slice(), [HookChange::Events { removed, .. }] if removed.is_empty()),
        "{changed:?}"
    );
    let hooks = harness.sim.hooks();
    assert_eq!(hooks[0].events, handled());
    assert_eq!(hooks[0].secret.as_deref(), Some("s3cret"));
}
