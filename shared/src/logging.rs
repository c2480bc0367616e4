//! Structured logs: JSON lines in Lambda (CloudWatch), readable text locally. Callers log ids as
//! fields; nothing here ever receives payloads or secrets.

use tracing_subscriber::EnvFilter;

/// JSON logs for Lambda; the level comes from `RUST_LOG` (default `info`).
pub fn init_json() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(true)
        .without_time()
        .with_target(false)
        .try_init();
}
