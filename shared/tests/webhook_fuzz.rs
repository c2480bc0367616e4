//! A property test of the webhook handler: deliveries generated from a seeded PRNG (bodies,
//! signatures, headers, methods, content types and sizes, each mutated at random) through the
//! real handler with an in-process queue that sometimes fails. For every case: the handler does
//! not panic; a body whose signature does not match is never answered 2xx; bad input is never
//! answered 5xx (a 5xx only when the queue could not be reached); a queued message fits the
//! queue and is readable by the worker; every answer is short JSON. `WEBHOOK_FUZZ_CASES` sets
//! the number of cases (default 3000), `WEBHOOK_FUZZ_SEED` the seed; both are printed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use async_trait::async_trait;
use futures_util::FutureExt as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use port_github_core::queue::{EventQueue, InMemoryEventQueue, QueueError, QueuedMessage};
use port_github_core::webhook::envelope::Envelope;
use port_github_core::webhook::{
    WebhookHandler, WebhookLimits, WebhookRequest, fixed_secrets, sign,
};
use serde_json::{Value, json};

const SECRET: &str = "fuzz-secret";
const PREVIOUS: &str = "fuzz-previous";

/// What the queue does with the next message.
const WORKS: u8 = 0;
const UNAVAILABLE: u8 = 1;
const REFUSES: u8 = 2;

/// An in-process queue that can be told to fail, and says whether it was asked.
#[derive(Default)]
struct FlakyQueue {
    inner: InMemoryEventQueue,
    mode: AtomicU8,
    asked: AtomicU8,
}

#[async_trait]
impl EventQueue for FlakyQueue {
    async fn enqueue(&self, message: QueuedMessage) -> Result<(), QueueError> {
        self.asked.store(1, Ordering::SeqCst);
        match self.mode.load(Ordering::SeqCst) {
            UNAVAILABLE => Err(QueueError::Unavailable("down for the test".into())),
            REFUSES => Err(QueueError::Rejected("InvalidMessageContents".into())),
            _ => self.inner.enqueue(message).await,
        }
    }
}

fn pick<'a, T>(rng: &mut fastrand::Rng, items: &'a [T]) -> &'a T {
    &items[rng.usize(..items.len())]
}

/// A string of mixed characters: ASCII, accents, emoji, JSON escapes' raw material, controls.
fn text(rng: &mut fastrand::Rng, max: usize) -> String {
    let pieces = [
        "a", "Z", "9", " ", "-", "_", "/", "\"", "\\", "é", "ß", "日本", "😀", "\u{0}", "\n", "\t",
        "\u{FFFE}", "\u{FFFF}", "\u{2028}", "{", "}", "[", "]", ":", ",",
    ];
    let len = rng.usize(..=max);
    (0..len).map(|_| *pick(rng, &pieces)).collect()
}

/// Any JSON value, up to `depth` levels deep.
fn value(rng: &mut fastrand::Rng, depth: u32) -> Value {
    match rng.u8(..if depth == 0 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.bool()),
        2 => json!(rng.i64(..)),
        3 => json!(rng.f64() * 1e6),
        4 => Value::String(text(rng, 20)),
        5 => Value::Array((0..rng.usize(..4)).map(|_| value(rng, depth - 1)).collect()),
        _ => Value::Object(
            (0..rng.usize(..4))
                .map(|_| (text(rng, 8), value(rng, depth - 1)))
                .collect(),
        ),
    }
}

