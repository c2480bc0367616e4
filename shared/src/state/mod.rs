//! Small durable state shared by invocations: leases (the resync lock), versioned records with an
//! expiry (run state, seen sets, ETags), and atomic counters (progress). DynamoDB in AWS
//! (`dynamodb`), in-process for the local host and tests (`memory`). It stores strings and numbers;
//! what they mean belongs to the callers.

mod dynamodb;
pub mod live_writes;
mod memory;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use dynamodb::DynamoDbStateStore;
pub use live_writes::{LiveWrite, LiveWrites};
pub use memory::InMemoryStateStore;

/// Where a record lives: a partition (e.g. one resync run) and an item within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key<'a> {
    pub partition: &'a str,
    pub item: &'a str,
}

impl<'a> Key<'a> {
    pub fn new(partition: &'a str, item: &'a str) -> Self {
        Self { partition, item }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    Acquired(Lease),
    /// Someone else holds it until `expires_at`.
    Held(Lease),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub value: String,
    /// Starts at 1 and grows by one on every write (also across an expiry).
    pub version: u64,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A page of records and where the listing goes on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListPage {
    pub records: Vec<(String, Record)>,
    /// The item to pass as `after` for the next page; `None` at the end.
    pub next: Option<String>,
}

/// The condition a write is made under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Anything,
    /// The record must not exist (or must have expired).
    Absent,
    /// The record must be at this version.
    Version(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Written {
        version: u64,
    },
    /// The condition did not hold; nothing was written.
    Conflict,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The store could not be reached or throttled: retry later.
    #[error("state store unavailable during {operation}")]
    Unavailable {
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The store held something this code did not write (or a newer version of it wrote).
    #[error("state store item {partition}/{item} is malformed: {reason}")]
    Malformed {
        partition: String,
        item: String,
        reason: String,
    },
    /// A name that the store cannot hold (empty, or a counter name with odd characters).
    #[error("invalid state key or counter name: {0}")]
    InvalidName(String),
}

/// Contract, for every implementation:
/// - time comes from the caller (`now`), so expiry is testable and all invocations agree;
/// - an expired lease or record behaves exactly as an absent one, whether or not the backing store
///   has removed it yet (DynamoDB's TTL deletes lazily);
/// - conditional writes are atomic: of two concurrent writers with the same expectation, one wins.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// Takes the lease `name` for `holder` until `now + duration` when it is free, expired, or
    /// already held by `holder` (which renews it).
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        duration: Duration,
    ) -> Result<LeaseOutcome, StateError>;

    /// Extends the lease `name` to `until` when `holder` still holds it (also lapsed, as long as
    /// nobody took it since) and it ends before `until`: a conditional write that never takes
    /// the lease from another holder, never recreates a released one and never shortens it.
    /// The lease as it is after the call when it is `holder`'s; `None` when it is not.
    async fn renew_lease(
        &self,
        name: &str,
        holder: &str,
        until: DateTime<Utc>,
    ) -> Result<Option<Lease>, StateError>;

    /// Gives the lease up if `holder` holds it; false when it was not theirs (nothing changes).
    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StateError>;

    async fn get(&self, key: Key<'_>, now: DateTime<Utc>) -> Result<Option<Record>, StateError>;

    async fn put(
        &self,
        key: Key<'_>,
        value: &str,
        expect: Expect,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<PutOutcome, StateError>;

    async fn delete(&self, key: Key<'_>) -> Result<(), StateError>;

    /// One page of [`StateStore::list`]: live records whose item starts with `item_prefix` and
    /// sorts after `after` (all of them when `None`), in item order, at most `limit` items
    /// looked at; with the item to continue after when there may be more. Large scans (the
    /// resync's cleanup) hold one page at a time instead of the whole partition.
    async fn list_page(
        &self,
        partition: &str,
        item_prefix: &str,
        after: Option<&str>,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<ListPage, StateError>;

    /// Every live record of a partition whose item starts with `item_prefix`, in item order.
    async fn list(
        &self,
        partition: &str,
        item_prefix: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, Record)>, StateError>;

    /// Adds each delta atomically to its named counter (missing counters start at 0) and returns
    /// all of the item's counters after the update. Names: ASCII letters, digits, `_` and `-`.
    async fn add_counters(
        &self,
        key: Key<'_>,
        deltas: &[(&str, i64)],
    ) -> Result<BTreeMap<String, i64>, StateError>;

    async fn counters(&self, key: Key<'_>) -> Result<BTreeMap<String, i64>, StateError>;
}

pub(crate) fn check_counter_name(name: &str) -> Result<(), StateError> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(StateError::InvalidName(name.to_owned()))
    }
}

pub(crate) fn check_key(key: Key<'_>) -> Result<(), StateError> {
    if key.partition.is_empty() || key.item.is_empty() {
        return Err(StateError::InvalidName(format!(
            "{}/{}",
            key.partition, key.item
        )));
    }
    Ok(())
}

/// `now + duration`, saturating instead of overflowing on absurd durations.
pub(crate) fn expiry(now: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(duration)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}
