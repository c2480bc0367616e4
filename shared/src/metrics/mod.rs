//! Metrics as CloudWatch Embedded Metric Format lines on standard output: the functions' log
//! stream carries them and CloudWatch extracts the metrics, so no API call, no IAM permission and
//! no latency is added. This module owns the metric names ([`METRICS`], mirrored in
//! `infra/metrics.json` for the template test), the switch ([`Metrics::from_env`]: on in Lambda,
//! off elsewhere unless `METRICS_ENABLED=true`, so `port-github serve`/`resync` never print EMF to a
//! terminal), the process tally the core notes into while an invocation runs (lowest GitHub
//! rate-limit remaining, Port refusals, finished resync runs) and the writing: each line is
//! written whole under the stdout lock, the lock the JSON log lines are written under too
//! (`tracing_subscriber`'s writer is `std::io::stdout`), so the two never interleave; a write
//! failure is ignored. The functions emit once at the end of an invocation ([`functions`]): the
//! webhook one line per delivery, the worker one line per event kind of the batch plus one, the
//! resync one line per kind of a run that ended plus its run line. "No completed resync within
//! twice the interval" is [`RESYNC_OVERDUE`], 1 or 0 on every schedule tick
//! (`crate::resync::overdue`): the resync knows its interval and its last completed run, so the
//! alarm is a plain threshold on the metric's Maximum, with missing data (no ticks: the schedule
//! or the function is broken) treated as breaching, and needs no metric math or template
//! arithmetic on the interval.

pub mod emf;
pub mod functions;

use std::io::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::config::Env;
use crate::resync::RunSummary;
pub use emf::{MetricSet, Unit};

/// The namespace when `METRICS_NAMESPACE` is unset.
pub const DEFAULT_NAMESPACE: &str = "PortGitHub";

/// Dimension names.
pub const FUNCTION: &str = "Function";
pub const KIND: &str = "Kind";
pub const OUTCOME: &str = "Outcome";

/// Webhook deliveries, by outcome (`queued`, `ignored`, `rejected_<status>`).
pub const DELIVERIES: &str = "Deliveries";
/// Deliveries refused for their signature (a wrong or rotated-away webhook secret, or forgeries).
pub const SIGNATURE_FAILURES: &str = "SignatureFailures";
/// Worker messages applied, handed back for another delivery, failed for good (dead letters).
pub const EVENTS_APPLIED: &str = "EventsApplied";
pub const EVENTS_RETRIED: &str = "EventsRetried";
pub const EVENTS_FAILED: &str = "EventsFailed";
/// From the webhook's acceptance of an event to the worker's batch start.
pub const QUEUE_LAG: &str = "QueueLag";
/// The lowest `x-ratelimit-remaining` GitHub reported during the invocation.
pub const GITHUB_RATE_LIMIT_REMAINING: &str = "GitHubRateLimitRemaining";
/// Entities Port refused for good (live events).
pub const PORT_REFUSALS: &str = "PortRefusals";
/// Resync runs that ended, by outcome (`completed`, `completed_with_errors`, `failed`), and how long.
pub const RESYNC_RUNS: &str = "ResyncRuns";
pub const RESYNC_DURATION: &str = "ResyncDuration";
/// Per kind, of a run that ended: entities produced, sent, unchanged (not sent), refused.
pub const RESYNC_ENTITIES_SEEN: &str = "ResyncEntitiesSeen";
pub const RESYNC_ENTITIES_UPSERTED: &str = "ResyncEntitiesUpserted";
pub const RESYNC_ENTITIES_UNCHANGED: &str = "ResyncEntitiesUnchanged";
pub const RESYNC_ENTITIES_REFUSED: &str = "ResyncEntitiesRefused";
/// Stale entities the run's cleanup deleted (the cleanup works per blueprint, so no kind).
pub const RESYNC_ENTITIES_DELETED: &str = "ResyncEntitiesDeleted";
/// 1 when no run completed within twice the interval (see the module comment), else 0.
pub const RESYNC_OVERDUE: &str = "ResyncOverdue";

/// One metric the code emits: its unit, the function that emits it, and its dimension sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricSpec {
    pub name: &'static str,
    pub unit: Unit,
    pub functions: &'static [&'static str],
    pub dimensions: &'static [&'static [&'static str]],
}

const BY_OUTCOME: &[&[&str]] = &[&[FUNCTION, OUTCOME], &[FUNCTION]];
const BY_KIND: &[&[&str]] = &[&[FUNCTION, KIND], &[FUNCTION]];
const BY_FUNCTION: &[&[&str]] = &[&[FUNCTION]];

