//! The integration's log lines: where the simulator takes them (`POST /_ingest/{id}/logs`, not a
//! Port API route; integration records point at it with `logAttributes.ingestUrl`) and the
//! ingest itself, which checks each line (level, message, RFC 3339 timestamp, `extra`) and the
//! batch's size before it keeps them.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::catalog::Rejection;
use super::routes::{Shared, handle, missing_integration, ok, route};
use super::{Endpoint, SimState};

/// Where the simulator takes an integration's logs. Not a Port API route (Port's own URL is
/// whatever its integration record says), so it is not in [`ROUTES`](super::ROUTES).
pub(super) fn log_ingest_url(base_url: &str, integration: &str) -> String {
    let id: String = form_urlencoded::byte_serialize(integration.as_bytes()).collect();
    format!("{base_url}/_ingest/{id}/logs")
}

/// The record as Port answers it: with `logAttributes.ingestUrl` when the simulator is set to.
pub(super) fn with_log_attributes(state: &SimState, id: &str, record: &Value) -> Value {
    let mut record = record.clone();
    if state.log_attributes
        && let Some(fields) = record.as_object_mut()
    {
        fields.insert(
            "logAttributes".to_owned(),
            json!({"ingestUrl": log_ingest_url(&state.base_url, id)}),
        );
    }
    record
}

/// The levels the log ingest accepts (Python's, as Port's integrations send them).
const LOG_LEVELS: [&str; 5] = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];

/// Most lines in one ingest request.
const MAX_LOG_LINES: usize = 1_000;

/// Checks one line of `{"logs": [...]}`: `level`, `message`, an RFC 3339 `timestamp`, and an
/// optional `extra` object.
fn check_log_line(index: usize, line: &Value) -> Result<(), Rejection> {
    let invalid =
        |what: &str| Rejection::new(422, "invalid_request", format!("logs[{index}]: {what}"));
    let Some(fields) = line.as_object() else {
        return Err(invalid("must be an object"));
    };
    match fields.get("level").and_then(Value::as_str) {
        Some(level) if LOG_LEVELS.contains(&level) => {}
        _ => {
            return Err(invalid(
                "\"level\" must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
            ));
        }
    }
    if !fields.get("message").is_some_and(Value::is_string) {
        return Err(invalid("\"message\" must be a string"));
    }
    let timestamp = fields
        .get("timestamp")
        .and_then(Value::as_str)
        .unwrap_or("");
    if chrono::DateTime::parse_from_rfc3339(timestamp).is_err() {
        return Err(invalid("\"timestamp\" must be an RFC 3339 time"));
    }
    if fields.get("extra").is_some_and(|extra| !extra.is_object()) {
        return Err(invalid("\"extra\" must be an object"));
    }
    Ok(())
}

pub(super) async fn log_ingest(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/_ingest/{id}/logs");
    handle(
        &shared,
        route(Endpoint::LogIngest, "POST", path, None),
        &headers,
        body,
        |state, call| {
            if !state.integrations.contains_key(&id) {
                return Err(missing_integration(&id));
            }
            if call.body.len() > state.log_ingest_limit {
                let why = format!("log batch is larger than {} bytes", state.log_ingest_limit);
                return Err(Rejection::new(413, "payload_too_large", why));
            }
            let json: Value = serde_json::from_slice(&call.body).map_err(|e| {
                Rejection::new(422, "invalid_request", format!("body is not JSON: {e}"))
            })?;
            let Some(lines) = json.get("logs").and_then(Value::as_array) else {
                return Err(Rejection::new(
                    422,
                    "invalid_request",
                    "the body must be {\"logs\": [...]}",
                ));
            };
            if lines.is_empty() || lines.len() > MAX_LOG_LINES {
                let why = format!("\"logs\" must hold 1 to {MAX_LOG_LINES} lines");
                return Err(Rejection::new(422, "invalid_request", why));
            }
            for (index, line) in lines.iter().enumerate() {
                check_log_line(index, line)?;
            }
            for line in lines {
                let mut line = line.clone();
                if let Some(fields) = line.as_object_mut() {
                    fields.insert("integration".to_owned(), json!(id));
                }
                state.logs.push(line);
            }
            ok(StatusCode::OK, json!({"ok": true}))
        },
    )
}
