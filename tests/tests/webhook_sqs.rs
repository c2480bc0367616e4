//! The webhook handler against a real SQS FIFO queue (moto, through the AWS SDK): every example
//! payload GitHub publishes, signed, lands in the queue with the right ids and envelope, or is
//! acknowledged and ignored.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use http::{HeaderMap, HeaderValue};
use port_github_core::queue::SqsEventQueue;
use port_github_core::webhook::envelope::Envelope;
use port_github_core::webhook::{
    WebhookHandler, WebhookLimits, WebhookRequest, WebhookResponse, fixed_secrets, sign,
};
use port_github_simulators::fixtures::handled_events_from_spec;
use port_github_tests::fixtures::webhook_examples;
use port_github_tests::moto::{create_fifo_queue, drain_queue, moto};
use serde_json::Value;

const SECRET: &str = "fixture-secret";

async fn handler_for_new_queue(prefix: &str) -> (WebhookHandler, aws_sdk_sqs::Client, String) {
    let sqs = aws_sdk_sqs::Client::new(&moto().sdk_config().await);
    let url = create_fifo_queue(&sqs, prefix).await.expect("create queue");
    let queue = Arc::new(SqsEventQueue::new(sqs.clone(), url.clone()));
    let limits = WebhookLimits {
        max_body_bytes: 25 * 1024 * 1024,
        max_message_bytes: 256 * 1024,
    };
    (
        WebhookHandler::new(fixed_secrets(SECRET, None), queue, limits),
        sqs,
        url,
    )
}

async fn deliver(
    handler: &WebhookHandler,
    event: &str,
    delivery: &str,
    body: &[u8],
) -> WebhookResponse {
    let mut headers = HeaderMap::new();
    headers.insert("x-github-event", HeaderValue::from_str(event).unwrap());
    headers.insert(
        "x-github-delivery",
        HeaderValue::from_str(delivery).unwrap(),
    );
    headers.insert("x-github-hook-id", HeaderValue::from_static("4242"));
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert(
        "x-hub-signature-256",
        HeaderValue::from_str(&sign(SECRET, body)).unwrap(),
    );
    handler
        .handle(WebhookRequest {
            method: "POST",
            headers: &headers,
            body,
        })
        .await
}

fn is_handled(spec: &[(String, Option<Vec<String>>)], event: &str, action: Option<&str>) -> bool {
    spec.iter().any(|(e, actions)| {
        e == event
            && match actions {
                None => true,
                Some(list) => action.is_some_and(|a| list.iter().any(|x| x == a)),
            }
    })
}

/// The resource id each event's message group must name, read from the payload.
fn expected_group(event: &str, p: &Value) -> String {
    let repo = format!("repo-{}", p["repository"]["id"]);
    let org = || format!("org-{}", p["organization"]["id"]);
    match event {
        "repository" => repo,
        "pull_request" => format!("{repo}-pr-{}", p["pull_request"]["number"]),
        "issues" => format!("{repo}-issue-{}", p["issue"]["number"]),
        "release" => format!("{repo}-release-{}", p["release"]["id"]),
        "push" => format!("{repo}-ref-{}", p["ref"].as_str().unwrap()),
        "create" | "delete" => {
            let kind = if p["ref_type"] == "tag" {
                "tags"
            } else {
                "heads"
            };
            format!("{repo}-ref-refs/{kind}/{}", p["ref"].as_str().unwrap())
        }
        "deployment" | "deployment_status" => {
            format!("{repo}-deployment-{}", p["deployment"]["id"])
        }
        "workflow_run" => format!("{repo}-run-{}", p["workflow_run"]["id"]),
        "dependabot_alert" | "code_scanning_alert" | "secret_scanning_alert" => {
            format!("{repo}-{event}-{}", p["alert"]["number"])
        }
        "organization" => format!("{}-member-{}", org(), p["membership"]["user"]["id"]),
        "team" | "membership" => format!("{}-team-{}", org(), p["team"]["id"]),
        "member" => format!("{repo}-collaborator-{}", p["member"]["id"]),
        other => panic!("no group rule for {other}"),
    }
}

#[tokio::test]
async fn every_github_example_payload_is_queued_or_ignored() {
    let spec = handled_events_from_spec();
    assert_eq!(
        spec.len(),
        17,
        "tests/fixtures/github/handled-events.json lists 17 handled events"
    );
    let (handler, sqs, url) = handler_for_new_queue("fixtures").await;
    let examples = webhook_examples();
    assert!(
        examples.len() > 100,
        "expected the full fixture set, found {}",
        examples.len()
    );

    let mut expected = Vec::new();
    for (i, (event, file, body)) in examples.iter().enumerate() {
        let payload: Value = serde_json::from_slice(body).unwrap();
        let action = payload["action"].as_str();
        let delivery = format!("fixture-{i:04}");
        let response = deliver(&handler, event, &delivery, body).await;
        let answer: Value = serde_json::from_str(&response.body).unwrap();
        if event == "ping" {
            assert_eq!(response.status, 200, "{event}/{file}");
        } else if is_handled(&spec, event, action) {
            assert_eq!(
                (response.status, answer["status"].as_str()),
                (202, Some("queued")),
                "{event}/{file}"
            );
            expected.push((delivery, event.clone(), file.clone(), payload));
        } else {
            assert_eq!(
                (response.status, answer["status"].as_str()),
                (202, Some("ignored")),
                "{event}/{file}"
            );
        }
    }
    assert!(expected.len() > 80, "most examples are handled events");

    let messages = drain_queue(&sqs, &url).await.unwrap();
    assert_eq!(
        messages.len(),
        expected.len(),
        "exactly the handled examples are queued"
    );
    for message in messages {
        let envelope: Envelope = serde_json::from_str(message.body().unwrap()).unwrap();
        let (delivery, event, file, payload) = expected
            .iter()
            .find(|(d, ..)| *d == envelope.delivery_id)
            .expect("a message for an expected delivery");
        let attributes = message.attributes.as_ref().unwrap();
        let group = attributes
            .get(&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId)
            .unwrap();
        let dedup = attributes
            .get(&aws_sdk_sqs::types::MessageSystemAttributeName::MessageDeduplicationId)
            .unwrap();
        assert_eq!(group, &expected_group(event, payload), "{event}/{file}");
        assert_eq!(dedup, delivery, "{event}/{file}");
        assert_eq!(&envelope.event, event);
        assert_eq!(envelope.action.as_deref(), payload["action"].as_str());
        assert_eq!(envelope.hook_id.as_deref(), Some("4242"));
        assert_eq!(
            envelope.installation_id,
            payload["installation"]["id"].as_u64(),
            "{event}/{file}"
        );
        assert_eq!(
            envelope.repository.as_deref(),
            payload["repository"]["full_name"].as_str()
        );
        let org = payload["organization"]["login"]
            .as_str()
            .or(payload["repository"]["owner"]["login"].as_str());
        assert_eq!(envelope.organization.as_deref(), org, "{event}/{file}");
        assert_eq!(&envelope.payload, payload, "{event}/{file}: payload intact");
        assert!(!envelope.payload_reduced);
    }
}