const fn spec(
    name: &'static str,
    unit: Unit,
    functions: &'static [&'static str],
    dimensions: &'static [&'static [&'static str]],
) -> MetricSpec {
    MetricSpec {
        name,
        unit,
        functions,
        dimensions,
    }
}

/// Every metric the functions emit. `infra/metrics.json` is the same list (a test keeps them
/// equal) for the template test, which checks that dashboards and alarms use only these.
pub const METRICS: &[MetricSpec] = &[
    spec(DELIVERIES, Unit::Count, &["webhook"], BY_OUTCOME),
    spec(SIGNATURE_FAILURES, Unit::Count, &["webhook"], BY_OUTCOME),
    spec(EVENTS_APPLIED, Unit::Count, &["worker"], BY_KIND),
    spec(EVENTS_RETRIED, Unit::Count, &["worker"], BY_KIND),
    spec(EVENTS_FAILED, Unit::Count, &["worker"], BY_KIND),
    spec(QUEUE_LAG, Unit::Milliseconds, &["worker"], BY_KIND),
    spec(
        GITHUB_RATE_LIMIT_REMAINING,
        Unit::Count,
        &["worker", "resync"],
        BY_FUNCTION,
    ),
    spec(PORT_REFUSALS, Unit::Count, &["worker"], BY_FUNCTION),
    spec(RESYNC_RUNS, Unit::Count, &["resync"], BY_OUTCOME),
    spec(RESYNC_DURATION, Unit::Seconds, &["resync"], BY_OUTCOME),
    spec(RESYNC_ENTITIES_SEEN, Unit::Count, &["resync"], BY_KIND),
    spec(RESYNC_ENTITIES_UPSERTED, Unit::Count, &["resync"], BY_KIND),
    spec(RESYNC_ENTITIES_UNCHANGED, Unit::Count, &["resync"], BY_KIND),
    spec(RESYNC_ENTITIES_REFUSED, Unit::Count, &["resync"], BY_KIND),
    spec(
        RESYNC_ENTITIES_DELETED,
        Unit::Count,
        &["resync"],
        BY_FUNCTION,
    ),
    spec(RESYNC_OVERDUE, Unit::None, &["resync"], BY_FUNCTION),
];

/// Where a function's metrics go: its namespace and name, and whether it emits at all.
#[derive(Debug, Clone)]
pub struct Metrics {
    namespace: String,
    function: &'static str,
    enabled: bool,
}

impl Metrics {
    /// `METRICS_NAMESPACE` (default [`DEFAULT_NAMESPACE`]); on when `METRICS_ENABLED` is `true`
    /// or `1`, off when it is `false` or `0`, otherwise on only in Lambda
    /// (`AWS_LAMBDA_FUNCTION_NAME` set). Turning it on also turns on the core's notes.
    pub fn from_env(env: &Env, function: &'static str) -> Self {
        let enabled = match env.get("METRICS_ENABLED").map(str::to_ascii_lowercase) {
            Some(flag) if flag == "true" || flag == "1" => true,
            Some(flag) if flag == "false" || flag == "0" => false,
            _ => env.get("AWS_LAMBDA_FUNCTION_NAME").is_some(),
        };
        let namespace = env
            .get("METRICS_NAMESPACE")
            .unwrap_or(DEFAULT_NAMESPACE)
            .chars()
            .take(255)
            .collect();
        NOTING.store(enabled, Ordering::Relaxed);
        Self {
            namespace,
            function,
            enabled,
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The `Function` dimension's value.
    pub fn function(&self) -> &'static str {
        self.function
    }

    /// The lines `sets` render to (empty sets render nothing).
    pub fn lines(&self, sets: &[MetricSet]) -> Vec<String> {
        sets.iter()
            .flat_map(|set| set.render(&self.namespace))
            .map(|object| object.to_string())
            .collect()
    }

    /// Writes `sets` to standard output, each line whole under the stdout lock; does nothing
    /// when off. A write failure is ignored: metrics never fail an invocation.
    pub fn emit(&self, sets: &[MetricSet]) {
        if !self.enabled {
            return;
        }
        let lines = self.lines(sets);
        if lines.is_empty() {
            return;
        }
        let mut out = std::io::stdout().lock();
        for line in lines {
            let mut bytes = line.into_bytes();
            bytes.push(b'\n');
            if out.write_all(&bytes).is_err() {
                break;
            }
        }
        let _ = out.flush();
    }
}

/// The time metrics are stamped with (the adapters need no clock crate of their own).
pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

/// What the core noted during an invocation ([`take_noted`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Noted {
    pub lowest_rate_limit_remaining: Option<u64>,
    pub port_refusals: u64,
    /// Resync runs that ended, in order (at most [`MAX_NOTED_RUNS`]).
    pub runs: Vec<RunSummary>,
}

