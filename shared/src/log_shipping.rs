//! Warnings and errors shipped to Port's integration log, as Port's own integrations (Ocean) do:
//! a `tracing_subscriber` layer ([`LogShipper::layer`]) copies each WARN and ERROR event (its
//! message, its fields and those of the spans around it) into a bounded in-memory buffer without
//! ever blocking or failing the caller (when the buffer is full the oldest line goes and the drop
//! is counted, and reported in the next batch); a background task ([`LogShipper::connect`])
//! finds where to send them ([`LogIngest::discover`], Port's integration record) and posts them
//! in batches, when enough lines are waiting, every few seconds, and on [`LogShipper::flush`],
//! which the Lambda handlers call at the end of an invocation with a short timeout. Before a
//! line leaves, every secret value the process registered ([`register_secret`]) and every
//! token-looking string is masked. A batch that cannot be shipped is dropped and counted (the
//! first failure is logged locally, never shipped: no feedback loop); nothing is retried.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber, span};
use tracing_subscriber::filter::Filtered;
use tracing_subscriber::layer::{Context, Filter, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::port::mask::{MASK, MIN_KNOWN_SECRET_CHARS, is_sensitive_key, mask_text};

/// The tracing target of this module's own lines: never captured, so a shipping failure can
/// never be shipped (and fail again).
pub const TARGET: &str = module_path!();

/// How long a Lambda handler waits at the end of an invocation for the lines it logged to be
/// shipped (the container may be frozen right after it answers).
pub const INVOCATION_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Longest string kept per field when a line is captured (bounds the buffer's memory).
const CAPTURE_MAX_CHARS: usize = 8 * 1024;
/// Longest message shipped (after masking).
const SHIP_MESSAGE_MAX_CHARS: usize = 4 * 1024;
/// Longest field value shipped (after masking).
const SHIP_FIELD_MAX_CHARS: usize = 1024;
/// Most fields shipped per line.
const SHIP_MAX_FIELDS: usize = 32;
/// Most distinct secret values remembered for masking (the oldest go first).
const MAX_KNOWN_SECRETS: usize = 64;

static KNOWN_SECRETS: RwLock<Vec<SecretString>> = RwLock::new(Vec::new());

/// Remembers a secret value the process holds, so that it is masked wherever it appears in a
/// shipped line. Values shorter than [`MIN_KNOWN_SECRET_CHARS`] are not remembered (masking them
/// would garble ordinary words; the token patterns still apply).
pub fn register_secret(value: &SecretString) {
    let text = value.expose_secret().trim();
    if text.chars().count() < MIN_KNOWN_SECRET_CHARS {
        return;
    }
    let mut known = KNOWN_SECRETS
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    if known.iter().any(|k| k.expose_secret() == text) {
        return;
    }
    if known.len() >= MAX_KNOWN_SECRETS {
        known.remove(0);
    }
    known.push(SecretString::from(text.to_owned()));
}

fn known_secrets() -> Vec<SecretString> {
    KNOWN_SECRETS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

tokio::task_local! {
    /// Set while the shipper itself calls out: anything logged then is not captured.
    static SHIPPING: ();
}

/// Where the lines go, as the destination describes itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovery {
    /// Ship to this URL.
    At(String),
    /// The destination says no shipping (e.g. the integration record has no ingest URL): off
    /// for the life of the process.
    Off(String),
    /// Not known yet (the record does not exist yet, or could not be read): asked again later.
    NotYet(String),
}

/// A batch that could not be shipped.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct IngestError {
    pub message: String,
    /// The URL is gone (404/410): find it again before shipping more.
    pub gone: bool,
}

/// Where shipped lines go (Port's integration log: `port::logs::PortLogIngest`). Contract:
/// `send` posts one already-serialized `{"logs": [...]}` body once, without retrying.
#[async_trait]
pub trait LogIngest: Send + Sync {
    async fn discover(&self) -> Discovery;
    async fn send(&self, url: &str, body: Vec<u8>) -> Result<(), IngestError>;
}

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

const PENDING: u8 = 0;
const ON: u8 = 1;
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

struct Captured {
    seq: u64,
    /// Roughly the memory it holds.
    bytes: usize,
    level: Level,
    message: String,
    timestamp: String,
    extra: Map<String, Value>,
}

#[derive(Default)]
struct Buffer {
    lines: VecDeque<Captured>,
    /// The sum of the lines' `bytes`.
    bytes: usize,
    next_seq: u64,
    /// Dropped since the last batch said so.
    unreported_drops: u64,
}

struct Shared {
    settings: ShipperSettings,
    state: AtomicU8,
    buffer: Mutex<Buffer>,
    wake: Notify,
    rounds_started: AtomicU64,
    rounds_done: watch::Sender<u64>,
    connected: AtomicBool,
    flush_requested: AtomicBool,
    /// A flush timed out and the round it waited for has not ended: later flushes do not wait.
    stalled: AtomicBool,
    failure_logged: AtomicBool,
    captured: AtomicU64,
    dropped: AtomicU64,
    shipped: AtomicU64,
    failed_batches: AtomicU64,
    lost: AtomicU64,
}

/// The capture buffer and its shipper. Cheap to clone; build one per process, install its
/// [`layer`](LogShipper::layer), and [`connect`](LogShipper::connect) it once the destination
/// can be asked.
#[derive(Clone)]
pub struct LogShipper {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for LogShipper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogShipper")
            .field("stats", &self.stats())
            .finish()
    }
}

