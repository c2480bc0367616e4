//! `port-github serve`: a local webhook endpoint. Every request goes to the Lambda's own
//! `WebhookHandler` (same secrets, limits and answers); queued events go to an in-process queue
//! that a background task drains through the worker's batch path (`process_batch`). Events that
//! fail for good are printed with their reason and kept in a bounded in-memory list, listed again
//! when `serve` stops.
//! Settings come from the environment, read by the core's `WebhookConfig` and `WorkerConfig`; the
//! clients come from the core's setup functions. No webhook or worker logic of its own.

use crate::catalog::EmbeddedCatalog;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode, header};
use port_github_core::config::{
    ConfigError, Env, GitHubAuthSetting, MappingSetting, PortCredentialsSetting, SecretSetting,
    WebhookConfig, WorkerConfig,
};
use port_github_core::github::{EtagStore, InMemoryEtagStore};
use port_github_core::live::{
    BatchSettings, DeadLetter, DeadLetters, InMemoryDeadLetters, LiveProcessor, LiveReport,
    Outcome, QueuedEvent, RetryReason, process_batch,
};
use port_github_core::log_shipping::{LogShipper, ShipperSettings};
use port_github_core::port::PortClient;
use port_github_core::port::logs::PortLogIngest;
use port_github_core::queue::{InMemoryEventQueue, QueuedMessage};
use port_github_core::secrets::SecretError;
use port_github_core::sync::setup::{SetupError, github_clients, load_mapping, port_client};
use port_github_core::webhook::envelope::Envelope;
use port_github_core::webhook::{WebhookHandler, WebhookRequest};
use serde_json::value::RawValue;
use tokio::sync::watch;
use tokio::time::Instant;

/// How often the worker task looks at the queue.
const POLL: Duration = Duration::from_millis(200);
/// Attempts of an event that keeps failing transiently before it is given up.
const MAX_ATTEMPTS: u32 = 5;
/// The first retry wait; doubled on each attempt.
const FIRST_RETRY: Duration = Duration::from_millis(500);
/// What the server reads beyond the handler's own body limit, so the handler answers 413 itself.
const BODY_MARGIN: usize = 64 * 1024;
/// Events that failed for good kept in memory (the latest; all are printed as they fail).
const DEAD_LETTERS_KEPT: usize = 100;
/// Events accepted and not yet done with, at most (`SERVE_QUEUE_CAPACITY`).
const DEFAULT_QUEUE_CAPACITY: u64 = 1000;

