//! The live path in a storm of faults, end to end: signed deliveries about every object of a
//! generated organization (the GitHub simulator's), shuffled, 15 % delivered twice, through the
//! webhook handler into a moto FIFO queue with a redrive policy to a FIFO dead-letter queue;
//! the real `worker` binary under the Lambda Runtime API emulator with the template's timeout
//! (120 s), fed by an event source stand-in; Port answering 429 (with `retry-after`, with
//! `x-ratelimit-reset`, two long ones), 503 and 502 in bursts, GitHub secondary rate limits and
//! 502s in bursts, all following the traffic. In the end: Port holds what a full resync of the same organization writes, the
//! dead-letter queue is empty, no invocation answered late, and no message was handed back in
//! an invocation that applied it (the emulator's record of each answer against the worker's own
//! log of what it applied in that invocation); Port's write log holds only writes made inside
//! an invocation, before its answer. Prints the deliveries, faults served, invocations and wall time.
//!
//! Size: `FAULT_STORM_REPOS` repositories (default 27: 923 objects, over 1,000 deliveries); `FAULT_STORM_SEED` for the shuffle and the faults; `FAULT_STORM_LOG`
//! a file to keep the worker's log in.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use http::{HeaderMap, HeaderValue};
use port_github_core::github::{Feature, GitHubClient};
use port_github_core::mapping::defaults::DEFAULT_PORT_APP_CONFIG;
use port_github_core::queue::SqsEventQueue;
use port_github_core::resync::driver::DriveSettings;
use port_github_core::webhook::{
    WebhookHandler, WebhookLimits, WebhookRequest, fixed_secrets, sign,
};
use port_github_simulators::github_sim::{OrgSpec, SimConfig, SimHarness};
use port_github_simulators::port_sim::harness::{INTEGRATION_ID, INTEGRATION_TYPE};
use port_github_simulators::port_sim::{CLIENT_ID, CLIENT_SECRET, Endpoint, Fault, PortSim};
use port_github_simulators::resync_world::{ResyncWorld, default_blueprints};
use port_github_tests::lambda_runtime_api::{Outcome, RuntimeApi};
use port_github_tests::moto::{create_fifo_queue, moto, queue_depth};
use serde_json::{Value, json};

const SECRET: &str = "storm-secret";
/// The worker's timeout in the template (`infra/template.yaml`).
const TEMPLATE_TIMEOUT: Duration = Duration::from_secs(120);
/// The events queue's visibility timeout here: the template's 720 s scaled down, so that a
/// message handed back without a known wait comes back within the test.
const VISIBILITY_SECONDS: i32 = 15;
/// The template's default `MaxReceiveCount`.
const MAX_RECEIVE_COUNT: u32 = 5;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn spec(repos: usize) -> SimConfig {
    SimConfig {
        spec: OrgSpec {
            repos,
            ..OrgSpec::default()
        },
        // The storm is about faults, not the hourly budget.
        hourly_limit: 100_000_000,
        ..SimConfig::default()
    }
}

/// One delivery: the event, its id, the payload.
#[derive(Clone)]
struct Delivery {
    event: &'static str,
    id: String,
    payload: Value,
}

async fn list(client: &GitHubClient, path: &str) -> Vec<Value> {
    list_field(client, path, None).await
}

async fn list_in(client: &GitHubClient, path: &str, field: &str) -> Vec<Value> {
    list_field(client, path, Some(field)).await
}

