//! Live events: from a queued webhook envelope to the work on each affected kind. Today this holds
//! the routing (`routing`); the processor that re-fetches, maps and writes to Port builds on it.

pub mod routing;

pub use routing::{Operation, RoutingError, Target, WorkItem, route};
