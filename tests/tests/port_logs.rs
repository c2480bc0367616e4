//! Warnings and errors of the live path reach Port's integration log (the Port simulator's
//! ingest, found through the integration record's `logAttributes.ingestUrl`), masked; shipping is
//! off and quiet without that attribute; a failing ingest neither fails nor holds up events; the
//! buffer stays bounded under a flood and says how much it dropped; the ingest is strict.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use port_github_core::config::{Env, WorkerConfig};
use port_github_core::github::{EtagStore, Feature, InMemoryEtagStore};
use port_github_core::live::{
    BatchSettings, DeadLetters, InMemoryDeadLetters, LiveProcessor, QueuedEvent, process_batch,
};
use port_github_core::log_shipping::{Flushed, LogShipper, ShipperSettings, ShippingState};
use port_github_core::mapping::{CompiledMapping, JqOptions, PortAppConfig};
use port_github_core::port::logs::PortLogIngest;
use port_github_core::sync::setup::{github_clients, port_client};
use port_github_simulators::fixtures::fixtures_dir;
use port_github_simulators::github_sim::{OrgSpec, SimHarness};
use port_github_simulators::port_sim::harness::{INTEGRATION_ID, blueprints_fixture};
use port_github_simulators::port_sim::{CLIENT_ID, CLIENT_SECRET, Endpoint, Fault, PortSim};
use serde_json::{Value, json};
use tracing_subscriber::layer::SubscriberExt as _;

const FLUSH: Duration = Duration::from_secs(10);

struct World {
    github: SimHarness,
    port: PortSim,
    processor: LiveProcessor,
    dead_letters: InMemoryDeadLetters,
    shipper: LogShipper,
    _guard: tracing::subscriber::DefaultGuard,
}

/// Both simulators, a processor built by the worker's own setup functions from plain settings
/// (so its secrets are registered for masking as in the function), and a shipper whose layer
/// captures this thread's events (the tests run on a current-thread runtime).
async fn world(settings: ShipperSettings, log_attributes: bool) -> World {
    let github = SimHarness::start(OrgSpec::default()).await.unwrap();
    let port = PortSim::start_with_blueprints_file(&blueprints_fixture())
        .await
        .unwrap();
    port.set_log_attributes(log_attributes);
    port.set_integration_config(INTEGRATION_ID, json!({}));
    let env = Env::from_pairs([
        ("GITHUB_API_URL", github.sim.base_url().to_owned()),
        (
            "GITHUB_TOKEN",
            github.sim.personal_token().unwrap().to_owned(),
        ),
        ("PORT_API_URL", port.base_url().to_owned()),
        ("PORT_CLIENT_ID", CLIENT_ID.to_owned()),
        ("PORT_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("PORT_INTEGRATION_ID", INTEGRATION_ID.to_owned()),
    ]);
    let config = WorkerConfig::from_env(&env).unwrap();
    let etags: Arc<dyn EtagStore> = Arc::new(InMemoryEtagStore::new());
    let clients = github_clients(&config, None, etags).await.unwrap();
    let port_client = port_client(&config, None).await.unwrap();
    let processor = LiveProcessor::new(clients, port_client, Arc::new(mapping()));
    let shipper = LogShipper::new(settings);
    let guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(shipper.layer()));
    World {
        github,
        port,
        processor,
        dead_letters: InMemoryDeadLetters::new(100),
        shipper,
        _guard: guard,
    }
}

fn mapping() -> CompiledMapping {
    let text = std::fs::read_to_string(fixtures_dir().join("ocean/port-app-config.yml")).unwrap();
    CompiledMapping::compile(
        &PortAppConfig::from_yaml_or_json(&text).unwrap(),
        &JqOptions::default(),
    )
    .unwrap()
}

impl World {
    fn connect(&self) {
        self.shipper
            .connect(Arc::new(PortLogIngest::new(self.processor.port().clone())));
    }

