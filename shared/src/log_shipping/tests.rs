//! The log shipper's tests: capture and masking, bounded buffers, failed and hanging
//! destinations, and request body sizes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use serde_json::Value;
use tracing::Subscriber;
use tracing_subscriber::layer::SubscriberExt as _;

use super::render::bodies;
use super::shipper::lock;
use super::*;
use crate::port::mask::MASK;

/// Collects bodies; fails the first `fail` sends with a 500-like error.
#[derive(Default)]
struct Collector {
    bodies: Mutex<Vec<Value>>,
    fail: AtomicU64,
    sends: AtomicU64,
    discovery: Mutex<Option<Discovery>>,
}

#[async_trait]
impl LogIngest for Collector {
    async fn discover(&self) -> Discovery {
        self.discovery
            .lock()
            .ok()
            .and_then(|d| d.clone())
            .unwrap_or_else(|| Discovery::At("http://ingest".to_owned()))
    }
    async fn send(&self, url: &str, body: Vec<u8>) -> Result<(), IngestError> {
        assert_eq!(url, "http://ingest");
        self.sends.fetch_add(1, Ordering::SeqCst);
        if self
            .fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            tracing::error!("the ingest failed; this line must not be captured");
            return Err(IngestError {
                message: "HTTP 500".to_owned(),
                gone: false,
            });
        }
        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if let Ok(mut bodies) = self.bodies.lock() {
            bodies.push(value);
        }
        Ok(())
    }
}