/// Runs kept between two [`take_noted`] (an invocation ends at most one run in practice).
pub const MAX_NOTED_RUNS: usize = 16;

static NOTING: AtomicBool = AtomicBool::new(false);
static LOWEST_REMAINING: AtomicU64 = AtomicU64::new(u64::MAX);
static PORT_REFUSALS_NOTED: AtomicU64 = AtomicU64::new(0);
static RUNS: Mutex<Vec<RunSummary>> = Mutex::new(Vec::new());

/// GitHub reported `remaining` requests left (kept: the lowest). A no-op unless metrics are on.
pub fn note_rate_limit_remaining(remaining: u64) {
    if NOTING.load(Ordering::Relaxed) {
        LOWEST_REMAINING.fetch_min(remaining, Ordering::Relaxed);
    }
}

/// Port refused `count` entities of a live event for good. A no-op unless metrics are on.
pub fn note_port_refusals(count: usize) {
    if NOTING.load(Ordering::Relaxed) {
        PORT_REFUSALS_NOTED.fetch_add(count as u64, Ordering::Relaxed);
    }
}

/// A resync run ended with this summary. A no-op unless metrics are on.
pub fn note_run_finished(summary: &RunSummary) {
    if !NOTING.load(Ordering::Relaxed) {
        return;
    }
    let mut runs = RUNS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if runs.len() >= MAX_NOTED_RUNS {
        runs.remove(0);
    }
    runs.push(summary.clone());
}

/// What was noted since the last call, leaving nothing (one Lambda invocation runs at a time in
/// a process, so this is the invocation's).
pub fn take_noted() -> Noted {
    let lowest = LOWEST_REMAINING.swap(u64::MAX, Ordering::Relaxed);
    let runs = std::mem::take(&mut *RUNS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
    Noted {
        lowest_rate_limit_remaining: (lowest != u64::MAX).then_some(lowest),
        port_refusals: PORT_REFUSALS_NOTED.swap(0, Ordering::Relaxed),
        runs,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::Value;

    #[test]
    fn off_outside_lambda_unless_asked_and_the_namespace_defaults() {
        let local = Metrics::from_env(&Env::from_pairs([("RUST_LOG", "info")]), "worker");
        assert!(!local.enabled());
        assert_eq!(local.namespace(), DEFAULT_NAMESPACE);
        let lambda = Metrics::from_env(
            &Env::from_pairs([
                ("AWS_LAMBDA_FUNCTION_NAME", "stack-worker"),
                ("METRICS_NAMESPACE", "Team/GitHub"),
            ]),
            "worker",
        );
        assert!(lambda.enabled());
        assert_eq!(lambda.namespace(), "Team/GitHub");
        assert_eq!(lambda.function(), "worker");
        let asked = Metrics::from_env(&Env::from_pairs([("METRICS_ENABLED", "TRUE")]), "resync");
        assert!(asked.enabled());
        let refused = Metrics::from_env(
            &Env::from_pairs([("AWS_LAMBDA_FUNCTION_NAME", "f"), ("METRICS_ENABLED", "0")]),
            "resync",
        );
        assert!(!refused.enabled());
    }

    #[test]
    fn the_names_table_is_the_infra_data_file() {
        let file: Value =
            serde_json::from_str(include_str!("../../../infra/metrics.json")).unwrap();
        assert_eq!(file["defaultNamespace"], DEFAULT_NAMESPACE);
        let listed = file["metrics"].as_array().unwrap();
        assert_eq!(listed.len(), METRICS.len(), "{file}");
        for (spec, entry) in METRICS.iter().zip(listed) {
            assert_eq!(entry["name"], spec.name);
            assert_eq!(entry["unit"], spec.unit.as_str(), "{}", spec.name);
            assert_eq!(entry["functions"], serde_json::json!(spec.functions));
            assert_eq!(entry["dimensions"], serde_json::json!(spec.dimensions));
        }
        let mut names: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), METRICS.len(), "no name twice");
    }

    #[test]
    fn lines_are_one_json_object_each() {
        let metrics = Metrics::from_env(&Env::from_pairs([("METRICS_ENABLED", "1")]), "webhook");
        let set = MetricSet::new(chrono::Utc::now())
            .dimension(FUNCTION, "webhook")
            .count(DELIVERIES, 1);
        let lines = metrics.lines(&[set, MetricSet::new(chrono::Utc::now())]);
        assert_eq!(lines.len(), 1);
        assert!(!lines[0].contains('\n'));
        let object: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(object[DELIVERIES], 1.0);
    }
}