async fn list_field(client: &GitHubClient, path: &str, field: Option<&str>) -> Vec<Value> {
    client
        .pages(path, field, Feature::Required)
        .unwrap()
        .collect_items()
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A delivery about every object of the organization, as GitHub would send on its creation.
async fn deliveries(client: &GitHubClient, org: &str) -> Vec<Delivery> {
    let organization = json!({"login": org, "id": 1});
    let mut out = Vec::new();
    let mut add = |event: &'static str, mut payload: Value, repo: Option<&Value>| {
        payload["organization"] = organization.clone();
        if let Some(repo) = repo {
            payload["repository"] = repo.clone();
        }
        let id = format!("storm-{}", out.len());
        out.push(Delivery { event, id, payload });
    };
    for member in list(client, &format!("/orgs/{org}/members")).await {
        add(
            "organization",
            json!({"action": "member_added", "membership": {"user": member}}),
            None,
        );
    }
    for team in list(client, &format!("/orgs/{org}/teams")).await {
        add("team", json!({"action": "created", "team": team}), None);
    }
    for repo in list(client, &format!("/orgs/{org}/repos?type=all")).await {
        let name = repo["name"].as_str().unwrap().to_owned();
        let base = format!("/repos/{org}/{name}");
        let r = Some(&repo);
        add("repository", json!({"action": "created"}), r);
        for pr in list(client, &format!("{base}/pulls?state=all")).await {
            let action = if pr["state"] == "open" {
                "opened"
            } else {
                "closed"
            };
            add(
                "pull_request",
                json!({"action": action, "number": pr["number"], "pull_request": pr}),
                r,
            );
        }
        for issue in list(client, &format!("{base}/issues?state=all")).await {
            if issue.get("pull_request").is_some() {
                continue;
            }
            add("issues", json!({"action": "opened", "issue": issue}), r);
        }
        for release in list(client, &format!("{base}/releases")).await {
            add(
                "release",
                json!({"action": "created", "release": release}),
                r,
            );
        }
        for tag in list(client, &format!("{base}/tags")).await {
            add(
                "create",
                json!({"ref": tag["name"], "ref_type": "tag", "master_branch": repo["default_branch"]}),
                r,
            );
        }
        for branch in list(client, &format!("{base}/branches")).await {
            add(
                "create",
                json!({"ref": branch["name"], "ref_type": "branch", "master_branch": repo["default_branch"]}),
                r,
            );
        }
        for deployment in list(client, &format!("{base}/deployments")).await {
            let id = deployment["id"].as_u64().unwrap();
            for status in list(client, &format!("{base}/deployments/{id}/statuses")).await {
                add(
                    "deployment_status",
                    json!({"action": "created", "deployment_status": status, "deployment": deployment}),
                    r,
                );
            }
            add(
                "deployment",
                json!({"action": "created", "deployment": deployment}),
                r,
            );
        }
        for workflow in list_in(client, &format!("{base}/actions/workflows"), "workflows").await {
            let id = workflow["id"].as_u64().unwrap();
            for run in list_in(
                client,
                &format!("{base}/actions/workflows/{id}/runs"),
                "workflow_runs",
            )
            .await
            {
                add(
                    "workflow_run",
                    json!({"action": "completed", "workflow_run": run, "workflow": workflow}),
                    r,
                );
            }
        }
        for (event, path) in [
            ("dependabot_alert", "dependabot/alerts"),
            ("code_scanning_alert", "code-scanning/alerts"),
            ("secret_scanning_alert", "secret-scanning/alerts"),
        ] {
            for alert in list(client, &format!("{base}/{path}")).await {
                add(event, json!({"action": "created", "alert": alert}), r);
            }
        }
        for collaborator in list(client, &format!("{base}/collaborators?affiliation=all")).await {
            add(
                "member",
                json!({"action": "added", "member": collaborator}),
                r,
            );
        }
    }
    out
}

async fn deliver(handler: &WebhookHandler, delivery: &Delivery) -> u16 {
    let body = serde_json::to_vec(&delivery.payload).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("x-github-event", HeaderValue::from_static(delivery.event));
    headers.insert(
        "x-github-delivery",
        HeaderValue::from_str(&delivery.id).unwrap(),
    );
    headers.insert("x-github-hook-id", HeaderValue::from_static("77"));
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert(
        "x-hub-signature-256",
        HeaderValue::from_str(&sign(SECRET, &body)).unwrap(),
    );
    handler
        .handle(WebhookRequest {
            method: "POST",
            headers: &headers,
            body: &body,
        })
        .await
        .status
}

