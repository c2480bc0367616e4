//! The real `resync` binary under a Lambda Runtime API emulator, with moto (the SQS jobs queue
//! and the DynamoDB state table) and the GitHub and Port simulators: a scheduled event starts a
//! run, the jobs queue's messages go back to the binary as SQS events until the queue is empty,
//! and the Port simulator's catalog holds the organization.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use port_github_core::mapping::PortAppConfig;
use port_github_core::mapping::defaults::{DEFAULT_BLUEPRINTS, DEFAULT_PORT_APP_CONFIG};
use port_github_core::resync::RunSummary;
use port_github_core::state::{DynamoDbStateStore, Key, StateStore as _};
use port_github_simulators::github_sim::{OrgSpec, SimHarness};
use port_github_simulators::port_sim::harness::{INTEGRATION_ID, INTEGRATION_TYPE};
use port_github_simulators::port_sim::{Blueprint, CLIENT_ID, CLIENT_SECRET, PortSim};
use port_github_simulators::resync_world::{SMALL_MAPPING, default_blueprints};
use port_github_tests::lambda_runtime_api::{Outcome, RuntimeApi};
use port_github_tests::moto::{
    create_secret, create_standard_queue, create_state_table, moto, next_batch, settle_batch,
    unique_name,
};
use serde_json::{Value, json};

/// The binary, killed when the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn resync(runtime: &RuntimeApi, env: &[(&str, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_resync"));
    command
        .env_clear()
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (key, value) in runtime.lambda_env("resync") {
        command.env(key, value);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

/// Everything one binary needs: simulators, its own queue and table, and its JSON logs in a file.
struct Setup {
    _github: SimHarness,
    port: PortSim,
    sqs: aws_sdk_sqs::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    queue_url: String,
    table: String,
    runtime: RuntimeApi,
    logs: PathBuf,
    _binary: Running,
}

/// How the binary is given its mapping.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MappingVia {
    /// `PORT_APP_CONFIG`: a file.
    File,
    /// `PORT_APP_CONFIG_ARN`: a Secrets Manager secret holding the YAML (the deployed way).
    Secret,
}

impl Setup {
    async fn start(spec: OrgSpec) -> Self {
        Self::start_with(spec, MappingVia::File).await
    }

    async fn start_with(spec: OrgSpec, via: MappingVia) -> Self {
        let port = PortSim::start(default_blueprints().unwrap()).await.unwrap();
        Self::start_on(spec, port, Some(via)).await
    }

    /// The binary against `port`, given `SMALL_MAPPING` `via` a file or a secret (none: the
    /// mapping comes from Port's integration record, else the built-in one).
    async fn start_on(spec: OrgSpec, port: PortSim, via: Option<MappingVia>) -> Self {
        let github = SimHarness::start(spec).await.unwrap();
        let aws = moto().sdk_config().await;
        let sqs = aws_sdk_sqs::Client::new(&aws);
        let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
        let queue_url = create_standard_queue(&sqs, "resync-jobs").await.unwrap();
        let table = create_state_table(&dynamodb, "resync-state").await.unwrap();
        let dir = std::env::temp_dir().join(unique_name("resync-runtime"));
        std::fs::create_dir_all(&dir).unwrap();
        let mapping = dir.join("port-app-config.yml");
        std::fs::write(&mapping, SMALL_MAPPING).unwrap();
        let logs = dir.join("stdout.log");
        let mut env = moto().env();
        env.extend([
            ("STATE_TABLE", table.clone()),
            ("RESYNC_QUEUE_URL", queue_url.clone()),
            ("RESYNC_TIME_BUDGET_SECONDS", "15".to_owned()),
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
        ]);
        match via {
            Some(MappingVia::File) => env.push(("PORT_APP_CONFIG", mapping.display().to_string())),
            Some(MappingVia::Secret) => {
                let secrets = aws_sdk_secretsmanager::Client::new(&aws);
                let arn = create_secret(&secrets, "port-app-config", SMALL_MAPPING)
                    .await
                    .unwrap();
                env.push(("PORT_APP_CONFIG_ARN", arn));
            }
            None => {}
        }
        let runtime = RuntimeApi::start().await.unwrap();
        let binary = Running(
            resync(&runtime, &env)
                .stdout(std::fs::File::create(&logs).unwrap())
                .spawn()
                .expect("spawn the resync binary"),
        );
        Self {
            _github: github,
            port,
            sqs,
            dynamodb,
            queue_url,
            table,
            runtime,
            logs,
            _binary: binary,
        }
    }

