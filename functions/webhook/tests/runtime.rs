//! The real `webhook` binary served under a Lambda Runtime API emulator, invoked with Function URL
//! and API Gateway HTTP API events, queueing to moto's SQS and reading its secret from moto's
//! Secrets Manager.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use port_github_tests::lambda_runtime_api::{Outcome, RuntimeApi};
use port_github_tests::moto::{create_fifo_queue, drain_queue, moto, unique_name};
use serde_json::{Value, json};

const BODY: &str = r#"{"action":"closed","pull_request":{"id":5,"number":12,"state":"closed"},"repository":{"id":77,"full_name":"octo/api","owner":{"login":"octo"}},"installation":{"id":9}}"#;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_webhook(runtime: &RuntimeApi, env: &[(&str, String)], log: &std::path::Path) -> Running {
    let mut command = Command::new(env!("CARGO_BIN_EXE_webhook"));
    let log = std::fs::File::create(log).expect("log file");
    command
        .env_clear()
        .stdout(Stdio::from(log))
        .stderr(Stdio::null());
    for (key, value) in runtime
        .lambda_env("webhook")
        .iter()
        .chain(moto().env().iter())
    {
        command.env(key, value);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    Running(command.spawn().expect("spawn the webhook binary"))
}

fn sign(secret: &str, body: &[u8]) -> String {
    port_github_core::webhook::sign(secret, body)
}

/// A Function URL event (payload format 2.0), as Lambda sends it.
fn function_url_event(headers: Value, body: &str, base64: bool) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghijklmnopqrstuvwxyz123456",
            "domainName": "abcdefghijklmnopqrstuvwxyz123456.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefghijklmnopqrstuvwxyz123456",
            "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "192.30.252.44", "userAgent": "GitHub-Hookshot/e1a2b3c"},
            "requestId": "c9f4f3b4-52d6-4d4d-9a43-123456789abc",
            "routeKey": "$default",
            "stage": "$default",
            "time": "24/Nov/2026:16:00:00 +0000",
            "timeEpoch": 1795536000000u64
        },
        "body": if base64 { base64::engine::general_purpose::STANDARD.encode(body) } else { body.to_owned() },
        "isBase64Encoded": base64
    })
}

/// The same request through an API Gateway HTTP API (v2) route.
fn http_api_event(headers: Value, body: &str) -> Value {
    let mut event = function_url_event(headers, body, false);
    event["routeKey"] = json!("POST /github");
    event["rawPath"] = json!("/github");
    event["requestContext"]["routeKey"] = json!("POST /github");
    event["requestContext"]["http"]["path"] = json!("/github");
    event["requestContext"]["domainName"] = json!("a1b2c3d4e5.execute-api.us-east-1.amazonaws.com");
    event["requestContext"]["apiId"] = json!("a1b2c3d4e5");
    event
}

async fn invoke(runtime: &RuntimeApi, event: &Value) -> (u16, Value) {
    match runtime
        .invoke(event, Duration::from_secs(30))
        .await
        .expect("the function answers")
    {
        Outcome::Response(response) => {
            let status = response["statusCode"].as_u64().expect("statusCode") as u16;
            let body = response["body"]
                .as_str()
                .map(|b| serde_json::from_str(b).expect("JSON body"))
                .unwrap_or(Value::Null);
            (status, body)
        }
        Outcome::Error(error) => panic!("the function reported an error: {error}"),
    }
}