fn lock(buffer: &Mutex<Buffer>) -> MutexGuard<'_, Buffer> {
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

/// What the shipping task remembers between rounds.
struct Task {
    url: Option<String>,
    discovered_at: Option<Instant>,
}

impl Shared {
    fn state(&self) -> ShippingState {
        match self.state.load(Ordering::SeqCst) {
            ON => ShippingState::On,
            OFF => ShippingState::Off,
            _ => ShippingState::Pending,
        }
    }

    fn turn_off(&self) {
        self.state.store(OFF, Ordering::SeqCst);
        let mut buffer = lock(&self.buffer);
        buffer.lines.clear();
        buffer.bytes = 0;
        buffer.unreported_drops = 0;
    }

    /// Holds one captured line; never waits on anything but this short lock.
    fn push(&self, level: Level, message: String, extra: Map<String, Value>) {
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

    /// One round of the task: find the destination when needed, then ship every line captured
    /// before the round started.
    async fn round(&self, ingest: &dyn LogIngest, task: &mut Task) {
        let round = self.rounds_started.fetch_add(1, Ordering::SeqCst) + 1;
        let flushing = self.flush_requested.swap(false, Ordering::SeqCst);
        if self.state() == ShippingState::Pending {
            let wait = if flushing {
                self.settings.rediscover_on_flush_after
            } else {
                self.settings.rediscover_after
            };
            let due = task.discovered_at.is_none_or(|at| at.elapsed() >= wait);
            if due {
                task.discovered_at = Some(Instant::now());
                match SHIPPING.scope((), ingest.discover()).await {
                    Discovery::At(url) => {
                        tracing::debug!(target: TARGET, "shipping warnings and errors to Port's integration log");
                        task.url = Some(url);
                        self.state.store(ON, Ordering::SeqCst);
                    }
                    Discovery::Off(reason) => {
                        tracing::debug!(target: TARGET, %reason, "log shipping to Port is off");
                        self.turn_off();
                    }
                    Discovery::NotYet(reason) => {
                        tracing::debug!(target: TARGET, %reason, "log shipping to Port: destination not known yet");
                    }
                }
            }
        }
        if self.state() == ShippingState::On
            && let Some(url) = task.url.clone()
            && let Err(gone) = self.ship_until(ingest, &url).await
        {
            tracing::debug!(target: TARGET, error = %gone, "the log ingest URL is gone; asking for it again");
            task.url = None;
            task.discovered_at = None;
            self.state.store(PENDING, Ordering::SeqCst);
        }
        self.stalled.store(false, Ordering::SeqCst);
        self.rounds_done.send_replace(round);
    }

    /// Ships the lines captured so far, a batch at a time; `Err` when the URL is gone.
    async fn ship_until(&self, ingest: &dyn LogIngest, url: &str) -> Result<(), IngestError> {
        let until = lock(&self.buffer).next_seq;
        let known = known_secrets();
        let known: Vec<&str> = known.iter().map(|s| s.expose_secret()).collect();
        loop {
            let (lines, drops) = {
                let mut buffer = lock(&self.buffer);
                let mut lines = Vec::new();
                while lines.len() < self.settings.batch_lines.max(1)
                    && buffer.lines.front().is_some_and(|line| line.seq < until)
                {
                    if let Some(line) = buffer.lines.pop_front() {
                        buffer.bytes = buffer.bytes.saturating_sub(line.bytes);
                        lines.push(line);
                    }
                }
                (lines, std::mem::take(&mut buffer.unreported_drops))
            };
            if lines.is_empty() && drops == 0 {
                return Ok(());
            }
            let mut rendered: Vec<(usize, String)> = Vec::with_capacity(lines.len() + 1);
            if drops > 0 {
                rendered.push((0, drop_notice(drops, &self.settings.source).to_string()));
            }
            for line in lines {
                rendered.push((1, render(line, &known, &self.settings.source).to_string()));
            }
            for body in bodies(rendered, self.settings.max_batch_bytes) {
                let count = body.lines;
                match SHIPPING.scope((), ingest.send(url, body.bytes)).await {
                    Ok(()) => {
                        self.shipped.fetch_add(count, Ordering::Relaxed);
                    }
                    Err(error) => {
                        self.failed_batches.fetch_add(1, Ordering::Relaxed);
                        self.lost.fetch_add(count, Ordering::Relaxed);
                        if !self.failure_logged.swap(true, Ordering::SeqCst) {
                            tracing::warn!(target: TARGET, %error,
                                "could not ship logs to Port's integration log; the lines are dropped, and later failures only counted");
                        }
                        if error.gone {
                            return Err(error);
                        }
                    }
                }
            }
        }
    }
}

/// One request body and how many captured lines it carries.
struct Body {
    bytes: Vec<u8>,
    lines: u64,
}

/// `{"logs": [...]}` bodies of at most `max_bytes` (a single longer line still goes alone).
/// Each rendered line comes with how many captured lines it counts for (the drop notice: none).
fn bodies(rendered: Vec<(usize, String)>, max_bytes: usize) -> Vec<Body> {
    const OPEN: &[u8] = b"{\"logs\":[";
    const CLOSE: &[u8] = b"]}";
    let mut out = Vec::new();
    let mut current: Vec<u8> = OPEN.to_vec();
    let mut count = 0u64;
    let mut empty = true;
    for (counts, line) in rendered {
        let extra = line.len() + usize::from(!empty);
        if !empty && current.len() + extra + CLOSE.len() > max_bytes {
            current.extend_from_slice(CLOSE);
            out.push(Body {
                bytes: std::mem::replace(&mut current, OPEN.to_vec()),
                lines: std::mem::take(&mut count),
            });
            empty = true;
        }
        if !empty {
            current.push(b',');
        }
        current.extend_from_slice(line.as_bytes());
        count += counts as u64;
        empty = false;
    }
    if !empty {
        current.extend_from_slice(CLOSE);
        out.push(Body {
            bytes: current,
            lines: count,
        });
    }
    out
}

/// Port's (Python's) level names.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        _ => "DEBUG",
    }
}

