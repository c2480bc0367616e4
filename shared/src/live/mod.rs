//! Live events: from a queued webhook envelope to the catalog. `routing` says which kinds an event
//! touches and how; `processor` re-fetches, maps and writes to Port; `clients` picks the GitHub
//! client (installation) for an event; `batch` runs a queue's batch within its deadline;
//! `dead_letters` keeps what fails for good; `requeue` says when handed-back messages return.

pub mod batch;
pub mod clients;
pub mod dead_letters;
pub mod processor;
pub mod requeue;
pub mod routing;
pub mod selection;
pub mod setup;

pub use batch::{BatchOutcome, BatchSettings, Outcome, QueuedEvent, RetryReason, process_batch};
pub use clients::{AppClients, GitHubClients, OrgAccess, TokenClients};
pub use dead_letters::{DeadLetter, DeadLetters, InMemoryDeadLetters, SqsDeadLetters};
pub use processor::{LiveError, LiveProcessor, LiveReport};
pub use routing::{Operation, RoutingError, Target, WorkItem, route};
