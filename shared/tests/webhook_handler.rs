//! Black-box tests of the webhook handler with an in-process queue: every answer it can give.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use async_trait::async_trait;
use http::{HeaderMap, HeaderName, HeaderValue};
use port_github_core::queue::{EventQueue, InMemoryEventQueue, QueueError, QueuedMessage};
use port_github_core::webhook::envelope::Envelope;
use port_github_core::webhook::{
    WebhookHandler, WebhookLimits, WebhookRequest, WebhookResponse, fixed_secrets, sign,
};

const SECRET: &str = "test-secret";
const DELIVERY: &str = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
const PR_OPENED: &str = r#"{"action":"opened","number":3,"pull_request":{"id":9,"number":3},"repository":{"id":7,"full_name":"octo/r","owner":{"login":"octo"}},"installation":{"id":11}}"#;

fn limits() -> WebhookLimits {
    WebhookLimits {
        max_body_bytes: 64 * 1024,
        max_message_bytes: 256 * 1024,
    }
}

fn handler_with(queue: Arc<dyn EventQueue>) -> WebhookHandler {
    WebhookHandler::new(fixed_secrets(SECRET, Some("old-secret")), queue, limits())
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

/// Sends `body` as GitHub would: signed with `secret`, JSON, with the usual headers.
async fn send_webhook(
    handler: &WebhookHandler,
    event: &str,
    body: &[u8],
    secret: &str,
) -> WebhookResponse {
    let signature = sign(secret, body);
    let headers = headers(&[
        ("X-GitHub-Event", event),
        ("X-GitHub-Delivery", DELIVERY),
        ("X-GitHub-Hook-ID", "42"),
        ("Content-Type", "application/json"),
        ("X-Hub-Signature-256", &signature),
    ]);
    handler
        .handle(WebhookRequest {
            method: "POST",
            headers: &headers,
            body,
        })
        .await
}

async fn send_raw(
    handler: &WebhookHandler,
    method: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> WebhookResponse {
    handler
        .handle(WebhookRequest {
            method,
            headers,
            body,
        })
        .await
}

fn status_and_body(response: &WebhookResponse) -> (u16, serde_json::Value) {
    (
        response.status,
        serde_json::from_str(&response.body).expect("response bodies are JSON"),
    )
}

#[tokio::test]
async fn queues_a_handled_event_with_its_envelope() {
    let queue = Arc::new(InMemoryEventQueue::default());
    let handler = handler_with(queue.clone());
    let (status, body) = status_and_body(
        &send_webhook(&handler, "pull_request", PR_OPENED.as_bytes(), SECRET).await,
    );
    assert_eq!(status, 202);
    assert_eq!(body["delivery"], DELIVERY);
    assert_eq!(body["status"], "queued");
    let messages = queue.drain(10);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].group_id, "repo-7-pr-3");
    assert_eq!(messages[0].dedup_id, DELIVERY);
    let envelope: Envelope = serde_json::from_str(&messages[0].body).unwrap();
    assert_eq!(envelope.version, 1);
    assert_eq!(envelope.event, "pull_request");
    assert_eq!(envelope.action.as_deref(), Some("opened"));
    assert_eq!(envelope.installation_id, Some(11));
    assert_eq!(envelope.organization.as_deref(), Some("octo"));
    assert_eq!(envelope.repository.as_deref(), Some("octo/r"));
    assert_eq!(
        envelope.payload,
        serde_json::from_str::<serde_json::Value>(PR_OPENED).unwrap()
    );
    assert!(!envelope.payload_reduced);
}

#[tokio::test]
async fn previous_secret_is_accepted_and_wrong_secret_is_not() {
    let queue = Arc::new(InMemoryEventQueue::default());
    let handler = handler_with(queue.clone());
    assert_eq!(
        send_webhook(&handler, "pull_request", PR_OPENED.as_bytes(), "old-secret")
            .await
            .status,
        202
    );
    let response = send_webhook(&handler, "pull_request", PR_OPENED.as_bytes(), "wrong").await;
    assert_eq!(response.status, 401);
    assert!(!response.body.contains("wrong") && !response.body.contains("sha256"));
}

#[tokio::test]
async fn the_same_delivery_twice_is_queued_once() {
    let queue = Arc::new(InMemoryEventQueue::default());
    let handler = handler_with(queue.clone());
    for _ in 0..2 {
        assert_eq!(
            send_webhook(&handler, "pull_request", PR_OPENED.as_bytes(), SECRET)
                .await
                .status,
            202
        );
    }
    assert_eq!(queue.len(), 1);
}