fn drop_notice(dropped: u64, source: &str) -> Value {
    serde_json::json!({
        "level": "WARNING",
        "message": format!("{dropped} log lines were dropped: the buffer was full"),
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "extra": {"dropped": dropped, "source": source},
    })
}

/// A captured line as it is shipped: masked and cut to size.
fn render(line: Captured, known: &[&str], source: &str) -> Value {
    let message = truncate(mask_text(&line.message, known), SHIP_MESSAGE_MAX_CHARS);
    let mut extra = Map::new();
    for (key, value) in line.extra.into_iter().take(SHIP_MAX_FIELDS) {
        let value = match value {
            // A field named for a secret (`token`, `client_secret`…) is masked whole.
            Value::String(text) if is_sensitive_key(&key) && !text.is_empty() => {
                Value::String(MASK.to_owned())
            }
            Value::Number(_) if is_sensitive_key(&key) => Value::String(MASK.to_owned()),
            // Elsewhere only the secrets inside the text are.
            Value::String(text) => {
                Value::String(truncate(mask_text(&text, known), SHIP_FIELD_MAX_CHARS))
            }
            other => other,
        };
        extra.insert(key, value);
    }
    extra.insert("source".to_owned(), Value::String(source.to_owned()));
    serde_json::json!({
        "level": level_name(line.level),
        "message": message,
        "timestamp": line.timestamp,
        "extra": extra,
    })
}

