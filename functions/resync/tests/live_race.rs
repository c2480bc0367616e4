//! Live events during a resync, through the binaries: the `resync` and `worker` binaries, each
//! under a Lambda Runtime API emulator, sharing one moto DynamoDB state table (the live-write
//! journal), with the GitHub and Port simulators. A repository upserted live after the run
//! listed the repositories survives that run's cleanup; a repository deleted live while the
//! run's upsert of it was on its way to Port does not come back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use port_github_core::github::Feature;
use port_github_core::resync::RunSummary;
use port_github_core::state::{DynamoDbStateStore, Key, StateStore as _};
use port_github_simulators::github_sim::{OrgSpec, SimHarness};
use port_github_simulators::port_sim::harness::{INTEGRATION_ID, INTEGRATION_TYPE};
use port_github_simulators::port_sim::{CLIENT_ID, CLIENT_SECRET, PortSim};
use port_github_simulators::resync_world::{SMALL_MAPPING, default_blueprints};
use port_github_tests::binaries::workspace_binary;
use port_github_tests::lambda_runtime_api::{KillOnDrop, Outcome, RuntimeApi, sqs_record};
use port_github_tests::moto::{
    create_standard_queue, create_state_table, moto, next_batch, settle_batch, unique_name,
};
use serde_json::{Value, json};

/// Both binaries on the same table, GitHub and Port.
struct World {
    github: SimHarness,
    port: PortSim,
    sqs: aws_sdk_sqs::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    jobs_url: String,
    table: String,
    resync: RuntimeApi,
    worker: RuntimeApi,
    _binaries: Vec<KillOnDrop>,
    _dir: PathBuf,
}

