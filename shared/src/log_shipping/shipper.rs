//! The capture buffer and its handle: the settings ([`ShipperSettings`]), the state and
//! counters ([`ShippingState`], [`ShipperStats`]), what [`LogShipper::flush`] reports
//! ([`Flushed`]), and the shared state the layer pushes into and the task drains.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::{Notify, watch};
use tracing::{Level, Subscriber};
use tracing_subscriber::filter::Filtered;
use tracing_subscriber::layer::Layer;
use tracing_subscriber::registry::LookupSpan;

use super::ingest::LogIngest;
use super::layer::{CaptureFilter, ShippingLayer};
use super::task::Task;

/// Limits and timing of a [`LogShipper`].
#[derive(Debug, Clone)]
pub struct ShipperSettings {
    /// Lines held at most; when full the oldest is dropped (and counted).
    pub capacity: usize,
    /// Bytes of text held at most (roughly), whatever the number of lines; the oldest go first.
    pub capacity_bytes: usize,
    /// A batch holds at most this many lines; this many waiting triggers a send.
    pub batch_lines: usize,
    /// A request body stays under this size (lines are split over more requests).
    pub max_batch_bytes: usize,
    /// Lines waiting are sent at least this often.
    pub interval: Duration,
    /// How long to wait before asking again where to ship, when it was not known yet.
    pub rediscover_after: Duration,
    /// The same on a [`LogShipper::flush`] (a Lambda invocation's end), which asks sooner.
    pub rediscover_on_flush_after: Duration,
    /// Shipped with each line as `extra.source` (the function's name).
    pub source: String,
}

impl ShipperSettings {
    /// The usual limits: 1,000 lines (4 MiB) buffered, batches of 100 lines or 256 KiB, every 5 s.
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            capacity: 1_000,
            capacity_bytes: 4 * 1024 * 1024,
            batch_lines: 100,
            max_batch_bytes: 256 * 1024,
            interval: Duration::from_secs(5),
            rediscover_after: Duration::from_secs(60),
            rediscover_on_flush_after: Duration::from_secs(5),
            source: source.into(),
        }
    }
}

/// Whether lines are being shipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShippingState {
    /// Captured and held until the destination is known.
    Pending,
    /// Captured and shipped.
    On,
    /// Neither captured nor shipped.
    Off,
}

pub(super) const PENDING: u8 = 0;
pub(super) const ON: u8 = 1;
const OFF: u8 = 2;

/// Counters since start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShipperStats {
    pub state: ShippingState,
    /// Lines the layer captured.
    pub captured: u64,
    /// Lines dropped because the buffer was full.
    pub dropped: u64,
    /// Lines delivered.
    pub shipped: u64,
    /// Requests that failed (their lines are lost, never retried).
    pub failed_batches: u64,
    /// Lines lost with those requests.
    pub lost: u64,
    /// Lines waiting now.
    pub buffered: usize,
}

/// How a [`LogShipper::flush`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flushed {
    /// Every line captured before the call was handled (shipped, or counted as lost).
    Done,
    /// The timeout passed first; the lines stay for the next round.
    TimedOut,
    /// Shipping is off, or not connected: nothing to wait for.
    Idle,
}

pub(super) struct Captured {
    pub(super) seq: u64,
    /// Roughly the memory it holds.
    pub(super) bytes: usize,
    pub(super) level: Level,
    pub(super) message: String,
    pub(super) timestamp: String,
    pub(super) extra: Map<String, Value>,
}

#[derive(Default)]
pub(super) struct Buffer {
    pub(super) lines: VecDeque<Captured>,
    /// The sum of the lines' `bytes`.
    pub(super) bytes: usize,
    pub(super) next_seq: u64,
    /// Dropped since the last batch said so.
    pub(super) unreported_drops: u64,
}

pub(super) struct Shared {
    pub(super) settings: ShipperSettings,
    pub(super) state: AtomicU8,
    pub(super) buffer: Mutex<Buffer>,
    wake: Notify,
    pub(super) rounds_started: AtomicU64,
    pub(super) rounds_done: watch::Sender<u64>,
    connected: AtomicBool,
    pub(super) flush_requested: AtomicBool,
    /// A flush timed out and the round it waited for has not ended: later flushes do not wait.
    pub(super) stalled: AtomicBool,
    pub(super) failure_logged: AtomicBool,
    captured: AtomicU64,
    dropped: AtomicU64,
    pub(super) shipped: AtomicU64,
    pub(super) failed_batches: AtomicU64,
    pub(super) lost: AtomicU64,
}

/// The capture buffer and its shipper. Cheap to clone; build one per process, install its
/// [`layer`](LogShipper::layer), and [`connect`](LogShipper::connect) it once the destination
/// can be asked.
#[derive(Clone)]
pub struct LogShipper {
    pub(super) shared: Arc<Shared>,
}

impl std::fmt::Debug for LogShipper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogShipper")
            .field("stats", &self.stats())
            .finish()
    }
}

