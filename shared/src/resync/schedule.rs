//! When a tick of the schedule starts a run. The EventBridge schedule ticks every minute
//! ([`TICK`]), a cheap check; a tick starts a run when one is due: no run has ever completed (a
//! new stack syncs within minutes of its deploy, or of its secrets being filled in, and a failed
//! first attempt is tried again after [`FIRST_RUN_RETRY`]), or the last run started at least the
//! interval (`RESYNC_INTERVAL_MINUTES`) ago; or when Port asks for one (the "Resync" button, an
//! edited mapping: `requests`). A run in progress still holds the lease, so a tick during it is
//! skipped as before. What the decision reads lives in the state table, partition `resync`:
//! `last-start` (the last run that took the lease, when, and the fingerprint of its mapping),
//! `last-completed` (the last run that completed, with or without refused entities) and
//! `last-request` (the last resync request a run was started for); none expires.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::requests::{self, HandledRequest, Trigger};
use super::{Resync, ResyncError, StartOutcome};
use crate::state::{Expect, Key, StateError, StateStore};

/// How often the deployed schedule ticks (the templates' `rate(1 minute)`).
pub const TICK: Duration = Duration::from_secs(60);
/// Until a run has completed, how long after a started attempt the next one is due.
pub const FIRST_RUN_RETRY: Duration = Duration::from_secs(15 * 60);

pub(super) const PARTITION: &str = "resync";
const LAST_START: &str = "last-start";
pub(super) const LAST_COMPLETED: &str = "last-completed";
const LAST_REQUEST: &str = "last-request";

/// One run and when it started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunMark {
    pub run: String,
    pub started_at: DateTime<Utc>,
    /// The fingerprint of the mapping the run started with (in `last-start`; absent in items
    /// written before it was recorded, and when the run could not read its mapping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping: Option<u64>,
}

/// What a tick decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    Now,
    /// Nothing to start before this time.
    At(DateTime<Utc>),
}

/// What a tick of the schedule did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TickOutcome {
    /// No run is due before `due_at`.
    NotDue { due_at: DateTime<Utc> },
    /// A run was due: what starting it did (started, or skipped for a run in progress).
    Start(StartOutcome),
}

impl Resync {
    /// A tick of the schedule: starts a run when one is due ([`due`]) or Port asks for one
    /// (`requests`), else does nothing. The reason is logged, answered and kept in the run's
    /// records.
    pub async fn tick(&self) -> Result<TickOutcome, ResyncError> {
        let now = self.clock.now();
        let state = self.state.as_ref();
        let last_start: Option<RunMark> = read(state, LAST_START, now).await?;
        let last_completed: Option<RunMark> = read(state, LAST_COMPLETED, now).await?;
        let due = due(
            last_start.as_ref(),
            last_completed.as_ref(),
            self.settings.interval,
            now,
        );
        let view = self.look_at_port(due == Due::Now).await;
        let handled: Option<HandledRequest> = match view.request {
            Some(_) => read(state, LAST_REQUEST, now).await?,
            None => None,
        };
        let pending =
            requests::pending_request(view.request, handled.as_ref(), last_start.as_ref());
        let changed = requests::mapping_changed(view.mapping, last_start.as_ref());
        let Some(trigger) = requests::decide(&due, pending, changed) else {
            let due_at = match due {
                Due::At(at) => at,
                Due::Now => now,
            };
            tracing::debug!(%due_at, "no resync due yet");
            return Ok(TickOutcome::NotDue { due_at });
        };
        let outcome = self
            .start_because(trigger.clone(), view.config_read, pending)
            .await?;
        if let StartOutcome::Skipped { holder, .. } = &outcome
            && trigger != Trigger::Scheduled
        {
            tracing::info!(%holder, reason = %trigger,
                "{trigger}: a run starts at the first tick after run {holder} ends");
        }
        Ok(TickOutcome::Start(outcome))
    }
}

