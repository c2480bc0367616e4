//! The core of the GitHub → Port integration: configuration, secrets, webhook checks, the
//! event queue, and (as they land) the GitHub client, the mapping engine, the Port client, the
//! live-event worker and the resync. The Lambda crates in `functions/` only adapt AWS events to
//! the functions here.

pub mod github;
