//! The real `worker` binary under the Lambda Runtime API emulator ships its warnings and errors
//! to Port's integration log (the Port simulator's ingest, from the integration record's
//! `logAttributes.ingestUrl`) before each invocation answers, with no secret in any line; ships
//! nothing, and says nothing about it, when the record has no `logAttributes`; and answers as
//! usual when the ingest fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use port_github_core::github::Feature;
use port_github_simulators::fixtures::fixtures_dir;
use port_github_simulators::github_sim::{OrgSpec, SimHarness};
use port_github_simulators::port_sim::harness::{INTEGRATION_ID, INTEGRATION_TYPE, spawn};
use port_github_simulators::port_sim::{CLIENT_ID, CLIENT_SECRET, Endpoint, Fault, PortSim};
use port_github_tests::lambda_runtime_api::{Outcome, RuntimeApi, events_record as record};
use port_github_tests::moto::{create_fifo_queue, moto};
use serde_json::{Value, json};

struct Running(Child);

impl Running {
    /// Stops the worker and returns what it wrote on standard output (its JSON log lines).
    fn stop(mut self) -> String {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let mut out = String::new();
        if let Some(mut stdout) = self.0.stdout.take() {
            let _ = stdout.read_to_string(&mut out);
        }
        out
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct World {
    github: SimHarness,
    port: PortSim,
    runtime: RuntimeApi,
    worker: Running,
}

async fn world(log_attributes: bool) -> World {
    let github = SimHarness::start(OrgSpec::default()).await.unwrap();
    let (port, _, _) = spawn().await.unwrap();
    port.set_log_attributes(log_attributes);
    // The record exists (the worker would create it on its first event otherwise).
    port.set_integration_config(INTEGRATION_ID, json!({}));
    let runtime = RuntimeApi::start().await.unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_worker"));
    command
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (key, value) in runtime.lambda_env("worker") {
        command.env(key, value);
    }
    let config = fixtures_dir().join("ocean/port-app-config.yml");
    // The events dead-letter queue, on moto, as deployed: Port's refusals are kept there.
    let sqs = aws_sdk_sqs::Client::new(&moto().sdk_config().await);
    let dead_letters = create_fifo_queue(&sqs, "logs-dlq").await.unwrap();
    command
        .envs(moto().env())
        .env("EVENTS_DLQ_URL", dead_letters)
        .env("GITHUB_API_URL", github.sim.base_url())
        .env("GITHUB_TOKEN", github.sim.personal_token().unwrap())
        .env("PORT_API_URL", port.base_url())
        .env("PORT_CLIENT_ID", CLIENT_ID)
        .env("PORT_CLIENT_SECRET", CLIENT_SECRET)
        .env("PORT_INTEGRATION_ID", INTEGRATION_ID)
        .env("PORT_INTEGRATION_TYPE", INTEGRATION_TYPE)
        .env("PORT_APP_CONFIG", config.display().to_string());
    let worker = Running(command.spawn().expect("spawn the worker binary"));
    World {
        github,
        port,
        runtime,
        worker,
    }
}

impl World {
    /// A batch: a `pull_request opened` for the first repository's first open PR, and a message
    /// that is not an envelope (the worker logs an ERROR and drops it).
    async fn batch(&self, delivery: &str) -> Value {
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
        let envelope = json!({"version": 1, "event": "pull_request", "action": "opened", "delivery_id": delivery,
            "received_at": "2026-11-24T00:00:00Z", "organization": "sim-org",
            "payload": {"action": "opened", "pull_request": prs[0].clone(), "repository": repo,
                "organization": {"login": "sim-org"}}});
        json!({"Records": [
            record(&format!("{delivery}-pr"), "repo-1-pr-1", envelope.to_string()),
            record(&format!("{delivery}-bad"), "repo-1-pr-2", "not an envelope".to_owned()),
        ]})
    }

    async fn invoke(&self, event: &Value) -> Value {
        match self
            .runtime
            .invoke(event, Duration::from_secs(60))
            .await
            .unwrap()
        {
            Outcome::Response(answer) => answer,
            Outcome::Error(error) => panic!("the worker reported an error: {error}"),
        }
    }
}

#[tokio::test]
async fn warnings_and_errors_reach_the_ingest_before_the_invocation_answers() {
    let world = world(true).await;
    world
        .port
        .fail_next(Some(Endpoint::BulkUpsert), Fault::Forbidden, 1);
    let event = world.batch("d-1").await;
    let answer = world.invoke(&event).await;
    assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");

    let lines = world.port.received_logs();
    let dropped = lines
        .iter()
        .find(|line| {
            line["message"] == "dead-lettered: failed for good, kept with its reason"
                && line["extra"]["message_id"] == "d-1-bad"
        })
        .unwrap_or_else(|| panic!("no ERROR line for the bad message in {lines:#?}"));
    assert_eq!(dropped["level"], "ERROR");
    assert_eq!(dropped["extra"]["message_id"], "d-1-bad");
    assert_eq!(dropped["extra"]["source"], "worker");
    let refused = lines
        .iter()
        .find(|line| line["message"] == "bulk upsert failed")
        .unwrap_or_else(|| panic!("no warning for the refused upsert in {lines:#?}"));
    assert_eq!(refused["level"], "WARNING");
    assert_eq!(refused["extra"]["delivery_id"], "d-1");
    let text = serde_json::to_string(&lines).unwrap();
    let token = world.github.sim.personal_token().unwrap();
    assert!(!text.contains(CLIENT_SECRET), "{text}");
    assert!(!text.contains(token), "{text}");
    assert!(
        lines
            .iter()
            .all(|line| line["level"] == "WARNING" || line["level"] == "ERROR"),
        "only warnings and errors: {lines:#?}"
    );
}

#[tokio::test]
async fn without_log_attributes_nothing_is_shipped_or_said() {
    let world = world(false).await;
    world
        .port
        .fail_next(Some(Endpoint::BulkUpsert), Fault::Forbidden, 1);
    let event = world.batch("d-2").await;
    let answer = world.invoke(&event).await;
    assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    let again = world.batch("d-3").await;
    world.invoke(&again).await;
    assert!(world.port.requests_to(Endpoint::LogIngest).is_empty());
    assert!(world.port.received_logs().is_empty());
    let World { worker, .. } = world;
    let output = worker.stop();
    assert!(
        output.contains("not an event envelope"),
        "the worker logs as usual: {output}"
    );
    for line in output.lines() {
        let lowered = line.to_ascii_lowercase();
        assert!(
            !lowered.contains("ship") && !lowered.contains("ingest"),
            "noise about log shipping: {line}"
        );
    }
}

#[tokio::test]
async fn a_failing_ingest_does_not_fail_the_invocation() {
    let world = world(true).await;
    world
        .port
        .fail_next(Some(Endpoint::LogIngest), Fault::Internal, 1_000);
    let mut slowest = Duration::ZERO;
    for n in 0..3 {
        let event = world.batch(&format!("d-{n}")).await;
        let started = Instant::now();
        let answer = world.invoke(&event).await;
        slowest = slowest.max(started.elapsed());
        assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    }
    assert!(!world.port.entities_of("githubPullRequest").is_empty());
    assert!(world.port.received_logs().is_empty());
    let attempts = world.port.requests_to(Endpoint::LogIngest).len();
    assert!(attempts >= 1, "the worker tried to ship");
    println!(
        "ingest answering 500: {attempts} request(s), slowest invocation {:.0} ms",
        slowest.as_secs_f64() * 1e3
    );
}
