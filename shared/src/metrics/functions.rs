//! What each function emits at the end of an invocation, built from the outcome types it already
//! has: the webhook's answer, the worker's batch outcome (with each message's envelope head for
//! its kind and queue lag), the resync's finished runs and schedule tick. Pure: the caller
//! writes the sets with [`super::Metrics::emit`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::emf::{MetricSet, Unit};
use super::*;
use crate::live::batch::{BatchOutcome, Outcome, QueuedEvent, RetryReason};
use crate::resync::RunSummary;

/// What became of one delivery, as the metric's `Outcome`: `queued`, `ignored` (also a ping) or
/// `rejected_<status>`.
pub fn delivery_outcome(status: u16, body: &str) -> String {
    #[derive(Deserialize)]
    struct Answer<'a> {
        #[serde(borrow)]
        status: Option<&'a str>,
    }
    let said = serde_json::from_str::<Answer>(body)
        .ok()
        .and_then(|answer| answer.status);
    match (status, said) {
        (202, Some("queued")) => "queued".to_owned(),
        (200..=299, _) => "ignored".to_owned(),
        (status, _) => format!("rejected_{status}"),
    }
}

/// The webhook's line for one delivery answered `status` with `body`: `Deliveries` by outcome
/// (and in all), `SignatureFailures` (a 401 is only ever a signature refusal).
pub fn webhook(metrics: &Metrics, status: u16, body: &str) -> MetricSet {
    MetricSet::new(Utc::now())
        .dimension(FUNCTION, metrics.function())
        .dimension(OUTCOME, &delivery_outcome(status, body))
        .rollup(1)
        .count(DELIVERIES, 1)
        .count(SIGNATURE_FAILURES, u64::from(status == 401))
}

/// The part of an envelope the metrics read.
#[derive(Deserialize)]
struct Head {
    event: String,
    received_at: String,
}

/// The kind of an event, as the `Kind` dimension: its GitHub event name, `unreadable` for a
/// message that is not an envelope.
fn kind_of(head: Option<&Head>) -> String {
    match head {
        Some(head)
            if !head.event.is_empty()
                && head.event.len() <= 64
                && head
                    .event
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_') =>
        {
            head.event.clone()
        }
        Some(_) => "unknown".to_owned(),
        None => "unreadable".to_owned(),
    }
}

/// The worker's lines for one batch that started at `started`: one per event kind (applied,
/// retried, failed for good, queue lag of each message), then one for the invocation (the
/// lowest GitHub budget seen, Port refusals), with what the core `noted`.
pub fn worker(
    metrics: &Metrics,
    started: DateTime<Utc>,
    messages: &[QueuedEvent],
    outcome: &BatchOutcome,
    noted: &Noted,
) -> Vec<MetricSet> {
    let mut by_kind: BTreeMap<String, MetricSet> = BTreeMap::new();
    for message in messages {
        let head: Option<Head> = serde_json::from_str(&message.body).ok();
        let kind = kind_of(head.as_ref());
        let set = by_kind.entry(kind.clone()).or_insert_with(|| {
            MetricSet::new(started)
                .dimension(FUNCTION, metrics.function())
                .dimension(KIND, &kind)
                .rollup(1)
                .count(EVENTS_APPLIED, 0)
                .count(EVENTS_RETRIED, 0)
                .count(EVENTS_FAILED, 0)
        });
        let received = head
            .as_ref()
            .and_then(|h| DateTime::parse_from_rfc3339(&h.received_at).ok());
        if let Some(received) = received {
            let lag = started.signed_duration_since(received).num_milliseconds();
            set.push(QUEUE_LAG, Unit::Milliseconds, lag.max(0) as f64);
        }
        let name = match outcome.get(&message.message_id) {
            Some(Outcome::Applied(_)) => EVENTS_APPLIED,
            Some(Outcome::DeadLettered { .. })
            | Some(Outcome::Retry {
                reason: RetryReason::NotKept(_),
                ..
            }) => EVENTS_FAILED,
            Some(Outcome::Retry { .. }) | None => EVENTS_RETRIED,
        };
        add(set, name, 1);
    }
    let mut sets: Vec<MetricSet> = by_kind.into_values().collect();
    let mut invocation = MetricSet::new(started)
        .dimension(FUNCTION, metrics.function())
        .count(PORT_REFUSALS, noted.port_refusals);
    if let Some(remaining) = noted.lowest_rate_limit_remaining {
        invocation = invocation.count(GITHUB_RATE_LIMIT_REMAINING, remaining);
    }
    sets.push(invocation);
    sets
}

/// Adds to a count declared with one value (counts stay one number, not an array).
fn add(set: &mut MetricSet, name: &'static str, delta: u64) {
    set.add_to_first(name, delta as f64);
}