#[tokio::test]
async fn a_redelivery_is_deduplicated_by_the_fifo_queue() {
    let (handler, sqs, url) = handler_for_new_queue("dedup").await;
    let body = std::fs::read(
        port_github_simulators::fixtures::fixtures_dir().join("github/webhooks/issues/opened.json"),
    )
    .unwrap();
    for _ in 0..3 {
        assert_eq!(
            deliver(&handler, "issues", "same-delivery", &body)
                .await
                .status,
            202
        );
    }
    assert_eq!(drain_queue(&sqs, &url).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_multi_megabyte_push_still_gets_through() {
    let (handler, sqs, url) = handler_for_new_queue("bigpush").await;
    let base = std::fs::read(
        port_github_simulators::fixtures::fixtures_dir().join("github/webhooks/push/payload.json"),
    )
    .unwrap();
    let mut push: Value = serde_json::from_slice(&base).unwrap();
    let template = push["commits"][0].clone();
    let commits: Vec<Value> = (0..2048)
        .map(|i| {
            let mut commit = template.clone();
            commit["id"] = Value::String(format!("{i:040x}"));
            commit["message"] = Value::String("x".repeat(2500));
            commit["added"] = serde_json::json!([format!("services/svc-{i}/main.rs")]);
            commit["modified"] = serde_json::json!([".github/workflows/ci.yml"]);
            commit["removed"] = serde_json::json!([format!("old/{i}.txt")]);
            commit
        })
        .collect();
    push["commits"] = Value::Array(commits);
    let body = serde_json::to_vec(&push).unwrap();
    assert!(
        body.len() > 4 * 1024 * 1024,
        "payload is {} bytes",
        body.len()
    );

    assert_eq!(
        deliver(&handler, "push", "big-push", &body).await.status,
        202
    );
    let messages = drain_queue(&sqs, &url).await.unwrap();
    assert_eq!(messages.len(), 1);
    let text = messages[0].body().unwrap();
    assert!(text.len() <= 256 * 1024);
    let envelope: Envelope = serde_json::from_str(text).unwrap();
    assert!(envelope.payload_reduced);
    let reduced = &envelope.payload;
    for key in ["ref", "before", "after", "created", "deleted", "forced"] {
        assert_eq!(reduced[key], push[key], "{key} kept");
    }
    assert_eq!(reduced["repository"]["id"], push["repository"]["id"]);
    assert_eq!(
        reduced["repository"]["full_name"],
        push["repository"]["full_name"]
    );
    let paths = &reduced["changed_paths"];
    assert_eq!(
        paths["truncated"],
        Value::Bool(false),
        "every changed path fits"
    );
    let mut all_added: Vec<&Value> = push["commits"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["added"].as_array().unwrap())
        .collect();
    all_added.extend(
        push["head_commit"]["added"]
            .as_array()
            .into_iter()
            .flatten(),
    );
    all_added.sort_by_key(|v| v.as_str());
    all_added.dedup();
    assert_eq!(
        paths["added"].as_array().unwrap().len(),
        all_added.len(),
        "every added path, once"
    );
    assert!(
        paths["modified"]
            .as_array()
            .unwrap()
            .contains(&Value::String(".github/workflows/ci.yml".into()))
    );
    assert_eq!(paths["removed"].as_array().unwrap().len(), 2048);
}

#[tokio::test]
async fn an_unreachable_queue_answers_503_so_github_can_redeliver() {
    let sqs = aws_sdk_sqs::Client::new(&moto().sdk_config().await);
    let missing = format!("{}/123456789012/does-not-exist.fifo", moto().endpoint());
    let queue = Arc::new(SqsEventQueue::new(sqs, missing));
    let limits = WebhookLimits {
        max_body_bytes: 1 << 20,
        max_message_bytes: 256 * 1024,
    };
    let handler = WebhookHandler::new(fixed_secrets(SECRET, None), queue, limits);
    let body =
        br#"{"action":"created","release":{"id":1},"repository":{"id":2,"full_name":"o/r"}}"#;
    let response = deliver(&handler, "release", "unqueued", body).await;
    assert_eq!(response.status, 503);
    assert!(
        !response.body.contains("does-not-exist"),
        "no internals in the answer"
    );
}
