//! The in-process `StateStore`: a map behind a mutex, for the local host and tests.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    Expect, Key, Lease, LeaseOutcome, ListPage, PutOutcome, Record, StateError, StateStore,
    check_counter_name, check_key, expiry,
};

#[derive(Default)]
pub struct InMemoryStateStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    leases: BTreeMap<String, Lease>,
    records: BTreeMap<(String, String), Record>,
    counters: BTreeMap<(String, String), BTreeMap<String, i64>>,
}

impl InMemoryStateStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn live(record: &Record, now: DateTime<Utc>) -> bool {
    record.expires_at.is_none_or(|at| at > now)
}

fn owned(key: Key<'_>) -> (String, String) {
    (key.partition.to_owned(), key.item.to_owned())
}

#[async_trait]
impl StateStore for InMemoryStateStore {
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        duration: Duration,
    ) -> Result<LeaseOutcome, StateError> {
        let mut inner = self.lock();
        if let Some(current) = inner.leases.get(name)
            && current.expires_at > now
            && current.holder != holder
        {
            return Ok(LeaseOutcome::Held(current.clone()));
        }
        let lease = Lease {
            name: name.to_owned(),
            holder: holder.to_owned(),
            expires_at: expiry(now, duration),
        };
        inner.leases.insert(name.to_owned(), lease.clone());
        Ok(LeaseOutcome::Acquired(lease))
    }

    async fn renew_lease(
        &self,
        name: &str,
        holder: &str,
        until: DateTime<Utc>,
    ) -> Result<Option<Lease>, StateError> {
        let mut inner = self.lock();
        match inner.leases.get_mut(name) {
            Some(current) if current.holder == holder => {
                if current.expires_at < until {
                    current.expires_at = until;
                }
                Ok(Some(current.clone()))
            }
            _ => Ok(None),
        }
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StateError> {
        let mut inner = self.lock();
        match inner.leases.get(name) {
            Some(current) if current.holder == holder => {
                inner.leases.remove(name);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn get(&self, key: Key<'_>, now: DateTime<Utc>) -> Result<Option<Record>, StateError> {
        check_key(key)?;
        Ok(self
            .lock()
            .records
            .get(&owned(key))
            .filter(|r| live(r, now))
            .cloned())
    }

    async fn put(
        &self,
        key: Key<'_>,
        value: &str,
        expect: Expect,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<PutOutcome, StateError> {
        check_key(key)?;
        let mut inner = self.lock();
        let current = inner.records.get(&owned(key)).filter(|r| live(r, now));
        let allowed = match expect {
            Expect::Anything => true,
            Expect::Absent => current.is_none(),
            Expect::Version(v) => current.is_some_and(|r| r.version == v),
        };
        if !allowed {
            return Ok(PutOutcome::Conflict);
        }
        // Versions keep growing across expiry, as in DynamoDB where the expired item may linger.
        let version = inner.records.get(&owned(key)).map_or(1, |r| r.version + 1);
        inner.records.insert(
            owned(key),
            Record {
                value: value.to_owned(),
                version,
                expires_at,
            },
        );
        Ok(PutOutcome::Written { version })
    }

    async fn delete(&self, key: Key<'_>) -> Result<(), StateError> {
        check_key(key)?;
        let mut inner = self.lock();
        inner.records.remove(&owned(key));
        inner.counters.remove(&owned(key));
        Ok(())
    }

    async fn list_page(
        &self,
        partition: &str,
        item_prefix: &str,
        after: Option<&str>,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<ListPage, StateError> {
        let inner = self.lock();
        let start = (
            partition.to_owned(),
            after.unwrap_or(item_prefix).to_owned(),
        );
        let lower = if after.is_some() {
            std::ops::Bound::Excluded(start)
        } else {
            std::ops::Bound::Included(start)
        };
        let mut last = None;
        let mut records = Vec::new();
        for (looked, ((_, item), record)) in inner
            .records
            .range((lower, std::ops::Bound::Unbounded))
            .take_while(|((p, item), _)| p == partition && item.starts_with(item_prefix))
            .enumerate()
        {
            if looked == limit.max(1) {
                return Ok(ListPage {
                    records,
                    next: last,
                });
            }
            last = Some(item.clone());
            if live(record, now) {
                records.push((item.clone(), record.clone()));
            }
        }
        Ok(ListPage {
            records,
            next: None,
        })
    }

    async fn list(
        &self,
        partition: &str,
        item_prefix: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, Record)>, StateError> {
        Ok(self
            .lock()
            .records
            .iter()
            .filter(|((p, item), r)| {
                p == partition && item.starts_with(item_prefix) && live(r, now)
            })
            .map(|((_, item), r)| (item.clone(), r.clone()))
            .collect())
    }

    async fn add_counters(
        &self,
        key: Key<'_>,
        deltas: &[(&str, i64)],
    ) -> Result<BTreeMap<String, i64>, StateError> {
        check_key(key)?;
        for (name, _) in deltas {
            check_counter_name(name)?;
        }
        let mut inner = self.lock();
        let counters = inner.counters.entry(owned(key)).or_default();
        for (name, delta) in deltas {
            let slot = counters.entry((*name).to_owned()).or_insert(0);
            *slot = slot.saturating_add(*delta);
        }
        Ok(counters.clone())
    }

    async fn counters(&self, key: Key<'_>) -> Result<BTreeMap<String, i64>, StateError> {
        check_key(key)?;
        Ok(self
            .lock()
            .counters
            .get(&owned(key))
            .cloned()
            .unwrap_or_default())
    }
}
