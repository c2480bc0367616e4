//! Webhook handler CPU time: verify + parse + build the envelope (in-memory queue, so no I/O) on
//! 25 KB, 1 MB and 6 MB payloads. Run: `cargo bench -p port-github-core --bench webhook`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue};
use port_github_core::queue::InMemoryEventQueue;
use port_github_core::webhook::{
    WebhookHandler, WebhookLimits, WebhookRequest, fixed_secrets, sign,
};
use serde_json::json;

const SECRET: &str = "bench-secret";

/// A `pull_request` payload padded with realistic commit-like objects to about `bytes`.
fn payload(bytes: usize) -> Vec<u8> {
    let mut files = Vec::new();
    let mut value = json!({});
    let mut i = 0;
    while serde_json::to_vec(&value).map(|v| v.len()).unwrap_or(0) < bytes {
        for _ in 0..50 {
            files.push(json!({"sha": format!("{i:040x}"), "filename": format!("src/module_{i}/file.rs"),
                "status": "modified", "additions": i, "deletions": 1, "patch": "@@ -1,3 +1,4 @@\n+line\n".repeat(3)}));
            i += 1;
        }
        value = json!({"action": "synchronize", "number": 7,
            "pull_request": {"id": 1, "number": 7, "state": "open", "title": "t", "files": files},
            "repository": {"id": 10, "full_name": "octo/repo", "owner": {"login": "octo", "id": 2}},
            "organization": {"login": "octo", "id": 2}, "installation": {"id": 3}});
    }
    serde_json::to_vec(&value).unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("webhook_handle");
    for (label, size) in [
        ("25KB", 25 * 1024),
        ("1MB", 1024 * 1024),
        ("6MB", 6 * 1024 * 1024),
    ] {
        let body = payload(size);
        let mut headers = HeaderMap::new();
        headers.insert("x-github-event", HeaderValue::from_static("pull_request"));
        headers.insert(
            "x-github-delivery",
            HeaderValue::from_static("72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        );
        headers.insert("x-github-hook-id", HeaderValue::from_static("42"));
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert(
            "x-hub-signature-256",
            HeaderValue::from_str(&sign(SECRET, &body)).expect("header"),
        );
        let queue = Arc::new(InMemoryEventQueue::default());
        let limits = WebhookLimits {
            max_body_bytes: 26 * 1024 * 1024,
            max_message_bytes: 256 * 1024,
        };
        let handler = WebhookHandler::new(fixed_secrets(SECRET, None), queue.clone(), limits);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(label, |b| {
            b.iter(|| {
                let request = WebhookRequest {
                    method: "POST",
                    headers: &headers,
                    body: black_box(&body),
                };
                let response = runtime.block_on(handler.handle(request));
                assert_eq!(response.status, 202);
                queue.drain(usize::MAX);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