    /// A queued `pull_request opened` message for the first repository's first open PR.
    async fn pr_message(&self, delivery: &str) -> QueuedEvent {
        let client = self.github.pat_client(self.github.client_config()).unwrap();
        let repos = client
            .get("/orgs/sim-org/repos?per_page=100", Feature::Required)
            .await
            .unwrap();
        let repo = repos[0].clone();
        let name = repo["name"].as_str().unwrap().to_owned();
        let prs = client
            .get(
                &format!("/repos/sim-org/{name}/pulls?state=open"),
                Feature::Required,
            )
            .await
            .unwrap();
        let envelope = json!({"version": 1, "event": "pull_request", "action": "opened",
            "delivery_id": delivery, "received_at": "2026-11-24T00:00:00Z", "organization": "sim-org",
            "payload": {"action": "opened", "pull_request": prs[0].clone(), "repository": repo,
                "organization": {"login": "sim-org"}}});
        QueuedEvent {
            message_id: format!("m-{delivery}"),
            group_id: Some(format!("group-{delivery}")),
            body: envelope.to_string(),
        }
    }

    /// Makes Port refuse the next bulk upsert (403): the worker logs warnings and goes on.
    fn refuse_next_upsert(&self) {
        self.port
            .fail_next(Some(Endpoint::BulkUpsert), Fault::Forbidden, 1);
    }
}

/// Batch settings that keep events failing for good (as the worker does with its DLQ).
fn dead_lettering(letters: &InMemoryDeadLetters) -> BatchSettings<'_> {
    BatchSettings {
        dead_letters: Some(letters as &dyn DeadLetters),
        ..BatchSettings::default()
    }
}

fn shipped_text(port: &PortSim) -> String {
    serde_json::to_string(&port.received_logs()).unwrap()
}

#[tokio::test]
async fn a_warning_of_the_worker_reaches_the_ingest_with_secrets_masked() {
    let world = world(ShipperSettings::new("worker"), true).await;
    world.connect();
    world.refuse_next_upsert();
    let message = world.pr_message("d-refused").await;
    let failed = process_batch(
        &world.processor,
        &[message],
        dead_lettering(&world.dead_letters),
    )
    .await
    .handed_back();
    assert!(
        failed.is_empty(),
        "a refused entity is dead-lettered, not retried: {failed:?}"
    );
    // A secret the setup registered, logged on purpose: it must leave masked.
    tracing::warn!(detail = %format!("the client secret is {CLIENT_SECRET}"), "logged on purpose");
    assert_eq!(world.shipper.flush(FLUSH).await, Flushed::Done);

    let lines = world.port.received_logs();
    let refused = lines
        .iter()
        .find(|line| line["message"] == "bulk upsert failed")
        .unwrap_or_else(|| panic!("no bulk upsert warning in {lines:#?}"));
    assert_eq!(refused["level"], "WARNING");
    assert_eq!(refused["extra"]["delivery_id"], "d-refused", "{refused}");
    assert_eq!(refused["extra"]["event"], "pull_request");
    assert_eq!(refused["extra"]["source"], "worker");
    assert_eq!(refused["integration"], INTEGRATION_ID);
    let on_purpose = lines
        .iter()
        .find(|line| line["message"] == "logged on purpose")
        .unwrap();
    assert_eq!(
        on_purpose["extra"]["detail"],
        "the client secret is ********"
    );
    let text = shipped_text(&world.port);
    let token = world.github.sim.personal_token().unwrap();
    assert!(
        !text.contains(CLIENT_SECRET) && !text.contains(token),
        "{text}"
    );
    // Every ingest request carried the Port client's bearer token (the simulator checks it).
    let requests = world.port.requests_to(Endpoint::LogIngest);
    assert!(!requests.is_empty());
    assert_eq!(world.shipper.stats().failed_batches, 0);
    println!(
        "{} lines shipped in {} request(s)",
        lines.len(),
        requests.len()
    );
}

