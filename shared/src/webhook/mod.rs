//! The webhook endpoint's logic: request checks, signature verification, routing, and queueing
//! the envelope. It never calls GitHub or Port. Transport adapters (Lambda, the local server)
//! turn their request into a `WebhookRequest` and send back the `WebhookResponse`. Signed input
//! that can never be queued or read by the worker is answered 4xx with the reason (413, 422);
//! 5xx means only that the queue (or the secret) could not be reached, so a redelivery may pass.

pub mod envelope;
pub mod events;
pub mod signature;

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use http::HeaderMap;
use secrecy::SecretString;
use tracing::Instrument;

use crate::config::{SecretSetting, WebhookConfig};
use crate::queue::{EventQueue, QueueError, QueuedMessage};
use crate::secrets::{CachedSecret, SecretError, SecretsManagerSecret, WebhookSecrets};
use envelope::{ENVELOPE_VERSION, Envelope};
use events::{PayloadHead, Routing};
pub use signature::{SignatureError, sign, verify_signature};

/// A request as the transport received it; `body` is the raw bytes GitHub signed.
pub struct WebhookRequest<'a> {
    pub method: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// What to answer. Bodies are short and generic: GitHub shows them in its delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    pub status: u16,
    pub body: String,
}

impl WebhookResponse {
    fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            body: body.to_string(),
        }
    }
    fn error(status: u16, error: &str) -> Self {
        Self::json(status, serde_json::json!({ "ok": false, "error": error }))
    }
    /// A refusal that says why (never with the payload's content).
    fn refused(status: u16, error: &str, reason: &str) -> Self {
        Self::json(
            status,
            serde_json::json!({ "ok": false, "error": error, "reason": reason }),
        )
    }
}

/// Why a JSON text could not be read, with where, never with what it holds (serde_json's
/// syntax errors are fixed phrases; its type errors can quote the input, so they are not shown).
fn json_reason(what: &str, error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match error.classify() {
        Category::Data => format!(
            "{what} does not have the shape of a GitHub event payload (line {}, column {})",
            error.line(),
            error.column()
        ),
        Category::Eof => format!(
            "{what} is not valid JSON: it ends early (line {}, column {})",
            error.line(),
            error.column()
        ),
        Category::Syntax | Category::Io => format!("{what} is not valid JSON: {error}"),
    }
}

/// Where the webhook secrets come from.
pub enum WebhookSecretSource {
    Fixed(Arc<WebhookSecrets>),
    Cached(CachedSecret<WebhookSecrets>),
}

impl WebhookSecretSource {
    pub async fn get(&self) -> Result<Arc<WebhookSecrets>, SecretError> {
        match self {
            Self::Fixed(secrets) => Ok(Arc::clone(secrets)),
            Self::Cached(cache) => cache.get().await,
        }
    }

