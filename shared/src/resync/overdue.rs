//! Whether the catalog's last full sync is overdue, for the `ResyncOverdue` metric each schedule
//! tick emits (`crate::metrics`): overdue when the last completed run (with or without refused
//! entities) started more than twice the interval ago, the catalog being as fresh as the start
//! of its last completed run. Before any run has completed, the clock starts at the first tick
//! that asked (`resync/watch-since`, written once), so a stack whose first run never completes
//! (a wrong credential, a missing permission) becomes overdue too, two intervals after it
//! started ticking.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Resync;
use super::schedule::{LAST_COMPLETED, PARTITION, RunMark, read};
use crate::state::{Expect, Key, StateError, StateStore};

const WATCH_SINCE: &str = "watch-since";

/// The rule: more than `2 × interval` since the last completed run started, or since
/// `watch_since` when none has completed.
pub fn is_overdue(
    last_completed: Option<&RunMark>,
    watch_since: DateTime<Utc>,
    interval: Duration,
    now: DateTime<Utc>,
) -> bool {
    let since = last_completed.map_or(watch_since, |mark| mark.started_at);
    now > crate::state::expiry(since, interval.saturating_mul(2))
}

impl Resync {
    /// [`is_overdue`] from the state table, at the resync's clock.
    pub async fn overdue(&self) -> Result<bool, StateError> {
        let now = self.clock.now();
        let state = self.state.as_ref();
        let last_completed = read(state, LAST_COMPLETED, now).await?;
        let watch_since = match last_completed {
            Some(_) => now,
            None => watch_since(state, now).await?,
        };
        Ok(is_overdue(
            last_completed.as_ref(),
            watch_since,
            self.settings.interval,
            now,
        ))
    }
}

/// When the first tick asked (stored by that tick).
async fn watch_since(
    state: &dyn StateStore,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, StateError> {
    let key = || Key::new(PARTITION, WATCH_SINCE);
    if let Some(record) = state.get(key(), now).await? {
        // Unreadable: counted from now, as a first tick would.
        return Ok(DateTime::parse_from_rfc3339(&record.value)
            .map(|at| at.with_timezone(&Utc))
            .unwrap_or(now));
    }
    state
        .put(key(), &now.to_rfc3339(), Expect::Absent, None, now)
        .await?;
    Ok(now)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::state::InMemoryStateStore;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + minutes * 60, 0).unwrap()
    }

    #[test]
    fn overdue_past_twice_the_interval_from_the_last_completed_start() {
        let hour = Duration::from_secs(3_600);
        let done = RunMark {
            run: "r".into(),
            started_at: at(0),
            mapping: None,
        };
        assert!(!is_overdue(Some(&done), at(-500), hour, at(120)));
        assert!(is_overdue(Some(&done), at(500), hour, at(121)));
        // Never completed: from the first tick.
        assert!(!is_overdue(None, at(10), hour, at(130)));
        assert!(is_overdue(None, at(10), hour, at(131)));
    }

    #[tokio::test]
    async fn the_watch_starts_at_the_first_tick_and_stays() {
        let state = InMemoryStateStore::default();
        assert_eq!(watch_since(&state, at(0)).await.unwrap(), at(0));
        assert_eq!(watch_since(&state, at(30)).await.unwrap(), at(0));
    }
}