/// Faults injected so far, by kind.
#[derive(Default)]
struct Injected {
    port: BTreeMap<&'static str, u64>,
    github_bad_gateway: u64,
    github_secondary: u64,
}

/// Port requests between two bursts of Port faults, GitHub requests between two of GitHub's.
const PORT_EVERY: u64 = 60;
const GITHUB_EVERY: u64 = 250;

/// Bursts of faults that follow the traffic until `stop`: a Port burst every [`PORT_EVERY`]
/// Port requests, a GitHub burst every [`GITHUB_EVERY`] GitHub requests, each only once the
/// previous one has been served. The second Port burst is a long `retry-after` the worker can
/// sleep (25 s: more than Port's client used to wait, within its minute and the invocation's
/// time), the fourth one it cannot (70 s: the message is handed back and comes back after it).
async fn inject_faults(
    port: Arc<PortSim>,
    github: Arc<SimHarness>,
    seed: u64,
    stop: Arc<AtomicBool>,
    injected: Arc<Mutex<Injected>>,
) {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0xfa17);
    let mut bursts = 0u32;
    let (mut next_port, mut next_github) = (PORT_EVERY / 2, GITHUB_EVERY / 2);
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let port_traffic: u64 = [
            Endpoint::BulkUpsert,
            Endpoint::Search,
            Endpoint::Delete,
            Endpoint::Upsert,
        ]
        .into_iter()
        .map(|e| port.count(e))
        .sum();
        let mut injected = injected.lock().unwrap();
        let port_pending = injected.port.values().sum::<u64>() > port.faults_served();
        if !port_pending && port_traffic >= next_port {
            next_port = port_traffic + PORT_EVERY;
            bursts += 1;
            let (kind, fault, times) = match bursts {
                2 => (
                    "429 retry-after 25 s",
                    Fault::RateLimited {
                        retry_after_secs: 25,
                    },
                    1,
                ),
                4 => (
                    "429 retry-after 70 s",
                    Fault::RateLimited {
                        retry_after_secs: 70,
                    },
                    1,
                ),
                _ => match rng.u8(..4) {
                    // Up to 8: longer than the client's five attempts, so some messages are
                    // handed back.
                    0 => ("502", Fault::BadGateway, rng.u32(1..9)),
                    1 => ("503", Fault::Unavailable, rng.u32(1..5)),
                    2 => (
                        "429 retry-after",
                        Fault::RateLimited {
                            retry_after_secs: rng.u64(1..3),
                        },
                        rng.u32(1..4),
                    ),
                    _ => (
                        "429 x-ratelimit-reset",
                        Fault::RateLimitReset { reset_secs: 1 },
                        rng.u32(1..3),
                    ),
                },
            };
            port.fail_next(None, fault, times);
            *injected.port.entry(kind).or_default() += u64::from(times);
        }
        let github_traffic = github.sim.total().total;
        let mut github_pending = false;
        github
            .sim
            .faults(|f| github_pending = f.bad_gateway_next > 0 || f.secondary_next > 0);
        if !github_pending && github_traffic >= next_github {
            next_github = github_traffic + GITHUB_EVERY;
            if rng.bool() {
                // Up to 8: more than the client's four retries now and then.
                let n = rng.u32(1..9);
                github.sim.faults(|f| f.bad_gateway_next = n);
                injected.github_bad_gateway += u64::from(n);
            } else {
                let n = rng.u32(1..4);
                let after = rng.u64(1..3);
                github.sim.faults(|f| {
                    f.secondary_next = n;
                    f.secondary_retry_after = Some(after);
                });
                injected.github_secondary += u64::from(n);
            }
        }
    }
}