    /// After a signature matched none of `rejected`: the secrets read again, when they changed
    /// (a rotation since the last read). A fixed pair, or a secret read less than a few seconds
    /// ago, gives `None` without a read, so forged deliveries cannot make it read on each one.
    pub async fn reload_if_current(
        &self,
        rejected: &Arc<WebhookSecrets>,
    ) -> Option<Arc<WebhookSecrets>> {
        match self {
            Self::Fixed(_) => None,
            Self::Cached(cache) => cache.reload_if_current(rejected).await,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct WebhookLimits {
    pub max_body_bytes: usize,
    pub max_message_bytes: usize,
}

/// Longest accepted `X-GitHub-Delivery` (GitHub sends a 36-character GUID).
const MAX_DELIVERY_ID_LEN: usize = 100;

pub struct WebhookHandler {
    secrets: WebhookSecretSource,
    queue: Arc<dyn EventQueue>,
    limits: WebhookLimits,
}

impl WebhookHandler {
    pub fn new(
        secrets: WebhookSecretSource,
        queue: Arc<dyn EventQueue>,
        limits: WebhookLimits,
    ) -> Self {
        Self {
            secrets,
            queue,
            limits,
        }
    }

    /// Builds the handler from validated settings: a fixed secret pair, or a Secrets Manager secret
    /// re-read after the TTL. The secret is read once here, so a bad ARN stops the function at start.
    pub async fn from_config(
        config: WebhookConfig,
        secrets_manager: Option<aws_sdk_secretsmanager::Client>,
        queue: Arc<dyn EventQueue>,
    ) -> Result<Self, SecretError> {
        let limits = WebhookLimits {
            max_body_bytes: config.max_body_bytes,
            max_message_bytes: config.max_message_bytes,
        };
        let secrets = match config.secret {
            SecretSetting::Plain(current) => WebhookSecretSource::Fixed(Arc::new(WebhookSecrets {
                current,
                previous: config.previous_secret,
            })),
            SecretSetting::SecretsManager { arn } => {
                let Some(client) = secrets_manager else {
                    return Err(SecretError::Empty { id: arn });
                };
                let source = SecretsManagerSecret::new(client, arn);
                WebhookSecretSource::Cached(CachedSecret::new(Box::new(source), config.secret_ttl))
            }
        };
        secrets.get().await?;
        Ok(Self::new(secrets, queue, limits))
    }

    pub async fn handle(&self, request: WebhookRequest<'_>) -> WebhookResponse {
        self.handle_at(request, Utc::now()).await
    }

    pub async fn handle_at(
        &self,
        request: WebhookRequest<'_>,
        received_at: DateTime<Utc>,
    ) -> WebhookResponse {
        let delivery = header(request.headers, "x-github-delivery");
        let event = header(request.headers, "x-github-event");
        let span = tracing::info_span!(
            "delivery",
            delivery_id = delivery.unwrap_or("-"),
            event = event.unwrap_or("-")
        );
        self.checked(request, received_at, delivery, event)
            .instrument(span)
            .await
    }

    async fn checked(
        &self,
        request: WebhookRequest<'_>,
        received_at: DateTime<Utc>,
        delivery: Option<&str>,
        event: Option<&str>,
    ) -> WebhookResponse {
        if !request.method.eq_ignore_ascii_case("POST") {
            tracing::info!(status = 405, method = request.method, "rejected: method");
            return WebhookResponse::error(405, "method not allowed");
        }
        if request.body.len() > self.limits.max_body_bytes {
            tracing::warn!(
                status = 413,
                bytes = request.body.len(),
                "rejected: body too large"
            );
            return WebhookResponse::error(413, "payload too large");
        }
        let secrets = match self.secrets.get().await {
            Ok(secrets) => secrets,
            Err(error) => {
                tracing::error!(status = 503, error = %error, "cannot verify: webhook secret unavailable");
                return WebhookResponse::error(503, "temporarily unavailable");
            }
        };
        let signature = header(request.headers, "x-hub-signature-256");
        if let Err(error) = verify_signature(signature, request.body, secrets.all()) {
            // Signed with a secret stored since it was read? Read it again (single-flight, at
            // most every few seconds) before refusing.
            let rotated = match self.secrets.reload_if_current(&secrets).await {
                Some(fresh) => verify_signature(signature, request.body, fresh.all()).is_ok(),
                None => false,
            };
            if !rotated {
                tracing::warn!(status = 401, reason = %error, "rejected: signature");
                return WebhookResponse::error(401, "invalid signature");
            }
        }
        let (Some(event), Some(delivery)) = (event, delivery) else {
            tracing::warn!(
                status = 400,
                "rejected: missing X-GitHub-Event or X-GitHub-Delivery"
            );
            return WebhookResponse::error(400, "missing X-GitHub-Event or X-GitHub-Delivery");
        };
        if !valid_delivery_id(delivery) || !valid_event_name(event) {
            tracing::warn!(
                status = 400,
                "rejected: malformed X-GitHub-Event or X-GitHub-Delivery"
            );
            return WebhookResponse::error(400, "malformed X-GitHub-Event or X-GitHub-Delivery");
        }
        let payload = match decode_body(header(request.headers, "content-type"), request.body) {
            Ok(payload) => payload,
            Err(BodyError::UnsupportedType) => {
                tracing::warn!(status = 415, "rejected: content type");
                return WebhookResponse::error(415, "unsupported content type");
            }
            Err(BodyError::Invalid(reason)) => {
                tracing::warn!(status = 422, reason, "rejected: body");
                return WebhookResponse::refused(422, "unprocessable payload", reason);
            }
        };
        if !payload.trim_start().starts_with('{') {
            tracing::warn!(status = 422, "rejected: not a JSON object");
            return WebhookResponse::refused(
                422,
                "unprocessable payload",
                "the payload is not a JSON object",
            );
        }
        let head: PayloadHead = match serde_json::from_str(&payload) {
            Ok(head) => head,
            Err(error) => {
                let reason = json_reason("the payload", &error);
                tracing::warn!(status = 422, reason, "rejected: invalid JSON");
                return WebhookResponse::refused(422, "unprocessable payload", &reason);
            }
        };
        let action = head.action.as_deref();
        match events::route(event, action) {
            Routing::Ping => {
                tracing::info!(status = 200, "ping");
                return WebhookResponse::json(
                    200,
                    serde_json::json!({ "ok": true, "status": "pong" }),
                );
            }
            Routing::Ignored(reason) => {
                tracing::info!(status = 202, action, reason = reason.as_str(), "ignored");
                return WebhookResponse::json(
                    202,
                    serde_json::json!({ "ok": true, "delivery": delivery, "status": "ignored", "reason": reason.as_str() }),
                );
            }
            Routing::Handled => {}
        }

        let hook_id = header(request.headers, "x-github-hook-id")
            .filter(|id| id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit()));
        let meta = Envelope {
            version: ENVELOPE_VERSION,
            event: event.to_owned(),
            action: head.action.clone(),
            delivery_id: delivery.to_owned(),
            hook_id: hook_id.map(str::to_owned),
            installation_id: head.installation.as_ref().and_then(|i| i.id),
            organization: head.organization_login().map(str::to_owned),
            repository: head.repository.as_ref().and_then(|r| r.full_name.clone()),
            received_at: received_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            payload_reduced: false,
            payload: (),
        };
        let body = match envelope::encode(&meta, &payload, self.limits.max_message_bytes) {
            Ok(body) => body,
            Err(error) => {
                tracing::warn!(status = 413, error = %error, "rejected: too large to queue");
                let reason = format!(
                    "the event does not fit in one queue message ({} bytes) even reduced to its identifiers",
                    self.limits.max_message_bytes
                );
                return WebhookResponse::refused(413, "payload too large", &reason);
            }
        };
        // What the worker could never read is refused now rather than dead-lettered later.
        if let Err(error) = envelope::check_readable(&body) {
            let reason = match error.classify() {
                serde_json::error::Category::Data => json_reason("the payload", &error),
                _ => format!("the worker could not read the payload: {error}"),
            };
            tracing::warn!(
                status = 422,
                reason,
                "rejected: the worker could not read it"
            );
            return WebhookResponse::refused(422, "unprocessable payload", &reason);
        }
        let reduced = body.len() < payload.len();
        let group_id = head
            .message_group(event)
            .unwrap_or_else(|| events::fifo_safe(&format!("delivery-{delivery}")));
        // The delivery GUID alone: GitHub gives one event the same GUID on every hook (the App's
        // and an organization's), so the FIFO queue keeps one of them.
        let dedup_id = events::fifo_safe(delivery);
        let message = QueuedMessage {
            group_id,
            dedup_id,
            body,
        };
        match self.queue.enqueue(message).await {
            Ok(()) => {
                tracing::info!(status = 202, action, reduced, "queued");
                WebhookResponse::json(
                    202,
                    serde_json::json!({ "ok": true, "delivery": delivery, "status": "queued" }),
                )
            }
            Err(QueueError::Rejected(code)) => {
                // The queue refused this message itself: sending it again cannot pass.
                tracing::warn!(
                    status = 422,
                    code,
                    "rejected: the queue refused the message"
                );
                let reason = format!("the queue refused the event ({code})");
                WebhookResponse::refused(422, "unprocessable payload", &reason)
            }
            Err(error) => {
                tracing::error!(status = 503, error = %error, "cannot queue");
                WebhookResponse::error(503, "could not queue the event")
            }
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn valid_delivery_id(id: &str) -> bool {
    id.len() <= MAX_DELIVERY_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn valid_event_name(event: &str) -> bool {
    event.len() <= 64 && event.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

enum BodyError {
    UnsupportedType,
    /// Why, in words fit for the answer.
    Invalid(&'static str),
}

/// The JSON text of the payload: the body itself, or the `payload` field of a form body.
fn decode_body<'a>(
    content_type: Option<&str>,
    body: &'a [u8],
) -> Result<std::borrow::Cow<'a, str>, BodyError> {
    let media_type = content_type
        .and_then(|ct| ct.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase())
        .ok_or(BodyError::UnsupportedType)?;
    match media_type.as_str() {
        "application/json" => {
            let text = std::str::from_utf8(body)
                .map_err(|_| BodyError::Invalid("the body is not UTF-8 text"))?;
            Ok(std::borrow::Cow::Borrowed(text))
        }
        "application/x-www-form-urlencoded" => form_urlencoded::parse(body)
            .find(|(key, _)| key == "payload")
            .map(|(_, value)| std::borrow::Cow::Owned(value.into_owned()))
            .ok_or(BodyError::Invalid("the form body has no payload field")),
        _ => Err(BodyError::UnsupportedType),
    }
}

/// The test secret pair for callers that build a handler with plain values.
pub fn fixed_secrets(current: &str, previous: Option<&str>) -> WebhookSecretSource {
    WebhookSecretSource::Fixed(Arc::new(WebhookSecrets {
        current: SecretString::from(current.to_owned()),
        previous: previous.map(|p| SecretString::from(p.to_owned())),
    }))
}
