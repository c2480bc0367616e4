//! The core of the GitHub → Port integration: configuration, secrets, webhook checks, the
//! event queue, and (as they land) the GitHub client, the mapping engine, the Port client, the
//! live-event worker and the resync. The Lambda crates in `functions/` only adapt AWS events to
//! the functions here.

pub mod clock;
pub mod config;
pub mod deadline;
pub mod github;
pub mod hook_admin;
pub mod live;
pub mod log_shipping;
pub mod logging;
pub mod mapping;
pub mod metrics;
pub mod port;
pub mod queue;
pub mod resync;
pub mod secrets;
pub mod startup;
pub mod state;
pub mod sync;
pub mod webhook;
