//! The run ledger: every record a run keeps about itself in the state store, and the only code
//! that writes them. The pointer to the current run (`resync/current`), each finished run's
//! summary (`resync/run/<id>`), and under the run's own partition (`run#<id>`): its counters
//! (`queued`, `done`, `failed` and the tallies of what it listed), the claims that make a
//! duplicate delivery harmless (`done/<job>`, `finished`), the first reason Port gave per refused
//! blueprint, failed jobs' reasons, the partial records of lists continued in another job, and
//! the repositories each page of a listing visited (the cleanup's scope). Run records expire
//! after [`RUN_RECORDS_TTL`]; the catalog's own records (`records`) outlive runs.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::cleanup::CleanupReport;
use super::permission_check::MissingPermission;
use super::records::{Entry, RecordKey};
use crate::clock::Clock;
use crate::state::{Expect, Key, PutOutcome, StateError, StateStore, expiry};
use crate::sync::OrgAccess;

/// The partition of the current run's pointer and finished runs' summaries.
const RUNS: &str = "resync";
/// The item naming the current run.
const CURRENT: &str = "current";
/// The item of a run's counters.
const COUNTERS: &str = "counters";
/// Item prefix of a run's first refusal reason per blueprint.
const REFUSAL: &str = "refusal/";
/// Item prefix of the repositories a run visited, per organization and page.
const VISITED: &str = "repos/";
/// Entries per partial record (a list continued in another job).
const PARTIAL_CHUNK: usize = 1_000;
/// How long a run's own records (markers, visited repositories, summaries) are kept.
pub const RUN_RECORDS_TTL: Duration = Duration::from_secs(3 * 86_400);

/// What a run's status says.
pub const COMPLETED: &str = "completed";
pub const COMPLETED_WITH_ERRORS: &str = "completed_with_errors";
pub const FAILED: &str = "failed";

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
    /// Why the run started ([`super::Trigger`] in words: `scheduled`, `requested in Port at …`).
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

/// The run in progress, as stored under `resync/current`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct CurrentRun {
    pub run: String,
    pub started_at: DateTime<Utc>,
    pub orgs: Vec<OrgAccess>,
    /// The mapping read from Port when the run started (its jobs use it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping: Option<Value>,
    /// What the permission check found at the start, for the summary.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_permissions: Vec<MissingPermission>,
    /// Why the run started ([`super::Trigger`] in words).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
}

/// The counter of a blueprint's refusals (counter names hold ASCII letters, digits, `_` and `-`
/// only).
pub(super) fn refusals_counter(blueprint: &str) -> String {
    let safe: String = blueprint
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("refusals-{safe}")
}

fn run_partition(run: &str) -> String {
    format!("run#{run}")
}

/// The records of runs, read and written for one state store.
pub(super) struct RunLedger {
    state: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
}

impl RunLedger {
    pub fn new(state: Arc<dyn StateStore>, clock: Arc<dyn Clock>) -> Self {
        Self { state, clock }
    }

    /// Whether a run started at `started_at` still has its records at `now`.
    pub fn records_kept(started_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now < expiry(started_at, RUN_RECORDS_TTL)
    }

    /// Writes a run record that expires with the run's records.
    async fn put(
        &self,
        run: &str,
        item: &str,
        value: &str,
        expect: Expect,
    ) -> Result<PutOutcome, StateError> {
        let now = self.clock.now();
        self.state
            .put(
                Key::new(&run_partition(run), item),
                value,
                expect,
                Some(expiry(now, RUN_RECORDS_TTL)),
                now,
            )
            .await
    }