/// A plausible delivery: its event name and JSON payload.
fn delivery(rng: &mut fastrand::Rng) -> (String, Value) {
    let repo =
        json!({"id": rng.u32(..), "name": "r", "full_name": "octo/r", "owner": {"login": "octo"}});
    let org = json!({"login": "octo"});
    let installation = json!({"id": rng.u32(..)});
    let (event, mut payload) = match rng.u8(..9) {
        0 => (
            "pull_request",
            json!({"action": pick(rng, &["opened", "closed", "edited", "labeled"]), "number": 3,
                "pull_request": {"id": rng.u32(..), "number": rng.u16(..), "title": text(rng, 40)}}),
        ),
        1 => (
            "push",
            json!({"ref": "refs/heads/main", "before": "a", "after": "b",
                "commits": (0..rng.usize(..20)).map(|i| json!({"id": i, "message": text(rng, 30),
                    "added": [format!("src/{i}.rs")], "modified": [], "removed": []})).collect::<Vec<_>>()}),
        ),
        2 => (
            "issues",
            json!({"action": pick(rng, &["opened", "deleted", "milestoned"]),
                "issue": {"id": rng.u32(..), "number": rng.u16(..), "body": text(rng, 200)}}),
        ),
        3 => (
            "team",
            json!({"action": "edited", "team": {"id": rng.u32(..), "slug": "core"}}),
        ),
        4 => (
            "ping",
            json!({"zen": text(rng, 20), "hook_id": rng.u32(..)}),
        ),
        5 => ("star", json!({"action": "created"})),
        6 => (
            "workflow_run",
            json!({"action": "completed", "workflow_run": {"id": rng.u64(..), "workflow_id": 5}}),
        ),
        7 => (
            "create",
            json!({"ref": text(rng, 30), "ref_type": pick(rng, &["tag", "branch"])}),
        ),
        _ => (
            "membership",
            json!({"action": "added", "team": {"id": 1, "slug": "core"},
            "member": {"login": "m"}}),
        ),
    };
    if let Some(object) = payload.as_object_mut() {
        object.insert("repository".into(), repo);
        object.insert("organization".into(), org);
        if rng.bool() {
            object.insert("installation".into(), installation);
        }
        if rng.u8(..4) == 0 {
            object.insert("extra".into(), value(rng, 4));
        }
    }
    (event.to_owned(), payload)
}

/// Mutates `body` in one of many ways that break it, bend it or leave it valid.
fn mutate_body(rng: &mut fastrand::Rng, body: &mut Vec<u8>) {
    match rng.u8(..14) {
        0 if !body.is_empty() => {
            let at = rng.usize(..body.len());
            body[at] ^= 1 << rng.u8(..8);
        }
        1 => body.truncate(rng.usize(..=body.len())),
        2 => {
            let at = rng.usize(..=body.len());
            let junk: Vec<u8> = (0..rng.usize(1..8)).map(|_| rng.u8(..)).collect();
            body.splice(at..at, junk);
        }
        3 => {
            let depth = rng.usize(100..300);
            *body = format!(
                "{{\"action\":\"opened\",\"pull_request\":{{\"number\":1}},\"x\":{}0{}}}",
                "[".repeat(depth),
                "]".repeat(depth)
            )
            .into_bytes();
        }
        4 => {
            *body = format!(
                "{{\"action\":\"opened\",\"pull_request\":{{\"number\":1}},\"x\":\"{}\"}}",
                pick(
                    rng,
                    &["\\ud800", "\\udc00", "\\ud83d\\u0041", "\\uZZZZ", "\\x"]
                )
            )
            .into_bytes();
        }
        5 => *body = serde_json::to_vec(&value(rng, 3)).unwrap_or_default(),
        6 => {
            // Huge: over the message size, maybe over the body limit.
            let size = rng.usize(10_000..400_000);
            *body = serde_json::to_vec(&json!({"action": "opened", "number": 1,
                "pull_request": {"id": 1, "number": 1, "title": "t".repeat(size)},
                "repository": {"id": 1, "full_name": "x".repeat(size / 2)}}))
            .unwrap_or_default();
        }
        7 => body.clear(),
        8 => body.extend_from_slice(b" {}"),
        9 => *body = [b"\xEF\xBB\xBF".as_slice(), body].concat(),
        10 => {
            let number = pick(
                rng,
                &[
                    "1e999",
                    "-1e999",
                    "123456789012345678901234567890",
                    "0.1e-999",
                ],
            );
            *body = format!("{{\"action\":\"opened\",\"number\":{number},\"pull_request\":{{\"number\":{number}}}}}")
                .into_bytes();
        }
        11 => *body = b"{\"action\": 5, \"pull_request\": []}".to_vec(),
        // Unchanged.
        _ => {}
    }
}