impl World {
    async fn start(repos: usize) -> World {
        let github = SimHarness::start(OrgSpec {
            repos,
            ..OrgSpec::default()
        })
        .await
        .unwrap();
        let port = PortSim::start(default_blueprints().unwrap()).await.unwrap();
        let aws = moto().sdk_config().await;
        let sqs = aws_sdk_sqs::Client::new(&aws);
        let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
        let jobs_url = create_standard_queue(&sqs, "race-jobs").await.unwrap();
        let table = create_state_table(&dynamodb, "race-state").await.unwrap();
        let dir = std::env::temp_dir().join(unique_name("live-race"));
        std::fs::create_dir_all(&dir).unwrap();
        let mapping = dir.join("port-app-config.yml");
        std::fs::write(&mapping, SMALL_MAPPING).unwrap();
        let mut common = moto().env();
        common.extend([
            ("STATE_TABLE", table.clone()),
            ("GITHUB_API_URL", github.sim.base_url().to_owned()),
            (
                "GITHUB_TOKEN",
                github.sim.personal_token().unwrap().to_owned(),
            ),
            ("GITHUB_ORGANIZATIONS", github.sim.org().to_owned()),
            ("PORT_API_URL", port.base_url().to_owned()),
            ("PORT_CLIENT_ID", CLIENT_ID.to_owned()),
            ("PORT_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            ("PORT_INTEGRATION_ID", INTEGRATION_ID.to_owned()),
            ("PORT_INTEGRATION_TYPE", INTEGRATION_TYPE.to_owned()),
            ("PORT_APP_CONFIG", mapping.display().to_string()),
        ]);
        let resync = RuntimeApi::start().await.unwrap();
        let worker = RuntimeApi::start().await.unwrap();
        let worker_binary =
            workspace_binary(env!("CARGO_BIN_EXE_resync"), "worker", "worker").unwrap();
        let spawn = |binary: &std::path::Path,
                     runtime: &RuntimeApi,
                     name: &str,
                     extra: &[(&str, String)]| {
            let mut command = Command::new(binary);
            command
                .env_clear()
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .envs(runtime.lambda_env(name))
                .envs(common.iter().map(|(k, v)| (*k, v.clone())))
                .envs(extra.iter().map(|(k, v)| (*k, v.clone())));
            KillOnDrop(command.spawn().expect("spawn a binary"))
        };
        let binaries = vec![
            spawn(
                std::path::Path::new(env!("CARGO_BIN_EXE_resync")),
                &resync,
                "resync",
                &[
                    ("RESYNC_QUEUE_URL", jobs_url.clone()),
                    ("RESYNC_TIME_BUDGET_SECONDS", "20".to_owned()),
                    ("SEND_RAW_DATA_EXAMPLES", "false".to_owned()),
                ],
            ),
            spawn(&worker_binary, &worker, "worker", &[]),
        ];
        World {
            github,
            port,
            sqs,
            dynamodb,
            jobs_url,
            table,
            resync,
            worker,
            _binaries: binaries,
            _dir: dir,
        }
    }

    async fn invoke(runtime: &RuntimeApi, event: &Value) -> Value {
        match runtime
            .invoke(event, Duration::from_secs(60))
            .await
            .unwrap()
        {
            Outcome::Response(answer) => answer,
            Outcome::Error(error) => panic!("the function reported an error: {error}"),
        }
    }

    /// The repository `index` as GitHub serves it now.
    async fn repository(&self, index: usize) -> Value {
        let client = self.github.pat_client(self.github.client_config()).unwrap();
        client
            .get(
                &format!(
                    "/repos/{}/{}",
                    self.github.sim.org(),
                    self.github.sim.repo_name(index)
                ),
                Feature::Required,
            )
            .await
            .unwrap()
    }

    /// One live `repository` event through the worker binary; it must be applied.
    async fn live(&self, action: &str, repository: Value, delivery: &str) {
        let envelope = json!({"version": 1, "event": "repository", "action": action,
            "delivery_id": delivery, "received_at": chrono::Utc::now().to_rfc3339(),
            "organization": self.github.sim.org(),
            "payload": {"action": action, "repository": repository,
                "organization": {"login": self.github.sim.org()}}});
        let event = json!({"Records": [sqs_record(delivery, Some("repo"), envelope.to_string(),
            "arn:aws:sqs:us-east-1:123456789012:events.fifo")]});
        let answer = Self::invoke(&self.worker, &event).await;
        assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    }

    /// Delivers the jobs queue's messages to the resync binary one at a time; `before` sees
    /// each job first and may act; it returns true when it delivered the job itself.
    async fn drain(&self, mut before: impl AsyncFnMut(&Value, &World) -> bool) {
        let give_up = Instant::now() + Duration::from_secs(300);
        while let Some(messages) = next_batch(&self.sqs, &self.jobs_url, give_up)
            .await
            .expect("the jobs queue empties")
        {
            for message in &messages {
                let body = message.body().unwrap_or_default().to_owned();
                let job: Value = serde_json::from_str(&body).unwrap();
                if before(&job, self).await {
                    settle_batch(
                        &self.sqs,
                        &self.jobs_url,
                        std::slice::from_ref(message),
                        &[],
                    )
                    .await
                    .unwrap();
                    continue;
                }
                let record = sqs_record(
                    message.message_id().unwrap(),
                    None,
                    body,
                    "arn:aws:sqs:us-east-1:123456789012:race-jobs",
                );
                let answer = Self::invoke(&self.resync, &json!({"Records": [record]})).await;
                let failed: Vec<String> = answer["batchItemFailures"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
                    .collect();
                settle_batch(
                    &self.sqs,
                    &self.jobs_url,
                    std::slice::from_ref(message),
                    &failed,
                )
                .await
                .unwrap();
            }
        }
    }

    async fn summary(&self, run: &str) -> RunSummary {
        let store = DynamoDbStateStore::new(self.dynamodb.clone(), self.table.clone());
        let stored = store
            .get(
                Key::new("resync", &format!("run/{run}")),
                chrono::Utc::now(),
            )
            .await
            .unwrap()
            .expect("the run's summary is stored");
        serde_json::from_str(&stored.value).unwrap()
    }

    async fn start_run(&self) -> String {
        let started = Self::invoke(&self.resync, &scheduled_event()).await;
        assert_eq!(started["status"], "started", "{started}");
        started["run"].as_str().unwrap().to_owned()
    }
}

fn scheduled_event() -> Value {
    json!({"version": "0", "id": "0d7a6f0e-0000-0000-0000-000000000001",
        "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
        "time": "2026-11-24T00:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/resync"], "detail": {}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_upserted_live_during_a_run_survives_its_cleanup() {
    let world = World::start(3).await;
    let late = world.github.sim.repo_name(2);
    // Repository 2 does not exist yet when the run lists the repositories.
    world.github.sim.remove_repo(2);
    // A stale entity this integration owns: the cleanup must still delete it.
    let datasource = format!("port-ocean/{INTEGRATION_TYPE}/0.1.0/{INTEGRATION_ID}/exporter");
    world
        .port
        .seed_entity(
            "githubRepository",
            json!({"identifier": "gone-long-ago", "title": "gone", "properties": {}}),
            Some(&datasource),
        )
        .unwrap();

    let run = world.start_run().await;
    let mut created = false;
    world
        .drain(async |job: &Value, world: &World| {
            if job["task"]["type"] == "cleanup" && !created {
                // Every listing is done: now the repository is created, and its event applied.
                world.github.sim.restore_repo(2);
                let repository = world.repository(2).await;
                world.live("created", repository, "late-created").await;
                assert!(world.port.entity("githubRepository", &late).is_some());
                created = true;
            }
            false
        })
        .await;
    assert!(created, "the run reached its cleanup");

    let summary = world.summary(&run).await;
    assert!(
        world.port.entity("githubRepository", &late).is_some(),
        "the live upsert survived the cleanup: {summary:#?}"
    );
    assert_eq!(summary.status, "completed", "{summary:#?}");
    let cleanup = summary.cleanup.expect("the cleanup ran");
    assert_eq!(cleanup.written_live, 1, "{cleanup:#?}");
    assert!(
        world
            .port
            .entity("githubRepository", "gone-long-ago")
            .is_none(),
        "the stale entity went: {cleanup:#?}"
    );
    assert_eq!(world.port.entities_of("githubRepository").len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_deleted_live_while_the_run_sends_it_does_not_come_back() {
    let world = World::start(2).await;
    let doomed = world.github.sim.repo_name(0);
    let repository = world.repository(0).await;
    // The worker's container is warm (its first event provisions and reads the mapping), so
    // its requests later come while the run's upsert is held.
    world
        .live("edited", world.repository(1).await, "warm-up")
        .await;

    let run = world.start_run().await;
    let resync = &world.resync;
    let mut deleted = false;
    world
        .drain(async |job: &Value, world: &World| {
            let is_doomed_repo = job["task"]["type"] == "repo"
                && job["task"]["repo"]["name"] == doomed.as_str()
                && job["task"]["resource"] == 0;
            if !is_doomed_repo || deleted {
                return false;
            }
            deleted = true;
            // The run's next request to Port (this job's upsert of the repository) is held for
            // a while; meanwhile the repository is deleted in GitHub and the worker applies it.
            world.port.stall_next(Duration::from_secs(4), 1);
            let body = serde_json::to_string(job).unwrap();
            let record = sqs_record(
                "held",
                None,
                body,
                "arn:aws:sqs:us-east-1:123456789012:race-jobs",
            );
            let event = json!({"Records": [record]});
            let invocation = World::invoke(resync, &event);
            let live = async {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                world.github.sim.remove_repo(0);
                world
                    .live("deleted", repository.clone(), "deleted-live")
                    .await;
            };
            let (answer, ()) = tokio::join!(invocation, live);
            assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
            true
        })
        .await;
    assert!(deleted, "the repository's job ran");

    let summary = world.summary(&run).await;
    assert!(
        world.port.entity("githubRepository", &doomed).is_none(),
        "the repository deleted live stays deleted: {:?}",
        world.port.entities_of("githubRepository")
    );
    assert_eq!(
        summary.counters.get("deleted-live"),
        Some(&1),
        "{summary:#?}"
    );
    assert_eq!(summary.status, "completed", "{summary:#?}");
    assert!(
        world
            .port
            .entity("githubRepository", &world.github.sim.repo_name(1))
            .is_some()
    );
}