    /// The run in progress (the last one started), if its record is readable.
    pub async fn current(&self) -> Result<Option<CurrentRun>, StateError> {
        let now = self.clock.now();
        let Some(record) = self.state.get(Key::new(RUNS, CURRENT), now).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_str(&record.value).ok())
    }

    /// Makes `current` the run in progress (its jobs drop any other run's).
    pub async fn set_current(&self, current: &CurrentRun) -> Result<(), StateError> {
        self.state
            .put(
                Key::new(RUNS, CURRENT),
                &serde_json::to_string(current).unwrap_or_default(),
                Expect::Anything,
                None,
                self.clock.now(),
            )
            .await?;
        Ok(())
    }

    /// Adds to the run's counters; returns them all after the addition.
    pub async fn add(
        &self,
        run: &str,
        deltas: &[(&str, i64)],
    ) -> Result<BTreeMap<String, i64>, StateError> {
        self.state
            .add_counters(Key::new(&run_partition(run), COUNTERS), deltas)
            .await
    }

    /// The run's counters.
    pub async fn counters(&self, run: &str) -> Result<BTreeMap<String, i64>, StateError> {
        self.state
            .counters(Key::new(&run_partition(run), COUNTERS))
            .await
    }

    /// Records that job `job` is settled; false when it already was (a duplicate delivery).
    pub async fn mark_done(&self, run: &str, job: &str) -> Result<bool, StateError> {
        let outcome = self
            .put(run, &format!("done/{job}"), "1", Expect::Absent)
            .await?;
        Ok(matches!(outcome, PutOutcome::Written { .. }))
    }

    /// Claims the end of the run for the caller; false when another job claimed it first.
    pub async fn claim_finish(&self, run: &str) -> Result<bool, StateError> {
        let outcome = self.put(run, "finished", "1", Expect::Absent).await?;
        Ok(matches!(outcome, PutOutcome::Written { .. }))
    }

    /// Why a job failed.
    pub async fn note_failure(&self, run: &str, job: &str, reason: &str) -> Result<(), StateError> {
        self.put(run, &format!("failure/{job}"), reason, Expect::Anything)
            .await?;
        Ok(())
    }

    /// The first reason Port gave for refusing an entity of `blueprint` in the run (later ones
    /// leave it). The count goes with the job's counters, as [`refusals_counter`].
    pub async fn note_first_refusal(
        &self,
        run: &str,
        blueprint: &str,
        reason: &str,
    ) -> Result<(), StateError> {
        self.put(
            run,
            &format!("{REFUSAL}{blueprint}"),
            reason,
            Expect::Absent,
        )
        .await?;
        Ok(())
    }

    /// The run's refusals per blueprint: counts from `counters`, first reasons from the run's
    /// records.
    pub async fn refusals(
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
                    .get(&refusals_counter(&blueprint))
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

    fn partial_prefix(key: &RecordKey) -> String {
        format!("partial/{}/{}/{}/", key.org, key.scope, key.resource)
    }

    /// The entries of one part of an unfinished list (job `job`'s), in chunks that stay far
    /// below DynamoDB's item size; the job that finishes the list merges them.
    pub async fn put_partial(
        &self,
        run: &str,
        key: &RecordKey,
        job: &str,
        entries: &[Entry],
    ) -> Result<(), StateError> {
        let prefix = Self::partial_prefix(key);
        for (chunk, entries) in entries.chunks(PARTIAL_CHUNK).enumerate() {
            let item = format!("{prefix}{job}#{chunk:04}");
            let value = serde_json::to_string(entries).unwrap_or_default();
            self.put(run, &item, &value, Expect::Anything).await?;
        }
        Ok(())
    }

    /// The partial records of `key`'s list, in order: each item with its entries.
    pub async fn partials(
        &self,
        run: &str,
        key: &RecordKey,
    ) -> Result<Vec<(String, Vec<Entry>)>, StateError> {
        let partition = run_partition(run);
        let listed = self
            .state
            .list(&partition, &Self::partial_prefix(key), self.clock.now())
            .await?;
        listed
            .into_iter()
            .map(|(item, record)| {
                let entries =
                    serde_json::from_str(&record.value).map_err(|e| StateError::Malformed {
                        partition: partition.clone(),
                        item: item.clone(),
                        reason: e.to_string(),
                    })?;
                Ok((item, entries))
            })
            .collect()
    }

    /// Removes a partial record merged into its resource's record.
    pub async fn remove_partial(&self, run: &str, item: &str) -> Result<(), StateError> {
        self.state.delete(Key::new(&run_partition(run), item)).await
    }

    /// The repositories page `page` of `org` listed.
    pub async fn note_visited(
        &self,
        run: &str,
        org: &str,
        page: u32,
        names: &[String],
    ) -> Result<(), StateError> {
        let value = serde_json::to_string(names).unwrap_or_default();
        self.put(
            run,
            &format!("{VISITED}{org}/{page:06}"),
            &value,
            Expect::Anything,
        )
        .await?;
        Ok(())
    }

    /// The repositories the run visited, per organization.
    pub async fn visited(&self, run: &str) -> Result<HashMap<String, HashSet<String>>, StateError> {
        let mut visited: HashMap<String, HashSet<String>> = HashMap::new();
        let listed = self
            .state
            .list(&run_partition(run), VISITED, self.clock.now())
            .await?;
        for (item, record) in listed {
            let Some(org) = item.split('/').nth(1) else {
                continue;
            };
            let names: Vec<String> = serde_json::from_str(&record.value).unwrap_or_default();
            visited.entry(org.to_owned()).or_default().extend(names);
        }
        Ok(visited)
    }

    /// Stores a finished run's summary (`Expect::Absent`: unless one is stored already).
    pub async fn store_summary(
        &self,
        summary: &RunSummary,
        expect: Expect,
    ) -> Result<(), StateError> {
        let now = self.clock.now();
        self.state
            .put(
                Key::new(RUNS, &format!("run/{}", summary.run)),
                &serde_json::to_string(summary).unwrap_or_default(),
                expect,
                Some(expiry(now, RUN_RECORDS_TTL)),
                now,
            )
            .await?;
        Ok(())
    }

    /// The summary of a finished run.
    pub async fn summary(&self, run: &str) -> Result<Option<RunSummary>, StateError> {
        let record = self
            .state
            .get(Key::new(RUNS, &format!("run/{run}")), self.clock.now())
            .await?;
        Ok(record.and_then(|r| serde_json::from_str(&r.value).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::state::InMemoryStateStore;

    fn ledger() -> RunLedger {
        let clock = Arc::new(ManualClock::new(
            DateTime::parse_from_rfc3339("2026-12-03T08:00:00Z")
                .map(|t| t.with_timezone(&Utc))
                .expect("time"),
        ));
        RunLedger::new(Arc::new(InMemoryStateStore::default()), clock)
    }

    #[tokio::test]
    async fn claims_are_taken_once() {
        let ledger = ledger();
        assert!(ledger.mark_done("r1", "org/repo#0").await.expect("done"));
        assert!(!ledger.mark_done("r1", "org/repo#0").await.expect("again"));
        assert!(
            ledger
                .mark_done("r2", "org/repo#0")
                .await
                .expect("other run")
        );
        assert!(ledger.claim_finish("r1").await.expect("finish"));
        assert!(!ledger.claim_finish("r1").await.expect("finish again"));
    }

    #[tokio::test]
    async fn partial_records_come_back_in_order_and_go() {
        let ledger = ledger();
        let key = RecordKey {
            org: "acme".into(),
            scope: "api".into(),
            resource: "0-pull-request".into(),
        };
        let entries: Vec<Entry> = (0..2_500)
            .map(|n| Entry {
                b: "pr".into(),
                i: n.to_string(),
                h: "h".into(),
                t: n,
            })
            .collect();
        ledger
            .put_partial("r1", &key, "acme/api#1", &entries)
            .await
            .expect("put");
        let parts = ledger.partials("r1", &key).await.expect("list");
        assert_eq!(parts.len(), 3, "2,500 entries in chunks of 1,000");
        let back: Vec<Entry> = parts.iter().flat_map(|(_, e)| e.clone()).collect();
        assert_eq!(back, entries);
        for (item, _) in &parts {
            ledger.remove_partial("r1", item).await.expect("remove");
        }
        assert!(ledger.partials("r1", &key).await.expect("list").is_empty());
    }

    #[tokio::test]
    async fn first_refusal_reason_stays_and_counts_by_blueprint() {
        let ledger = ledger();
        ledger
            .note_first_refusal("r1", "my bp", "not_found: first")
            .await
            .expect("note");
        let counter = refusals_counter("my bp");
        assert_eq!(counter, "refusals-my_bp");
        ledger
            .note_first_refusal("r1", "my bp", "not_found: second")
            .await
            .expect("note again");
        let counters = ledger.add("r1", &[(&counter, 2)]).await.expect("add");
        let refusals = ledger.refusals("r1", &counters).await;
        assert_eq!(
            refusals.get("my bp"),
            Some(&Refusals {
                count: 2,
                first_reason: "not_found: first".into()
            })
        );
    }

    #[tokio::test]
    async fn visited_repositories_union_per_organization() {
        let ledger = ledger();
        ledger
            .note_visited("r1", "acme", 0, &["a".into(), "b".into()])
            .await
            .expect("page 0");
        ledger
            .note_visited("r1", "acme", 1, &["c".into()])
            .await
            .expect("page 1");
        ledger
            .note_visited("r1", "other", 0, &["a".into()])
            .await
            .expect("other org");
        let visited = ledger.visited("r1").await.expect("visited");
        assert_eq!(visited["acme"].len(), 3);
        assert_eq!(visited["other"].len(), 1);
        assert!(ledger.visited("r2").await.expect("none").is_empty());
    }

    #[tokio::test]
    async fn a_summary_is_not_overwritten_when_absent_is_expected() {
        let ledger = ledger();
        let now = ledger.clock.now();
        let summary = RunSummary {
            run: "r1".into(),
            status: COMPLETED.into(),
            reason: None,
            started_at: now,
            ended_at: now,
            counters: BTreeMap::new(),
            cleanup: None,
            refused: BTreeMap::new(),
            missing_permissions: Vec::new(),
            trigger: None,
        };
        ledger
            .store_summary(&summary, Expect::Anything)
            .await
            .expect("store");
        let superseded = RunSummary {
            status: FAILED.into(),
            ..summary.clone()
        };
        ledger
            .store_summary(&superseded, Expect::Absent)
            .await
            .expect("kept");
        assert_eq!(ledger.summary("r1").await.expect("read"), Some(summary));
        assert!(RunLedger::records_kept(now, now));
        assert!(!RunLedger::records_kept(
            now,
            now + chrono::Duration::days(3)
        ));
    }
}
