//! Black-box tests of `port-github serve`: the real binary on a free port, pointed at the GitHub
//! and Port simulators; signed deliveries over HTTP; the entity checked in the Port simulator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use port_github_core::mapping::defaults::DEFAULT_BLUEPRINTS;
use port_github_core::webhook::sign;
use port_github_simulators::fixtures::fixtures_dir;
use port_github_simulators::github_sim::{OrgSpec, SimHarness};
use port_github_simulators::port_sim::harness::INTEGRATION_ID;
use port_github_simulators::port_sim::{
    Blueprint, CLIENT_ID, CLIENT_SECRET, Endpoint, Fault, PortSim,
};
use serde_json::Value;

const SECRET: &str = "serve-secret";

/// A running `port-github serve`, killed on drop; its standard output read line by line.
struct Served {
    child: Child,
    url: String,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    fn start(github: &SimHarness, port: &PortSim) -> Served {
        Self::start_with(settings(github, port))
    }

    fn start_with(settings: Vec<(&'static str, String)>) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_port-github"))
            .args(["serve", "--addr", "127.0.0.1:0"])
            .env_clear()
            .envs(settings)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("port-github runs");
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut served = Served {
            child,
            url: String::new(),
            lines,
            seen: Vec::new(),
        };
        let line = served.wait_for_line(|l| l.starts_with("listening on http://"));
        served.url = line.trim_start_matches("listening on ").to_owned();
        served
    }

    /// The first output line (from now on) that `matches`, within a bounded wait.
    fn wait_for_line(&mut self, matches: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if matches(&line) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no such line; output so far: {:#?}", self.seen);
    }

    /// POSTs a delivery of `event` signed with `secret`; the status and body.
    async fn send_webhook(
        &self,
        event: &str,
        delivery: &str,
        payload: &Value,
        secret: &str,
    ) -> (u16, String) {
        let body = serde_json::to_vec(payload).unwrap();
        let answer = reqwest::Client::new()
            .post(format!("{}/webhook", self.url))
            .header("x-github-event", event)
            .header("x-github-delivery", delivery)
            .header("x-github-hook-id", "1")
            .header("content-type", "application/json")
            .header("x-hub-signature-256", sign(secret, &body))
            .body(body)
            .send()
            .await
            .expect("the server answers");
        (answer.status().as_u16(), answer.text().await.unwrap())
    }
}

fn settings(github: &SimHarness, port: &PortSim) -> Vec<(&'static str, String)> {
    vec![
        ("WEBHOOK_SECRET", SECRET.to_owned()),
        ("GITHUB_API_URL", github.sim.base_url().to_owned()),
        (
            "GITHUB_TOKEN",
            github.sim.personal_token().unwrap_or_default().to_owned(),
        ),
        ("PORT_API_URL", port.base_url().to_owned()),
        ("PORT_CLIENT_ID", CLIENT_ID.to_owned()),
        ("PORT_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("PORT_INTEGRATION_ID", INTEGRATION_ID.to_owned()),
    ]
}

async fn simulators() -> (SimHarness, PortSim) {
    let github = SimHarness::start(OrgSpec {
        repos: 2,
        ..OrgSpec::default()
    })
    .await
    .expect("GitHub simulator starts");
    let blueprints: Value = serde_json::from_str(DEFAULT_BLUEPRINTS).unwrap();
    let blueprints = blueprints
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Blueprint::from_port_json)
        .collect();
    let port = PortSim::start(blueprints)
        .await
        .expect("Port simulator starts");
    (github, port)
}

/// GitHub's example `repository created` delivery, about a repository of the simulated org.
async fn repository_created(github: &SimHarness) -> (Value, String) {
    let path = fixtures_dir().join("github/webhooks/repository/created.json");
    let mut payload: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let repos: Value = reqwest::Client::new()
        .get(format!(
            "{}/orgs/{}/repos",
            github.sim.base_url(),
            github.sim.org()
        ))
        .bearer_auth(github.sim.personal_token().unwrap())
        .header("user-agent", "serve-test")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let repo = repos[0].clone();
    let name = repo["name"].as_str().unwrap().to_owned();
    payload["repository"] = repo;
    payload["organization"]["login"] = Value::from(github.sim.org());
    (payload, name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_deliveries_reach_the_catalog_and_bad_signatures_do_not() {
    let (github, port) = simulators().await;
    let mut served = Served::start(&github, &port);
    let (payload, name) = repository_created(&github).await;

    let (status, body) = served
        .send_webhook("repository", "serve-bad", &payload, "not-the-secret")
        .await;
    assert_eq!(status, 401, "{body}");

    let (status, body) = served
        .send_webhook("repository", "serve-good", &payload, SECRET)
        .await;
    assert_eq!(status, 202, "{body}");
    assert!(body.contains("queued"), "{body}");

    let line = served.wait_for_line(|l| l.starts_with("serve-good "));
    assert_eq!(line, "serve-good repository created: upserted 1, deleted 0");
    let deadline = Instant::now() + Duration::from_secs(10);
    while port.entity("githubRepository", &name).is_none() {
        assert!(
            Instant::now() < deadline,
            "{name} never reached the catalog: {:?}",
            port.catalog()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !served.seen.iter().any(|l| l.contains("serve-bad")),
        "{:?}",
        served.seen
    );

    let (status, _) = served
        .send_webhook(
            "ping",
            "serve-ping",
            &serde_json::json!({"zen": "hi"}),
            SECRET,
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_setting_exits_2_naming_the_variable() {
    let (github, port) = simulators().await;
    let cases: [(&str, Option<&str>); 4] = [
        ("PORT_API_URL", Some("port.example.com")),
        ("MAX_BODY_BYTES", Some("lots")),
        ("WEBHOOK_SECRET", None),
        ("SERVE_QUEUE_CAPACITY", Some("0")),
    ];
    for (name, value) in cases {
        let mut command = Command::new(env!("CARGO_BIN_EXE_port-github"));
        command
            .args(["serve", "--addr", "127.0.0.1:0"])
            .env_clear()
            .envs(settings(&github, &port));
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
        let output = command.output().expect("port-github runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(name), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporary_failure_is_retried_until_it_passes() {
    let (github, port) = simulators().await;
    let mut served = Served::start(&github, &port);
    let (payload, name) = repository_created(&github).await;
    // A wait longer than the Port client accepts: the worker sees a temporary failure at once.
    port.fail_next(
        Some(Endpoint::BulkUpsert),
        Fault::RateLimited {
            retry_after_secs: 3_600,
        },
        1,
    );

    let (status, body) = served
        .send_webhook("repository", "serve-retry", &payload, SECRET)
        .await;
    assert_eq!(status, 202, "{body}");
    let line = served.wait_for_line(|l| l.starts_with("serve-retry "));
    assert!(line.contains("temporary failure, retry 1/"), "{line}");
    let line = served.wait_for_line(|l| l.starts_with("serve-retry "));
    assert_eq!(
        line,
        "serve-retry repository created: upserted 1, deleted 0"
    );
    assert!(port.entity("githubRepository", &name).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_port_credentials_deliveries_go_to_the_embedded_catalog_file() {
    let (github, port) = simulators().await;
    let dir =
        std::env::temp_dir().join(format!("port-github-serve-embedded-{}", std::process::id()));
    let mut without_port: Vec<(&'static str, String)> = settings(&github, &port)
        .into_iter()
        .filter(|(name, _)| !name.starts_with("PORT_"))
        .collect();
    without_port.push(("PORT_GITHUB_CATALOG_DIR", dir.display().to_string()));
    let mut served = Served::start_with(without_port);
    assert!(
        served.seen.iter().any(|l| l.contains("embedded catalog")),
        "{:?}",
        served.seen
    );
    let (payload, name) = repository_created(&github).await;
    let (status, body) = served
        .send_webhook("repository", "serve-embedded", &payload, SECRET)
        .await;
    assert_eq!(status, 202, "{body}");
    served.wait_for_line(|l| l.starts_with("serve-embedded "));
    let file = dir.join("catalog.json");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let saved: Vec<Value> = std::fs::read(&file)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        if saved
            .iter()
            .any(|e| e["blueprint"] == "githubRepository" && e["identifier"] == name.as_str())
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never reached {}",
            file.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(port.catalog().is_empty(), "nothing went to the other Port");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_delivery_into_a_fresh_port_organization_provisions_it() {
    let github = SimHarness::start(OrgSpec {
        repos: 2,
        ..OrgSpec::default()
    })
    .await
    .expect("GitHub simulator starts");
    let port = PortSim::start_fresh().await.expect("Port simulator starts");
    assert!(port.integration(INTEGRATION_ID).is_none());
    let mut served = Served::start(&github, &port);
    let (payload, name) = repository_created(&github).await;
    let (status, body) = served
        .send_webhook("repository", "serve-fresh", &payload, SECRET)
        .await;
    assert_eq!(status, 202, "{body}");
    let line = served.wait_for_line(|l| l.starts_with("serve-fresh "));
    assert_eq!(
        line,
        "serve-fresh repository created: upserted 1, deleted 0"
    );
    assert!(port.entity("githubRepository", &name).is_some());
    let record = port
        .integration(INTEGRATION_ID)
        .expect("the integration was created");
    assert!(record["config"]["resources"].is_array(), "{record}");
    let builtin: Vec<Value> = serde_json::from_str(DEFAULT_BLUEPRINTS).unwrap();
    for blueprint in &builtin {
        let id = blueprint["identifier"].as_str().unwrap();
        assert!(port.blueprint(id).is_some(), "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_503_and_events_that_fail_for_good_are_kept_and_listed() {
    let (github, port) = simulators().await;
    let mut settings = settings(&github, &port);
    settings.push(("SERVE_QUEUE_CAPACITY", "1".to_owned()));
    let mut served = Served::start_with(settings);
    let (payload, name) = repository_created(&github).await;

    // Port is slow to answer: the first event stays in the worker's hands for a while, so the
    // one-event queue is full and the next delivery is turned away like an unreachable SQS.
    port.stall_next(Duration::from_secs(3), 1);
    let (status, body) = served
        .send_webhook("repository", "serve-first", &payload, SECRET)
        .await;
    assert_eq!(status, 202, "{body}");
    let (status, body) = served
        .send_webhook("repository", "serve-full", &payload, SECRET)
        .await;
    assert_eq!(status, 503, "{body}");
    served.wait_for_line(|l| l.starts_with("serve-first "));
    assert!(port.entity("githubRepository", &name).is_some());

    // Room again. Port refuses the entity for good (403): printed with the reason and kept.
    port.fail_next(Some(Endpoint::BulkUpsert), Fault::Forbidden, 1);
    let (status, body) = served
        .send_webhook("repository", "serve-refused", &payload, SECRET)
        .await;
    assert_eq!(status, 202, "{body}");
    let line = served.wait_for_line(|l| l.starts_with("serve-refused "));
    assert!(line.contains("failed for good, kept"), "{line}");
    assert!(line.contains("403"), "{line}");

    // Ctrl-C: the kept events are listed again.
    let stopped = Command::new("kill")
        .args(["-INT", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    served.wait_for_line(|l| l == "1 event(s) failed for good:");
    let listed = served.wait_for_line(|l| l.starts_with("  serve-refused repository:"));
    assert!(listed.contains("Port refused 1 entity"), "{listed}");
}
