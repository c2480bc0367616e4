//! The scheduled full sync, split into jobs that survive Lambda's time limit and GitHub's rate
//! limits.
//!
//! - [`Resync::tick`] (the EventBridge schedule, every minute) starts a run when one is due
//!   (`schedule`), or when Port asks for one: its "Resync" button, an edited mapping (`requests`). [`Resync::start`] takes the lease (a run still going makes the next one skip),
//!   checks the installations' permissions against the mapping (`permission_check`), records the
//!   run, reports `running` to Port, tends each organization's webhook and queues the first jobs:
//!   per organization, its organization-level resources and the first page of its repositories.
//! - [`Resync::handle_messages`] (the jobs queue) runs jobs within a deadline. A repositories page
//!   queues one job per repository; a repository job lists each of the repository's resources,
//!   maps what it lists, skips entities whose content did not change since they were last sent
//!   (`records`), and upserts the rest in bulk, together for the whole batch of jobs. A job that
//!   runs out of time, or meets the rate-limit reserve, queues its continuation (with the page
//!   cursor, delayed until the reset when it is the rate limit) and never sleeps.
//! - Every job is counted (`queued`, `done`, `failed`) in the run's counters; the job that
//!   completes the count queues the cleanup when nothing failed, or reports the run failed.
//! - The cleanup (`cleanup`) deletes the entities this integration owns that the run did not see,
//!   within `entityDeletionThreshold`, then reports `completed` and releases the lease.
//! - The lease (`lease`) lasts a heartbeat and the run's jobs renew it, a delayed job past its
//!   delay, at most 24 hours from the start: a long run is never superseded while it works.

mod cleanup;
pub mod driver;
pub mod jobs;
pub mod lease;
pub mod listing;
pub mod overdue;
pub mod permission_check;
pub mod records;
pub mod requests;
pub mod schedule;
pub mod setup;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use cleanup::CleanupReport;
pub use jobs::{JOB_VERSION, Job, JobError, RepoRef, Task};
pub use permission_check::MissingPermission;
pub use requests::Trigger;
pub use schedule::TickOutcome;

use self::listing::{ListCursor, Lister, Scope, Step};
use self::records::{Entry, RecordKey, ResourceRecord, content_hash, resource_key};
use crate::clock::Clock;
use crate::github::kinds::{Repo, organization};
use crate::github::{GitHubClient, GitHubError};
use crate::mapping::{CompiledMapping, CompiledResource};
use crate::port::{
    Entity, EntityFailure, MAX_EXAMPLES, PortClient, PortError, ResyncState, ResyncStatus,
    UpsertOptions, UpsertResult,
};
use crate::queue::{JobQueue, MAX_DELAY, QueueError};
use crate::state::{
    Expect, Key, LeaseOutcome, LiveWrite, LiveWrites, PutOutcome, StateError, StateStore,
};
use crate::sync::{GitHubClients, MappingCache, MappingError, OrgAccess};

/// The lease a run holds.
pub const LEASE: &str = "resync";
/// The partition of the current run's pointer and finished runs' summaries.
const RUNS: &str = "resync";
/// The item naming the current run.
const CURRENT: &str = "current";
/// Entries per partial record (a list continued in another job).
const PARTIAL_CHUNK: usize = 1_000;
/// How long a run's own records (markers, visited repositories, summaries) are kept.
const RUN_RECORDS_TTL: Duration = Duration::from_secs(3 * 86_400);

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

/// A finished run, as stored under `resync/run/<id>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub run: String,
    /// `completed`, `completed_with_errors` (Port refused entities: see `refused`) or `failed`.
    pub status: String,
    pub reason: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub counters: BTreeMap<String, i64>,
    pub cleanup: Option<CleanupReport>,
    /// Entities Port refused, per blueprint: how many, and the first reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refused: BTreeMap<String, Refusals>,
    /// GitHub App permissions the mapping needs and an installation lacks (checked at the start).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_permissions: Vec<MissingPermission>,
    /// Why the run started ([`Trigger`] in words: `scheduled`, `requested in Port at …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
}

/// The entities of one blueprint Port refused in a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refusals {
    pub count: i64,
    /// Port's code and message for the first one (`not_found: blueprint ... was not found`).
    pub first_reason: String,
}

/// What a run's status says.
pub const COMPLETED: &str = "completed";
pub const COMPLETED_WITH_ERRORS: &str = "completed_with_errors";
pub const FAILED: &str = "failed";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CurrentRun {
    run: String,
    started_at: DateTime<Utc>,
    orgs: Vec<OrgAccess>,
    /// The mapping read from Port when the run started (its jobs use it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mapping: Option<Value>,
    /// What the permission check found at the start, for the summary.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    missing_permissions: Vec<MissingPermission>,
    /// Why the run started ([`Trigger`] in words).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trigger: Option<String>,
}

/// One message of the jobs queue.
#[derive(Debug, Clone)]
pub struct JobMessage {
    pub id: String,
    pub body: String,
}

impl JobMessage {
    /// Messages for in-process delivery, each named by its index in `bodies`.
    pub fn numbered(bodies: &[String]) -> Vec<Self> {
        bodies
            .iter()
            .enumerate()
            .map(|(index, body)| Self {
                id: index.to_string(),
                body: body.clone(),
            })
            .collect()
    }
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
}

/// How a job ended its listing.
enum Outcome {
    Complete,
    /// Queue this continuation (after the delay), and count this job done.
    Continue(Box<Job>, Duration),
    /// Queue the same job again unchanged after the delay (nothing was done; not an attempt).
    Requeue(Duration),
    /// A failure that may pass: another attempt after the delay.
    Retry(Duration, String),
    Failed(String),
}

/// One entity of a resource's new record, with the upsert it waits for.
struct DraftEntry {
    entry: Entry,
    /// Index into the job's upserts when it is being sent now.
    upsert: Option<usize>,
}

/// A resource's new record, written when its job's upserts are known.
struct Draft {
    key: RecordKey,
    kind: String,
    entries: Vec<DraftEntry>,
    previous: Option<ResourceRecord>,
    /// An unfinished resource: its entries so far wait in a run record for the continuation.
    partial: bool,
    /// Partial records of earlier parts, merged into this one and then removed.
    merged_partials: Vec<String>,
    /// How many of `entries` (at the front) came from those partial records.
    carried: usize,
    /// The list answered "not available" (when it was checked): the previous entries are kept,
    /// flagged.
    not_available_at: Option<i64>,
    /// Where each entity of `previous` is, by [`records::entity_key`].
    previous_index: HashMap<u128, usize>,
}

impl Draft {
    fn new(key: RecordKey, kind: &str, previous: Option<ResourceRecord>) -> Self {
        let previous_index = previous
            .iter()
            .flat_map(|p| p.entries.iter().enumerate())
            .map(|(index, e)| (records::entity_key(&e.b, &e.i), index))
            .collect();
        Self {
            key,
            kind: kind.to_owned(),
            entries: Vec::new(),
            previous,
            partial: false,
            merged_partials: Vec::new(),
            carried: 0,
            not_available_at: None,
            previous_index,
        }
    }

    /// The previous record's entry of an entity.
    fn previous_entry(&self, blueprint: &str, identifier: &str) -> Option<&Entry> {
        let index = self
            .previous_index
            .get(&records::entity_key(blueprint, identifier))?;
        self.previous.as_ref()?.entries.get(*index)
    }