#[tokio::test]
async fn without_log_attributes_shipping_is_off_and_quiet() {
    let world = world(ShipperSettings::new("worker"), false).await;
    world.connect();
    world.refuse_next_upsert();
    let message = world.pr_message("d-off").await;
    assert!(
        process_batch(
            &world.processor,
            &[message],
            dead_lettering(&world.dead_letters)
        )
        .await
        .handed_back()
        .is_empty()
    );
    let flushed = world.shipper.flush(FLUSH).await;
    assert!(
        matches!(flushed, Flushed::Done | Flushed::Idle),
        "{flushed:?}"
    );
    world.refuse_next_upsert();
    let again = world.pr_message("d-off-2").await;
    assert!(
        process_batch(
            &world.processor,
            &[again],
            dead_lettering(&world.dead_letters)
        )
        .await
        .handed_back()
        .is_empty()
    );
    assert_eq!(world.shipper.flush(FLUSH).await, Flushed::Idle);

    let stats = world.shipper.stats();
    assert_eq!(stats.state, ShippingState::Off);
    assert_eq!(
        (stats.buffered, stats.shipped, stats.failed_batches),
        (0, 0, 0)
    );
    assert!(world.port.requests_to(Endpoint::LogIngest).is_empty());
    assert!(world.port.received_logs().is_empty());
    // One look at the record, no more.
    assert_eq!(world.port.count(Endpoint::GetIntegration), 1);
}

#[tokio::test]
async fn a_failing_ingest_neither_fails_nor_holds_up_events() {
    let world = world(ShipperSettings::new("worker"), true).await;
    world
        .port
        .fail_next(Some(Endpoint::LogIngest), Fault::Internal, 1_000);
    world.connect();
    let mut slowest = Duration::ZERO;
    for n in 0..4 {
        if n % 2 == 0 {
            world.refuse_next_upsert();
        }
        let message = world.pr_message(&format!("d-{n}")).await;
        let started = Instant::now();
        let failed = process_batch(
            &world.processor,
            &[message],
            dead_lettering(&world.dead_letters),
        )
        .await
        .handed_back();
        assert!(failed.is_empty(), "event {n}: {failed:?}");
        let flushed = world.shipper.flush(FLUSH).await;
        assert_eq!(flushed, Flushed::Done);
        slowest = slowest.max(started.elapsed());
    }
    let stats = world.shipper.stats();
    let attempts = world.port.requests_to(Endpoint::LogIngest).len() as u64;
    assert!(stats.failed_batches >= 2, "{stats:?}");
    assert_eq!(
        stats.failed_batches, attempts,
        "each batch was tried once, never retried"
    );
    assert_eq!(stats.shipped, 0);
    assert!(stats.lost >= 2);
    assert!(world.port.received_logs().is_empty());
    assert!(
        !world.port.entities_of("githubPullRequest").is_empty(),
        "the events were applied"
    );
    println!(
        "ingest answering 500: {attempts} batch(es) lost, slowest event + flush {:.0} ms",
        slowest.as_secs_f64() * 1e3
    );
}

#[tokio::test]
async fn a_flood_stays_bounded_and_the_drops_are_reported() {
    let world = world(ShipperSettings::new("worker"), true).await;
    let started = Instant::now();
    for n in 0..20_000u32 {
        tracing::warn!(n, "flood");
    }
    let elapsed = started.elapsed();
    let stats = world.shipper.stats();
    assert_eq!(
        (stats.captured, stats.buffered, stats.dropped),
        (20_000, 1_000, 19_000)
    );
    world.connect();
    assert_eq!(world.shipper.flush(FLUSH).await, Flushed::Done);
    let lines = world.port.received_logs();
    assert_eq!(
        lines.len(),
        1_001,
        "the newest 1,000 lines and the drop notice"
    );
    assert_eq!(lines[0]["extra"]["dropped"], 19_000);
    assert_eq!(lines[1]["extra"]["n"], 19_000);
    assert_eq!(lines[1_000]["extra"]["n"], 19_999);
    let requests = world.port.requests_to(Endpoint::LogIngest);
    assert!(requests.iter().all(|r| r.body_bytes <= 256 * 1024));
    println!(
        "20,000 warnings captured in {:.1} ms ({:.2} µs each); shipped in {} requests",
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e6 / 20_000.0,
        requests.len()
    );
}