/// The `X-Hub-Signature-256` to send: right, wrong, malformed or missing.
fn signature(rng: &mut fastrand::Rng, original: &[u8], body: &[u8]) -> Option<String> {
    let good = sign(SECRET, body);
    match rng.u8(..18) {
        0..=8 => Some(good),
        9 => Some(sign(PREVIOUS, body)),
        10 => Some(sign(SECRET, original)),
        11 => Some(sign("another-secret", body)),
        12 => Some(good.to_uppercase()),
        13 => Some(format!(" {good} ")),
        14 => Some(good[..rng.usize(..good.len())].to_owned()),
        15 => Some(format!(
            "sha256={}",
            (0..64)
                .map(|_| *pick(rng, &['0', 'f', 'g', 'A']))
                .collect::<String>()
        )),
        16 => Some(format!("sha1={}", &good[7..47])),
        _ => None,
    }
}

/// Whether `header` is a valid signature of `body` under an accepted secret, as GitHub's docs
/// define it (hex, case-insensitive; surrounding spaces are not part of the value).
fn signature_matches(header: Option<&str>, body: &[u8]) -> bool {
    let Some(header) = header.map(str::trim) else {
        return false;
    };
    [SECRET, PREVIOUS]
        .iter()
        .any(|secret| header.eq_ignore_ascii_case(&sign(secret, body)))
}

fn insert(headers: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_bytes(value.as_bytes()),
    ) {
        headers.insert(name, value);
    }
}

