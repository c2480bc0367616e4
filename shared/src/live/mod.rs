//! Live events: from a queued webhook envelope to the catalog. `routing` says which kinds an event
//! touches and how; `processor` re-fetches, maps and writes to Port; `clients` picks the GitHub
//! client (installation) for an event.

pub mod batch;
pub mod clients;
pub mod processor;
pub mod routing;
pub mod selection;
pub mod setup;

pub use batch::{QueuedEvent, process_batch, process_batch_reporting};
pub use clients::{AppClients, GitHubClients, OrgAccess, TokenClients};
pub use processor::{LiveError, LiveProcessor, LiveReport};
pub use routing::{Operation, RoutingError, Target, WorkItem, route};