/// The resync's lines for one invocation: each run that ended (runs by outcome with their
/// duration, entities per kind, deletions), the lowest GitHub budget seen, and on a schedule
/// tick whether a completed run is overdue.
pub fn resync(
    metrics: &Metrics,
    at: DateTime<Utc>,
    noted: &Noted,
    overdue: Option<bool>,
) -> Vec<MetricSet> {
    let mut sets = Vec::new();
    for run in &noted.runs {
        sets.extend(run_sets(metrics, run));
    }
    let mut invocation = MetricSet::new(at).dimension(FUNCTION, metrics.function());
    if let Some(remaining) = noted.lowest_rate_limit_remaining {
        invocation = invocation.count(GITHUB_RATE_LIMIT_REMAINING, remaining);
    }
    if let Some(overdue) = overdue {
        invocation = invocation.value(RESYNC_OVERDUE, Unit::None, f64::from(u8::from(overdue)));
    }
    if !invocation.is_empty() {
        sets.push(invocation);
    }
    sets
}

/// The counters of a run that give per-kind figures: `entities-<kind>` and so on.
const PER_KIND: [(&str, &str); 4] = [
    ("entities-", RESYNC_ENTITIES_SEEN),
    ("upserted-", RESYNC_ENTITIES_UPSERTED),
    ("unchanged-", RESYNC_ENTITIES_UNCHANGED),
    ("refused-", RESYNC_ENTITIES_REFUSED),
];