/// Why `serve` stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A missing or malformed setting: exit status 2.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The settings are well-formed but a client or the mapping cannot be built: exit status 2.
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error("webhook secret: {0}")]
    WebhookSecret(#[from] SecretError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("server stopped: {0}")]
    Server(#[source] std::io::Error),
    #[error("embedded catalog: {0}")]
    Catalog(#[source] anyhow::Error),
}

impl ServeError {
    /// True when the process should not start at all (exit status 2).
    pub fn is_startup(&self) -> bool {
        matches!(
            self,
            Self::Config(_) | Self::Setup(_) | Self::WebhookSecret(_)
        )
    }
}

/// Human-readable logs on standard error at `default` level unless `RUST_LOG` says otherwise
/// (standard output carries one line per event), plus the warnings and errors captured for
/// Port's integration log (shipped once `serve` or `resync` connects the returned shipper).
pub fn init_logging(default: &str, source: &str) -> LogShipper {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let shipper = LogShipper::new(ShipperSettings::new(source));
    let text = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_filter(port_github_core::logging::env_filter(default));
    let _ = tracing_subscriber::registry()
        .with(text)
        .with(shipper.layer())
        .try_init();
    shipper
}

/// Ships the captured warnings and errors to Port's integration log through `port`, unless the
/// embedded catalog stands in for Port (then nothing is shipped).
pub fn connect_logs(logs: &LogShipper, port: &PortClient, embedded: bool) {
    if embedded {
        logs.disable();
    } else {
        logs.connect(Arc::new(PortLogIngest::new(port.clone())));
    }
}

/// Serves webhooks on `addr` until Ctrl-C, with the settings in `vars` (the environment).
pub async fn run(
    addr: SocketAddr,
    mut vars: HashMap<String, String>,
    logs: &LogShipper,
) -> Result<(), ServeError> {
    // No Port credentials: the embedded catalog stands in for Port, saved after every batch.
    let embedded = EmbeddedCatalog::start_if_no_port(&mut vars)
        .await
        .map_err(ServeError::Catalog)?
        .map(Arc::new);
    let webhook_config = webhook_config(vars.clone())?;
    let queue_capacity = Env::from_pairs(vars.clone())
        .positive_u64("SERVE_QUEUE_CAPACITY", DEFAULT_QUEUE_CAPACITY)?;
    let worker_config = WorkerConfig::from_env(&Env::from_pairs(vars))?;
    let secrets_manager = if uses_secrets_manager(&webhook_config, &worker_config) {
        let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Some(aws_sdk_secretsmanager::Client::new(&aws))
    } else {
        None
    };

    let etags: Arc<dyn EtagStore> = Arc::new(InMemoryEtagStore::new());
    let clients = github_clients(&worker_config, secrets_manager.as_ref(), etags).await?;
    let port = port_client(&worker_config, secrets_manager.as_ref()).await?;
    connect_logs(logs, &port, embedded.is_some());
    let (mapping, source) = load_mapping(
        worker_config.port_app_config.as_ref(),
        secrets_manager.as_ref(),
        &port,
    )
    .await?;
    let processor = LiveProcessor::new(clients, port, Arc::new(mapping))
        .with_organizations(worker_config.organizations.clone())
        .with_provisioning(port_github_core::sync::setup::provisioner(&worker_config));

    let body_limit = webhook_config.max_body_bytes.saturating_add(BODY_MARGIN);
    // Bounded: when full, deliveries are answered 503 as with an unreachable SQS (GitHub
    // records them as failed; they can be redelivered).
    let queue = Arc::new(InMemoryEventQueue::bounded(
        usize::try_from(queue_capacity).unwrap_or(usize::MAX),
    ));
    let handler =
        WebhookHandler::from_config(webhook_config, secrets_manager, queue.clone()).await?;

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Listen { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ServeError::Listen { addr, source })?;
    println!(
        "mapping: {source:?}; GitHub at {}",
        worker_config.github_api_url
    );
    if let Some(catalog) = &embedded {
        let path = catalog.save().map_err(ServeError::Catalog)?;
        println!(
            "no Port credentials: writing to the embedded catalog, saved to {}",
            path.display()
        );
    }
    println!("listening on http://{bound}");

    let (stop, stopped) = watch::channel(false);
    let worker = tokio::spawn(drain_queue(queue, processor, stopped, embedded));
    let app = Router::new()
        .fallback(deliver)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(Arc::new(handler));
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    let _ = stop.send(true);
    if let Ok(left) = worker.await
        && left > 0
    {
        println!("stopped with {left} event(s) not processed");
    }
    logs.flush(port_github_core::log_shipping::INVOCATION_FLUSH_TIMEOUT)
        .await;
    served.map_err(ServeError::Server)
}

/// The webhook's settings read from `vars`. The in-process queue stands in for the SQS queue the
/// Lambda is given, so `EVENTS_QUEUE_URL` is not the operator's concern here.
fn webhook_config(mut vars: HashMap<String, String>) -> Result<WebhookConfig, ConfigError> {
    vars.insert("EVENTS_QUEUE_URL".to_owned(), "in-process.fifo".to_owned());
    WebhookConfig::from_env(&Env::from_pairs(vars))
}

fn uses_secrets_manager(webhook: &WebhookConfig, worker: &WorkerConfig) -> bool {
    matches!(webhook.secret, SecretSetting::SecretsManager { .. })
        || worker_uses_secrets_manager(worker)
}

/// True when one of the worker's secrets is a Secrets Manager ARN.
pub fn worker_uses_secrets_manager(worker: &WorkerConfig) -> bool {
    let arn = |setting: &SecretSetting| matches!(setting, SecretSetting::SecretsManager { .. });
    (match &worker.github_auth {
        GitHubAuthSetting::App { private_key, .. } => arn(private_key),
        GitHubAuthSetting::Token(token) => arn(token),
    }) || matches!(
        worker.port_credentials,
        PortCredentialsSetting::SecretsManager { .. }
    ) || matches!(
        worker.port_app_config,
        Some(MappingSetting::SecretsManager { .. })
    )
}

/// Any method, any path: the handler decides (405 for anything but POST), as in Lambda.
async fn deliver(
    State(handler): State<Arc<WebhookHandler>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = handler
        .handle(WebhookRequest {
            method: method.as_str(),
            headers: &headers,
            body: &body,
        })
        .await;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        answer.body,
    )
        .into_response()
}

/// One queued event waiting for the worker.
struct Pending {
    /// Arrival order; retries keep their place in their group.
    seq: u64,
    message: QueuedMessage,
    /// `delivery-id event action`, for the output line.
    label: String,
    attempts: u32,
    not_before: Instant,
}

/// The worker: drains the queue until told to stop; returns how many events were left.
async fn drain_queue(
    queue: Arc<InMemoryEventQueue>,
    processor: LiveProcessor,
    mut stop: watch::Receiver<bool>,
    catalog: Option<Arc<EmbeddedCatalog>>,
) -> usize {
    let mut pending: VecDeque<Pending> = VecDeque::new();
    let dead_letters = InMemoryDeadLetters::new(DEAD_LETTERS_KEPT);
    let mut seq = 0u64;
    loop {
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => break,
        }
        for message in queue.drain(usize::MAX) {
            seq += 1;
            pending.push_back(Pending {
                seq,
                label: label(&message.body),
                message,
                attempts: 0,
                not_before: Instant::now(),
            });
        }
        let batch = take_due(&mut pending, Instant::now());
        if batch.is_empty() {
            continue;
        }
        let events: Vec<QueuedEvent> = batch
            .iter()
            .map(|p| QueuedEvent {
                message_id: p.seq.to_string(),
                group_id: Some(p.message.group_id.clone()),
                body: p.message.body.clone(),
            })
            .collect();
        let settings = BatchSettings {
            dead_letters: Some(&dead_letters),
            deadline: None,
        };
        let outcome = process_batch(&processor, &events, settings).await;
        let mut retried_groups = HashSet::new();
        for mut event in batch {
            let id = event.seq.to_string();
            let retry = match outcome.get(&id) {
                Some(Outcome::Applied(report)) => {
                    println!("{}: {}", event.label, summary(report));
                    queue.finished(1);
                    continue;
                }
                Some(Outcome::DeadLettered { reason }) => {
                    println!("{}: failed for good, kept: {reason}", event.label);
                    queue.finished(1);
                    continue;
                }
                Some(Outcome::Retry { reason, .. }) => reason.clone(),
                None => RetryReason::OutOfTime,
            };
            if retried_groups.insert(event.message.group_id.clone()) {
                // The group's first failure was attempted; the later ones wait behind it.
                event.attempts += 1;
                if event.attempts >= MAX_ATTEMPTS {
                    let reason = format!("gave up after {} attempts: {retry}", event.attempts);
                    println!("{}: {reason}", event.label);
                    keep(&dead_letters, &event, reason).await;
                    queue.finished(1);
                    continue;
                }
                let wait = FIRST_RETRY.saturating_mul(1 << (event.attempts - 1));
                println!(
                    "{}: temporary failure, retry {}/{} in {} ms",
                    event.label,
                    event.attempts,
                    MAX_ATTEMPTS - 1,
                    wait.as_millis()
                );
                event.not_before = Instant::now() + wait;
                pending.push_back(event);
            } else {
                pending.push_back(event);
            }
        }
        pending.make_contiguous().sort_by_key(|p| p.seq);
        if let Some(catalog) = &catalog
            && let Err(error) = catalog.save()
        {
            tracing::warn!(%error, "the embedded catalog was not saved");
        }
    }
    report_dead_letters(&dead_letters);
    pending.len() + queue.len()
}

