//! The scheduled full sync, split into jobs that survive Lambda's time limit and GitHub's rate
//! limits. This module holds the [`Resync`] type, its settings and errors; each stage of a run
//! lives in a child module that adds its methods to [`Resync`]:
//!
//! - `schedule` / `requests`: [`Resync::tick`] (the EventBridge schedule, every minute) starts a
//!   run when one is due, or when Port asks for one (its "Resync" button, an edited mapping).
//! - `start`: [`Resync::start`] takes the lease (`lease`; a run still going makes the next one
//!   skip), checks the installations' permissions against the mapping (`permission_check`),
//!   records the run, reports `running` to Port, tends each organization's webhook
//!   (`crate::hook_admin`) and queues the first jobs (`jobs`): per organization, its
//!   organization-level resources and the first page of its repositories.
//! - `batch`: [`Resync::handle_messages`] (the jobs queue) runs a batch of jobs within a
//!   deadline, in three phases: `gathering` lists GitHub (`listing`) and maps what it lists,
//!   drafting each resource's new record (`drafts`) and skipping entities unchanged since they
//!   were last sent (`records`); `sending` upserts the batch's entities in bulk, minus those
//!   deleted live meanwhile; `settling` writes the records, queues children and continuations
//!   (a job out of time or at the rate-limit reserve continues later and never sleeps) and counts
//!   the job.
//! - `ledger`: every record a run keeps about itself (the current run, counters, claims, partial
//!   records, visited repositories, summaries), written in one place.
//! - `finishing`: the job that completes the count queues the cleanup (`cleanup`: deletes the
//!   owned entities the run did not see, within `entityDeletionThreshold`) or fails the run; the
//!   end records the summary, reports to Port and releases the lease.
//! - `driver` runs a whole run in process (the local CLI, tests and benches); `overdue` tells
//!   when the schedule has stopped; `setup` wires a [`Resync`] from the environment.

mod batch;
mod cleanup;
mod drafts;
pub mod driver;
mod finishing;
mod gathering;
pub mod jobs;
pub mod lease;
mod ledger;
pub mod listing;
pub mod overdue;
pub mod permission_check;
pub mod records;
pub mod requests;
pub mod schedule;
mod sending;
mod settling;
pub mod setup;
mod start;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde_json::Value;

pub use batch::JobMessage;
pub use cleanup::CleanupReport;
pub use jobs::{JOB_VERSION, Job, JobError, RepoRef, Task};
pub use ledger::{COMPLETED, COMPLETED_WITH_ERRORS, FAILED, Refusals, RunSummary};
pub use permission_check::MissingPermission;
pub use requests::Trigger;
pub use schedule::TickOutcome;

use self::ledger::RunLedger;
use crate::clock::Clock;
use crate::github::GitHubError;
use crate::mapping::CompiledMapping;
use crate::port::{Entity, PortClient, PortError};
use crate::queue::{JobQueue, MAX_DELAY, QueueError};
use crate::state::{StateError, StateStore};
use crate::sync::{GitHubClients, MappingCache, MappingError};

/// The lease a run holds.
pub const LEASE: &str = "resync";

#[derive(Clone)]
pub struct ResyncSettings {
    /// The schedule interval: a run is due this long after the last one started, and Port
    /// shows it as the resync interval.
    pub interval: Duration,
    /// How long the lease lasts without job activity (`lease`): a crashed run blocks the next
    /// one no longer than this after its last job.
    pub heartbeat: Duration,
    /// Share of GitHub's hourly budget left for live events (`RATE_LIMIT_RESERVE`).
    pub rate_limit_reserve: f64,
    /// `SEND_RAW_DATA_EXAMPLES`.
    pub send_raw_examples: bool,
    /// `GITHUB_ORGANIZATIONS` (and the mapping's `organizations`).
    pub organizations: Option<Vec<String>>,
    /// The public webhook URL and secret: each organization's hook is reconciled and its
    /// failed deliveries redelivered at the start of every run.
    pub webhook: Option<WebhookTarget>,
    /// Attempts of a job that keeps failing transiently before it counts as failed.
    pub max_attempts: u32,
    /// Jobs of one batch that list GitHub at the same time.
    pub job_concurrency: usize,
    /// An entity sent longer ago than this is sent again even when unchanged, so an entity
    /// changed behind the integration's back (a lost webhook, a manual edit) heals within it.
    pub resend_after: Duration,
    /// Print instead of write: entities go to this sink, Port is neither written nor asked, and
    /// nothing is deleted.
    pub dry_run: Option<Arc<dyn DryRunSink>>,
}

impl Default for ResyncSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(3_600),
            heartbeat: lease::HEARTBEAT,
            rate_limit_reserve: 0.05,
            send_raw_examples: true,
            organizations: None,
            webhook: None,
            max_attempts: 5,
            job_concurrency: 8,
            resend_after: Duration::from_secs(86_400),
            dry_run: None,
        }
    }
}