fn run_sets(metrics: &Metrics, run: &RunSummary) -> Vec<MetricSet> {
    let at = run.ended_at;
    let duration = run
        .ended_at
        .signed_duration_since(run.started_at)
        .num_milliseconds()
        .max(0) as f64
        / 1_000.0;
    let mut sets = vec![
        MetricSet::new(at)
            .dimension(FUNCTION, metrics.function())
            .dimension(OUTCOME, &run.status)
            .rollup(1)
            .count(RESYNC_RUNS, 1)
            .value(RESYNC_DURATION, Unit::Seconds, duration),
    ];
    let mut kinds: BTreeMap<&str, MetricSet> = BTreeMap::new();
    for (counter, value) in &run.counters {
        for (prefix, name) in PER_KIND {
            let Some(kind) = counter.strip_prefix(prefix) else {
                continue;
            };
            let set = kinds.entry(kind).or_insert_with(|| {
                PER_KIND.iter().fold(
                    MetricSet::new(at)
                        .dimension(FUNCTION, metrics.function())
                        .dimension(KIND, kind)
                        .rollup(1),
                    |set, (_, name)| set.count(name, 0),
                )
            });
            add(set, name, u64::try_from(*value).unwrap_or(0));
        }
    }
    sets.extend(kinds.into_values());
    let deleted = run.cleanup.as_ref().map_or(0, |cleanup| cleanup.deleted);
    sets.push(
        MetricSet::new(at)
            .dimension(FUNCTION, metrics.function())
            .count(RESYNC_ENTITIES_DELETED, deleted as u64),
    );
    sets
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::config::Env;
    use serde_json::{Value, json};

    fn metrics(function: &'static str) -> Metrics {
        Metrics::from_env(&Env::from_pairs([("METRICS_NAMESPACE", "Test")]), function)
    }

    fn objects(metrics: &Metrics, sets: &[MetricSet]) -> Vec<Value> {
        metrics
            .lines(sets)
            .iter()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// Every metric a function emits is in [`METRICS`], for that function, with its unit and one
    /// of its dimension sets.
    fn assert_declared(objects: &[Value]) {
        for object in objects {
            let directive = &object["_aws"]["CloudWatchMetrics"][0];
            let function = object[FUNCTION].as_str().unwrap();
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap();
                let spec = METRICS.iter().find(|m| m.name == name).unwrap();
                assert!(spec.functions.contains(&function), "{name}");
                assert_eq!(metric["Unit"], spec.unit.as_str());
                assert_eq!(directive["Dimensions"], json!(spec.dimensions), "{name}");
            }
        }
    }

    #[test]
    fn each_delivery_is_one_line_by_outcome() {
        let metrics = metrics("webhook");
        let cases = [
            (202, r#"{"ok":true,"status":"queued"}"#, "queued", 0.0),
            (202, r#"{"ok":true,"status":"ignored"}"#, "ignored", 0.0),
            (200, r#"{"ok":true,"status":"pong"}"#, "ignored", 0.0),
            (401, r#"{"ok":false}"#, "rejected_401", 1.0),
            (503, "not json", "rejected_503", 0.0),
        ];
        for (status, body, outcome, signature) in cases {
            let objects = objects(&metrics, &[webhook(&metrics, status, body)]);
            assert_eq!(objects.len(), 1);
            assert_declared(&objects);
            assert_eq!(objects[0][OUTCOME], outcome);
            assert_eq!(objects[0][DELIVERIES], 1.0);
            assert_eq!(objects[0][SIGNATURE_FAILURES], signature);
        }
    }

    fn message(id: &str, body: String) -> QueuedEvent {
        QueuedEvent {
            message_id: id.to_owned(),
            group_id: None,
            body,
        }
    }

    #[test]
    fn a_batch_is_one_line_per_kind_and_one_for_the_invocation() {
        let metrics = metrics("worker");
        let started = DateTime::parse_from_rfc3339("2026-11-24T00:00:10Z")
            .unwrap()
            .with_timezone(&Utc);
        let envelope = |event: &str, at: &str| {
            json!({"version": 1, "event": event, "delivery_id": "d", "received_at": at,
                "payload": {"large": "x"}})
            .to_string()
        };
        let messages = vec![
            message("a", envelope("repository", "2026-11-24T00:00:08Z")),
            message("b", envelope("repository", "2026-11-24T00:00:09.500Z")),
            message("c", envelope("pull_request", "2026-11-24T00:00:00Z")),
            message("d", "not an envelope".to_owned()),
            message("e", envelope("pull_request", "2026-11-24T00:00:00Z")),
        ];
        let retry = |reason| Outcome::Retry {
            reason,
            after: None,
        };
        let outcome = BatchOutcome {
            messages: vec![
                ("a".into(), Outcome::Applied(Default::default())),
                ("b".into(), Outcome::Applied(Default::default())),
                ("c".into(), Outcome::DeadLettered { reason: "r".into() }),
                ("d".into(), retry(RetryReason::NotKept("r".into()))),
                ("e".into(), retry(RetryReason::GroupBlocked)),
            ],
            out_of_time: false,
        };
        let noted = Noted {
            lowest_rate_limit_remaining: Some(4_321),
            port_refusals: 2,
            runs: Vec::new(),
        };
        let objects = objects(
            &metrics,
            &worker(&metrics, started, &messages, &outcome, &noted),
        );
        assert_eq!(objects.len(), 4, "{objects:#?}");
        assert_declared(&objects);
        let kind = |name: &str| objects.iter().find(|o| o[KIND] == name).unwrap();
        let repository = kind("repository");
        assert_eq!(repository[EVENTS_APPLIED], 2.0);
        assert_eq!(repository[EVENTS_RETRIED], 0.0);
        assert_eq!(repository[EVENTS_FAILED], 0.0);
        assert_eq!(repository[QUEUE_LAG], json!([2_000.0, 500.0]));
        let pull_request = kind("pull_request");
        assert_eq!(pull_request[EVENTS_FAILED], 1.0);
        assert_eq!(pull_request[EVENTS_RETRIED], 1.0);
        assert_eq!(pull_request[QUEUE_LAG], json!([10_000.0, 10_000.0]));
        let unreadable = kind("unreadable");
        assert_eq!(unreadable[EVENTS_FAILED], 1.0);
        assert!(unreadable.get(QUEUE_LAG).is_none());
        let invocation = objects.last().unwrap();
        assert!(invocation.get(KIND).is_none());
        assert_eq!(invocation[GITHUB_RATE_LIMIT_REMAINING], 4_321.0);
        assert_eq!(invocation[PORT_REFUSALS], 2.0);
    }

    #[test]
    fn a_finished_run_gives_its_outcome_duration_and_kinds() {
        let metrics = metrics("resync");
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let counters: BTreeMap<String, i64> = [
            ("entities-repository", 5),
            ("upserted-repository", 3),
            ("unchanged-repository", 2),
            ("entities-issue", 4),
            ("refused-issue", 1),
            ("queued", 7),
            ("unchanged", 2),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let run = RunSummary {
            run: "r1".into(),
            status: "completed_with_errors".into(),
            reason: None,
            started_at: at("2026-11-24T00:00:00Z"),
            ended_at: at("2026-11-24T00:01:30.500Z"),
            counters,
            cleanup: Some(crate::resync::CleanupReport {
                deleted: 6,
                ..Default::default()
            }),
            refused: BTreeMap::new(),
            missing_permissions: Vec::new(),
            trigger: None,
        };
        let noted = Noted {
            lowest_rate_limit_remaining: Some(12),
            port_refusals: 0,
            runs: vec![run],
        };
        let sets = resync(&metrics, Utc::now(), &noted, Some(true));
        let objects = objects(&metrics, &sets);
        assert_declared(&objects);
        assert_eq!(objects.len(), 5, "{objects:#?}");
        assert_eq!(objects[0][OUTCOME], "completed_with_errors");
        assert_eq!(objects[0][RESYNC_RUNS], 1.0);
        assert_eq!(objects[0][RESYNC_DURATION], 90.5);
        let kind = |name: &str| objects.iter().find(|o| o[KIND] == name).unwrap();
        assert_eq!(kind("repository")[RESYNC_ENTITIES_SEEN], 5.0);
        assert_eq!(kind("repository")[RESYNC_ENTITIES_UPSERTED], 3.0);
        assert_eq!(kind("repository")[RESYNC_ENTITIES_UNCHANGED], 2.0);
        assert_eq!(kind("repository")[RESYNC_ENTITIES_REFUSED], 0.0);
        assert_eq!(kind("issue")[RESYNC_ENTITIES_REFUSED], 1.0);
        assert_eq!(objects[3][RESYNC_ENTITIES_DELETED], 6.0);
        assert_eq!(objects[4][GITHUB_RATE_LIMIT_REMAINING], 12.0);
        assert_eq!(objects[4][RESYNC_OVERDUE], 1.0);
        // A batch of jobs that ended nothing and saw no GitHub answer says nothing.
        assert!(resync(&metrics, Utc::now(), &Noted::default(), None).is_empty());
    }
}
