//! Credentials rotate without a restart: the worker's secrets live in Secrets Manager (moto, read
//! through a proxy that counts `GetSecretValue`), and mid-stream both the secrets and what the
//! simulators accept change (the GitHub App's key, the personal token, Port's client secret, the
//! webhook secret). Events before and after are applied, none fails for good, and a storm of
//! refusals costs one read per secret. A refusal that persists after the re-read is transient for
//! the worker (the message is redelivered, not dropped). The TTL alone also picks up a rotation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use port_github_core::config::{Env, WebhookConfig, WorkerConfig};
use port_github_core::github::Feature;
use port_github_core::live::setup::build_processor;
use port_github_core::live::{LiveError, LiveProcessor};
use port_github_core::queue::InMemoryEventQueue;
use port_github_core::webhook::envelope::Envelope;
use port_github_core::webhook::{WebhookHandler, WebhookRequest, sign};
use port_github_simulators::fixtures::fixtures_dir;
use port_github_simulators::github_sim::{
    OrgSpec, SimConfig, SimHarness, TEST_APP_PRIVATE_KEY, TEST_APP_PUBLIC_KEY,
    TEST_OTHER_PRIVATE_KEY, TEST_OTHER_PUBLIC_KEY,
};
use port_github_simulators::port_sim::harness::{INTEGRATION_ID, spawn};
use port_github_simulators::port_sim::{CLIENT_ID, CLIENT_SECRET, Endpoint, PortSim};
use port_github_tests::counting_proxy::{CountingProxy, GET_SECRET_VALUE};
use port_github_tests::moto::{create_secret, moto, put_secret};
use serde_json::json;

const MINT: &str = "POST /app/installations/{id}/access_tokens";

struct World {
    github: SimHarness,
    port: PortSim,
    proxy: CountingProxy,
    secrets: aws_sdk_secretsmanager::Client,
    aws: aws_config::SdkConfig,
    /// The Port credentials secret.
    port_arn: String,
}

/// The simulators (GitHub's clock at the real time, as the worker's clients use the system
/// clock; installation tokens that live 5 minutes, so each call mints one with the App key),
/// moto behind the counting proxy, and the Port credentials secret.
async fn world() -> World {
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
    let aws = proxy.sdk_config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let port_arn = create_secret(
        &secrets,
        "port-credentials",
        &port_credentials(CLIENT_SECRET),
    )
    .await
    .unwrap();
    World {
        github,
        port,
        proxy,
        secrets,
        aws,
        port_arn,
    }
}

fn port_credentials(secret: &str) -> String {
    json!({"clientId": CLIENT_ID, "clientSecret": secret}).to_string()
}

impl World {
    fn reads(&self) -> u64 {
        self.proxy.count(GET_SECRET_VALUE)
    }

    fn env(&self, github: &[(&str, String)], ttl_seconds: u64) -> Env {
        let mut pairs = vec![
            ("GITHUB_API_URL", self.github.sim.base_url().to_owned()),
            ("PORT_API_URL", self.port.base_url().to_owned()),
            ("PORT_CREDENTIALS_ARN", self.port_arn.clone()),
            ("PORT_INTEGRATION_ID", INTEGRATION_ID.to_owned()),
            (
                "PORT_APP_CONFIG",
                fixtures_dir()
                    .join("ocean/port-app-config.yml")
                    .display()
                    .to_string(),
            ),
            ("SECRET_TTL_SECONDS", ttl_seconds.to_string()),
        ];
        pairs.extend(github.iter().map(|(k, v)| (*k, v.clone())));
        Env::from_pairs(pairs)
    }

    /// A worker authenticating as the simulator's App with the key in a new secret.
    async fn app_worker(&self, ttl_seconds: u64) -> (LiveProcessor, String) {
        let key_arn = create_secret(&self.secrets, "app-key", TEST_APP_PRIVATE_KEY)
            .await
            .unwrap();
        let env = self.env(
            &[
                ("GITHUB_APP_ID", self.github.sim.app_id().to_owned()),
                ("GITHUB_APP_PRIVATE_KEY_ARN", key_arn.clone()),
            ],
            ttl_seconds,
        );
        let config = WorkerConfig::from_env(&env).unwrap();
        let (processor, _) = build_processor(&config, &self.aws).await.unwrap();
        (processor, key_arn)
    }

    /// A `pull_request opened` event of the App's installation.
    async fn event(&self, delivery: &str) -> Envelope {
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
        serde_json::from_value(json!({"version": 1, "event": "pull_request", "action": "opened",
            "delivery_id": delivery, "received_at": "2026-11-24T00:00:00Z", "organization": "sim-org",
            "installation_id": self.github.sim.installation_id(),
            "payload": {"action": "opened", "pull_request": prs[0].clone(), "repository": repo,
                "organization": {"login": "sim-org"}}}))
        .unwrap()
    }