#[derive(Clone)]
pub struct WebhookTarget {
    pub url: String,
    pub secret: SecretString,
}

/// Where a dry run's entities go.
pub trait DryRunSink: Send + Sync {
    fn entity(&self, kind: &str, entity: &Entity);
}

#[derive(Debug, thiserror::Error)]
pub enum ResyncError {
    #[error("state store: {0}")]
    State(#[from] StateError),
    #[error("jobs queue: {0}")]
    Queue(#[from] QueueError),
    #[error("GitHub: {0}")]
    GitHub(#[from] GitHubError),
    #[error("Port: {0}")]
    Port(#[from] PortError),
    #[error("nothing to sync: {0}")]
    NothingToSync(String),
    #[error("the mapping from Port does not compile: {0}")]
    Mapping(#[source] MappingError),
    /// The in-process driver gave up: jobs keep failing their bookkeeping.
    #[error("jobs keep failing their bookkeeping (state store or queue down)")]
    Stuck,
}

/// What the schedule's invocation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    Started {
        run: String,
        jobs: usize,
        /// Why it started.
        trigger: Trigger,
    },
    /// Another run holds the lease.
    Skipped {
        holder: String,
        until: DateTime<Utc>,
        /// When the holder started (when it is the current run).
        started_at: Option<DateTime<Utc>>,
    },
}

pub struct Resync {
    clients: Arc<dyn GitHubClients>,
    port: PortClient,
    /// The run's mapping (swapped when a run brings another one from Port).
    mapping: MappingCache,
    /// The mapping is the one users edit in Port: each run reads it afresh, and its jobs use
    /// the one the run started with.
    mapping_from_port: bool,
    state: Arc<dyn StateStore>,
    queue: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    settings: ResyncSettings,
    /// Run and kind of the raw examples known to be sent (saves the counter write); a warm
    /// container serves many runs, each of which sends its own.
    examples_sent: Mutex<HashSet<(String, String)>>,
    /// Creates what the run writes to in Port when it is missing (once per container).
    provisioner: Option<Arc<crate::port::provision::Provisioner>>,
    /// The lease this container last took or renewed.
    known_lease: lease::KnownLease,
    /// The run's own records.
    ledger: RunLedger,
}

fn delay_until(now: DateTime<Utc>, until: DateTime<Utc>) -> Duration {
    (until - now).to_std().unwrap_or_default() + Duration::from_secs(1)
}

/// Back-off for a job's transient failures: 30 s, 60 s, 120 s … at most SQS's longest delay.
fn retry_delay(attempt: u32) -> Duration {
    Duration::from_secs(30u64.saturating_mul(1 << attempt.min(5))).min(MAX_DELAY)
}

impl Resync {
    pub fn new(
        clients: Arc<dyn GitHubClients>,
        port: PortClient,
        mapping: Arc<CompiledMapping>,
        state: Arc<dyn StateStore>,
        queue: Arc<dyn JobQueue>,
        clock: Arc<dyn Clock>,
        settings: ResyncSettings,
    ) -> Self {
        Self {
            clients,
            port,
            mapping: MappingCache::new(mapping),
            mapping_from_port: false,
            ledger: RunLedger::new(state.clone(), clock.clone()),
            state,
            queue,
            clock,
            settings,
            examples_sent: Mutex::new(HashSet::new()),
            provisioner: None,
            known_lease: lease::KnownLease::default(),
        }
    }

    /// Each run first makes sure Port has the integration record and the blueprints the
    /// run's mapping targets (`PORT_CREATE_RESOURCES`).
    pub fn with_provisioning(
        mut self,
        provisioner: Arc<crate::port::provision::Provisioner>,
    ) -> Self {
        self.provisioner = Some(provisioner);
        self
    }

    /// Each run reads the mapping from Port's integration (falling back to the one given to
    /// [`Resync::new`] when Port has none), and its jobs use that one.
    pub fn with_mapping_from_port(mut self) -> Self {
        self.mapping_from_port = true;
        self
    }

    /// The mapping in use.
    pub fn mapping(&self) -> Arc<CompiledMapping> {
        self.mapping.mapping()
    }

    /// Uses `config` (Port's `port-app-config`), compiling it unless it is the one in use.
    fn use_mapping(&self, config: &Value) -> Result<(), ResyncError> {
        self.mapping
            .use_config(config)
            .map(|_| ())
            .map_err(ResyncError::Mapping)
    }

    /// The summary of a finished run.
    pub async fn summary(&self, run: &str) -> Result<Option<RunSummary>, StateError> {
        self.ledger.summary(run).await
    }

    /// The counters of a run (progress).
    pub async fn progress(&self, run: &str) -> Result<BTreeMap<String, i64>, StateError> {
        self.ledger.counters(run).await
    }
}