/// The `Records` of an SQS event, as Lambda builds it from received messages.
fn sqs_event(messages: &[aws_sdk_sqs::types::Message], queue_arn: &str) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: serde_json::Map<String, Value> = m
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_owned(), Value::String(v.clone())))
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": m.md5_of_body().unwrap_or_default(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    json!({ "Records": records })
}

/// `(blueprint, identifier)` → what Port holds of it (title, properties, relations).
fn catalog_of(port: &PortSim) -> BTreeMap<(String, String), Value> {
    port.catalog()
        .into_iter()
        .map(|e| {
            let json = e.to_json();
            let view = json!({"title": json["title"], "properties": json["properties"],
                "relations": json["relations"]});
            ((e.blueprint.clone(), e.identifier.clone()), view)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_faults_loses_nothing_and_hands_back_nothing_applied() {
    let started = Instant::now();
    let repos = env_number("FAULT_STORM_REPOS", 27) as usize;
    let seed = env_number("FAULT_STORM_SEED", 16);

    // What a full resync of the organization writes: the reference catalog.
    let reference = ResyncWorld::start(spec(repos), None).await.unwrap();
    let report = reference.run(&DriveSettings::default()).await.unwrap();
    assert!(report.summary.is_some(), "the reference resync ran");
    let expected = catalog_of(&reference.port);
    let resync_time = started.elapsed();
    eprintln!(
        "fault storm: reference resync done in {:.1} s, {} entities",
        resync_time.as_secs_f64(),
        expected.len()
    );

    // The storm's own GitHub and Port.
    let github = Arc::new(SimHarness::start_with(spec(repos)).await.unwrap());
    let port = Arc::new(PortSim::start(default_blueprints().unwrap()).await.unwrap());
    let client = github.pat_client(github.client_config()).unwrap();
    let mut deliveries = deliveries(&client, github.sim.org()).await;
    let objects = deliveries.len();
    let mut rng = fastrand::Rng::with_seed(seed);
    let again: Vec<Delivery> = deliveries
        .iter()
        .filter(|_| rng.u8(..100) < 15)
        .cloned()
        .collect();
    deliveries.extend(again);
    rng.shuffle(&mut deliveries);
    eprintln!(
        "fault storm: {} deliveries about {objects} objects",
        deliveries.len()
    );
    if repos == 27 {
        assert!(
            deliveries.len() >= 1000,
            "the default storm is at least 1,000 deliveries"
        );
    }

    // The queues, as deployed (FIFO, redrive to a FIFO dead-letter queue), scaled in time.
    let sqs = aws_sdk_sqs::Client::new(&moto().sdk_config().await);
    let queue_url = create_fifo_queue(&sqs, "storm-events").await.unwrap();
    let dlq_url = create_fifo_queue(&sqs, "storm-events-dlq").await.unwrap();
    let arn = |url: String| {
        let sqs = sqs.clone();
        async move {
            sqs.get_queue_attributes()
                .queue_url(url)
                .attribute_names(QueueAttributeName::QueueArn)
                .send()
                .await
                .unwrap()
                .attributes
                .unwrap()[&QueueAttributeName::QueueArn]
                .clone()
        }
    };
    let (queue_arn, dlq_arn) = (arn(queue_url.clone()).await, arn(dlq_url.clone()).await);
    sqs.set_queue_attributes()
        .queue_url(&queue_url)
        .attributes(
            QueueAttributeName::RedrivePolicy,
            json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT})
                .to_string(),
        )
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            VISIBILITY_SECONDS.to_string(),
        )
        .send()
        .await
        .unwrap();

    // The worker binary, its JSON logs collected with the time each line arrived.
    let mapping_file =
        std::env::temp_dir().join(format!("fault-storm-mapping-{}.yml", std::process::id()));
    std::fs::write(&mapping_file, DEFAULT_PORT_APP_CONFIG).unwrap();
    let runtime = RuntimeApi::start_with_timeout(TEMPLATE_TIMEOUT)
        .await
        .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_worker"));
    command
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (key, value) in runtime.lambda_env("worker") {
        command.env(key, value);
    }
    for (key, value) in moto().env() {
        command.env(key, value);
    }
    command
        .env("GITHUB_API_URL", github.sim.base_url())
        .env("GITHUB_TOKEN", github.sim.personal_token().unwrap())
        .env("PORT_API_URL", port.base_url())
        .env("PORT_CLIENT_ID", CLIENT_ID)
        .env("PORT_CLIENT_SECRET", CLIENT_SECRET)
        .env("PORT_INTEGRATION_ID", INTEGRATION_ID)
        .env("PORT_INTEGRATION_TYPE", INTEGRATION_TYPE)
        .env("PORT_APP_CONFIG", &mapping_file)
        .env("EVENTS_QUEUE_URL", &queue_url)
        .env("EVENTS_DLQ_URL", &dlq_url)
        .env("RUST_LOG", "info");
    let mut child = command.spawn().expect("spawn the worker binary");
    let stdout = child.stdout.take().unwrap();
    let _worker = Running(child);
    let logs: Arc<Mutex<Vec<Value>>> = Arc::default();
    {
        let logs = logs.clone();
        // FAULT_STORM_LOG=FILE keeps the worker's log there too, to look into a failure.
        let mut copy = std::env::var("FAULT_STORM_LOG")
            .ok()
            .and_then(|path| std::fs::File::create(path).ok());
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(file) = copy.as_mut() {
                    use std::io::Write as _;
                    let _ = writeln!(file, "{line}");
                }
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    logs.lock().unwrap().push(value);
                }
            }
        });
    }

    // GitHub delivers (concurrently with the worker), while faults come in bursts.
    let handler = Arc::new(WebhookHandler::new(
        fixed_secrets(SECRET, None),
        Arc::new(SqsEventQueue::new(sqs.clone(), queue_url.clone())),
        WebhookLimits {
            max_body_bytes: 25 << 20,
            max_message_bytes: 256 * 1024,
        },
    ));
    let delivered = Arc::new(AtomicBool::new(false));
    let sent = {
        let (handler, delivered, deliveries) =
            (handler.clone(), delivered.clone(), deliveries.clone());
        tokio::spawn(async move {
            let mut statuses = BTreeMap::new();
            for delivery in &deliveries {
                *statuses
                    .entry(deliver(&handler, delivery).await)
                    .or_insert(0u64) += 1;
            }
            delivered.store(true, Ordering::SeqCst);
            eprintln!(
                "fault storm: everything delivered at {:.1} s",
                started.elapsed().as_secs_f64()
            );
            statuses
        })
    };
    let stop_faults = Arc::new(AtomicBool::new(false));
    let injected = Arc::new(Mutex::new(Injected::default()));
    let faults = tokio::spawn(inject_faults(
        port.clone(),
        github.clone(),
        seed,
        stop_faults.clone(),
        injected.clone(),
    ));

    // The event source mapping: batches of up to 10, one invocation at a time; what the worker
    // did not hand back is deleted, what it handed back stays (its visibility is the worker's).
    let give_up = Instant::now() + Duration::from_secs(600);
    let invoked = AtomicU64::new(0);
    let mut batches: HashMap<String, Vec<String>> = HashMap::new();
    let mut handed_back_total = 0usize;
    let mut received_total = 0usize;
    let mut faults_stopped_at = None;
    loop {
        assert!(
            Instant::now() < give_up,
            "the storm did not settle in 10 minutes"
        );
        // The faults stop once everything has been delivered and the first pass is over, so
        // that the last retries can pass.
        if faults_stopped_at.is_none()
            && delivered.load(Ordering::SeqCst)
            && invoked.load(Ordering::SeqCst) > (objects as u64) / 10
        {
            stop_faults.store(true, Ordering::SeqCst);
            faults_stopped_at = Some(started.elapsed());
        }
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            if delivered.load(Ordering::SeqCst) && queue_depth(&sqs, &queue_url).await.unwrap() == 0
            {
                break;
            }
            continue;
        }
        received_total += messages.len();
        let event = sqs_event(&messages, &queue_arn);
        let answer = runtime
            .invoke(&event, TEMPLATE_TIMEOUT + Duration::from_secs(30))
            .await
            .unwrap();
        invoked.fetch_add(1, Ordering::SeqCst);
        let Outcome::Response(answer) = answer else {
            panic!("the worker failed an invocation: {answer:?}");
        };
        let failed: HashSet<String> = answer["batchItemFailures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
            .collect();
        handed_back_total += failed.len();
        let count = invoked.load(Ordering::SeqCst);
        if !failed.is_empty() || count.is_multiple_of(20) {
            eprintln!(
                "fault storm: {:.1} s invocation {} of {} messages: {} handed back",
                started.elapsed().as_secs_f64(),
                count,
                messages.len(),
                failed.len()
            );
        }
        let request_id = runtime.invocations().last().unwrap().request_id.clone();
        batches.insert(
            request_id,
            messages
                .iter()
                .map(|m| m.message_id().unwrap().to_owned())
                .collect(),
        );
        let acknowledged: Vec<_> = messages
            .iter()
            .filter(|m| !failed.contains(m.message_id().unwrap()))
            .enumerate()
            .map(|(i, m)| {
                aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle().unwrap())
                    .build()
                    .unwrap()
            })
            .collect();
        if !acknowledged.is_empty() {
            let deleted = sqs
                .delete_message_batch()
                .queue_url(&queue_url)
                .set_entries(Some(acknowledged))
                .send()
                .await
                .unwrap();
            assert!(deleted.failed().is_empty(), "{:?}", deleted.failed());
        }
    }
    stop_faults.store(true, Ordering::SeqCst);
    faults.await.unwrap();
    let statuses = sent.await.unwrap();
    let wall = started.elapsed();

    // Every delivery was accepted (redeliveries are deduplicated by the queue).
    assert_eq!(
        statuses.keys().copied().collect::<Vec<_>>(),
        [202],
        "{statuses:?}"
    );
    // Nothing was lost to the dead-letter queue, and nothing is left.
    assert_eq!(
        queue_depth(&sqs, &dlq_url).await.unwrap(),
        0,
        "the dead-letter queue is empty"
    );
    assert_eq!(queue_depth(&sqs, &queue_url).await.unwrap(), 0);

    // Every invocation answered, in time.
    let invocations = runtime.invocations();
    for invocation in &invocations {
        assert!(
            !invocation.late(),
            "{} answered after its deadline",
            invocation.request_id
        );
        assert!(matches!(invocation.outcome, Some(Outcome::Response(_))));
    }

    // No message was handed back by an invocation that applied it; every message an invocation
    // did not hand back, it applied.
    let logs = logs.lock().unwrap().clone();
    let mut applied: HashMap<String, HashSet<String>> = HashMap::new();
    for line in &logs {
        if line["fields"]["message"] != "applied" {
            continue;
        }
        let spans = line["spans"].as_array().cloned().unwrap_or_default();
        let request = spans
            .iter()
            .find_map(|s| s["request_id"].as_str())
            .expect("an applied line names its invocation");
        let message = spans
            .iter()
            .find_map(|s| s["message_id"].as_str())
            .expect("an applied line names its message");
        applied
            .entry(request.to_owned())
            .or_default()
            .insert(message.to_owned());
    }
    for invocation in &invocations {
        let Some(Outcome::Response(answer)) = &invocation.outcome else {
            continue;
        };
        let handed_back: HashSet<&str> = answer["batchItemFailures"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["itemIdentifier"].as_str())
            .collect();
        let applied_here = applied
            .get(&invocation.request_id)
            .cloned()
            .unwrap_or_default();
        for message in &applied_here {
            assert!(
                !handed_back.contains(message.as_str()),
                "{}: {message} was applied and handed back",
                invocation.request_id
            );
        }
        for message in batches.get(&invocation.request_id).into_iter().flatten() {
            assert!(
                handed_back.contains(message.as_str()) || applied_here.contains(message),
                "{}: {message} was acknowledged without being applied",
                invocation.request_id
            );
        }
    }

    // Port's write log: every write came from inside an invocation (none after its answer).
    let writes: Vec<_> = port
        .requests()
        .into_iter()
        .filter(|r| {
            matches!(
                r.endpoint,
                Endpoint::BulkUpsert | Endpoint::Upsert | Endpoint::Delete | Endpoint::BulkDelete
            )
        })
        .collect();
    for write in &writes {
        assert!(
            invocations.iter().any(|i| write.at >= i.started
                && i.finished.is_some_and(|finished| write.at <= finished)),
            "a Port write ({} {}) outside every invocation",
            write.method,
            write.path
        );
    }

    // Port holds what the resync writes, entity for entity.
    let actual = catalog_of(&port);
    let keys = |c: &BTreeMap<(String, String), Value>| c.keys().cloned().collect::<BTreeSet<_>>();
    let missing: Vec<_> = keys(&expected)
        .difference(&keys(&actual))
        .cloned()
        .collect();
    let extra: Vec<_> = keys(&actual)
        .difference(&keys(&expected))
        .cloned()
        .collect();
    // No handled event is about the organization itself (only its membership): live events
    // leave the placeholder Port made for the repositories' relation to it, which the resync
    // fills in. Its presence is compared, not its properties.
    let differing: Vec<_> = expected
        .iter()
        .filter(|((blueprint, _), _)| blueprint != "githubOrganization")
        .filter(|(key, value)| actual.get(*key).is_some_and(|a| a != *value))
        .map(|(key, value)| (key.clone(), value.clone(), actual[key].clone()))
        .collect();
    let per_blueprint = |c: &BTreeMap<(String, String), Value>| {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for (blueprint, _) in c.keys() {
            *counts.entry(blueprint.clone()).or_default() += 1;
        }
        counts
    };
    assert!(
        missing.is_empty() && extra.is_empty() && differing.is_empty(),
        "Port differs from the resync: {} missing {:?}, {} extra {:?}, {} differing, first: {:?}\nresync {:?}\nstorm {:?}",
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>(),
        extra.len(),
        extra.iter().take(5).collect::<Vec<_>>(),
        differing.len(),
        differing.first(),
        per_blueprint(&expected),
        per_blueprint(&actual),
    );

    let injected = injected.lock().unwrap();
    let github_left = {
        let mut left = (0u64, 0u64);
        github
            .sim
            .faults(|f| left = (u64::from(f.bad_gateway_next), u64::from(f.secondary_next)));
        left
    };
    println!(
        "fault storm: {} deliveries ({objects} objects, {} redelivered), {} entities in Port; \
         faults served: Port {} of {} injected {:?}, GitHub {} of {} (502 {}, secondary limits {}); \
         {} invocations, {received_total} messages received, {handed_back_total} handed back, \
         {} Port writes; \
         wall time {:.1} s (reference resync {:.1} s, faults stopped at {:.1} s)",
        deliveries.len(),
        deliveries.len() - objects,
        actual.len(),
        port.faults_served(),
        injected.port.values().sum::<u64>(),
        injected.port,
        injected.github_bad_gateway + injected.github_secondary - github_left.0 - github_left.1,
        injected.github_bad_gateway + injected.github_secondary,
        injected.github_bad_gateway - github_left.0,
        injected.github_secondary - github_left.1,
        invocations.len(),
        writes.len(),
        wall.as_secs_f64(),
        resync_time.as_secs_f64(),
        faults_stopped_at.unwrap_or(wall).as_secs_f64(),
    );
    let _ = std::fs::remove_file(&mapping_file);
}
