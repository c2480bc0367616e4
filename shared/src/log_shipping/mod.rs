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
//!
//! The parts: `shipper` holds the buffer, the settings and the counters ([`LogShipper`]);
//! `layer` captures events into it; `task` is the background task that discovers the
//! destination and ships; `render` turns captured lines into masked, size-bounded request
//! bodies; `known_secrets` is the process-wide list of values to mask; `ingest` is the
//! destination's contract ([`LogIngest`]).

use std::time::Duration;

mod ingest;
mod known_secrets;
mod layer;
mod render;
mod shipper;
mod task;
#[cfg(test)]
mod tests;

pub use ingest::{Discovery, IngestError, LogIngest};
pub use known_secrets::register_secret;
pub use layer::{CaptureFilter, ShippingLayer};
pub use shipper::{Flushed, LogShipper, ShipperSettings, ShipperStats, ShippingState};

/// The tracing target of this module's own lines: never captured, so a shipping failure can
/// never be shipped (and fail again).
pub const TARGET: &str = module_path!();

/// How long a Lambda handler waits at the end of an invocation for the lines it logged to be
/// shipped (the container may be frozen right after it answers).
pub const INVOCATION_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);