    /// The list answered "not available" (checked at `checked`): the previous entries stay,
    /// flagged.
    fn keep_previous(&mut self, checked: i64) {
        self.not_available_at = Some(checked);
        self.entries = self
            .previous
            .iter()
            .flat_map(|p| p.entries.iter().cloned())
            .map(|entry| DraftEntry {
                entry,
                upsert: None,
            })
            .collect();
    }
}

/// What one job gathered (phase one) and what it leads to.
struct Gathered {
    job: Job,
    outcome: Outcome,
    children: Vec<Job>,
    drafts: Vec<Draft>,
    upserts: Vec<(String, Entity)>,
    counters: BTreeMap<String, i64>,
    /// Repositories this job listed (a repositories page).
    visited: Option<(u32, Vec<String>)>,
    /// Indices of `upserts` left out or undone because the worker deleted them meanwhile.
    deleted_live: HashSet<usize>,
}

impl Gathered {
    fn new(job: Job) -> Self {
        Self {
            job,
            outcome: Outcome::Complete,
            children: Vec::new(),
            drafts: Vec::new(),
            upserts: Vec::new(),
            counters: BTreeMap::new(),
            visited: None,
            deleted_live: HashSet::new(),
        }
    }

    fn count(&mut self, name: String, delta: i64) {
        *self.counters.entry(name).or_default() += delta;
    }
}

/// Item prefix of a run's first refusal reason per blueprint.
const REFUSAL: &str = "refusal/";

