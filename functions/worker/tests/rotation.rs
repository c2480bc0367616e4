//! The real `worker` binary under the Lambda Runtime API emulator, its secrets in Secrets Manager
//! (moto, behind a proxy that counts `GetSecretValue`): the GitHub App's key and Port's client
//! secret rotate between two batches (stored anew, and the old ones revoked in the simulators),
//! and the warm worker applies the second batch without a restart, reading each secret once more;
//! a key that stays refused hands the message back for redelivery instead of dropping it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::Duration;

use port_github_core::github::Feature;
use port_github_simulators::fixtures::fixtures_dir;
use port_github_simulators::github_sim::{
    OrgSpec, SimConfig, SimHarness, TEST_APP_PRIVATE_KEY, TEST_APP_PUBLIC_KEY,
    TEST_OTHER_PRIVATE_KEY, TEST_OTHER_PUBLIC_KEY,
};
use port_github_simulators::port_sim::harness::{INTEGRATION_ID, INTEGRATION_TYPE, spawn};
use port_github_simulators::port_sim::{CLIENT_ID, CLIENT_SECRET};
use port_github_tests::counting_proxy::{CountingProxy, GET_SECRET_VALUE};
use port_github_tests::lambda_runtime_api::{
    KillOnDrop, Outcome, RuntimeApi, events_record as record,
};
use port_github_tests::moto::{create_secret, moto, put_secret};
use serde_json::{Value, json};

fn credentials(secret: &str) -> String {
    json!({"clientId": CLIENT_ID, "clientSecret": secret}).to_string()
}

#[tokio::test]
async fn a_warm_worker_uses_rotated_credentials_without_a_restart() {
    // GitHub's clock at the real time (the binary signs with the system clock); installation
    // tokens that live 5 minutes, so every call mints one with the App key.
    let github = SimHarness::start_with(SimConfig {
        spec: OrgSpec {
            epoch: chrono::Utc::now(),
            ..OrgSpec::default()
        },
        token_ttl: Duration::from_secs(300),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (port, _, _) = spawn().await.unwrap();
    let proxy = CountingProxy::start(moto().endpoint()).await.unwrap();
    let secrets = aws_sdk_secretsmanager::Client::new(&proxy.sdk_config().await);
    let key_arn = create_secret(&secrets, "app-key", TEST_APP_PRIVATE_KEY)
        .await
        .unwrap();
    let port_arn = create_secret(&secrets, "port-credentials", &credentials(CLIENT_SECRET))
        .await
        .unwrap();
    let created = proxy.count(GET_SECRET_VALUE);

    let runtime = RuntimeApi::start().await.unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_worker"));
    command
        .env_clear()
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, value) in runtime.lambda_env("worker").into_iter().chain(proxy.env()) {
        command.env(key, value);
    }
    let config = fixtures_dir().join("ocean/port-app-config.yml");
    command
        .env("GITHUB_API_URL", github.sim.base_url())
        .env("GITHUB_APP_ID", github.sim.app_id())
        .env("GITHUB_APP_PRIVATE_KEY_ARN", &key_arn)
        .env("PORT_API_URL", port.base_url())
        .env("PORT_CREDENTIALS_ARN", &port_arn)
        .env("PORT_INTEGRATION_ID", INTEGRATION_ID)
        .env("PORT_INTEGRATION_TYPE", INTEGRATION_TYPE)
        .env("PORT_APP_CONFIG", config.display().to_string())
        .env("SECRET_TTL_SECONDS", "3600");
    let _worker = KillOnDrop(command.spawn().expect("spawn the worker binary"));

    // The events: one pull request per repository, of the App's installation.
    let client = github.pat_client(github.client_config()).unwrap();
    let repos = client
        .get("/orgs/sim-org/repos?per_page=100", Feature::Required)
        .await
        .unwrap();
    let mut bodies = Vec::new();
    for repo in repos.as_array().unwrap().iter().take(4) {
        let name = repo["name"].as_str().unwrap();
        let prs = client
            .get(
                &format!("/repos/sim-org/{name}/pulls?state=open"),
                Feature::Required,
            )
            .await
            .unwrap();
        let Some(pr) = prs.as_array().and_then(|prs| prs.first()) else {
            continue;
        };
        let envelope = json!({"version": 1, "event": "pull_request", "action": "opened",
            "delivery_id": format!("d-{name}"), "received_at": "2026-11-24T00:00:00Z",
            "organization": "sim-org", "installation_id": github.sim.installation_id(),
            "payload": {"action": "opened", "pull_request": pr, "repository": repo,
                "organization": {"login": "sim-org"}}});
        bodies.push((name.to_owned(), envelope.to_string()));
    }
    assert!(
        bodies.len() >= 3,
        "the simulated org has open pull requests"
    );
    let batch = |label: &str| {
        json!({"Records": bodies.iter().map(|(name, body)| {
            record(&format!("{label}-{name}"), &format!("group-{name}"), body.clone())
        }).collect::<Vec<_>>()})
    };
    let invoke = |event: Value| {
        let runtime = &runtime;
        async move {
            match runtime
                .invoke(&event, Duration::from_secs(60))
                .await
                .unwrap()
            {
                Outcome::Response(answer) => answer,
                Outcome::Error(error) => panic!("the worker reported an error: {error}"),
            }
        }
    };

    let answer = invoke(batch("before")).await;
    assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    let at_start = proxy.count(GET_SECRET_VALUE) - created;
    assert_eq!(at_start, 2, "each secret read once at start");

    // Rotation: new values stored, the old ones revoked.
    put_secret(&secrets, &key_arn, TEST_OTHER_PRIVATE_KEY)
        .await
        .unwrap();
    github.sim.rotate_app_key(TEST_OTHER_PUBLIC_KEY);
    put_secret(&secrets, &port_arn, &credentials("rotated-client-secret"))
        .await
        .unwrap();
    port.set_credentials(CLIENT_ID, "rotated-client-secret");
    port.expire_tokens();
    let entities_before = port.entities_of("githubPullRequest").len();

    let answer = invoke(batch("after")).await;
    assert_eq!(
        answer["batchItemFailures"],
        json!([]),
        "no event failed after the rotation: {answer}"
    );
    assert_eq!(
        proxy.count(GET_SECRET_VALUE) - created,
        at_start + 2,
        "each rotated secret read once more"
    );
    assert!(port.entities_of("githubPullRequest").len() >= entities_before);

    // The key is revoked and nobody stores a new one: the messages go back to the queue.
    github.sim.rotate_app_key(TEST_APP_PUBLIC_KEY);
    let answer = invoke(batch("refused")).await;
    let failed = answer["batchItemFailures"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        failed.len(),
        bodies.len(),
        "handed back, not dropped: {answer}"
    );
    assert!(
        proxy.count(GET_SECRET_VALUE) - created <= at_start + 3,
        "at most one more read for a refusal that persists"
    );
    println!(
        "Secrets Manager reads: {} at start, {} after the rotation and a persisting refusal",
        at_start,
        proxy.count(GET_SECRET_VALUE) - created - at_start
    );
}
