//! The journal of live writes, so that a resync running at the same time does not undo them.
//! The worker notes each entity it is about to upsert (partition `live-upserted`) and each it is
//! about to delete (partition `live-deleted`, a tombstone), *before* the Port call, with the time.
//! A run's cleanup keeps a stale entity noted as upserted since the run started, and a run's
//! upserts leave out (or delete again) an entity noted as deleted since the job listed it. Both
//! compare with a clock-skew margin, as the worker and the resync run on different machines.
//! Notes expire after [`NOTE_TTL`], longer than a run may last (24 hours).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Expect, Key, StateError, StateStore, expiry};
use crate::clock::Clock;

/// Entities the worker upserted, by `<blueprint>/<identifier>`.
pub const UPSERTED: &str = "live-upserted";
/// Entities the worker deleted (tombstones), by `<blueprint>/<identifier>`.
pub const DELETED: &str = "live-deleted";
/// How long a note is kept: a run lasts at most 24 hours, and then some.
pub const NOTE_TTL: Duration = Duration::from_secs(26 * 3600);
/// How far apart the clocks of two functions may be.
pub const CLOCK_SKEW: Duration = Duration::from_secs(120);
/// Records read per page when a run reads the journal.
const PAGE: usize = 1000;

/// Which way a live write went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveWrite {
    Upserted,
    Deleted,
}

impl LiveWrite {
    fn partition(self) -> &'static str {
        match self {
            LiveWrite::Upserted => UPSERTED,
            LiveWrite::Deleted => DELETED,
        }
    }
}

/// The journal, over the state table.
#[derive(Clone)]
pub struct LiveWrites {
    store: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
}

impl LiveWrites {
    pub fn new(store: Arc<dyn StateStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Notes that `write` is about to happen to each entity (call it before the Port call: a run
    /// that reads the journal after the write reached Port then always finds the note). A note
    /// replaces the other way's note of the same entity, so the latest write is what counts.
    pub async fn note(
        &self,
        write: LiveWrite,
        entities: &[(String, String)],
    ) -> Result<(), StateError> {
        let now = self.clock.now();
        let value = now.timestamp_millis().to_string();
        let other = match write {
            LiveWrite::Upserted => LiveWrite::Deleted,
            LiveWrite::Deleted => LiveWrite::Upserted,
        };
        for (blueprint, identifier) in entities {
            let item = item(blueprint, identifier);
            self.store
                .put(
                    Key::new(write.partition(), &item),
                    &value,
                    Expect::Anything,
                    Some(expiry(now, NOTE_TTL)),
                    now,
                )
                .await?;
            // An earlier note the other way no longer holds (deleted, then re-created).
            if write == LiveWrite::Upserted {
                self.store
                    .delete(Key::new(other.partition(), &item))
                    .await?;
            }
        }
        Ok(())
    }

    /// The entities noted `write` at or after `since` less [`CLOCK_SKEW`], with the time of the
    /// note, read a page at a time.
    pub async fn since(
        &self,
        write: LiveWrite,
        since: DateTime<Utc>,
    ) -> Result<HashMap<(String, String), DateTime<Utc>>, StateError> {
        let now = self.clock.now();
        let from = since - chrono::Duration::from_std(CLOCK_SKEW).unwrap_or_default();
        let mut found = HashMap::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .list_page(write.partition(), "", after.as_deref(), PAGE, now)
                .await?;
            for (item, record) in page.records {
                let Some(at) = record
                    .value
                    .parse::<i64>()
                    .ok()
                    .and_then(DateTime::<Utc>::from_timestamp_millis)
                else {
                    tracing::warn!(item, "ignored an unreadable live-write note");
                    continue;
                };
                if at < from {
                    continue;
                }
                if let Some((blueprint, identifier)) = item.split_once('/') {
                    found.insert((blueprint.to_owned(), identifier.to_owned()), at);
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(found),
            }
        }
    }

    /// [`LiveWrites::since`] as the cleanup's 16-byte entity keys.
    pub async fn keys_since(
        &self,
        write: LiveWrite,
        since: DateTime<Utc>,
        key: impl Fn(&str, &str) -> u128,
    ) -> Result<HashSet<u128>, StateError> {
        Ok(self
            .since(write, since)
            .await?
            .keys()
            .map(|(blueprint, identifier)| key(blueprint, identifier))
            .collect())
    }
}

/// `<blueprint>/<identifier>`: Port's blueprint identifiers have no `/`, so the first one splits.
fn item(blueprint: &str, identifier: &str) -> String {
    format!("{blueprint}/{identifier}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::clock::ManualClock;
    use crate::state::InMemoryStateStore;

    fn pair(b: &str, i: &str) -> (String, String) {
        (b.to_owned(), i.to_owned())
    }

    #[tokio::test]
    async fn notes_are_found_from_a_time_on_with_the_skew_margin() {
        let clock = Arc::new(ManualClock::new("2026-12-01T10:00:00Z".parse().unwrap()));
        let journal = LiveWrites::new(Arc::new(InMemoryStateStore::default()), clock.clone());
        journal
            .note(LiveWrite::Upserted, &[pair("githubIssue", "a/b-1")])
            .await
            .unwrap();
        clock.advance(Duration::from_secs(600));
        journal
            .note(LiveWrite::Upserted, &[pair("githubIssue", "c-2")])
            .await
            .unwrap();
        let run_start = clock.now() - chrono::Duration::seconds(60);
        let found = journal.since(LiveWrite::Upserted, run_start).await.unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found.contains_key(&pair("githubIssue", "c-2")));
        // Within the skew margin counts: a note 100 s before the start of the run.
        let found = journal
            .since(
                LiveWrite::Upserted,
                clock.now() + chrono::Duration::seconds(100),
            )
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        // An identifier with a slash survives the round trip.
        let all = journal
            .since(
                LiveWrite::Upserted,
                clock.now() - chrono::Duration::hours(1),
            )
            .await
            .unwrap();
        assert!(all.contains_key(&pair("githubIssue", "a/b-1")), "{all:?}");
    }

    #[tokio::test]
    async fn an_upsert_after_a_delete_lifts_the_tombstone_and_notes_expire() {
        let clock = Arc::new(ManualClock::new("2026-12-01T10:00:00Z".parse().unwrap()));
        let journal = LiveWrites::new(Arc::new(InMemoryStateStore::default()), clock.clone());
        let start = clock.now();
        journal
            .note(LiveWrite::Deleted, &[pair("githubBranch", "r-main")])
            .await
            .unwrap();
        assert_eq!(
            journal
                .since(LiveWrite::Deleted, start)
                .await
                .unwrap()
                .len(),
            1
        );
        journal
            .note(LiveWrite::Upserted, &[pair("githubBranch", "r-main")])
            .await
            .unwrap();
        assert!(
            journal
                .since(LiveWrite::Deleted, start)
                .await
                .unwrap()
                .is_empty()
        );
        clock.advance(NOTE_TTL + Duration::from_secs(1));
        assert!(
            journal
                .since(LiveWrite::Upserted, start - chrono::Duration::days(2))
                .await
                .unwrap()
                .is_empty()
        );
    }
}