#[tokio::test]
async fn generated_deliveries_never_panic_never_pass_unsigned_and_never_blame_the_server() {
    let cases: u64 = std::env::var("WEBHOOK_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let seed: u64 = std::env::var("WEBHOOK_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_f00d);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let mut queued = 0u64;
    for case in 0..cases {
        let limits = WebhookLimits {
            max_body_bytes: *pick(&mut rng, &[25 << 20, 64 * 1024, 300_000]),
            max_message_bytes: *pick(&mut rng, &[4096, 16 * 1024, 256 * 1024]),
        };
        let queue = Arc::new(FlakyQueue::default());
        queue.mode.store(
            *pick(&mut rng, &[WORKS, WORKS, WORKS, UNAVAILABLE, REFUSES]),
            Ordering::SeqCst,
        );
        let handler =
            WebhookHandler::new(fixed_secrets(SECRET, Some(PREVIOUS)), queue.clone(), limits);

        let (event, payload) = delivery(&mut rng);
        let json_body = serde_json::to_vec(&payload).unwrap();
        let form = rng.u8(..6) == 0;
        let original = if form {
            let encoded: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("payload", &String::from_utf8_lossy(&json_body))
                .finish();
            encoded.into_bytes()
        } else {
            json_body
        };
        let mut body = original.clone();
        if rng.u8(..3) > 0 {
            mutate_body(&mut rng, &mut body);
        }
        let signature = signature(&mut rng, &original, &body);

        let mut headers = HeaderMap::new();
        let event_header = match rng.u8(..24) {
            0 => None,
            1 => Some("Pull Request".to_owned()),
            2 => Some(text(&mut rng, 70)),
            3 => Some("x".repeat(65)),
            _ => Some(event.clone()),
        };
        if let Some(value) = &event_header {
            insert(&mut headers, "x-github-event", value);
        }
        let delivery_id = match rng.u8(..24) {
            0 => None,
            1 => Some("a b".to_owned()),
            2 => Some("d".repeat(101)),
            3 => Some(text(&mut rng, 30)),
            _ => Some(format!("{:08x}-{case}", rng.u32(..))),
        };
        if let Some(value) = &delivery_id {
            insert(&mut headers, "x-github-delivery", value);
        }
        let hook = match rng.u8(..6) {
            0 => None,
            1 => Some("not-a-number".to_owned()),
            2 => Some("9".repeat(30)),
            _ => Some(rng.u32(..).to_string()),
        };
        if let Some(value) = &hook {
            insert(&mut headers, "x-github-hook-id", value);
        }
        let content_type = if form {
            "application/x-www-form-urlencoded".to_owned()
        } else {
            pick(
                &mut rng,
                &[
                    "application/json",
                    "application/json",
                    "application/json; charset=utf-8",
                    "APPLICATION/JSON",
                    "text/plain",
                    "",
                    "application/x-www-form-urlencoded",
                    "multipart/form-data; boundary=x",
                ],
            )
            .to_string()
        };
        if !content_type.is_empty() {
            insert(&mut headers, "content-type", &content_type);
        }
        if let Some(value) = &signature {
            insert(&mut headers, "x-hub-signature-256", value);
        }
        if rng.u8(..8) == 0 {
            insert(
                &mut headers,
                "x-hub-signature",
                "sha1=0123456789abcdef0123456789abcdef01234567",
            );
        }
        let method = if rng.u8(..8) == 0 {
            *pick(&mut rng, &["post", "GET", "PUT", "DELETE", "", "POST "])
        } else {
            "POST"
        };

        let request = WebhookRequest {
            method,
            headers: &headers,
            body: &body,
        };
        let answer = AssertUnwindSafe(handler.handle(request))
            .catch_unwind()
            .await;
        let label = format!(
            "case {case} (seed {seed}): {method} {event_header:?} {content_type:?}, {} bytes, signature {signature:?}",
            body.len()
        );
        let Ok(response) = answer else {
            panic!("{label}: the handler panicked");
        };
        *statuses.entry(response.status).or_default() += 1;

        // Every answer is short JSON with `ok`.
        let parsed: Value = serde_json::from_str(&response.body)
            .unwrap_or_else(|e| panic!("{label}: the answer is not JSON ({e}): {}", response.body));
        assert!(parsed["ok"].is_boolean(), "{label}: {}", response.body);
        assert!(response.body.len() < 1024, "{label}: {}", response.body);

        let sent = headers
            .get("x-hub-signature-256")
            .and_then(|v| v.to_str().ok());
        if (200..300).contains(&response.status) {
            assert!(
                signature_matches(sent, &body),
                "{label}: {} for a body whose signature does not match",
                response.status
            );
        }
        if response.status >= 500 {
            assert_eq!(response.status, 503, "{label}");
            assert!(
                queue.asked.load(Ordering::SeqCst) == 1
                    && queue.mode.load(Ordering::SeqCst) == UNAVAILABLE,
                "{label}: 503 although the queue was not down: {}",
                response.body
            );
        }
        if queue.asked.load(Ordering::SeqCst) == 1 {
            assert!(
                signature_matches(sent, &body),
                "{label}: queued an unsigned body"
            );
        }
        if response.status == 202 && parsed["status"] == "queued" {
            let messages = queue.inner.drain(10);
            assert_eq!(messages.len(), 1, "{label}");
            let message = &messages[0];
            assert!(message.body.len() <= limits.max_message_bytes, "{label}");
            let envelope: Envelope = serde_json::from_str(&message.body)
                .unwrap_or_else(|e| panic!("{label}: the worker cannot read what was queued: {e}"));
            assert_eq!(
                Some(envelope.delivery_id.as_str()),
                delivery_id.as_deref().map(str::trim),
                "{label}"
            );
            for id in [&message.group_id, &message.dedup_id] {
                assert!(
                    !id.is_empty()
                        && id.len() <= 128
                        && id
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c.is_ascii_punctuation()),
                    "{label}: {id:?} is not a valid FIFO id"
                );
            }
            queued += 1;
        }
    }
    println!(
        "webhook fuzz: {cases} cases run (seed {seed}), {queued} queued; answers by status: {statuses:?}"
    );
    assert!(
        queued > 0 && statuses.len() >= 6,
        "the cases reach the handler's branches: {statuses:?}"
    );
}