    /// Port now accepts only `secret` (and every token issued so far is revoked).
    fn port_accepts(&self, secret: &str) {
        self.port.set_credentials(CLIENT_ID, secret);
        self.port.expire_tokens();
    }
}

/// Applies `events` concurrently; the outcome of each.
async fn storm(
    processor: &LiveProcessor,
    events: &[Envelope],
) -> Vec<Result<port_github_core::live::LiveReport, LiveError>> {
    futures_util::future::join_all(events.iter().map(|event| processor.process(event))).await
}

#[tokio::test]
async fn a_rotated_app_key_and_port_secret_are_used_without_a_restart() {
    let world = world().await;
    let (processor, key_arn) = world.app_worker(3_600).await;
    let at_start = world.reads();
    assert_eq!(
        at_start, 2,
        "the App key and the Port credentials, once each"
    );
    let before = world.event("d-before").await;
    processor.process(&before).await.unwrap();
    assert_eq!(
        world.reads(),
        at_start,
        "nothing re-read while the credentials work"
    );

    // Both rotate: the new values are stored, the old ones revoked.
    put_secret(&world.secrets, &key_arn, TEST_OTHER_PRIVATE_KEY)
        .await
        .unwrap();
    world.github.sim.rotate_app_key(TEST_OTHER_PUBLIC_KEY);
    put_secret(
        &world.secrets,
        &world.port_arn,
        &port_credentials("rotated-secret"),
    )
    .await
    .unwrap();
    world.port_accepts("rotated-secret");
    let requests_before = world.github.sim.count(MINT).total;
    let minted_before = world.github.sim.tokens_minted();

    let mut events = Vec::new();
    for n in 0..8 {
        events.push(world.event(&format!("d-after-{n}")).await);
    }
    for (n, outcome) in storm(&processor, &events).await.into_iter().enumerate() {
        let report = outcome.unwrap_or_else(|e| panic!("event {n} after the rotation: {e}"));
        assert_eq!(report.upserted.len(), 1, "event {n}: {report:?}");
    }
    assert_eq!(
        world.reads(),
        at_start + 2,
        "a storm of 401s made one read of each rotated secret"
    );
    let requests = world.github.sim.count(MINT).total - requests_before;
    let refused = requests - (world.github.sim.tokens_minted() - minted_before);
    assert_eq!(
        refused, 1,
        "one mint refused (the old key), then the new key"
    );
    println!(
        "after the rotation: 8 events, {} Secrets Manager reads, {requests} mint requests ({refused} refused), {} Port token requests in all",
        world.reads() - at_start,
        world.port.count(Endpoint::AccessToken)
    );
}

#[tokio::test]
async fn a_refusal_that_persists_after_the_reread_is_transient_and_reads_little() {
    let world = world().await;
    let (processor, _) = world.app_worker(3_600).await;
    let at_start = world.reads();
    processor.process(&world.event("d-ok").await).await.unwrap();

    // Port revokes the secret, and nobody stores a new one.
    world.port_accepts("a-secret-nobody-stored");
    for n in 0..3 {
        let outcome = processor
            .process(&world.event(&format!("d-port-{n}")).await)
            .await;
        assert!(
            matches!(&outcome, Err(LiveError::Transient { reason, .. })
                if reason.contains("401") || reason.contains("unauthorized")),
            "event {n}: {outcome:?}"
        );
    }
    assert_eq!(
        world.reads(),
        at_start + 1,
        "one re-read, then none within a few seconds"
    );

    // GitHub revokes the App key too (the secret still holds the old one).
    world.github.sim.rotate_app_key(TEST_OTHER_PUBLIC_KEY);
    for n in 0..3 {
        let outcome = processor
            .process(&world.event(&format!("d-github-{n}")).await)
            .await;
        assert!(
            matches!(&outcome, Err(LiveError::Transient { reason, .. })
                if reason.contains("401") || reason.contains("unauthorized")),
            "event {n}: {outcome:?}"
        );
    }
    assert_eq!(world.reads(), at_start + 2);

    // The secrets are put right: after the re-read interval the next event goes through.
    put_secret(
        &world.secrets,
        &world.port_arn,
        &port_credentials("a-secret-nobody-stored"),
    )
    .await
    .unwrap();
    world.github.sim.rotate_app_key(TEST_APP_PUBLIC_KEY);
    tokio::time::sleep(port_github_core::secrets::MIN_RELOAD_INTERVAL).await;
    processor
        .process(&world.event("d-fixed").await)
        .await
        .unwrap();
    assert_eq!(
        world.reads(),
        at_start + 3,
        "the Port secret read once more"
    );
}

