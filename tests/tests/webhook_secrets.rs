//! The webhook secret read from Secrets Manager (moto, through the AWS SDK), and a rotation
//! picked up without a restart: at once when a delivery is signed with the new secret, and after
//! the TTL otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use port_github_core::clock::ManualClock;
use port_github_core::config::{Env, WebhookConfig};
use port_github_core::queue::InMemoryEventQueue;
use port_github_core::secrets::{CachedSecret, SecretsManagerSecret};
use port_github_core::webhook::{
    WebhookHandler, WebhookLimits, WebhookRequest, WebhookSecretSource, sign,
};
use port_github_tests::moto::{moto, unique_name};

const BODY: &[u8] =
    br#"{"action":"opened","issue":{"number":1},"repository":{"id":1,"full_name":"o/r"}}"#;

async fn status_with(handler: &WebhookHandler, secret: &str) -> u16 {
    let mut headers = HeaderMap::new();
    headers.insert("x-github-event", HeaderValue::from_static("issues"));
    headers.insert("x-github-delivery", HeaderValue::from_static("d-1"));
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert(
        "x-hub-signature-256",
        HeaderValue::from_str(&sign(secret, BODY)).unwrap(),
    );
    handler
        .handle(WebhookRequest {
            method: "POST",
            headers: &headers,
            body: BODY,
        })
        .await
        .status
}

async fn secrets_client() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&moto().sdk_config().await)
}

async fn create_secret(client: &aws_sdk_secretsmanager::Client, value: &str) -> String {
    let created = client
        .create_secret()
        .name(unique_name("webhook-secret"))
        .secret_string(value)
        .send()
        .await
        .expect("create");
    created.arn.expect("arn")
}

#[tokio::test]
async fn secret_from_secrets_manager_and_rotation_after_ttl() {
    let client = secrets_client().await;
    let arn = create_secret(&client, "first").await;
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let source = SecretsManagerSecret::new(client.clone(), arn.clone());
    let cache = CachedSecret::with_clock(Box::new(source), Duration::from_secs(300), clock.clone());
    let limits = WebhookLimits {
        max_body_bytes: 1 << 20,
        max_message_bytes: 256 * 1024,
    };
    let handler = WebhookHandler::new(
        WebhookSecretSource::Cached(cache),
        Arc::new(InMemoryEventQueue::default()),
        limits,
    );

    assert_eq!(status_with(&handler, "first").await, 202);
    assert_eq!(status_with(&handler, "second").await, 401);

    // Rotate: the new value holds both secrets while GitHub's hook is being switched over.
    client
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(r#"{"current":"second","previous":"first"}"#)
        .send()
        .await
        .unwrap();
    clock.advance(Duration::from_secs(60));
    assert_eq!(
        status_with(&handler, "second").await,
        202,
        "a signature no cached secret matches makes one re-read: picked up at once, no restart"
    );
    assert_eq!(
        status_with(&handler, "first").await,
        202,
        "previous still accepted during the rotation"
    );
    assert_eq!(
        status_with(&handler, "forged").await,
        401,
        "refused (the secret was read a moment ago: no new read)"
    );

    // Rotation finished.
    client
        .put_secret_value()
        .secret_id(&arn)
        .secret_string("second")
        .send()
        .await
        .unwrap();
    clock.advance(Duration::from_secs(301));
    assert_eq!(status_with(&handler, "first").await, 401);
    assert_eq!(status_with(&handler, "second").await, 202);
}

#[tokio::test]
async fn a_missing_secret_stops_the_handler_from_starting() {
    let client = secrets_client().await;
    let env = Env::from_pairs([
        (
            "WEBHOOK_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:does-not-exist",
        ),
        ("EVENTS_QUEUE_URL", "http://localhost/1/q.fifo"),
    ]);
    let config = WebhookConfig::from_env(&env).unwrap();
    let result = WebhookHandler::from_config(
        config,
        Some(client),
        Arc::new(InMemoryEventQueue::default()),
    )
    .await;
    let error = result.err().expect("no handler without a readable secret");
    assert!(error.to_string().contains("does-not-exist"), "{error}");
}

#[tokio::test]
async fn from_config_reads_the_secret_once_at_start() {
    let client = secrets_client().await;
    let arn = create_secret(&client, r#"{"current":"c","previous":"p"}"#).await;
    let env = Env::from_pairs([
        ("WEBHOOK_SECRET_ARN", arn.as_str()),
        ("EVENTS_QUEUE_URL", "http://localhost/1/q.fifo"),
    ]);
    let config = WebhookConfig::from_env(&env).unwrap();
    let handler = WebhookHandler::from_config(
        config,
        Some(client),
        Arc::new(InMemoryEventQueue::default()),
    )
    .await
    .unwrap();
    assert_eq!(status_with(&handler, "c").await, 202);
    assert_eq!(status_with(&handler, "p").await, 202);
    assert_eq!(status_with(&handler, "x").await, 401);
}