#[tokio::test]
async fn serves_function_url_and_http_api_events_from_the_runtime_api() {
    let aws = moto().sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let queue_url = create_fifo_queue(&sqs, "runtime").await.unwrap();
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let arn = secrets
        .create_secret()
        .name(unique_name("runtime-secret"))
        .secret_string(r#"{"current":"new-secret","previous":"old-secret"}"#)
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();

    let runtime = RuntimeApi::start().await.unwrap();
    let log = std::env::temp_dir().join(format!("{}.log", unique_name("webhook-runtime")));
    let webhook = spawn_webhook(
        &runtime,
        &[
            ("WEBHOOK_SECRET_ARN", arn),
            ("EVENTS_QUEUE_URL", queue_url.clone()),
        ],
        &log,
    );

    // Function URL, base64 body, headers in odd case.
    let headers = json!({
        "Content-Type": "application/json",
        "X-GITHUB-EVENT": "pull_request",
        "x-github-Delivery": "11111111-2222-3333-4444-555555555555",
        "X-GitHub-Hook-ID": "7",
        "x-hub-signature-256": sign("new-secret", BODY.as_bytes()),
        "user-agent": "GitHub-Hookshot/e1a2b3c"
    });
    let (status, body) = invoke(&runtime, &function_url_event(headers, BODY, true)).await;
    assert_eq!((status, body["status"].as_str()), (202, Some("queued")));

    // API Gateway HTTP API, plain body, signed with the previous secret.
    let headers = json!({
        "content-type": "application/json",
        "x-github-event": "pull_request",
        "x-github-delivery": "66666666-2222-3333-4444-555555555555",
        "x-hub-signature-256": sign("old-secret", BODY.as_bytes())
    });
    let (status, _) = invoke(&runtime, &http_api_event(headers, BODY)).await;
    assert_eq!(status, 202);

    // Wrong secret and a GET.
    let headers = json!({"content-type": "application/json", "x-github-event": "pull_request",
        "x-github-delivery": "77777777-2222-3333-4444-555555555555", "x-hub-signature-256": sign("nope", BODY.as_bytes())});
    assert_eq!(
        invoke(&runtime, &function_url_event(headers.clone(), BODY, false))
            .await
            .0,
        401
    );
    let mut get = function_url_event(headers, BODY, false);
    get["requestContext"]["http"]["method"] = json!("GET");
    assert_eq!(invoke(&runtime, &get).await.0, 405);

    let messages = drain_queue(&sqs, &queue_url).await.unwrap();
    assert_eq!(messages.len(), 2);
    let envelope: Value = serde_json::from_str(messages[0].body().unwrap()).unwrap();
    assert_eq!(
        envelope["delivery_id"],
        "11111111-2222-3333-4444-555555555555"
    );
    assert_eq!(envelope["hook_id"], "7");
    assert_eq!(envelope["payload"]["pull_request"]["number"], 12);

    // JSON logs: one object per line, with the delivery id, never the secret, signature or payload.
    drop(webhook);
    let logs = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    let lines: Vec<Value> = logs
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let queued = lines
        .iter()
        .find(|l| l["fields"]["message"] == "queued")
        .expect("a 'queued' log line");
    let spans = queued["spans"].as_array().expect("span list");
    assert!(
        spans
            .iter()
            .any(|s| s["delivery_id"] == "11111111-2222-3333-4444-555555555555"),
        "the delivery id is on the log line: {queued}"
    );
    assert!(lines.iter().any(|l| l["fields"]["status"] == 401));
    // Metrics: one EMF line per delivery, by outcome; the wrong secret is a signature failure.
    let emf: Vec<&Value> = lines.iter().filter(|l| l.get("_aws").is_some()).collect();
    let outcomes: Vec<&str> = emf.iter().map(|l| l["Outcome"].as_str().unwrap()).collect();
    assert_eq!(
        outcomes,
        ["queued", "queued", "rejected_401", "rejected_405"],
        "{emf:#?}"
    );
    for line in &emf {
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "PortGitHub");
        assert_eq!(
            directive["Dimensions"],
            json!([["Function", "Outcome"], ["Function"]])
        );
        assert_eq!(line["Function"], "webhook");
        assert_eq!(line["Deliveries"], 1.0);
    }
    let signature_failures: f64 = emf
        .iter()
        .map(|l| l["SignatureFailures"].as_f64().unwrap())
        .sum();
    assert_eq!(signature_failures, 1.0);
    for secret in ["new-secret", "old-secret", "octo/api", "sha256="] {
        assert!(!logs.contains(secret), "logs must not contain {secret:?}");
    }
}

#[tokio::test]
async fn refuses_to_start_without_a_secret() {
    let runtime = RuntimeApi::start().await.unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_webhook"));
    command
        .env_clear()
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (key, value) in runtime.lambda_env("webhook") {
        command.env(key, value);
    }
    command.env("EVENTS_QUEUE_URL", "http://127.0.0.1:1/123/events.fifo");
    let output = command.output().expect("run the webhook binary");
    assert!(!output.status.success());
    assert_eq!(
        output.status.code(),
        Some(2),
        "the start-up failure exit status"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("WEBHOOK_SECRET"),
        "the error names the missing setting: {stderr}"
    );
    assert!(
        runtime.first_poll().is_none(),
        "it never asked for an invocation"
    );
}