/// A counter name may hold ASCII letters, digits, `_` and `-` only.
fn counter_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn run_partition(run: &str) -> String {
    format!("run#{run}")
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

    /// Starts a run, unless one is in progress.
    pub async fn start(&self) -> Result<StartOutcome, ResyncError> {
        self.start_because(Trigger::Direct, false, None).await
    }

    /// Starts a run for `trigger`, unless one is in progress; `config_read`: the tick has just
    /// read Port's mapping (the run uses that read instead of asking again); `request`: the
    /// pending resync request from Port, handled once this run holds the lease.
    async fn start_because(
        &self,
        trigger: Trigger,
        config_read: bool,
        request: Option<DateTime<Utc>>,
    ) -> Result<StartOutcome, ResyncError> {
        let now = self.clock.now();
        let run = format!(
            "{}-{:06x}",
            now.format("%Y%m%dT%H%M%SZ"),
            fastrand::u32(..0x00ff_ffff)
        );
        match self
            .state
            .acquire_lease(
                LEASE,
                &run,
                now,
                lease::first_lease(self.settings.heartbeat),
            )
            .await?
        {
            LeaseOutcome::Held(lease) => {
                let started_at = match self.current_run().await {
                    Ok(Some(current)) if current.run == lease.holder => Some(current.started_at),
                    _ => None,
                };
                let started = started_at.map_or_else(|| "unknown".to_owned(), |s| s.to_string());
                tracing::info!(holder = %lease.holder, until = %lease.expires_at, %started,
                    "skipped: run {} in progress, lease until {} (started {started})",
                    lease.holder, lease.expires_at);
                return Ok(StartOutcome::Skipped {
                    holder: lease.holder,
                    until: lease.expires_at,
                    started_at,
                });
            }
            LeaseOutcome::Acquired(lease) => {
                self.note_superseded(&run, now).await;
                self.known_lease.taken(&run, now, lease.expires_at);
            }
        }
        let config = self.port_mapping_for_new_run(config_read).await;
        // The fingerprint a tick compares Port's mapping with: of what Port held (compiling or
        // not, so a broken mapping starts no run at every tick, and its fix does start one), or
        // of the mapping the run falls back on (which provisioning stores in Port).
        let fingerprint = match &config {
            Ok(Some(config)) => Some(crate::mapping::config_fingerprint(config)),
            Ok(None) => Some(crate::mapping::config_fingerprint(
                &self.mapping().config().document,
            )),
            Err(_) => None,
        };
        if let Err(error) =
            schedule::record_start(self.state.as_ref(), &run, now, fingerprint).await
        {
            tracing::warn!(%error, "the run's start is not recorded for the schedule");
        }
        if let Some(at) = request
            && let Err(error) =
                schedule::record_request_handled(self.state.as_ref(), at, &run, now).await
        {
            tracing::warn!(%error, "the handled resync request is not recorded; the next tick \
                may start one more run for it");
        }
        tracing::info!(run, reason = %trigger, "resync started ({trigger})");
        let begun = match config {
            Ok(config) => self.begin(&run, now, config, &trigger).await,
            Err(error) => Err(error),
        };
        match begun {
            Ok(outcome) => Ok(outcome),
            Err(error) => {
                self.finish_failed(&run, now, &error.to_string(), Some(&trigger))
                    .await;
                Err(error)
            }
        }
    }

    async fn begin(
        &self,
        run: &str,
        now: DateTime<Utc>,
        mapping: Option<Value>,
        trigger: &Trigger,
    ) -> Result<StartOutcome, ResyncError> {
        if let Some(config) = &mapping {
            self.use_mapping(config)?;
        }
        if let Some(provisioner) = &self.provisioner
            && self.settings.dry_run.is_none()
        {
            // Logged inside; a failure leaves entities to be refused and counted, not the run.
            let _ = provisioner.ensure(&self.port, &self.mapping()).await;
        }
        let mut allowed: Vec<String> = self.settings.organizations.clone().unwrap_or_default();
        allowed.extend(self.mapping().config().organizations.iter().cloned());
        let allowed = (!allowed.is_empty()).then_some(allowed);
        let orgs = self.clients.organizations(allowed.as_deref()).await?;
        if orgs.is_empty() {
            return Err(ResyncError::NothingToSync(
                "no organization: the App is installed nowhere (or nowhere allowed)".into(),
            ));
        }
        let missing_permissions = permission_check::check(
            self.clients.as_ref(),
            &orgs,
            &self.mapping(),
            self.settings.webhook.is_some(),
        )
        .await;
        let current = CurrentRun {
            run: run.to_owned(),
            started_at: now,
            orgs: orgs.clone(),
            mapping,
            missing_permissions,
            trigger: Some(trigger.to_string()),
        };
        self.state
            .put(
                Key::new(RUNS, CURRENT),
                &serde_json::to_string(&current).unwrap_or_default(),
                Expect::Anything,
                None,
                now,
            )
            .await?;
        self.report(ResyncStatus::Running, Some(now), None).await;
        if let Some(webhook) = &self.settings.webhook {
            for org in &orgs {
                self.upkeep_webhook(org, webhook, now).await;
            }
        }
        let has_repo_scope = self.first_resource(Scope::Repository, 0).is_some();
        let mut first = Vec::new();
        for org in &orgs {
            let base = Job {
                v: JOB_VERSION,
                run: run.to_owned(),
                id: String::new(),
                org: org.login.clone(),
                installation: org.installation,
                task: Task::Cleanup,
                attempt: 0,
                not_before: None,
            };
            if let Some(resource) = self.first_resource(Scope::Organization, 0) {
                first.push(base.child(
                    format!("{}/~#0", org.login),
                    Task::Org {
                        resource,
                        cursor: None,
                        part: 0,
                    },
                ));
            }
            if has_repo_scope {
                first.push(base.child(
                    format!("{}/~repos#0", org.login),
                    Task::Repositories {
                        cursor: None,
                        page: 0,
                    },
                ));
            }
        }
        let count = first.len();
        if count == 0 {
            return Err(ResyncError::NothingToSync(
                "the mapping has no resource of a kind this integration lists".into(),
            ));
        }
        self.state
            .add_counters(
                Key::new(&run_partition(run), "counters"),
                &[("queued", count as i64)],
            )
            .await?;
        self.queue
            .send(first.iter().map(Job::to_body).collect(), Duration::ZERO)
            .await?;
        Ok(StartOutcome::Started {
            run: run.to_owned(),
            jobs: count,
            trigger: trigger.clone(),
        })
    }

    async fn upkeep_webhook(&self, org: &OrgAccess, webhook: &WebhookTarget, now: DateTime<Utc>) {
        use crate::hook_admin::DesiredHook;
        let client = match self.clients.for_org(org) {
            Ok(client) => client,
            Err(error) => {
                tracing::warn!(org = %org.login, %error, "webhook upkeep skipped");
                return;
            }
        };
        let events = crate::webhook::events::handled_event_names();
        let desired = DesiredHook::new(&webhook.url, &webhook.secret, events);
        match crate::hook_admin::upkeep_org_webhook(
            &client,
            &org.login,
            &desired,
            self.state.as_ref(),
            now,
        )
        .await
        {
            Ok(upkeep) => tracing::info!(org = %org.login, hook = ?upkeep.hook,
                redelivered = upkeep.redelivery.as_ref().map(|r| r.redelivered.len()),
                "webhook upkeep"),
            Err(error) => tracing::warn!(org = %org.login, error = %error,
                "webhook upkeep failed; the resync goes on"),
        }
    }

    /// With the mapping from Port: reads it afresh, unless `just_read` (the tick did), for the
    /// run to use (`None`: Port has none, and the fallback given at construction is used).
    async fn port_mapping_for_new_run(
        &self,
        just_read: bool,
    ) -> Result<Option<Value>, ResyncError> {
        if !self.mapping_from_port {
            return Ok(None);
        }
        if !just_read {
            self.port.forget_integration_config().await;
        }
        match self.port.integration_config().await? {
            Some(config) if config.get("resources").is_some() => Ok(Some(config)),
            _ => Ok(None),
        }
    }

    /// The index of the first resource of `scope` at or after `from`.
    fn first_resource(&self, scope: Scope, from: usize) -> Option<usize> {
        self.mapping()
            .resources()
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, r)| r.config().kind.scope() == Some(scope))
            .map(|(index, _)| index)
    }

    async fn current_run(&self) -> Result<Option<CurrentRun>, StateError> {
        let now = self.clock.now();
        let Some(record) = self.state.get(Key::new(RUNS, CURRENT), now).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_str(&record.value).ok())
    }

    /// Runs a batch of job messages before `deadline`; returns the ids of the messages SQS
    /// should deliver again (only when the state store or the queue failed: a job's own
    /// failures are retried by re-queueing it).
    pub async fn handle_messages(
        &self,
        messages: Vec<JobMessage>,
        deadline: Instant,
    ) -> Vec<String> {
        let current = match self.current_run().await {
            Ok(current) => current,
            Err(error) => {
                tracing::error!(%error, "cannot read the current run; the batch is retried");
                return messages.into_iter().map(|m| m.id).collect();
            }
        };
        if let Some(config) = current.as_ref().and_then(|c| c.mapping.as_ref())
            && let Err(error) = self.use_mapping(config)
        {
            tracing::error!(%error, "the run's mapping does not compile; the batch is retried");
            return messages.into_iter().map(|m| m.id).collect();
        }
        let now = self.clock.now();
        let mut failed = Vec::new();
        let mut runnable = Vec::new();
        for message in messages {
            let job = match Job::parse(&message.body) {
                Ok(job) => job,
                Err(error) => {
                    tracing::warn!(message_id = %message.id, %error, "dropped a malformed resync job");
                    continue;
                }
            };
            if current.as_ref().map(|c| c.run.as_str()) != Some(job.run.as_str()) {
                tracing::info!(run = %job.run, job = %job.id, "dropped a job of a superseded run");
                continue;
            }
            if let Some(at) = job.not_before.and_then(|s| DateTime::from_timestamp(s, 0))
                && at > now
            {
                if let Err(error) = self
                    .queue
                    .send(vec![job.to_body()], delay_until(now, at))
                    .await
                {
                    tracing::warn!(%error, "could not delay a job");
                    failed.push(message.id);
                }
                continue;
            }
            runnable.push((message.id, job));
        }
        if let Some(current) = current.as_ref().filter(|_| !runnable.is_empty()) {
            // The run is alive: its jobs keep its lease.
            self.known_lease
                .working_for(&current.run, current.started_at);
            self.keep_lease(&current.run, Duration::ZERO).await;
        }
        let (cleanups, jobs): (Vec<_>, Vec<_>) = runnable
            .into_iter()
            .partition(|(_, job)| matches!(job.task, Task::Cleanup));
        for (id, job) in cleanups {
            if let Err(error) = self.run_cleanup(job).await {
                tracing::error!(%error, "cleanup bookkeeping failed; retried");
                failed.push(id);
            }
        }
        if jobs.is_empty() {
            return failed;
        }
        let started = Instant::now();
        let listing_deadline = deadline
            .checked_sub(deadline.saturating_duration_since(started) / 5)
            .unwrap_or(deadline);
        let concurrency = self.settings.job_concurrency.max(1);
        let mut gathered: Vec<(String, Gathered)> = futures_util::stream::iter(jobs)
            .map(|(id, job)| async move { (id, self.gather(job, listing_deadline).await) })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let results = self.send_upserts(&mut gathered, now).await;
        for ((id, gathered), results) in gathered.into_iter().zip(results) {
            if let Err(error) = self.settle(gathered, results).await {
                tracing::error!(message_id = %id, %error, "job bookkeeping failed; retried");
                failed.push(id);
            }
        }
        failed
    }

    /// Phase one of a job: list and map, without writing anything.
    async fn gather(&self, job: Job, deadline: Instant) -> Gathered {
        let mut gathered = Gathered::new(job.clone());
        let access = OrgAccess {
            login: job.org.clone(),
            installation: job.installation,
        };
        let client = match self.clients.for_org(&access) {
            Ok(client) => client,
            Err(error) => {
                gathered.outcome = self.classify(&job, &error);
                return gathered;
            }
        };
        let result = match &job.task {
            Task::Repositories { cursor, page } => {
                self.gather_repositories(&client, &access, cursor.as_deref(), *page, &mut gathered)
                    .await
            }
            Task::Org {
                resource,
                cursor,
                part,
            } => {
                self.gather_resources(
                    &client,
                    None,
                    *resource,
                    cursor.clone(),
                    *part,
                    deadline,
                    &mut gathered,
                )
                .await
            }
            Task::Repo {
                repo,
                resource,
                cursor,
                part,
            } => {
                let repo = Repo::from(repo.clone());
                self.gather_resources(
                    &client,
                    Some(&repo),
                    *resource,
                    cursor.clone(),
                    *part,
                    deadline,
                    &mut gathered,
                )
                .await
            }
            Task::Cleanup => Ok(()),
        };
        if let Err(failure) = result {
            gathered.outcome = match failure {
                GatherFailure::GitHub(error) => self.classify(&job, &error),
                GatherFailure::State(error) => {
                    Outcome::Retry(retry_delay(job.attempt), error.to_string())
                }
            };
        }
        gathered
    }

    fn classify(&self, job: &Job, error: &GitHubError) -> Outcome {
        match error {
            GitHubError::RateLimited { until, .. } => {
                Outcome::Requeue(delay_until(self.clock.now(), *until))
            }
            GitHubError::Transient { .. } | GitHubError::Auth { .. } => {
                Outcome::Retry(retry_delay(job.attempt), error.to_string())
            }
            _ => Outcome::Failed(error.to_string()),
        }
    }

    async fn gather_repositories(
        &self,
        client: &GitHubClient,
        access: &OrgAccess,
        cursor: Option<&str>,
        page: u32,
        gathered: &mut Gathered,
    ) -> Result<(), GatherFailure> {
        let selector = organization::RepositorySelector {
            included_files: Vec::new(),
            repository_type: Some(self.mapping().config().repository_type.clone()),
        };
        let source = access.repo_source();
        let mut pages = match cursor {
            Some(cursor) => organization::resume_repositories(client, &source, &selector, cursor)?,
            None => organization::list_repositories(client, &source, &selector)?,
        };
        let items = pages
            .next_page()
            .await?
            .map(|p| p.items)
            .unwrap_or_default();
        let first = self.first_resource(Scope::Repository, 0);
        let mut names = Vec::new();
        for item in items {
            let repo = Repo::from_object(item)?;
            names.push(repo.name.clone());
            if let Some(resource) = first {
                gathered.children.push(gathered.job.child(
                    format!("{}/{}#0", access.login, repo.name),
                    Task::Repo {
                        repo: RepoRef::from(&repo),
                        resource,
                        cursor: None,
                        part: 0,
                    },
                ));
            }
        }
        gathered.count("repositories".into(), names.len() as i64);
        gathered.visited = Some((page, names));
        if let Some(next) = pages.cursor() {
            gathered.outcome = Outcome::Continue(
                Box::new(gathered.job.child(
                    format!("{}/~repos#{}", access.login, page + 1),
                    Task::Repositories {
                        cursor: Some(next.to_owned()),
                        page: page + 1,
                    },
                )),
                Duration::ZERO,
            );
        }
        Ok(())
    }

    /// The resources of one scope (the organization's, or one repository's) from `start` on.
    #[allow(clippy::too_many_arguments)]
    async fn gather_resources(
        &self,
        client: &GitHubClient,
        repo: Option<&Repo>,
        start: usize,
        mut cursor: Option<ListCursor>,
        part: u32,
        deadline: Instant,
        gathered: &mut Gathered,
    ) -> Result<(), GatherFailure> {
        let org = gathered.job.org.clone();
        let scope = if repo.is_some() {
            Scope::Repository
        } else {
            Scope::Organization
        };
        let scope_name = repo.map_or(records::ORG_SCOPE.to_owned(), |r| r.name.clone());
        let now = self.clock.now();
        let previous = records::load_scope(self.state.as_ref(), &org, &scope_name, now).await?;
        let mut index = self.first_resource(scope, start);
        let mut first = true;
        while let Some(at) = index {
            let mapping = self.mapping();
            let Some(resource) = mapping.resources().get(at) else {
                gathered.outcome =
                    Outcome::Failed(format!("the mapping has no resource {at} any more"));
                return Ok(());
            };
            let kind = resource.config().kind.as_str();
            // Between resources: stop for the deadline or the reserve, and continue later.
            if !first && let Some(delay) = self.should_stop(client, deadline) {
                gathered.outcome = Outcome::Continue(
                    Box::new(self.continuation(&gathered.job, repo, at, None, part)),
                    delay,
                );
                return Ok(());
            }
            if first && let Some(delay) = self.reserve_reached(client) {
                gathered.outcome = Outcome::Requeue(delay);
                return Ok(());
            }
            first = false;
            let key = RecordKey {
                org: org.clone(),
                scope: scope_name.clone(),
                resource: resource_key(at, kind),
            };
            let previous_record = previous.get(&key.resource).cloned();
            let mut draft = Draft::new(key, kind, previous_record);
            if cursor.is_some() {
                self.load_partials(&gathered.job, &mut draft).await?;
            } else if let Some(checked) = self.recently_not_available(&draft) {
                // A feature that is off here was checked lately: a 403/404 carries no ETag, so
                // asking again every run would cost budget for nothing. Live events still come.
                draft.keep_previous(checked);
                gathered.count(format!("na-{kind}"), 1);
                gathered.count("not-available-skipped".into(), 1);
                gathered.drafts.push(draft);
                index = self.first_resource(scope, at + 1);
                continue;
            }
            let mut lister =
                match Lister::start(client, &org, repo, resource, cursor.take().as_ref()).await {
                    Ok(lister) => lister,
                    Err(GitHubError::NotFound { path, .. }) => {
                        tracing::info!(path, kind, "gone while listing; skipped");
                        index = self.first_resource(scope, at + 1);
                        continue;
                    }
                    Err(error) => return Err(error.into()),
                };
            let mut available = true;
            let mut sent_examples = false;
            loop {
                let step = match lister.next().await {
                    Ok(step) => step,
                    Err(GitHubError::NotFound { path, .. }) => {
                        tracing::info!(path, kind, "gone while listing; skipped");
                        break;
                    }
                    Err(error @ GitHubError::RateLimited { until, .. }) => {
                        // Keep what this resource listed when its list can continue.
                        if let Some(next) = lister.cursor()
                            && !draft.entries.is_empty()
                        {
                            let delay = delay_until(self.clock.now(), until);
                            draft.partial = true;
                            gathered.drafts.push(draft);
                            gathered.outcome = Outcome::Continue(
                                Box::new(self.continuation(
                                    &gathered.job,
                                    repo,
                                    at,
                                    Some(next),
                                    part,
                                )),
                                delay,
                            );
                            return Ok(());
                        }
                        return Err(error.into());
                    }
                    Err(error) => return Err(error.into()),
                };
                match step {
                    Step::Items(items) => {
                        if !sent_examples && !items.is_empty() {
                            sent_examples = true;
                            self.send_examples(kind, &items, gathered).await;
                        }
                        for raw in &items {
                            self.map_raw(resource, raw, &mut draft, gathered);
                        }
                        gathered.count(format!("items-{kind}"), items.len() as i64);
                    }
                    Step::NotAvailable => {
                        available = false;
                        draft.keep_previous(self.clock.now().timestamp());
                        break;
                    }
                    Step::Done => break,
                }
                if let Some(delay) = self.should_stop(client, deadline)
                    && let Some(next) = lister.cursor()
                {
                    draft.partial = true;
                    gathered.drafts.push(draft);
                    gathered.outcome = Outcome::Continue(
                        Box::new(self.continuation(&gathered.job, repo, at, Some(next), part)),
                        delay,
                    );
                    return Ok(());
                }
            }
            if repo.is_some() {
                let tally = if available { "ok" } else { "na" };
                gathered.count(format!("{tally}-{kind}"), 1);
            }
            gathered.drafts.push(draft);
            index = self.first_resource(scope, at + 1);
        }
        Ok(())
    }

    /// When a resource's list last answered "not available", if that was within
    /// `resend_after`.
    fn recently_not_available(&self, draft: &Draft) -> Option<i64> {
        let previous = draft.previous.as_ref()?;
        let checked = previous
            .not_available_at
            .filter(|_| previous.not_available)?;
        let age = self.clock.now().timestamp() - checked;
        (age >= 0 && age < i64::try_from(self.settings.resend_after.as_secs()).unwrap_or(i64::MAX))
            .then_some(checked)
    }

    fn continuation(
        &self,
        job: &Job,
        repo: Option<&Repo>,
        resource: usize,
        cursor: Option<ListCursor>,
        part: u32,
    ) -> Job {
        let part = part + 1;
        match repo {
            Some(repo) => job.child(
                format!("{}/{}#{part}", job.org, repo.name),
                Task::Repo {
                    repo: RepoRef::from(repo),
                    resource,
                    cursor,
                    part,
                },
            ),
            None => job.child(
                format!("{}/~#{part}", job.org),
                Task::Org {
                    resource,
                    cursor,
                    part,
                },
            ),
        }
    }

    /// The delay to continue after, when this job should stop now: its time is up (continue at
    /// once, elsewhere), or the rate-limit reserve is reached (continue after the reset).
    fn should_stop(&self, client: &GitHubClient, deadline: Instant) -> Option<Duration> {
        if let Some(delay) = self.reserve_reached(client) {
            return Some(delay);
        }
        (Instant::now() >= deadline).then_some(Duration::ZERO)
    }

    fn reserve_reached(&self, client: &GitHubClient) -> Option<Duration> {
        let budget = client.budget()?;
        let now = self.clock.now();
        // A budget whose window has passed says nothing any more: the next answer renews it.
        (budget.reset > now && budget.below_reserve(self.settings.rate_limit_reserve))
            .then(|| delay_until(now, budget.reset))
    }

    /// Maps one raw object with one resource, and drafts what it selects.
    fn map_raw(
        &self,
        resource: &CompiledResource,
        raw: &Value,
        draft: &mut Draft,
        gathered: &mut Gathered,
    ) {
        let applied = crate::sync::apply(resource, raw);
        if applied.field_errors > 0 {
            gathered.count("field-errors".into(), applied.field_errors as i64);
        }
        if !applied.selected {
            return;
        }
        let now = self.clock.now().timestamp();
        let fresh_after =
            now - i64::try_from(self.settings.resend_after.as_secs()).unwrap_or(i64::MAX);
        for entity in applied.entities {
            let hash = content_hash(&entity);
            let unchanged = draft
                .previous_entry(&entity.blueprint, &entity.identifier)
                .filter(|e| e.h == hash && e.t > fresh_after);
            gathered.count(format!("entities-{}", draft.kind), 1);
            match unchanged {
                Some(entry) => {
                    gathered.count("unchanged".into(), 1);
                    gathered.count(format!("unchanged-{}", draft.kind), 1);
                    draft.entries.push(DraftEntry {
                        entry: entry.clone(),
                        upsert: None,
                    });
                }
                None => {
                    draft.entries.push(DraftEntry {
                        entry: Entry {
                            b: entity.blueprint.clone(),
                            i: entity.identifier.clone(),
                            h: hash,
                            t: now,
                        },
                        upsert: Some(gathered.upserts.len()),
                    });
                    gathered.upserts.push((draft.kind.clone(), entity));
                }
            }
        }
    }

    /// Sends up to [`MAX_EXAMPLES`] raw objects of a kind per run (counted across invocations).
    async fn send_examples(&self, kind: &str, items: &[Value], gathered: &mut Gathered) {
        if !self.settings.send_raw_examples || self.settings.dry_run.is_some() {
            return;
        }
        let memo = (gathered.job.run.clone(), kind.to_owned());
        if let Ok(sent) = self.examples_sent.lock()
            && sent.contains(&memo)
        {
            return;
        }
        let wanted = items.len().min(MAX_EXAMPLES) as i64;
        let name = format!("examples-{kind}");
        let counters = self
            .state
            .add_counters(
                Key::new(&run_partition(&gathered.job.run), "counters"),
                &[(name.as_str(), wanted)],
            )
            .await;
        let Ok(counters) = counters else {
            return;
        };
        let before = counters.get(&name).copied().unwrap_or(wanted) - wanted;
        let room = (MAX_EXAMPLES as i64 - before).clamp(0, wanted) as usize;
        if room == 0 {
            if let Ok(mut sent) = self.examples_sent.lock() {
                // Only this run's are worth remembering.
                sent.retain(|(run, _)| *run == memo.0);
                sent.insert(memo);
            }
            return;
        }
        if let Err(error) = self.port.send_raw_examples(kind, &items[..room]).await {
            tracing::warn!(kind, %error, "raw data examples not sent");
        }
    }

    async fn load_partials(&self, job: &Job, draft: &mut Draft) -> Result<(), StateError> {
        let prefix = format!(
            "partial/{}/{}/{}/",
            draft.key.org, draft.key.scope, draft.key.resource
        );
        for (item, record) in self
            .state
            .list(&run_partition(&job.run), &prefix, self.clock.now())
            .await?
        {
            let entries: Vec<Entry> =
                serde_json::from_str(&record.value).map_err(|e| StateError::Malformed {
                    partition: run_partition(&job.run),
                    item: item.clone(),
                    reason: e.to_string(),
                })?;
            draft
                .entries
                .extend(entries.into_iter().map(|entry| DraftEntry {
                    entry,
                    upsert: None,
                }));
            draft.merged_partials.push(item);
        }
        draft.carried = draft.entries.len();
        Ok(())
    }

    /// Phase two: every entity the batch's jobs want sent, in one bulk upsert (20 per request,
    /// grouped by blueprint). Returns, per job, the result of each of its upserts.
    async fn send_upserts(
        &self,
        gathered: &mut [(String, Gathered)],
        listed_from: DateTime<Utc>,
    ) -> Vec<Vec<UpsertResult>> {
        // Entities deleted live since the listing began are not sent back (tombstones).
        let any = gathered.iter().any(|(_, job)| !job.upserts.is_empty());
        let deleted_live = if any && self.settings.dry_run.is_none() {
            self.deleted_live_since(gathered, listed_from).await
        } else {
            HashMap::new()
        };
        let mut all: Vec<Entity> = Vec::new();
        // Per job, per upsert: its index in `all`, or none when it is left out.
        let mut positions: Vec<Vec<Option<usize>>> = Vec::new();
        for (_, job) in gathered.iter_mut() {
            let usable = matches!(job.outcome, Outcome::Complete | Outcome::Continue(..));
            let mut slots = Vec::with_capacity(job.upserts.len());
            for (index, (_, entity)) in job.upserts.iter().enumerate() {
                let key = (entity.blueprint.clone(), entity.identifier.clone());
                if !usable {
                    slots.push(None);
                } else if deleted_live.contains_key(&key) {
                    job.deleted_live.insert(index);
                    slots.push(None);
                } else {
                    slots.push(Some(all.len()));
                    all.push(entity.clone());
                }
            }
            positions.push(slots);
        }
        let results: Vec<UpsertResult> = if all.is_empty() {
            Vec::new()
        } else if let Some(sink) = &self.settings.dry_run {
            for ((_, job), slots) in gathered.iter().zip(&positions) {
                for ((kind, _), slot) in job.upserts.iter().zip(slots) {
                    if let Some(at) = slot
                        && let Some(entity) = all.get(*at)
                    {
                        sink.entity(kind, entity);
                    }
                }
            }
            all.iter()
                .map(|_| UpsertResult::Upserted { created: None })
                .collect()
        } else {
            let mapping = self.mapping();
            let config = mapping.config();
            let options = UpsertOptions {
                merge: config.enable_merge_entity,
                create_missing_related_entities: config.create_missing_related_entities,
            };
            self.port
                .upsert_entities(&all, options)
                .await
                .into_iter()
                .map(|outcome| outcome.result)
                .collect()
        };
        let left_out = UpsertResult::Failed(EntityFailure::local(
            "deleted_live",
            "deleted live while the run listed it",
        ));
        let mut per_job: Vec<Vec<UpsertResult>> = positions
            .iter()
            .map(|slots| {
                slots
                    .iter()
                    .map(|slot| match slot {
                        Some(at) => results
                            .get(*at)
                            .cloned()
                            .unwrap_or_else(|| left_out.clone()),
                        None => left_out.clone(),
                    })
                    .collect()
            })
            .collect();
        if self.settings.dry_run.is_none() && !all.is_empty() {
            // A delete that reached Port while the upserts were on their way: undo the upsert
            // (the worker notes a delete before making it, so it is seen here).
            self.undo_upserts_deleted_live(gathered, &mut per_job, listed_from)
                .await;
        }
        per_job
    }

    /// The entities noted as deleted live since `listed_from` (with the skew margin); when the
    /// journal cannot be read, every job is retried later rather than risk re-creating them.
    async fn deleted_live_since(
        &self,
        gathered: &mut [(String, Gathered)],
        listed_from: DateTime<Utc>,
    ) -> HashMap<(String, String), DateTime<Utc>> {
        let journal = LiveWrites::new(self.state.clone(), self.clock.clone());
        match journal.since(LiveWrite::Deleted, listed_from).await {
            Ok(found) => found,
            Err(error) => {
                for (_, job) in gathered.iter_mut() {
                    if matches!(job.outcome, Outcome::Complete | Outcome::Continue(..)) {
                        job.outcome = Outcome::Retry(
                            retry_delay(job.job.attempt),
                            format!("the live-write journal: {error}"),
                        );
                    }
                }
                HashMap::new()
            }
        }
    }

    async fn undo_upserts_deleted_live(
        &self,
        gathered: &mut [(String, Gathered)],
        per_job: &mut [Vec<UpsertResult>],
        listed_from: DateTime<Utc>,
    ) {
        let journal = LiveWrites::new(self.state.clone(), self.clock.clone());
        let deleted = match journal.since(LiveWrite::Deleted, listed_from).await {
            Ok(deleted) if deleted.is_empty() => return,
            Ok(deleted) => deleted,
            Err(error) => {
                tracing::warn!(%error, "the live-write journal could not be read after the upserts");
                return;
            }
        };
        let dependents = self.mapping().config().delete_dependent_entities;
        for ((_, job), results) in gathered.iter_mut().zip(per_job.iter_mut()) {
            for (index, (_, entity)) in job.upserts.iter().enumerate() {
                let key = (entity.blueprint.clone(), entity.identifier.clone());
                let upserted = matches!(results.get(index), Some(UpsertResult::Upserted { .. }));
                if !upserted || !deleted.contains_key(&key) {
                    continue;
                }
                match self
                    .port
                    .delete_entity(&entity.blueprint, &entity.identifier, dependents)
                    .await
                {
                    Ok(_) => {
                        tracing::info!(blueprint = %entity.blueprint, identifier = %entity.identifier,
                            "deleted live during the run: the run's upsert was undone");
                        job.deleted_live.insert(index);
                        if let Some(slot) = results.get_mut(index) {
                            *slot = UpsertResult::Failed(EntityFailure::local(
                                "deleted_live",
                                "deleted live while the run sent it",
                            ));
                        }
                    }
                    Err(error) => {
                        tracing::warn!(blueprint = %entity.blueprint, identifier = %entity.identifier,
                            %error, "an entity deleted live during the run could not be deleted again")
                    }
                }
            }
        }
    }

    /// Phase three: records, continuation and children, counters; and the end of the run when
    /// this job completes the count.
    async fn settle(
        &self,
        mut gathered: Gathered,
        results: Vec<UpsertResult>,
    ) -> Result<(), ResyncError> {
        let now = self.clock.now();
        let job = gathered.job.clone();
        // Entities Port refused for a reason that may pass make the job try again; the others
        // are counted per blueprint, with the first reason of each.
        let mut refused = 0i64;
        let mut refusals: BTreeMap<String, (i64, String)> = BTreeMap::new();
        for (index, result) in results.iter().enumerate() {
            if gathered.deleted_live.contains(&index) {
                continue;
            }
            if let UpsertResult::Failed(failure) = result {
                if !failure.transient {
                    let blueprint = gathered
                        .upserts
                        .get(index)
                        .map(|(_, entity)| entity.blueprint.clone())
                        .unwrap_or_default();
                    let reason = format!("{}: {}", failure.code, failure.message);
                    refusals.entry(blueprint).or_insert((0, reason)).0 += 1;
                }
                if failure.transient {
                    gathered.outcome = Outcome::Retry(
                        failure
                            .retry_after
                            .unwrap_or_else(|| retry_delay(job.attempt)),
                        format!("Port: {} {}", failure.code, failure.message),
                    );
                    break;
                }
                refused += 1;
            }
        }
        match gathered.outcome {
            Outcome::Requeue(delay) => {
                self.send_delayed(vec![job], delay).await?;
                return Ok(());
            }
            Outcome::Retry(delay, reason) => {
                if job.attempt + 1 < self.settings.max_attempts {
                    tracing::warn!(job = %job.id, attempt = job.attempt + 1, %reason, "resync job retried");
                    self.send_delayed(vec![job.retried()], delay).await?;
                    return Ok(());
                }
                return self.settle_failed(&job, &reason).await;
            }
            Outcome::Failed(reason) => return self.settle_failed(&job, &reason).await,
            Outcome::Complete | Outcome::Continue(..) => {}
        }
        if refused > 0 {
            gathered.count("refused".into(), refused);
        }
        // Per kind too, for the metrics (`crate::metrics::functions`).
        let per_kind: Vec<String> = results
            .iter()
            .zip(&gathered.upserts)
            .enumerate()
            .filter(|(index, _)| !gathered.deleted_live.contains(index))
            .filter_map(|(_, (result, (kind, _)))| match result {
                UpsertResult::Upserted { .. } => Some(format!("upserted-{kind}")),
                UpsertResult::Failed(failure) if !failure.transient => {
                    Some(format!("refused-{kind}"))
                }
                UpsertResult::Failed(_) => None,
            })
            .collect();
        for name in per_kind {
            gathered.count(name, 1);
        }
        if !gathered.deleted_live.is_empty() {
            gathered.count("deleted-live".into(), gathered.deleted_live.len() as i64);
        }
        for (blueprint, (count, reason)) in &refusals {
            gathered.count(format!("refusals-{}", counter_safe(blueprint)), *count);
            // The first reason of each blueprint in the run (later ones leave it).
            let put = self
                .state
                .put(
                    Key::new(&run_partition(&job.run), &format!("{REFUSAL}{blueprint}")),
                    reason,
                    Expect::Absent,
                    Some(crate::state::expiry(now, RUN_RECORDS_TTL)),
                    now,
                )
                .await;
            if let Err(error) = put {
                tracing::warn!(%error, blueprint, "first refusal reason not stored");
            }
        }
        let upserted = results
            .iter()
            .filter(|r| matches!(r, UpsertResult::Upserted { .. }))
            .count();
        if upserted > 0 {
            gathered.count("upserted".into(), upserted as i64);
        }
        // Records first: writing them twice is harmless.
        let partition = run_partition(&job.run);
        for draft in &gathered.drafts {
            let entries: Vec<Entry> = draft
                .entries
                .iter()
                .map(|d| {
                    let mut entry = d.entry.clone();
                    if let Some(index) = d.upsert
                        && !matches!(results.get(index), Some(UpsertResult::Upserted { .. }))
                    {
                        // Refused, or not sent (dry run): seen, but to be sent again.
                        entry.h.clear();
                    }
                    entry
                })
                .collect();
            if draft.partial {
                // Only this part's entries (earlier parts keep their own records until the list
                // is done), in chunks that stay far below DynamoDB's item size.
                let fresh = &entries[draft.carried.min(entries.len())..];
                for (chunk, entries) in fresh.chunks(PARTIAL_CHUNK).enumerate() {
                    let item = format!(
                        "partial/{}/{}/{}/{}#{chunk:04}",
                        draft.key.org, draft.key.scope, draft.key.resource, job.id
                    );
                    self.state
                        .put(
                            Key::new(&partition, &item),
                            &serde_json::to_string(entries).unwrap_or_default(),
                            Expect::Anything,
                            Some(crate::state::expiry(now, RUN_RECORDS_TTL)),
                            now,
                        )
                        .await?;
                }
                continue;
            }
            let unchanged = draft.previous.as_ref().is_some_and(|p| {
                p.entries == entries
                    && p.kind == draft.kind
                    && p.not_available_at == draft.not_available_at
            });
            if !unchanged && self.settings.dry_run.is_none() {
                records::store(
                    self.state.as_ref(),
                    &draft.key,
                    &draft.kind,
                    &entries,
                    draft.not_available_at,
                    draft.previous.as_ref().map_or(0, |p| p.chunks),
                    now,
                )
                .await?;
            }
            for item in &draft.merged_partials {
                self.state.delete(Key::new(&partition, item)).await?;
            }
        }
        if let Some((page, names)) = &gathered.visited {
            self.state
                .put(
                    Key::new(&partition, &format!("repos/{}/{page:06}", job.org)),
                    &serde_json::to_string(names).unwrap_or_default(),
                    Expect::Anything,
                    Some(crate::state::expiry(now, RUN_RECORDS_TTL)),
                    now,
                )
                .await?;
        }
        let mut next: Vec<(Job, Duration)> = gathered
            .children
            .drain(..)
            .map(|child| (child, Duration::ZERO))
            .collect();
        if let Outcome::Continue(continuation, delay) =
            std::mem::replace(&mut gathered.outcome, Outcome::Complete)
        {
            next.push((*continuation, delay));
        }
        let queued = next.len() as i64;
        let counters_key = Key::new(&partition, "counters");
        if queued > 0 {
            self.state
                .add_counters(counters_key, &[("queued", queued)])
                .await?;
            let sent = self.send_jobs(next).await;
            if let Err(error) = sent {
                let _ = self
                    .state
                    .add_counters(counters_key, &[("queued", -queued)])
                    .await;
                return Err(error);
            }
        }
        if !self.mark_done(&job, now).await? {
            // A duplicate delivery of a job already counted: its children are duplicates too.
            if queued > 0 {
                self.state
                    .add_counters(counters_key, &[("queued", -queued)])
                    .await?;
            }
            return Ok(());
        }
        gathered.count("done".into(), 1);
        let deltas: Vec<(&str, i64)> = gathered
            .counters
            .iter()
            .map(|(name, delta)| (name.as_str(), *delta))
            .collect();
        let counters = self.state.add_counters(counters_key, &deltas).await?;
        self.maybe_finish(&job, &counters).await
    }

    async fn send_jobs(&self, jobs: Vec<(Job, Duration)>) -> Result<(), ResyncError> {
        let mut by_delay: BTreeMap<u64, Vec<Job>> = BTreeMap::new();
        for (job, delay) in jobs {
            by_delay.entry(delay.as_secs()).or_default().push(job);
        }
        for (secs, jobs) in by_delay {
            self.send_delayed(jobs, Duration::from_secs(secs)).await?;
        }
        Ok(())
    }

    /// Queues jobs after `delay`; past SQS's longest delay they carry `not_before`.
    async fn send_delayed(&self, jobs: Vec<Job>, delay: Duration) -> Result<(), ResyncError> {
        if !delay.is_zero()
            && let Some(job) = jobs.first()
        {
            // A run waiting (for GitHub's reset, a back-off) is not dead: the lease covers it.
            self.keep_lease(&job.run, delay).await;
        }
        let not_before = (delay > MAX_DELAY).then(|| {
            (self.clock.now() + chrono::Duration::from_std(delay).unwrap_or_default()).timestamp()
        });
        let bodies = jobs
            .into_iter()
            .map(|mut job| {
                if not_before.is_some() {
                    job.not_before = not_before;
                }
                job.to_body()
            })
            .collect();
        self.queue.send(bodies, delay.min(MAX_DELAY)).await?;
        Ok(())
    }

    /// Records that `job` is settled; false when it already was (a duplicate delivery).
    async fn mark_done(&self, job: &Job, now: DateTime<Utc>) -> Result<bool, StateError> {
        let outcome = self
            .state
            .put(
                Key::new(&run_partition(&job.run), &format!("done/{}", job.id)),
                "1",
                Expect::Absent,
                Some(crate::state::expiry(now, RUN_RECORDS_TTL)),
                now,
            )
            .await?;
        Ok(matches!(outcome, PutOutcome::Written { .. }))
    }

    async fn settle_failed(&self, job: &Job, reason: &str) -> Result<(), ResyncError> {
        tracing::error!(run = %job.run, job = %job.id, reason, "resync job failed");
        if !self.mark_done(job, self.clock.now()).await? {
            return Ok(());
        }
        let partition = run_partition(&job.run);
        let counters = self
            .state
            .add_counters(Key::new(&partition, "counters"), &[("failed", 1)])
            .await?;
        self.state
            .put(
                Key::new(&partition, &format!("failure/{}", job.id)),
                reason,
                Expect::Anything,
                Some(crate::state::expiry(self.clock.now(), RUN_RECORDS_TTL)),
                self.clock.now(),
            )
            .await?;
        self.maybe_finish(job, &counters).await
    }

    /// When every queued job is settled: the cleanup when none failed, else a failed run.
    async fn maybe_finish(
        &self,
        job: &Job,
        counters: &BTreeMap<String, i64>,
    ) -> Result<(), ResyncError> {
        let get = |name: &str| counters.get(name).copied().unwrap_or(0);
        if get("done") + get("failed") < get("queued") {
            return Ok(());
        }
        let now = self.clock.now();
        let claimed = self
            .state
            .put(
                Key::new(&run_partition(&job.run), "finished"),
                "1",
                Expect::Absent,
                Some(crate::state::expiry(now, RUN_RECORDS_TTL)),
                now,
            )
            .await?;
        if !matches!(claimed, PutOutcome::Written { .. }) {
            return Ok(());
        }
        if get("failed") > 0 {
            let reason = format!("{} job(s) failed; nothing was deleted", get("failed"));
            self.finish_failed(&job.run, now, &reason, None).await;
            return Ok(());
        }
        let cleanup = job.child("cleanup".into(), Task::Cleanup);
        self.send_delayed(vec![cleanup], Duration::ZERO).await
    }

    async fn run_cleanup(&self, job: Job) -> Result<(), ResyncError> {
        let Some(current) = self.current_run().await? else {
            return Ok(());
        };
        if current.run != job.run {
            // Superseded between the batch's start and now: the new run's cleanup is its own.
            tracing::info!(run = %job.run, "dropped the cleanup of a superseded run");
            return Ok(());
        }
        let report = if self.settings.dry_run.is_some() {
            Ok(CleanupReport::default())
        } else {
            cleanup::cleanup(self, &current).await
        };
        match report {
            Ok(report) => {
                self.finish(&current, COMPLETED, None, Some(report)).await;
                Ok(())
            }
            Err(error) if job.attempt + 1 < self.settings.max_attempts => {
                tracing::warn!(%error, attempt = job.attempt + 1, "cleanup retried");
                self.send_delayed(vec![job.retried()], retry_delay(job.attempt))
                    .await
            }
            Err(error) => {
                self.finish(&current, FAILED, Some(format!("cleanup: {error}")), None)
                    .await;
                Ok(())
            }
        }
    }

    /// Ends `run` as failed; `trigger` is why it started, for a run that failed before its
    /// record was written.
    async fn finish_failed(
        &self,
        run: &str,
        now: DateTime<Utc>,
        reason: &str,
        trigger: Option<&Trigger>,
    ) {
        let current = match self.current_run().await {
            Ok(Some(current)) if current.run == run => current,
            _ => CurrentRun {
                run: run.to_owned(),
                started_at: now,
                orgs: Vec::new(),
                mapping: None,
                missing_permissions: Vec::new(),
                trigger: trigger.map(ToString::to_string),
            },
        };
        self.finish(&current, FAILED, Some(reason.to_owned()), None)
            .await;
    }

    /// Records the summary, reports to Port, logs it and releases the lease (best effort: a
    /// lease that cannot be released expires).
    async fn finish(
        &self,
        current: &CurrentRun,
        status: &str,
        reason: Option<String>,
        cleanup: Option<CleanupReport>,
    ) {
        let now = self.clock.now();
        let counters = self
            .state
            .counters(Key::new(&run_partition(&current.run), "counters"))
            .await
            .unwrap_or_default();
        let refused = self.refusals(&current.run, &counters).await;
        let status = if status == COMPLETED && !refused.is_empty() {
            COMPLETED_WITH_ERRORS
        } else {
            status
        };
        let summary = RunSummary {
            run: current.run.clone(),
            status: status.to_owned(),
            reason,
            started_at: current.started_at,
            ended_at: now,
            counters,
            cleanup,
            refused,
            missing_permissions: current.missing_permissions.clone(),
            trigger: current.trigger.clone(),
        };
        crate::metrics::note_run_finished(&summary);
        let text = serde_json::to_string(&summary).unwrap_or_default();
        if let Err(error) = self
            .state
            .put(
                Key::new(RUNS, &format!("run/{}", current.run)),
                &text,
                Expect::Anything,
                Some(crate::state::expiry(now, RUN_RECORDS_TTL)),
                now,
            )
            .await
        {
            tracing::warn!(%error, "run summary not stored");
        }
        if (status == COMPLETED || status == COMPLETED_WITH_ERRORS)
            && let Err(error) = schedule::record_completed(
                self.state.as_ref(),
                &current.run,
                current.started_at,
                now,
            )
            .await
        {
            tracing::warn!(%error, "the completed run is not recorded for the schedule");
        }
        if status == COMPLETED {
            tracing::info!(summary = %text, "resync completed");
            self.report(ResyncStatus::Completed, Some(current.started_at), Some(now))
                .await;
        } else if status == COMPLETED_WITH_ERRORS {
            for (blueprint, refusals) in &summary.refused {
                tracing::error!(blueprint, count = refusals.count, first_reason = %refusals.first_reason,
                    "Port refused entities");
            }
            tracing::error!(summary = %text, "resync completed with errors: Port refused entities");
            // Port's states have no "with errors": it shows the run as failed, and the log says why.
            self.report(ResyncStatus::Failed, Some(current.started_at), Some(now))
                .await;
        } else {
            tracing::error!(summary = %text, "resync failed");
            self.report(ResyncStatus::Failed, Some(current.started_at), Some(now))
                .await;
        }
        if let Err(error) = self.state.release_lease(LEASE, &current.run).await {
            tracing::warn!(%error, "lease not released; it expires by itself");
        }
    }

    /// The run's refusals per blueprint: counts from the counters, first reasons from the run's
    /// records.
    async fn refusals(
        &self,
        run: &str,
        counters: &BTreeMap<String, i64>,
    ) -> BTreeMap<String, Refusals> {
        let reasons = self
            .state
            .list(&run_partition(run), REFUSAL, self.clock.now())
            .await
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "refusal reasons not read");
                Vec::new()
            });
        reasons
            .into_iter()
            .filter_map(|(item, record)| {
                let blueprint = item.strip_prefix(REFUSAL)?.to_owned();
                let count = counters
                    .get(&format!("refusals-{}", counter_safe(&blueprint)))
                    .copied()
                    .unwrap_or(0);
                Some((
                    blueprint,
                    Refusals {
                        count,
                        first_reason: record.value,
                    },
                ))
            })
            .collect()
    }

    async fn report(
        &self,
        status: ResyncStatus,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    ) {
        if self.settings.dry_run.is_some() {
            return;
        }
        let interval = self.settings.interval;
        let next =
            start.and_then(|s| s.checked_add_signed(chrono::Duration::from_std(interval).ok()?));
        let state = ResyncState {
            status,
            last_resync_start: start,
            last_resync_end: end,
            next_resync: next,
            interval_in_minutes: Some(interval.as_secs() / 60),
        };
        if let Err(error) = self.port.patch_resync_state(&state).await {
            tracing::warn!(%error, "resync state not reported to Port");
        }
    }

    /// The summary of a finished run.
    pub async fn summary(&self, run: &str) -> Result<Option<RunSummary>, StateError> {
        let record = self
            .state
            .get(Key::new(RUNS, &format!("run/{run}")), self.clock.now())
            .await?;
        Ok(record.and_then(|r| serde_json::from_str(&r.value).ok()))
    }

    /// The counters of a run (progress).
    pub async fn progress(&self, run: &str) -> Result<BTreeMap<String, i64>, StateError> {
        self.state
            .counters(Key::new(&run_partition(run), "counters"))
            .await
    }
}

enum GatherFailure {
    GitHub(GitHubError),
    State(StateError),
}

impl From<GitHubError> for GatherFailure {
    fn from(error: GitHubError) -> Self {
        Self::GitHub(error)
    }
}

impl From<StateError> for GatherFailure {
    fn from(error: StateError) -> Self {
        Self::State(error)
    }
}