/// Keeps an event the local worker gave up on with the others that failed for good.
async fn keep(dead_letters: &InMemoryDeadLetters, event: &Pending, reason: String) {
    let head = serde_json::from_str::<Envelope<Box<RawValue>>>(&event.message.body).ok();
    let letter = DeadLetter {
        message_id: event.seq.to_string(),
        group_id: Some(event.message.group_id.clone()),
        body: event.message.body.clone(),
        reason,
        delivery_id: head.as_ref().map(|h| h.delivery_id.clone()),
        event: head.map(|h| h.event),
    };
    // The in-memory list always takes it.
    let _ = dead_letters.keep(&letter).await;
}

/// At the end: the events that failed for good, so they are not lost in the scroll-back.
fn report_dead_letters(dead_letters: &InMemoryDeadLetters) {
    let total = dead_letters.total();
    if total == 0 {
        return;
    }
    let letters = dead_letters.letters();
    println!(
        "{total} event(s) failed for good{}:",
        if total > letters.len() as u64 {
            format!(" (the latest {} below)", letters.len())
        } else {
            String::new()
        }
    );
    for letter in letters {
        println!(
            "  {} {}: {}",
            letter.delivery_id.as_deref().unwrap_or("(no delivery id)"),
            letter.event.as_deref().unwrap_or("(unreadable)"),
            letter.reason
        );
    }
}