#[tokio::test]
async fn a_rotated_personal_token_and_webhook_secret_are_used_without_a_restart() {
    let world = world().await;
    let token = world.github.sim.personal_token().unwrap().to_owned();
    let token_arn = create_secret(&world.secrets, "github-token", &token)
        .await
        .unwrap();
    let env = world.env(&[("GITHUB_TOKEN_ARN", token_arn.clone())], 3_600);
    let (processor, _) = build_processor(&WorkerConfig::from_env(&env).unwrap(), &world.aws)
        .await
        .unwrap();
    let at_start = world.reads();
    processor
        .process(&world.event("d-token").await)
        .await
        .unwrap();
    // (The events are read from the simulator with the first token, before it is revoked.)
    let mut events = Vec::new();
    for n in 0..5 {
        events.push(world.event(&format!("d-token-{n}")).await);
    }
    let rotated = "ghp_rotatedRotatedRotatedRotated0123";
    put_secret(&world.secrets, &token_arn, rotated)
        .await
        .unwrap();
    world.github.sim.rotate_personal_token(rotated);
    for outcome in storm(&processor, &events).await {
        outcome.unwrap();
    }
    assert_eq!(world.reads(), at_start + 1, "one read of the rotated token");

    // The webhook: a delivery signed with a secret stored since it was read is accepted at once.
    let webhook_arn = create_secret(&world.secrets, "webhook-secret", "old-webhook-secret")
        .await
        .unwrap();
    let config = WebhookConfig::from_env(&Env::from_pairs([
        ("WEBHOOK_SECRET_ARN", webhook_arn.clone()),
        (
            "EVENTS_QUEUE_URL",
            "http://localhost/1/events.fifo".to_owned(),
        ),
        ("SECRET_TTL_SECONDS", "3600".to_owned()),
    ]))
    .unwrap();
    let handler = WebhookHandler::from_config(
        config,
        Some(world.secrets.clone()),
        Arc::new(InMemoryEventQueue::default()),
    )
    .await
    .unwrap();
    let reads = world.reads();
    assert_eq!(deliver(&handler, "old-webhook-secret").await, 202);
    put_secret(&world.secrets, &webhook_arn, "new-webhook-secret")
        .await
        .unwrap();
    let accepted =
        futures_util::future::join_all((0..10).map(|_| deliver(&handler, "new-webhook-secret")))
            .await;
    assert!(accepted.iter().all(|status| *status == 202), "{accepted:?}");
    let forged = futures_util::future::join_all((0..10).map(|_| deliver(&handler, "forged"))).await;
    assert!(forged.iter().all(|status| *status == 401), "{forged:?}");
    assert_eq!(
        world.reads(),
        reads + 1,
        "one read for the rotation, none for the forged deliveries"
    );
}

#[tokio::test]
async fn the_ttl_alone_picks_up_a_rotated_key() {
    let world = world().await;
    let (processor, key_arn) = world.app_worker(1).await;
    processor.process(&world.event("d-1").await).await.unwrap();
    put_secret(&world.secrets, &key_arn, TEST_OTHER_PRIVATE_KEY)
        .await
        .unwrap();
    world.github.sim.rotate_app_key(TEST_OTHER_PUBLIC_KEY);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let requests_before = world.github.sim.count(MINT).total;
    let minted_before = world.github.sim.tokens_minted();
    processor.process(&world.event("d-2").await).await.unwrap();
    let requests = world.github.sim.count(MINT).total - requests_before;
    let minted = world.github.sim.tokens_minted() - minted_before;
    assert_eq!(
        requests, minted,
        "the new key was read before GitHub refused the old one: no refused mint"
    );
}

async fn deliver(handler: &WebhookHandler, secret: &str) -> u16 {
    let body = json!({"action": "opened", "issue": {"number": 1},
        "repository": {"id": 1, "full_name": "o/r"}})
    .to_string();
    let mut headers = HeaderMap::new();
    headers.insert("x-github-event", HeaderValue::from_static("issues"));
    headers.insert("x-github-delivery", HeaderValue::from_static("d-webhook"));
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert(
        "x-hub-signature-256",
        HeaderValue::from_str(&sign(secret, body.as_bytes())).unwrap(),
    );
    handler
        .handle(WebhookRequest {
            method: "POST",
            headers: &headers,
            body: body.as_bytes(),
        })
        .await
        .status
}
