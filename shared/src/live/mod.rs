//! Live events: from a queued webhook envelope to the catalog. `routing` says which kinds an event
//! touches, how, and where each object sits in the payload; `fetch` re-reads the current object
//! from GitHub; `processor` maps it (through `sync::apply`) and writes to Port; `error` says what
//! the queue does with a failure; `batch` runs a queue's batch within its deadline;
//! `dead_letters` keeps what fails for good; `requeue` says when handed-back messages return;
//! `setup` builds the worker's processor on the shared set-up (`sync::setup`).

pub mod batch;
pub mod dead_letters;
pub mod error;
mod fetch;
pub mod processor;
pub mod requeue;
pub mod routing;
pub mod setup;

pub use batch::{BatchOutcome, BatchSettings, Outcome, QueuedEvent, RetryReason, process_batch};
pub use dead_letters::{DeadLetter, DeadLetters, InMemoryDeadLetters, SqsDeadLetters};
pub use error::LiveError;
pub use processor::{LiveProcessor, LiveReport};
pub use routing::{Operation, RoutingError, Target, WorkItem, route};