fn truncate(mut text: String, max_chars: usize) -> String {
    if let Some((cut, _)) = text.char_indices().nth(max_chars) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// Which events and spans the shipping layer sees: WARN and ERROR events, and spans of INFO or
/// above (their fields go with the events inside them), never this module's own lines.
#[derive(Debug, Clone, Copy)]
pub struct CaptureFilter;

fn interesting(meta: &Metadata<'_>) -> bool {
    if meta.target() == TARGET {
        return false;
    }
    if meta.is_span() {
        *meta.level() <= Level::INFO
    } else {
        *meta.level() <= Level::WARN
    }
}

impl<S> Filter<S> for CaptureFilter {
    fn enabled(&self, meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        interesting(meta)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if interesting(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::INFO)
    }
}

/// The layer [`LogShipper::layer`] installs.
pub struct ShippingLayer {
    shared: Arc<Shared>,
}

/// The fields of a span, kept in its extensions for the events inside it.
struct SpanFields(Map<String, Value>);

impl<S> Layer<S> for ShippingLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        if self.shared.state() == ShippingState::Off {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut fields = Map::new();
        attrs.record(&mut Collect {
            fields: &mut fields,
            message: None,
        });
        span.extensions_mut().insert(SpanFields(fields));
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if let Some(SpanFields(fields)) = extensions.get_mut::<SpanFields>() {
            values.record(&mut Collect {
                fields,
                message: None,
            });
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if self.shared.state() == ShippingState::Off || SHIPPING.try_with(|()| ()).is_ok() {
            return;
        }
        let mut fields = Map::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(span_fields)) = span.extensions().get::<SpanFields>() {
                    for (key, value) in span_fields {
                        fields.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        let mut message = None;
        event.record(&mut Collect {
            fields: &mut fields,
            message: Some(&mut message),
        });
        let message = message.unwrap_or_else(|| event.metadata().name().to_owned());
        self.shared.push(*event.metadata().level(), message, fields);
    }
}

/// Records fields as JSON values; the event's `message` goes apart when asked for.
struct Collect<'a> {
    fields: &'a mut Map<String, Value>,
    message: Option<&'a mut Option<String>>,
}

impl Collect<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message"
            && let Some(message) = self.message.as_mut()
        {
            **message = Some(match value {
                Value::String(text) => text,
                other => other.to_string(),
            });
            return;
        }
        self.fields.insert(field.name().to_owned(), value);
    }

    fn text(&mut self, field: &Field, text: String) {
        self.put(field, Value::String(truncate(text, CAPTURE_MAX_CHARS)));
    }
}

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.text(field, format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, value.to_owned());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.text(field, value.to_string());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt as _;

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
            chrono::DateTime::parse_from_rfc3339(warning["timestamp"].as_str().unwrap_or(""))
                .is_ok()
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
        let lines: Vec<(usize, String)> =
            (0..10).map(|n| (1, format!("\"line-{n:04}\""))).collect();
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
}