/// The events that may run now, in order: a group waits as a whole behind its first event that
/// is not due yet (a retry), so its order holds.
fn take_due(pending: &mut VecDeque<Pending>, now: Instant) -> Vec<Pending> {
    let mut waiting_groups = HashSet::new();
    let mut due = Vec::new();
    let mut rest = VecDeque::new();
    for event in pending.drain(..) {
        if event.not_before > now || waiting_groups.contains(&event.message.group_id) {
            waiting_groups.insert(event.message.group_id.clone());
            rest.push_back(event);
        } else {
            due.push(event);
        }
    }
    *pending = rest;
    due
}

/// `delivery-id event action` from the envelope's head (the payload is not parsed).
fn label(body: &str) -> String {
    match serde_json::from_str::<Envelope<Box<RawValue>>>(body) {
        Ok(envelope) => {
            let action = envelope.action.map(|a| format!(" {a}")).unwrap_or_default();
            format!("{} {}{action}", envelope.delivery_id, envelope.event)
        }
        Err(_) => "(unreadable envelope)".to_owned(),
    }
}

fn summary(report: &LiveReport) -> String {
    if report.outside_organizations {
        return "skipped (organization not in GITHUB_ORGANIZATIONS)".to_owned();
    }
    let mut line = format!(
        "upserted {}, deleted {}",
        report.upserted.len(),
        report.deleted.len()
    );
    if !report.not_owned.is_empty() {
        line.push_str(&format!(", not owned {}", report.not_owned.len()));
    }
    if report.field_errors > 0 {
        line.push_str(&format!(", field errors {}", report.field_errors));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64, group: &str, wait: Duration, now: Instant) -> Pending {
        Pending {
            seq,
            message: QueuedMessage {
                group_id: group.to_owned(),
                dedup_id: seq.to_string(),
                body: String::new(),
            },
            label: String::new(),
            attempts: 0,
            not_before: now + wait,
        }
    }

    #[test]
    fn a_group_waits_behind_its_retry_and_other_groups_go_on() {
        let now = Instant::now();
        let mut pending = VecDeque::from([
            event(1, "a", Duration::from_secs(1), now),
            event(2, "b", Duration::ZERO, now),
            event(3, "a", Duration::ZERO, now),
        ]);
        let due: Vec<u64> = take_due(&mut pending, now).iter().map(|p| p.seq).collect();
        assert_eq!(due, [2]);
        assert_eq!(pending.iter().map(|p| p.seq).collect::<Vec<_>>(), [1, 3]);
    }

    #[test]
    fn labels_name_the_delivery_and_event() {
        let body = r#"{"version":1,"event":"issues","action":"opened","delivery_id":"d-1","received_at":"x","payload":{"a":1}}"#;
        assert_eq!(label(body), "d-1 issues opened");
        assert_eq!(label("not json"), "(unreadable envelope)");
    }
}