#[tokio::test]
async fn an_oversized_batch_is_refused_with_413_and_not_retried() {
    let world = world(ShipperSettings::new("worker"), true).await;
    world.port.set_log_ingest_limit(2_000);
    world.connect();
    for n in 0..30u32 {
        tracing::error!(n, detail = "x".repeat(100), "too much");
    }
    assert_eq!(world.shipper.flush(FLUSH).await, Flushed::Done);
    let stats = world.shipper.stats();
    assert_eq!(stats.failed_batches, 1, "{stats:?}");
    assert_eq!(stats.lost, 30);
    assert_eq!(world.port.requests_to(Endpoint::LogIngest).len(), 1);
    tracing::error!("small");
    assert_eq!(world.shipper.flush(FLUSH).await, Flushed::Done);
    assert_eq!(
        world.port.received_logs().len(),
        1,
        "later batches still go"
    );
}

#[tokio::test]
async fn the_ingest_is_strict() {
    let port = PortSim::start_fresh().await.unwrap();
    port.set_integration_config("gh", json!({}));
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{}/v1/auth/access_token", port.base_url()))
        .json(&json!({"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["accessToken"].as_str().unwrap().to_owned();
    let record: Value = http
        .get(format!("{}/v1/integration/gh", port.base_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = record["integration"]["logAttributes"]["ingestUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(url, port.log_ingest_url("gh"));
    let line = json!({"level": "ERROR", "message": "m", "timestamp": "2026-01-01T00:00:00.000Z", "extra": {"a": 1}});
    let post = |body: String, bearer: Option<&str>| {
        let mut request = http.post(&url).body(body);
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let ok = json!({"logs": [line]}).to_string();
    assert_eq!(post(ok.clone(), None).await, 401);
    assert_eq!(post(ok.clone(), Some("forged")).await, 401);
    assert_eq!(post(ok.clone(), Some(&token)).await, 200);
    for bad in [
        "not json".to_owned(),
        json!({"lines": []}).to_string(),
        json!({"logs": []}).to_string(),
        json!({"logs": ["text"]}).to_string(),
        json!({"logs": [{"level": "LOUD", "message": "m", "timestamp": "2026-01-01T00:00:00Z"}]}).to_string(),
        json!({"logs": [{"level": "ERROR", "timestamp": "2026-01-01T00:00:00Z"}]}).to_string(),
        json!({"logs": [{"level": "ERROR", "message": "m", "timestamp": "yesterday"}]}).to_string(),
        json!({"logs": [{"level": "ERROR", "message": "m", "timestamp": "2026-01-01T00:00:00Z", "extra": [1]}]}).to_string(),
    ] {
        assert_eq!(post(bad.clone(), Some(&token)).await, 422, "{bad}");
    }
    port.set_log_ingest_limit(10);
    assert_eq!(post(ok.clone(), Some(&token)).await, 413);
    port.set_log_ingest_limit(1 << 20);
    port.fail_next(Some(Endpoint::LogIngest), Fault::Internal, 1);
    assert_eq!(post(ok.clone(), Some(&token)).await, 500);
    let other = url.replace("/gh/", "/nobody/");
    let missing = http
        .post(&other)
        .bearer_auth(&token)
        .body(ok)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    assert_eq!(port.received_logs().len(), 1);
    assert_eq!(port.received_logs()[0]["integration"], "gh");

    port.set_log_attributes(false);
    let record: Value = http
        .get(format!("{}/v1/integration/gh", port.base_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        record["integration"].get("logAttributes").is_none(),
        "{record}"
    );
}