    async fn invoke(&self, event: &Value) -> Value {
        match self
            .runtime
            .invoke(event, Duration::from_secs(60))
            .await
            .unwrap()
        {
            Outcome::Response(answer) => answer,
            Outcome::Error(error) => panic!("the resync reported an error: {error}"),
        }
    }

    /// Sends the queue's messages to the binary, ten at a time, until the queue is empty.
    async fn drain(&self) -> usize {
        let give_up = Instant::now() + Duration::from_secs(300);
        let mut batches = 0;
        while let Some(messages) = next_batch(&self.sqs, &self.queue_url, give_up)
            .await
            .expect("the jobs queue empties within 5 minutes")
        {
            let records: Vec<Value> = messages
                .iter()
                .map(|m| {
                    record(
                        m.message_id().unwrap(),
                        m.body().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            let answer = self.invoke(&json!({"Records": records})).await;
            let failed: Vec<String> = answer["batchItemFailures"]
                .as_array()
                .unwrap_or_else(|| panic!("not an SqsBatchResponse: {answer}"))
                .iter()
                .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
                .collect();
            settle_batch(&self.sqs, &self.queue_url, &messages, &failed)
                .await
                .unwrap();
            batches += 1;
        }
        batches
    }

    /// The binary's JSON log lines so far.
    fn logs(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.logs)
            .unwrap()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

fn scheduled_event() -> Value {
    json!({"version": "0", "id": "0d7a6f0e-0000-0000-0000-000000000000",
        "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
        "time": "2026-11-24T00:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/resync"], "detail": {}})
}

fn record(id: &str, body: String) -> Value {
    json!({
        "messageId": id,
        "receiptHandle": format!("handle-{id}"),
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795536000000",
            "SenderId": "AROAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1795536000001"},
        "messageAttributes": {},
        "md5OfBody": "0",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:resync-jobs",
        "awsRegion": "us-east-1"
    })
}

#[tokio::test]
async fn a_scheduled_run_goes_through_the_jobs_queue_to_the_catalog() {
    let spec = OrgSpec::default();
    let repos = spec.repos;
    let setup = Setup::start(spec).await;

    let started = setup.invoke(&scheduled_event()).await;
    assert_eq!(started["status"], "started", "{started}");
    let run = started["run"].as_str().unwrap().to_owned();
    // The next tick, a few minutes later, starts nothing (the run is in progress, and a first
    // run is tried again only after a while).
    let again = setup.invoke(&scheduled_event()).await;
    assert_eq!(again["status"], "not_due", "{again}");

    let batches = setup.drain().await;
    assert!(batches > 0);
    assert_eq!(
        setup.port.entities_of("githubRepository").len(),
        repos,
        "one entity per repository"
    );
    for blueprint in ["githubPullRequest", "githubIssue", "githubRelease"] {
        assert!(
            !setup.port.entities_of(blueprint).is_empty(),
            "{blueprint} entities in the catalog"
        );
    }

    // The summary, as the run stored it (`resync/run/<id>`) and as it logged it.
    let store = DynamoDbStateStore::new(setup.dynamodb.clone(), setup.table.clone());
    let stored = store
        .get(
            Key::new("resync", &format!("run/{run}")),
            chrono::Utc::now(),
        )
        .await
        .unwrap()
        .expect("the run's summary is stored");
    let summary: RunSummary = serde_json::from_str(&stored.value).unwrap();
    assert_eq!(summary.status, "completed", "{summary:?}");
    let logged = setup
        .logs()
        .into_iter()
        .any(|line| line["fields"]["message"] == "resync completed");
    assert!(logged, "the completed run is logged");

    // The run completed: the next tick waits for the interval (RESYNC_INTERVAL_MINUTES).
    let next = setup.invoke(&scheduled_event()).await;
    assert_eq!(next["status"], "not_due", "{next}");
    let due_at = chrono::DateTime::parse_from_rfc3339(next["due_at"].as_str().unwrap()).unwrap();
    let wait = due_at.with_timezone(&chrono::Utc) - summary.started_at;
    assert_eq!(wait, chrono::TimeDelta::hours(1), "{next}");

    // Metrics: every stdout line is one JSON object (EMF lines never cut into log lines); the
    // run's outcome and duration, its entities per kind, and a ResyncOverdue of 0 on each tick.
    let text = std::fs::read_to_string(&setup.logs).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not one JSON object: {l}")))
        .collect();
    let emf: Vec<&Value> = lines.iter().filter(|l| l.get("_aws").is_some()).collect();
    assert!(emf.iter().all(|l| l["Function"] == "resync"));
    let runs: Vec<&&Value> = emf
        .iter()
        .filter(|l| l.get("ResyncRuns").is_some())
        .collect();
    assert_eq!(runs.len(), 1, "{emf:#?}");
    assert_eq!(runs[0]["Outcome"], "completed");
    assert!(runs[0]["ResyncDuration"].as_f64().unwrap() >= 0.0);
    let repositories = emf
        .iter()
        .find(|l| l["Kind"] == "repository")
        .expect("a line for the repository kind");
    assert_eq!(repositories["ResyncEntitiesSeen"], repos as f64);
    assert_eq!(repositories["ResyncEntitiesUpserted"], repos as f64);
    assert_eq!(repositories["ResyncEntitiesRefused"], 0.0);
    let overdue: Vec<f64> = emf
        .iter()
        .filter_map(|l| l["ResyncOverdue"].as_f64())
        .collect();
    assert_eq!(overdue, [0.0, 0.0, 0.0], "one per tick");
    assert!(emf.iter().any(|l| {
        l["GitHubRateLimitRemaining"]
            .as_f64()
            .is_some_and(|r| r > 0.0)
    }));
}

#[tokio::test]
async fn the_mapping_can_come_from_a_secrets_manager_secret() {
    let spec = OrgSpec::default();
    let repos = spec.repos;
    let setup = Setup::start_with(spec, MappingVia::Secret).await;
    let started = setup.invoke(&scheduled_event()).await;
    assert_eq!(started["status"], "started", "{started}");
    setup.drain().await;
    assert_eq!(setup.port.entities_of("githubRepository").len(), repos);
    assert!(!setup.port.entities_of("githubRelease").is_empty());
    // The secret's mapping, not the built-in one (which also maps branches and tags).
    assert!(setup.port.entities_of("githubBranch").is_empty());
    let ready = setup
        .logs()
        .into_iter()
        .find(|line| line["fields"]["message"] == "resync ready")
        .expect("the start is logged");
    let source = ready["fields"]["mapping"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        source.starts_with("Secret(") && source.contains(":secretsmanager:"),
        "{ready}"
    );
}

#[tokio::test]
async fn a_first_run_into_a_fresh_port_organization_provisions_it_and_lands_everything() {
    let spec = OrgSpec::default();
    let repos = spec.repos;
    let port = PortSim::start_fresh().await.unwrap();
    // The user's own githubRelease, made before the integration: it must stay as they made it.
    let mut theirs = builtin_blueprint("githubRelease");
    theirs["title"] = json!("Our releases");
    port.add_blueprint(Blueprint::from_port_json(&theirs).unwrap());
    let setup = Setup::start_on(spec, port, None).await;

    let started = setup.invoke(&scheduled_event()).await;
    assert_eq!(started["status"], "started", "{started}");
    setup.drain().await;

    // The integration exists, holding the mapping the run used (the built-in one).
    let record = setup.port.integration(INTEGRATION_ID).expect("created");
    let builtin = PortAppConfig::from_yaml_or_json(DEFAULT_PORT_APP_CONFIG).unwrap();
    assert_eq!(record["config"], builtin.document, "{record}");
    // Every built-in blueprint exists; the user's is untouched.
    let list: Vec<Value> = serde_json::from_str(DEFAULT_BLUEPRINTS).unwrap();
    for definition in &list {
        let id = definition["identifier"].as_str().unwrap();
        assert!(setup.port.blueprint(id).is_some(), "{id}");
    }
    assert_eq!(setup.port.blueprint("githubRelease"), Some(theirs));
    // Every entity landed; the run completed and said so to Port.
    assert_eq!(setup.port.entities_of("githubRepository").len(), repos);
    for blueprint in [
        "githubPullRequest",
        "githubIssue",
        "githubRelease",
        "githubTeam",
    ] {
        assert!(
            !setup.port.entities_of(blueprint).is_empty(),
            "{blueprint} entities in the catalog"
        );
    }
    let states: Vec<Value> = setup
        .port
        .resync_states()
        .into_iter()
        .map(|s| s.body["status"].clone())
        .collect();
    assert_eq!(states.first(), Some(&json!("running")), "{states:?}");
    assert_eq!(states.last(), Some(&json!("completed")), "{states:?}");
}

fn builtin_blueprint(identifier: &str) -> Value {
    let list: Vec<Value> = serde_json::from_str(DEFAULT_BLUEPRINTS).unwrap();
    list.into_iter()
        .find(|b| b["identifier"] == identifier)
        .unwrap()
}

#[tokio::test]
async fn a_malformed_job_is_acknowledged_and_logged_and_an_unknown_event_is_an_error() {
    let setup = Setup::start(OrgSpec::default()).await;
    let answer = setup
        .invoke(&json!({"Records": [record("m-bad", "not a job".to_owned())]}))
        .await;
    assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    let logged = setup.logs().into_iter().any(|line| {
        line["fields"]["message"] == "dropped a malformed resync job"
            && line["fields"]["message_id"] == "m-bad"
    });
    assert!(logged, "the malformed job is logged: {:?}", setup.logs());

    let outcome = setup
        .runtime
        .invoke(&json!({"hello": "world"}), Duration::from_secs(30))
        .await
        .unwrap();
    let Outcome::Error(error) = outcome else {
        panic!("an unknown event must be an error, not {outcome:?}");
    };
    assert!(error.to_string().contains("unsupported event"), "{error}");
}

#[tokio::test]
async fn refuses_to_start_without_the_jobs_queue() {
    let runtime = RuntimeApi::start().await.unwrap();
    let env = [
        ("GITHUB_TOKEN", "t".to_owned()),
        ("PORT_CLIENT_ID", "id".to_owned()),
        ("PORT_CLIENT_SECRET", "secret".to_owned()),
        ("PORT_INTEGRATION_ID", "gh".to_owned()),
        ("STATE_TABLE", "state".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
    ];
    let output = resync(&runtime, &env).output().unwrap();
    assert!(!output.status.success());
    assert_eq!(
        output.status.code(),
        Some(2),
        "the start-up failure exit status"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("RESYNC_QUEUE_URL"), "{stderr}");
    assert!(runtime.first_poll().is_none());
}

#[tokio::test]
async fn refuses_to_start_with_a_token_and_no_organization_named() {
    let runtime = RuntimeApi::start().await.unwrap();
    let mapping =
        port_github_simulators::fixtures::fixtures_dir().join("ocean/port-app-config.yml");
    let env = [
        ("GITHUB_TOKEN", "t".to_owned()),
        ("PORT_CLIENT_ID", "id".to_owned()),
        ("PORT_CLIENT_SECRET", "secret".to_owned()),
        ("PORT_INTEGRATION_ID", "gh".to_owned()),
        ("PORT_APP_CONFIG", mapping.display().to_string()),
        ("STATE_TABLE", "state".to_owned()),
        (
            "RESYNC_QUEUE_URL",
            "http://127.0.0.1:1/queue/jobs".to_owned(),
        ),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
    ];
    let output = resync(&runtime, &env).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert_eq!(
        output.status.code(),
        Some(2),
        "the start-up failure exit status"
    );
    assert!(stderr.contains("GITHUB_ORGANIZATIONS"), "{stderr}");
    assert!(runtime.first_poll().is_none());
}

#[tokio::test]
async fn a_due_tick_while_another_run_holds_the_lease_is_skipped_and_says_until_when() {
    let setup = Setup::start(OrgSpec::default()).await;
    // Another run holds the lease (as a container of a run in progress would have renewed it).
    let store = DynamoDbStateStore::new(setup.dynamodb.clone(), setup.table.clone());
    let now = chrono::Utc::now();
    store
        .acquire_lease("resync", "other-run", now, Duration::from_secs(1_800))
        .await
        .unwrap();
    let until = now + chrono::TimeDelta::minutes(30);
    let skipped = setup.invoke(&scheduled_event()).await;
    assert_eq!(skipped["status"], "skipped", "{skipped}");
    assert_eq!(skipped["holder"], "other-run", "{skipped}");
    let answered =
        chrono::DateTime::parse_from_rfc3339(skipped["until"].as_str().unwrap()).unwrap();
    assert!(
        (answered.with_timezone(&chrono::Utc) - until).abs() < chrono::TimeDelta::seconds(1),
        "{skipped}"
    );
    let message = skipped["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("skipped: run other-run in progress, lease until ")
            && message.ends_with("(started unknown)"),
        "{skipped}"
    );
    let logged = setup.logs().into_iter().any(|line| {
        line["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("skipped: run other-run in progress, lease until "))
    });
    assert!(logged, "the skip is logged with the holder and until when");
}

#[tokio::test]
async fn a_press_of_the_resync_button_in_port_starts_one_run_at_the_next_tick() {
    let setup = Setup::start(OrgSpec::default()).await;
    let first = setup.invoke(&scheduled_event()).await;
    assert_eq!(
        (&first["status"], &first["reason"]),
        (&json!("started"), &json!("scheduled")),
        "{first}"
    );
    setup.drain().await;
    let quiet = setup.invoke(&scheduled_event()).await;
    assert_eq!(quiet["status"], "not_due", "{quiet}");

    // The first run created the integration's record; its button is pressed now.
    let pressed = chrono::Utc::now();
    setup
        .port
        .press_resync(INTEGRATION_ID, Some(pressed))
        .unwrap();
    let requested = setup.invoke(&scheduled_event()).await;
    assert_eq!(requested["status"], "started", "{requested}");
    let reason = requested["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("requested in Port at "), "{requested}");
    let run = requested["run"].as_str().unwrap().to_owned();
    setup.drain().await;

    // Handled, as recorded in the DynamoDB table: the same request starts nothing more.
    let store = DynamoDbStateStore::new(setup.dynamodb.clone(), setup.table.clone());
    let now = chrono::Utc::now();
    let handled = store
        .get(Key::new("resync", "last-request"), now)
        .await
        .unwrap()
        .expect("the handled request is recorded");
    let handled: Value = serde_json::from_str(&handled.value).unwrap();
    assert_eq!(handled["run"], json!(run), "{handled}");
    let summary = store
        .get(Key::new("resync", &format!("run/{run}")), now)
        .await
        .unwrap()
        .expect("the run's summary is stored");
    let summary: RunSummary = serde_json::from_str(&summary.value).unwrap();
    assert_eq!(summary.trigger.as_deref(), Some(reason), "{summary:?}");
    let again = setup.invoke(&scheduled_event()).await;
    assert_eq!(again["status"], "not_due", "{again}");
    let logged = setup.logs().into_iter().any(|line| {
        line["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("resync started (requested in Port at "))
    });
    assert!(logged, "the start's log line says why");
}