#[tokio::test]
async fn ping_and_unhandled_events_are_answered_but_not_queued() {
    let queue = Arc::new(InMemoryEventQueue::default());
    let handler = handler_with(queue.clone());
    let (status, body) = status_and_body(
        &send_webhook(
            &handler,
            "ping",
            br#"{"zen":"Keep it simple.","hook_id":1}"#,
            SECRET,
        )
        .await,
    );
    assert_eq!((status, body["status"].as_str()), (200, Some("pong")));
    let (status, body) = status_and_body(
        &send_webhook(&handler, "installation", br#"{"action":"created"}"#, SECRET).await,
    );
    assert_eq!(
        (status, body["reason"].as_str()),
        (202, Some("event not handled"))
    );
    let (status, body) = status_and_body(
        &send_webhook(&handler, "pull_request", br#"{"action":"labeled"}"#, SECRET).await,
    );
    assert_eq!(
        (status, body["reason"].as_str()),
        (202, Some("action not handled"))
    );
    assert!(queue.is_empty());
}

#[tokio::test]
async fn form_encoded_bodies_carry_the_payload_field() {
    let queue = Arc::new(InMemoryEventQueue::default());
    let handler = handler_with(queue.clone());
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", PR_OPENED)
        .finish();
    let signature = sign(SECRET, body.as_bytes());
    let form = headers(&[
        ("x-github-event", "pull_request"),
        ("x-github-delivery", DELIVERY),
        (
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
        ("x-hub-signature-256", &signature),
    ]);
    assert_eq!(
        send_raw(&handler, "POST", &form, body.as_bytes())
            .await
            .status,
        202
    );
    let envelope: Envelope = serde_json::from_str(&queue.drain(1)[0].body).unwrap();
    assert_eq!(envelope.payload["pull_request"]["number"], 3);
    assert_eq!(envelope.hook_id, None);

    let no_field = "other=1";
    let signature = sign(SECRET, no_field.as_bytes());
    let form = headers(&[
        ("x-github-event", "pull_request"),
        ("x-github-delivery", DELIVERY),
        ("content-type", "application/x-www-form-urlencoded"),
        ("x-hub-signature-256", &signature),
    ]);
    let (status, body) =
        status_and_body(&send_raw(&handler, "POST", &form, no_field.as_bytes()).await);
    assert_eq!(status, 422);
    assert_eq!(body["reason"], "the form body has no payload field");
}

#[tokio::test]
async fn every_rejection_has_its_status() {
    let handler = handler_with(Arc::new(InMemoryEventQueue::default()));
    let body = PR_OPENED.as_bytes();
    let good_sig = sign(SECRET, body);
    let base = |overrides: &[(&str, Option<&str>)]| {
        let mut pairs: Vec<(&str, &str)> = vec![
            ("x-github-event", "pull_request"),
            ("x-github-delivery", DELIVERY),
            ("content-type", "application/json"),
            ("x-hub-signature-256", good_sig.as_str()),
        ];
        for (name, value) in overrides {
            pairs.retain(|(n, _)| n != name);
            if let Some(value) = value {
                pairs.push((name, value));
            }
        }
        headers(&pairs)
    };

    // 405: not POST.
    assert_eq!(
        send_raw(&handler, "GET", &base(&[]), body).await.status,
        405
    );
    // 413: over the configured limit.
    let big = vec![b' '; 64 * 1024 + 1];
    let big_sig = sign(SECRET, &big);
    assert_eq!(
        send_raw(
            &handler,
            "POST",
            &base(&[("x-hub-signature-256", Some(&big_sig))]),
            &big
        )
        .await
        .status,
        413
    );
    // 401: missing, truncated, sha1-only, non-hex, signature of another body.
    assert_eq!(
        send_raw(
            &handler,
            "POST",
            &base(&[("x-hub-signature-256", None)]),
            body
        )
        .await
        .status,
        401
    );
    let truncated = &good_sig[..good_sig.len() - 2];
    assert_eq!(
        send_raw(
            &handler,
            "POST",
            &base(&[("x-hub-signature-256", Some(truncated))]),
            body
        )
        .await
        .status,
        401
    );
    let sha1_only = base(&[
        ("x-hub-signature-256", None),
        (
            "x-hub-signature",
            Some("sha1=0123456789abcdef0123456789abcdef01234567"),
        ),
    ]);
    assert_eq!(
        send_raw(&handler, "POST", &sha1_only, body).await.status,
        401
    );
    let non_hex = format!("sha256={}", "g".repeat(64));
    assert_eq!(
        send_raw(
            &handler,
            "POST",
            &base(&[("x-hub-signature-256", Some(&non_hex))]),
            body
        )
        .await
        .status,
        401
    );
    assert_eq!(
        send_raw(&handler, "POST", &base(&[]), b"{}").await.status,
        401
    );
    // 400: missing or malformed routing headers.
    assert_eq!(
        send_raw(&handler, "POST", &base(&[("x-github-event", None)]), body)
            .await
            .status,
        400
    );
    assert_eq!(
        send_raw(
            &handler,
            "POST",
            &base(&[("x-github-delivery", None)]),
            body
        )
        .await
        .status,
        400
    );
    assert_eq!(
        send_raw(
            &handler,
            "POST",
            &base(&[("x-github-delivery", Some("a b"))]),
            body
        )
        .await
        .status,
        400
    );
    assert_eq!(
        send_raw(
            &handler,
            "POST",
            &base(&[("x-github-event", Some("Pull Request"))]),
            body
        )
        .await
        .status,
        400
    );
    // 422, saying why: invalid JSON, empty body, non-object JSON, non-UTF-8, wrong shapes, and
    // JSON the worker could not read (a lone surrogate escape, a number out of range).
    for (bad, why) in [
        (&b"{\"action\":"[..], "ends early"),
        (b"", "not a JSON object"),
        (b"[1,2]", "not a JSON object"),
        (
            b"[null,null,null,null,null,null,null,null,null,null,null,null,null,null,null]",
            "not a JSON object",
        ),
        (b"\"text\"", "not a JSON object"),
        (b"{} {}", "not valid JSON"),
        (b"{\"a\":\"\xff\"}", "not UTF-8"),
        (b"{\"action\": 5}", "shape of a GitHub event"),
        (
            b"{\"action\":\"opened\",\"x\":\"\\ud800\"}",
            "the worker could not read the payload: unexpected end of hex escape",
        ),
        (
            b"{\"action\":\"opened\",\"x\":1e999}",
            "the worker could not read the payload: number out of range",
        ),
    ] {
        let sig = sign(SECRET, bad);
        let response = send_raw(
            &handler,
            "POST",
            &base(&[("x-hub-signature-256", Some(&sig))]),
            bad,
        )
        .await;
        let (status, body) = status_and_body(&response);
        assert_eq!(status, 422, "body {:?}", String::from_utf8_lossy(bad));
        let reason = body["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains(why),
            "{:?}: {reason}",
            String::from_utf8_lossy(bad)
        );
    }
    // 415: other or missing content types.
    assert_eq!(
        send_raw(
            &handler,
            "POST",
            &base(&[("content-type", Some("text/plain"))]),
            body
        )
        .await
        .status,
        415
    );
    assert_eq!(
        send_raw(&handler, "POST", &base(&[("content-type", None)]), body)
            .await
            .status,
        415
    );
    // Answers are short and generic and never echo the payload.
    let response = send_raw(
        &handler,
        "POST",
        &base(&[("content-type", Some("text/plain"))]),
        body,
    )
    .await;
    assert!(response.body.len() < 100 && !response.body.contains("octo"));
}

struct FailingQueue;

#[async_trait]
impl EventQueue for FailingQueue {
    async fn enqueue(&self, _message: QueuedMessage) -> Result<(), QueueError> {
        Err(QueueError::Unavailable("queue down".into()))
    }
}

struct RefusingQueue;

#[async_trait]
impl EventQueue for RefusingQueue {
    async fn enqueue(&self, _message: QueuedMessage) -> Result<(), QueueError> {
        Err(QueueError::Rejected("InvalidMessageContents".into()))
    }
}

#[tokio::test]
async fn input_that_can_never_be_queued_is_a_4xx_that_says_why() {
    // Too big for one queue message even reduced to its identifiers: 413.
    let queue = Arc::new(InMemoryEventQueue::default());
    let tight = WebhookHandler::new(
        fixed_secrets(SECRET, None),
        queue.clone(),
        WebhookLimits {
            max_body_bytes: 64 * 1024,
            max_message_bytes: 600,
        },
    );
    // Each kept field is cut to 2 KiB: three of them cannot fit in 600 bytes.
    let payload = serde_json::json!({"action": "opened", "pull_request": {"id": 9, "number": 3,
        "title": "label-number".repeat(400), "head": {"ref": "label-number".repeat(400)}},
        "repository": {"id": 7, "full_name": "label-number".repeat(400), "owner": {"login": "octo"}}});
    let response = send_webhook(
        &tight,
        "pull_request",
        payload.to_string().as_bytes(),
        SECRET,
    )
    .await;
    let (status, body) = status_and_body(&response);
    assert_eq!(status, 413, "{body}");
    assert!(
        body["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("even reduced"),
        "{body}"
    );
    assert!(queue.is_empty());
    // Nested deeper than the worker reads: 422.
    let deep = format!(
        "{{\"action\":\"opened\",\"pull_request\":{{\"number\":1}},\"x\":{}1{}}}",
        "[".repeat(200),
        "]".repeat(200)
    );
    let handler = handler_with(queue.clone());
    let (status, body) =
        status_and_body(&send_webhook(&handler, "pull_request", deep.as_bytes(), SECRET).await);
    assert_eq!(status, 422, "{body}");
    assert!(queue.is_empty());
    // The queue refuses the message itself: 422, not a 5xx a redelivery could never pass.
    let refusing = handler_with(Arc::new(RefusingQueue));
    let (status, body) = status_and_body(
        &send_webhook(&refusing, "pull_request", PR_OPENED.as_bytes(), SECRET).await,
    );
    assert_eq!(status, 422);
    assert!(
        body["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("InvalidMessageContents")
    );
    // Answers never echo the payload.
    assert!(!response.body.contains("label-number"));
}

#[tokio::test]
async fn a_queue_failure_is_a_503_so_github_records_a_failed_delivery() {
    let handler = handler_with(Arc::new(FailingQueue));
    let response = send_webhook(&handler, "pull_request", PR_OPENED.as_bytes(), SECRET).await;
    assert_eq!(response.status, 503);
    // Events that are not queued do not need the queue.
    assert_eq!(
        send_webhook(&handler, "ping", b"{}", SECRET).await.status,
        200
    );
}
