//! The real `worker` binary under a Lambda Runtime API emulator prints its metrics as CloudWatch
//! Embedded Metric Format lines on stdout, between its JSON log lines and never inside one: one
//! line per event kind of the batch, one for the invocation.

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

#[tokio::test]
async fn a_batch_prints_one_emf_line_per_kind_and_one_for_the_invocation() {
    let github = SimHarness::start(OrgSpec::default()).await.unwrap();
    let client = github.pat_client(github.client_config()).unwrap();
    let (port, _, _) = spawn().await.unwrap();
    let repos = client
        .get("/orgs/sim-org/repos?per_page=100", Feature::Required)
        .await
        .unwrap();
    let repo = repos[0].clone();

    let runtime = RuntimeApi::start().await.unwrap();
    let dir = std::env::temp_dir().join(format!("worker-metrics-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let stdout = dir.join("stdout.log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_worker"));
    command
        .env_clear()
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(Stdio::null());
    for (key, value) in runtime.lambda_env("worker") {
        command.env(key, value);
    }
    let mapping = fixtures_dir().join("ocean/port-app-config.yml");
    command
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("METRICS_NAMESPACE", "Test/PortGitHub")
        .env("GITHUB_API_URL", github.sim.base_url())
        .env("GITHUB_TOKEN", github.sim.personal_token().unwrap())
        .env("PORT_API_URL", port.base_url())
        .env("PORT_CLIENT_ID", CLIENT_ID)
        .env("PORT_CLIENT_SECRET", CLIENT_SECRET)
        .env("PORT_INTEGRATION_ID", INTEGRATION_ID)
        .env("PORT_INTEGRATION_TYPE", INTEGRATION_TYPE)
        .env("PORT_APP_CONFIG", mapping.display().to_string());
    let mut worker = KillOnDrop(command.spawn().expect("spawn the worker binary"));

    let received_at = (chrono::Utc::now() - chrono::TimeDelta::seconds(3))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let envelope = json!({"version": 1, "event": "repository", "action": "edited",
        "delivery_id": "d-1", "received_at": received_at, "organization": "sim-org",
        "payload": {"action": "edited", "repository": repo, "organization": {"login": "sim-org"}}});
    let event = json!({"Records": [
        record("m-1", "repo-1", envelope.to_string()),
        record("m-2", "repo-2", "not an envelope".to_owned()),
    ]});
    let answer = match runtime
        .invoke(&event, Duration::from_secs(60))
        .await
        .unwrap()
    {
        Outcome::Response(answer) => answer,
        Outcome::Error(error) => panic!("the worker reported an error: {error}"),
    };
    assert_eq!(
        answer["batchItemFailures"],
        json!([{"itemIdentifier": "m-2"}]),
        "{answer}"
    );
    let _ = worker.0.kill();
    let _ = worker.0.wait();

    let text = std::fs::read_to_string(&stdout).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not one JSON object: {line}"))
        })
        .collect();
    let emf: Vec<&Value> = lines
        .iter()
        .filter(|line| line.get("_aws").is_some())
        .collect();
    assert!(lines.len() > emf.len(), "the log lines are there too");
    assert_eq!(emf.len(), 3, "{emf:#?}");
    for line in &emf {
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Test/PortGitHub");
        assert!(line["_aws"]["Timestamp"].is_i64());
        assert_eq!(line["Function"], "worker");
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(
                port_github_core::metrics::METRICS
                    .iter()
                    .any(|m| m.name == name),
                "{name} is in the table"
            );
            assert!(line[name].is_number() || line[name].is_array(), "{name}");
        }
    }
    let kind = |name: &str| *emf.iter().find(|line| line["Kind"] == name).unwrap();
    let repository = kind("repository");
    assert_eq!(
        repository["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["Function", "Kind"], ["Function"]])
    );
    assert_eq!(repository["EventsApplied"], 1.0);
    assert_eq!(repository["EventsRetried"], 0.0);
    assert_eq!(repository["EventsFailed"], 0.0);
    let lag = repository["QueueLag"].as_f64().unwrap();
    assert!((3_000.0..60_000.0).contains(&lag), "{lag}");
    // Unreadable and no dead-letter queue: failed for good, handed back for the redrive policy.
    assert_eq!(kind("unreadable")["EventsFailed"], 1.0);
    let invocation = emf.iter().find(|line| line.get("Kind").is_none()).unwrap();
    assert_eq!(invocation["PortRefusals"], 0.0);
    let remaining = invocation["GitHubRateLimitRemaining"].as_f64().unwrap();
    assert!(
        remaining > 0.0,
        "the simulator's x-ratelimit-remaining: {remaining}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
