//! When a tick of the schedule starts a run. The EventBridge schedule ticks every few minutes
//! ([`TICK`]); a tick starts a run only when one is due: no run has ever completed (a new stack
//! syncs within minutes of its deploy, or of its secrets being filled in, and a failed first
//! attempt is tried again after [`FIRST_RUN_RETRY`]), or the last run started at least the
//! interval (`RESYNC_INTERVAL_MINUTES`) ago. A run in progress still holds the lease, so a due
//! tick during it is skipped as before. What the decision reads lives in the state table,
//! partition `resync`: `last-start` (the last run that took the lease, and when) and
//! `last-completed` (the last run that completed, with or without refused entities); neither
//! expires.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Resync, ResyncError, StartOutcome};
use crate::state::{Expect, Key, StateError, StateStore};

/// How often the deployed schedule ticks (the templates' `rate(5 minutes)`).
pub const TICK: Duration = Duration::from_secs(5 * 60);
/// Until a run has completed, how long after a started attempt the next one is due.
pub const FIRST_RUN_RETRY: Duration = Duration::from_secs(15 * 60);

pub(super) const PARTITION: &str = "resync";
const LAST_START: &str = "last-start";
pub(super) const LAST_COMPLETED: &str = "last-completed";

/// One run and when it started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunMark {
    pub run: String,
    pub started_at: DateTime<Utc>,
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
    /// A tick of the schedule: starts a run when one is due ([`due`]), else does nothing.
    pub async fn tick(&self) -> Result<TickOutcome, ResyncError> {
        let now = self.clock.now();
        match check(self.state.as_ref(), self.settings.interval, now).await? {
            Due::At(due_at) => {
                tracing::debug!(%due_at, "no resync due yet");
                Ok(TickOutcome::NotDue { due_at })
            }
            Due::Now => Ok(TickOutcome::Start(self.start().await?)),
        }
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

pub(super) async fn read(
    state: &dyn StateStore,
    item: &str,
    now: DateTime<Utc>,
) -> Result<Option<RunMark>, StateError> {
    let Some(record) = state.get(Key::new(PARTITION, item), now).await? else {
        return Ok(None);
    };
    // Something unreadable counts as absent: the worst case is one run started early.
    Ok(serde_json::from_str(&record.value).ok())
}

async fn write(
    state: &dyn StateStore,
    item: &str,
    mark: &RunMark,
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

/// Whether a tick at `now` starts a run.
pub async fn check(
    state: &dyn StateStore,
    interval: Duration,
    now: DateTime<Utc>,
) -> Result<Due, StateError> {
    let last_start = read(state, LAST_START, now).await?;
    let last_completed = read(state, LAST_COMPLETED, now).await?;
    Ok(due(
        last_start.as_ref(),
        last_completed.as_ref(),
        interval,
        now,
    ))
}

/// A run took the lease at `started_at`.
pub async fn record_start(
    state: &dyn StateStore,
    run: &str,
    started_at: DateTime<Utc>,
) -> Result<(), StateError> {
    let mark = RunMark {
        run: run.to_owned(),
        started_at,
    };
    write(state, LAST_START, &mark, started_at).await
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
