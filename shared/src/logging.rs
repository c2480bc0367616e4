//! Structured logs: JSON lines in Lambda (CloudWatch), readable text locally. Callers log ids as
//! fields; nothing here ever receives payloads or secrets. The functions that hold Port
//! credentials also copy their warnings and errors to Port's integration log
//! ([`init_json_shipping`], `crate::log_shipping`).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::log_shipping::{LogShipper, ShipperSettings};

/// The level filter from `RUST_LOG`, `default` when unset or unreadable.
pub fn env_filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default))
}

/// JSON logs for Lambda; the level comes from `RUST_LOG` (default `info`).
pub fn init_json() {
    install_json(None);
}

/// [`init_json`], plus WARN and ERROR lines captured for Port's integration log (whatever
/// `RUST_LOG` says). The shipper sends nothing until it is connected
/// ([`LogShipper::connect`]); `source` names the function in each shipped line.
pub fn init_json_shipping(source: &str) -> LogShipper {
    let shipper = LogShipper::new(ShipperSettings::new(source));
    install_json(Some(&shipper));
    shipper
}

fn install_json(shipper: Option<&LogShipper>) {
    let json = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_span_list(true)
        .without_time()
        .with_target(false)
        .with_filter(env_filter("info"));
    let _ = tracing_subscriber::registry()
        .with(json)
        .with(shipper.map(LogShipper::layer))
        .try_init();
}