/// The rule: due when nothing ever started, when nothing ever completed and the last attempt
/// is [`FIRST_RUN_RETRY`] old, or when the last start is `interval` old.
pub fn due(
    last_start: Option<&RunMark>,
    last_completed: Option<&RunMark>,
    interval: Duration,
    now: DateTime<Utc>,
) -> Due {
    let Some(last_start) = last_start else {
        return Due::Now;
    };
    let wait = if last_completed.is_some() {
        interval
    } else {
        FIRST_RUN_RETRY.min(interval)
    };
    let at = crate::state::expiry(last_start.started_at, wait);
    if now >= at { Due::Now } else { Due::At(at) }
}

pub(super) async fn read<T: DeserializeOwned>(
    state: &dyn StateStore,
    item: &str,
    now: DateTime<Utc>,
) -> Result<Option<T>, StateError> {
    let Some(record) = state.get(Key::new(PARTITION, item), now).await? else {
        return Ok(None);
    };
    // Something unreadable counts as absent: the worst case is one run started early.
    Ok(serde_json::from_str(&record.value).ok())
}

async fn write<T: Serialize>(
    state: &dyn StateStore,
    item: &str,
    mark: &T,
    now: DateTime<Utc>,
) -> Result<(), StateError> {
    let text = serde_json::to_string(mark).unwrap_or_default();
    state
        .put(
            Key::new(PARTITION, item),
            &text,
            Expect::Anything,
            None,
            now,
        )
        .await
        .map(|_| ())
}

/// A run took the lease at `started_at`, with the mapping of this fingerprint (`None`: it could
/// not read its mapping).
pub async fn record_start(
    state: &dyn StateStore,
    run: &str,
    started_at: DateTime<Utc>,
    mapping: Option<u64>,
) -> Result<(), StateError> {
    let mark = RunMark {
        run: run.to_owned(),
        started_at,
        mapping,
    };
    write(state, LAST_START, &mark, started_at).await
}

/// `run` took the lease after the resync request of `updated_at` was seen: it is handled (even
/// if the run then fails, so a failing run is not started again at every tick).
pub async fn record_request_handled(
    state: &dyn StateStore,
    updated_at: DateTime<Utc>,
    run: &str,
    now: DateTime<Utc>,
) -> Result<(), StateError> {
    let mark = HandledRequest {
        updated_at,
        run: run.to_owned(),
    };
    write(state, LAST_REQUEST, &mark, now).await
}

/// A run completed (`completed` or `completed_with_errors`) at `now`.
pub async fn record_completed(
    state: &dyn StateStore,
    run: &str,
    started_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), StateError> {
    let mark = RunMark {
        run: run.to_owned(),
        started_at,
        mapping: None,
    };
    write(state, LAST_COMPLETED, &mark, now).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + minutes * 60, 0).unwrap()
    }

    fn mark(minutes: i64) -> RunMark {
        RunMark {
            run: format!("r{minutes}"),
            started_at: at(minutes),
            mapping: None,
        }
    }

    #[test]
    fn a_new_stack_is_due_at_once_and_retries_a_first_run_soon() {
        let six_hours = Duration::from_secs(6 * 3_600);
        assert_eq!(due(None, None, six_hours, at(0)), Due::Now);
        assert_eq!(due(Some(&mark(0)), None, six_hours, at(5)), Due::At(at(15)));
        assert_eq!(due(Some(&mark(0)), None, six_hours, at(15)), Due::Now);
    }

    #[test]
    fn after_a_completed_run_the_interval_counts_from_the_last_start() {
        let hour = Duration::from_secs(3_600);
        let done = mark(0);
        assert_eq!(due(Some(&done), Some(&done), hour, at(59)), Due::At(at(60)));
        assert_eq!(due(Some(&done), Some(&done), hour, at(60)), Due::Now);
        // A later run that failed: the next is an interval after it, not at every tick.
        assert_eq!(
            due(Some(&mark(60)), Some(&done), hour, at(65)),
            Due::At(at(120))
        );
    }
}