impl Collector {
    fn lines(&self) -> Vec<Value> {
        self.bodies
            .lock()
            .map(|b| {
                b.iter()
                    .flat_map(|body| body["logs"].as_array().cloned().unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn subscriber(shipper: &LogShipper) -> impl Subscriber + Send + Sync {
    tracing_subscriber::registry().with(shipper.layer())
}

#[tokio::test]
async fn captures_warnings_and_errors_with_span_fields_and_masks_secrets() {
    let shipper = LogShipper::new(ShipperSettings::new("worker"));
    let _guard = tracing::subscriber::set_default(subscriber(&shipper));
    let secret = "s3cr3t-client-secret-value";
    register_secret(&SecretString::from(secret));
    let pat = format!("ghp_{}", "Z9".repeat(18));
    let span = tracing::info_span!("event", delivery_id = "d-42", event = "push");
    span.in_scope(|| {
        tracing::info!("not captured: info");
        tracing::debug!("not captured: debug");
        tracing::warn!(reason = %format!("Port said no to {secret}"), token = "plain", attempt = 2, "will retry");
        tracing::error!(error = %format!("GitHub refused {pat}"), "dropped: permanent failure");
    });
    tracing::warn!(target: TARGET, "not captured: the shipper's own line");
    assert_eq!(shipper.stats().captured, 2);

    let ingest = Arc::new(Collector::default());
    shipper.connect(ingest.clone());
    assert_eq!(shipper.flush(Duration::from_secs(5)).await, Flushed::Done);
    let lines = ingest.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let text = serde_json::to_string(&lines).unwrap_or_default();
    assert!(!text.contains(secret) && !text.contains(&pat), "{text}");
    let warning = &lines[0];
    assert_eq!(warning["level"], "WARNING");
    assert_eq!(warning["message"], "will retry");
    assert_eq!(warning["extra"]["delivery_id"], "d-42");
    assert_eq!(warning["extra"]["event"], "push");
    assert_eq!(warning["extra"]["attempt"], 2);
    assert_eq!(warning["extra"]["token"], MASK);
    assert_eq!(warning["extra"]["source"], "worker");
    assert_eq!(
        warning["extra"]["reason"],
        format!("Port said no to {MASK}")
    );
    assert!(
        chrono::DateTime::parse_from_rfc3339(warning["timestamp"].as_str().unwrap_or("")).is_ok()
    );
    assert_eq!(lines[1]["level"], "ERROR");
    assert_eq!(lines[1]["extra"]["error"], format!("GitHub refused {MASK}"));
    let stats = shipper.stats();
    assert_eq!(
        (stats.shipped, stats.buffered, stats.state),
        (2, 0, ShippingState::On)
    );
}

#[tokio::test]
async fn a_flood_keeps_the_newest_lines_and_reports_the_drops() {
    let mut settings = ShipperSettings::new("worker");
    settings.capacity = 50;
    settings.batch_lines = 20;
    let shipper = LogShipper::new(settings);
    let _guard = tracing::subscriber::set_default(subscriber(&shipper));
    for n in 0..500 {
        tracing::warn!(n, "flood");
    }
    let stats = shipper.stats();
    assert_eq!(
        (stats.captured, stats.dropped, stats.buffered),
        (500, 450, 50)
    );
    let ingest = Arc::new(Collector::default());
    shipper.connect(ingest.clone());
    assert_eq!(shipper.flush(Duration::from_secs(5)).await, Flushed::Done);
    let lines = ingest.lines();
    assert_eq!(lines.len(), 51, "50 kept lines and the drop notice");
    assert_eq!(lines[0]["extra"]["dropped"], 450);
    assert_eq!(lines[1]["extra"]["n"], 450, "the oldest went first");
    assert_eq!(lines[50]["extra"]["n"], 499);
    assert_eq!(ingest.sends.load(Ordering::SeqCst), 3, "batches of 20");
}

#[tokio::test]
async fn a_failed_batch_is_dropped_counted_and_never_shipped_again() {
    let shipper = LogShipper::new(ShipperSettings::new("worker"));
    let _guard = tracing::subscriber::set_default(subscriber(&shipper));
    let ingest = Arc::new(Collector::default());
    ingest.fail.store(1, Ordering::SeqCst);
    shipper.connect(ingest.clone());
    tracing::warn!("first");
    assert_eq!(shipper.flush(Duration::from_secs(5)).await, Flushed::Done);
    tracing::warn!("second");
    assert_eq!(shipper.flush(Duration::from_secs(5)).await, Flushed::Done);
    let stats = shipper.stats();
    assert_eq!((stats.failed_batches, stats.lost, stats.shipped), (1, 1, 1));
    assert_eq!(ingest.sends.load(Ordering::SeqCst), 2, "no retry");
    let lines = ingest.lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(
        lines[0]["message"], "second",
        "the failure's own line was not captured"
    );
}

#[tokio::test]
async fn off_when_the_destination_says_so() {
    let shipper = LogShipper::new(ShipperSettings::new("worker"));
    let _guard = tracing::subscriber::set_default(subscriber(&shipper));
    tracing::warn!("before");
    let ingest = Arc::new(Collector::default());
    if let Ok(mut discovery) = ingest.discovery.lock() {
        *discovery = Some(Discovery::Off("no ingest URL".to_owned()));
    }
    shipper.connect(ingest.clone());
    let flushed = shipper.flush(Duration::from_secs(5)).await;
    assert!(matches!(flushed, Flushed::Done | Flushed::Idle));
    tracing::warn!("after");
    assert_eq!(shipper.flush(Duration::from_secs(5)).await, Flushed::Idle);
    let stats = shipper.stats();
    assert_eq!(
        (stats.state, stats.captured, stats.buffered),
        (ShippingState::Off, 1, 0)
    );
    assert_eq!(ingest.sends.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_buffer_is_bounded_in_bytes_too() {
    let mut settings = ShipperSettings::new("worker");
    settings.capacity_bytes = 64 * 1024;
    let shipper = LogShipper::new(settings);
    let _guard = tracing::subscriber::set_default(subscriber(&shipper));
    let big = "y".repeat(4_000);
    for n in 0..100 {
        tracing::warn!(n, detail = %big, "big");
    }
    let stats = shipper.stats();
    assert!(stats.buffered < 20, "{stats:?}");
    assert_eq!(stats.dropped + stats.buffered as u64, 100);
    assert!(lock(&shipper.shared.buffer).bytes <= 64 * 1024);
}

/// A destination that never answers.
struct Hanging;

#[async_trait]
impl LogIngest for Hanging {
    async fn discover(&self) -> Discovery {
        Discovery::At("http://ingest".to_owned())
    }
    async fn send(&self, _url: &str, _body: Vec<u8>) -> Result<(), IngestError> {
        std::future::pending::<()>().await;
        Ok(())
    }
}

#[tokio::test]
async fn a_hanging_destination_costs_one_timeout_not_one_per_flush() {
    let shipper = LogShipper::new(ShipperSettings::new("worker"));
    let _guard = tracing::subscriber::set_default(subscriber(&shipper));
    shipper.connect(Arc::new(Hanging));
    tracing::warn!("stuck");
    let started = std::time::Instant::now();
    assert_eq!(
        shipper.flush(Duration::from_millis(100)).await,
        Flushed::TimedOut
    );
    let first = started.elapsed();
    let again = std::time::Instant::now();
    for _ in 0..10 {
        tracing::warn!("more");
        assert_eq!(
            shipper.flush(Duration::from_secs(5)).await,
            Flushed::TimedOut
        );
    }
    assert!(first >= Duration::from_millis(100));
    println!(
        "hanging destination: first flush {:.0} ms, the next ten {:.2} ms in all",
        first.as_secs_f64() * 1e3,
        again.elapsed().as_secs_f64() * 1e3
    );
}

#[test]
fn bodies_stay_under_the_size_limit() {
    let lines: Vec<(usize, String)> = (0..10).map(|n| (1, format!("\"line-{n:04}\""))).collect();
    let bodies = bodies(lines, 40);
    assert!(bodies.len() > 1);
    let mut total = 0;
    for body in &bodies {
        assert!(
            body.bytes.len() <= 40,
            "{}",
            String::from_utf8_lossy(&body.bytes)
        );
        let value: Value = serde_json::from_slice(&body.bytes).unwrap_or(Value::Null);
        total += value["logs"].as_array().map_or(0, Vec::len);
    }
    assert_eq!(total, 10);
    assert_eq!(bodies.iter().map(|b| b.lines).sum::<u64>(), 10);
}
