//! The webhook Lambda: Function URL / API Gateway HTTP API request in, verified event queued to
//! SQS FIFO, short JSON answer out, one metrics line per delivery. All logic lives in
//! `port_github_core::webhook`.

use std::sync::Arc;

use lambda_http::{Body, Error, Request, Response, service_fn};
use port_github_core::config::{Env, SecretSetting, WebhookConfig};
use port_github_core::metrics::{Metrics, functions};
use port_github_core::queue::SqsEventQueue;
use port_github_core::startup::OrExit as _;
use port_github_core::webhook::{WebhookHandler, WebhookRequest};

#[tokio::main]
async fn main() -> Result<(), Error> {
    port_github_core::logging::init_json();
    let env = Env::from_process();
    let config = WebhookConfig::from_env(&env).or_exit("webhook");
    let metrics = Metrics::from_env(&env, "webhook");
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let queue = Arc::new(SqsEventQueue::new(
        aws_sdk_sqs::Client::new(&aws),
        config.events_queue_url.clone(),
    ));
    let secrets_manager = matches!(config.secret, SecretSetting::SecretsManager { .. })
        .then(|| aws_sdk_secretsmanager::Client::new(&aws));
    let handler = WebhookHandler::from_config(config, secrets_manager, queue)
        .await
        .or_exit("webhook");
    let (handler, metrics) = (&handler, &metrics);
    lambda_http::run(service_fn(move |request: Request| async move {
        let (parts, body) = request.into_parts();
        let bytes: &[u8] = match &body {
            Body::Empty => &[],
            Body::Text(text) => text.as_bytes(),
            Body::Binary(bytes) => bytes,
            _ => &[],
        };
        let webhook_request = WebhookRequest {
            method: parts.method.as_str(),
            headers: &parts.headers,
            body: bytes,
        };
        let answer = handler.handle(webhook_request).await;
        metrics.emit(&[functions::webhook(metrics, answer.status, &answer.body)]);
        Response::builder()
            .status(answer.status)
            .header("content-type", "application/json")
            .body(Body::Text(answer.body))
            .map_err(Error::from)
    }))
    .await
}