pub(super) fn lock(buffer: &Mutex<Buffer>) -> MutexGuard<'_, Buffer> {
    buffer.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LogShipper {
    pub fn new(settings: ShipperSettings) -> Self {
        let (rounds_done, _) = watch::channel(0);
        Self {
            shared: Arc::new(Shared {
                settings,
                state: AtomicU8::new(PENDING),
                buffer: Mutex::new(Buffer::default()),
                wake: Notify::new(),
                rounds_started: AtomicU64::new(0),
                rounds_done,
                connected: AtomicBool::new(false),
                flush_requested: AtomicBool::new(false),
                stalled: AtomicBool::new(false),
                failure_logged: AtomicBool::new(false),
                captured: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
                shipped: AtomicU64::new(0),
                failed_batches: AtomicU64::new(0),
                lost: AtomicU64::new(0),
            }),
        }
    }

    /// The layer that captures WARN and ERROR events (and the fields of INFO-or-above spans they
    /// happen in), for `tracing_subscriber::registry().with(...)`.
    pub fn layer<S>(&self) -> Filtered<ShippingLayer, CaptureFilter, S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        ShippingLayer {
            shared: Arc::clone(&self.shared),
        }
        .with_filter(CaptureFilter)
    }

    /// Starts the shipping task on the current Tokio runtime: it asks `ingest` where to ship,
    /// then sends what is captured. Only the first call does anything; outside a runtime it
    /// turns shipping off.
    pub fn connect(&self, ingest: Arc<dyn LogIngest>) {
        if self.shared.connected.swap(true, Ordering::SeqCst) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.disable();
            return;
        };
        let shared = Arc::clone(&self.shared);
        runtime.spawn(async move {
            let mut task = Task {
                url: None,
                discovered_at: None,
            };
            loop {
                shared.round(&*ingest, &mut task).await;
                if shared.state() == ShippingState::Off {
                    return;
                }
                tokio::select! {
                    () = shared.wake.notified() => {}
                    () = tokio::time::sleep(shared.settings.interval) => {}
                }
            }
        });
    }

    /// Turns shipping off for good and forgets what was captured.
    pub fn disable(&self) {
        self.shared.turn_off();
    }

    /// Ships what was captured before this call, waiting at most `timeout`. It never fails: a
    /// batch the destination refuses is counted as lost. While a send that made an earlier flush
    /// time out is still under way (a destination that hangs), it does not wait at all, so a
    /// slow destination costs one timeout, not one per invocation.
    pub async fn flush(&self, timeout: Duration) -> Flushed {
        let shared = &self.shared;
        if !shared.connected.load(Ordering::SeqCst) || shared.state() == ShippingState::Off {
            return Flushed::Idle;
        }
        // A round that starts after this point ships every line captured before it.
        let target = shared.rounds_started.load(Ordering::SeqCst) + 1;
        let mut done = shared.rounds_done.subscribe();
        shared.flush_requested.store(true, Ordering::SeqCst);
        shared.wake.notify_one();
        if shared.stalled.load(Ordering::SeqCst) {
            return Flushed::TimedOut;
        }
        match tokio::time::timeout(timeout, done.wait_for(|finished| *finished >= target)).await {
            Ok(Ok(_)) => Flushed::Done,
            _ => {
                shared.stalled.store(true, Ordering::SeqCst);
                Flushed::TimedOut
            }
        }
    }

    pub fn stats(&self) -> ShipperStats {
        let shared = &self.shared;
        ShipperStats {
            state: shared.state(),
            captured: shared.captured.load(Ordering::Relaxed),
            dropped: shared.dropped.load(Ordering::Relaxed),
            shipped: shared.shipped.load(Ordering::Relaxed),
            failed_batches: shared.failed_batches.load(Ordering::Relaxed),
            lost: shared.lost.load(Ordering::Relaxed),
            buffered: lock(&shared.buffer).lines.len(),
        }
    }
}

impl Shared {
    pub(super) fn state(&self) -> ShippingState {
        match self.state.load(Ordering::SeqCst) {
            ON => ShippingState::On,
            OFF => ShippingState::Off,
            _ => ShippingState::Pending,
        }
    }

    pub(super) fn turn_off(&self) {
        self.state.store(OFF, Ordering::SeqCst);
        let mut buffer = lock(&self.buffer);
        buffer.lines.clear();
        buffer.bytes = 0;
        buffer.unreported_drops = 0;
    }

    /// Holds one captured line; never waits on anything but this short lock.
    pub(super) fn push(&self, level: Level, message: String, extra: Map<String, Value>) {
        let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let bytes = 64
            + message.len()
            + extra
                .iter()
                .map(|(key, value)| key.len() + value.as_str().map_or(16, str::len))
                .sum::<usize>();
        let waiting = {
            let mut buffer = lock(&self.buffer);
            while !buffer.lines.is_empty()
                && (buffer.lines.len() >= self.settings.capacity.max(1)
                    || buffer.bytes + bytes > self.settings.capacity_bytes)
            {
                if let Some(oldest) = buffer.lines.pop_front() {
                    buffer.bytes = buffer.bytes.saturating_sub(oldest.bytes);
                }
                buffer.unreported_drops += 1;
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            let seq = buffer.next_seq;
            buffer.next_seq += 1;
            buffer.bytes += bytes;
            buffer.lines.push_back(Captured {
                seq,
                bytes,
                level,
                message,
                timestamp,
                extra,
            });
            buffer.lines.len()
        };
        self.captured.fetch_add(1, Ordering::Relaxed);
        if waiting >= self.settings.batch_lines.max(1) {
            self.wake.notify_one();
        }
    }
}
