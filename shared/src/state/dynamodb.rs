//! The DynamoDB `StateStore`. Table: partition key `pk` (S), sort key `sk` (S), TTL attribute
//! `expires_at` (epoch seconds, so DynamoDB eventually removes expired items). Exact expiry is
//! `until_ms` (epoch milliseconds), checked on every read and in every condition, because TTL
//! deletion is lazy. Records are `val` (S) + `ver` (N); counters are `n_<name>` (N); leases live in
//! partition `__lease` with a `holder` (S).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, TimeZone, Utc};

use super::{
    Expect, Key, Lease, LeaseOutcome, ListPage, PutOutcome, Record, StateError, StateStore,
    check_counter_name, check_key, expiry,
};

const LEASE_PARTITION: &str = "__lease";
const COUNTER_PREFIX: &str = "n_";

pub struct DynamoDbStateStore {
    client: Client,
    table: String,
}

impl DynamoDbStateStore {
    /// The lease item `name` as it is now (a consistent read), if there is one.
    async fn read_lease(&self, name: &str) -> Result<Option<Lease>, StateError> {
        let current = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(LEASE_PARTITION))
            .key("sk", s(name))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable("read lease"))?;
        let Some(item) = current.item else {
            return Ok(None);
        };
        let key = Key::new(LEASE_PARTITION, name);
        let holder = text(&item, "holder").ok_or_else(|| malformed(key, "no holder"))?;
        let expires_at = number(&item, "until_ms")
            .and_then(millis_to_time)
            .ok_or_else(|| malformed(key, "bad until_ms"))?;
        Ok(Some(Lease {
            name: name.to_owned(),
            holder: holder.to_owned(),
            expires_at,
        }))
    }

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

type Item = HashMap<String, AttributeValue>;

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn unavailable<E>(operation: &'static str) -> impl FnOnce(E) -> StateError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |error| StateError::Unavailable {
        operation,
        source: Box::new(error),
    }
}

/// Whether a conditional write was refused because its condition did not hold.
fn condition_failed<E, R>(error: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    error.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

fn number(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(text)) => text.parse().ok(),
        _ => None,
    }
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(text)) => Some(text),
        _ => None,
    }
}

fn millis_to_time(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

fn malformed(key: Key<'_>, reason: &str) -> StateError {
    StateError::Malformed {
        partition: key.partition.to_owned(),
        item: key.item.to_owned(),
        reason: reason.to_owned(),
    }
}

/// The record in `item`, or `None` when it holds none or it has expired.
fn record(key: Key<'_>, item: &Item, now: DateTime<Utc>) -> Result<Option<Record>, StateError> {
    let Some(version) = number(item, "ver") else {
        return Ok(None);
    };
    let expires_at = match number(item, "until_ms") {
        Some(ms) => Some(millis_to_time(ms).ok_or_else(|| malformed(key, "bad until_ms"))?),
        None => None,
    };
    if expires_at.is_some_and(|at| at <= now) {
        return Ok(None);
    }
    let value = text(item, "val").ok_or_else(|| malformed(key, "no val"))?;
    let version = u64::try_from(version).map_err(|_| malformed(key, "negative ver"))?;
    Ok(Some(Record {
        value: value.to_owned(),
        version,
        expires_at,
    }))
}

fn counters_of(item: &Item) -> BTreeMap<String, i64> {
    item.keys()
        .filter_map(|name| {
            let counter = name.strip_prefix(COUNTER_PREFIX)?;
            Some((counter.to_owned(), number(item, name)?))
        })
        .collect()
}

#[async_trait]
impl StateStore for DynamoDbStateStore {
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        duration: Duration,
    ) -> Result<LeaseOutcome, StateError> {
        let until = expiry(now, duration);
        for _ in 0..3 {
            let attempt = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(LEASE_PARTITION))
                .item("sk", s(name))
                .item("holder", s(holder))
                .item("until_ms", n(until.timestamp_millis()))
                .item("expires_at", n(until.timestamp()))
                .condition_expression(
                    "attribute_not_exists(pk) OR until_ms <= :now OR holder = :holder",
                )
                .expression_attribute_values(":now", n(now.timestamp_millis()))
                .expression_attribute_values(":holder", s(holder))
                .send()
                .await;
            match attempt {
                Ok(_) => {
                    return Ok(LeaseOutcome::Acquired(Lease {
                        name: name.to_owned(),
                        holder: holder.to_owned(),
                        expires_at: until,
                    }));
                }
                Err(error) if condition_failed(&error) => match self.read_lease(name).await? {
                    Some(lease) => return Ok(LeaseOutcome::Held(lease)),
                    None => continue, // released in between: try again
                },
                Err(error) => return Err(unavailable("acquire lease")(error)),
            }
        }
        Err(StateError::Unavailable {
            operation: "acquire lease",
            source: "the lease changed hands three times during one attempt".into(),
        })
    }

    async fn renew_lease(
        &self,
        name: &str,
        holder: &str,
        until: DateTime<Utc>,
    ) -> Result<Option<Lease>, StateError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(LEASE_PARTITION))
            .key("sk", s(name))
            .update_expression("SET until_ms = :until, expires_at = :ttl")
            // `holder = :holder` also means the item exists: a released lease stays released.
            .condition_expression("holder = :holder AND until_ms < :until")
            .expression_attribute_values(":holder", s(holder))
            .expression_attribute_values(":until", n(until.timestamp_millis()))
            .expression_attribute_values(":ttl", n(until.timestamp()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(Lease {
                name: name.to_owned(),
                holder: holder.to_owned(),
                expires_at: until,
            })),
            // Someone else's, released, or already longer: read which.
            Err(error) if condition_failed(&error) => Ok(self
                .read_lease(name)
                .await?
                .filter(|lease| lease.holder == holder)),
            Err(error) => Err(unavailable("renew lease")(error)),
        }
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StateError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(LEASE_PARTITION))
            .key("sk", s(name))
            .condition_expression("holder = :holder")
            .expression_attribute_values(":holder", s(holder))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) if condition_failed(&error) => Ok(false),
            Err(error) => Err(unavailable("release lease")(error)),
        }
    }

    async fn get(&self, key: Key<'_>, now: DateTime<Utc>) -> Result<Option<Record>, StateError> {
        check_key(key)?;
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key.partition))
            .key("sk", s(key.item))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable("get"))?;
        match output.item {
            Some(item) => record(key, &item, now),
            None => Ok(None),
        }
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
        let mut update = String::from("SET val = :val, ver = if_not_exists(ver, :zero) + :one");
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key.partition))
            .key("sk", s(key.item))
            .expression_attribute_values(":val", s(value))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew);
        match expires_at {
            Some(at) => {
                update.push_str(", until_ms = :until, expires_at = :ttl");
                request = request
                    .expression_attribute_values(":until", n(at.timestamp_millis()))
                    .expression_attribute_values(":ttl", n(at.timestamp()));
            }
            None => update.push_str(" REMOVE until_ms, expires_at"),
        }
        request = match expect {
            Expect::Anything => request,
            Expect::Absent => request
                .condition_expression(
                    "attribute_not_exists(ver) OR (attribute_exists(until_ms) AND until_ms <= :now)",
                )
                .expression_attribute_values(":now", n(now.timestamp_millis())),
            Expect::Version(version) => request
                .condition_expression(
                    "ver = :expected AND (attribute_not_exists(until_ms) OR until_ms > :now)",
                )
                .expression_attribute_values(
                    ":expected",
                    n(i64::try_from(version).unwrap_or(i64::MAX)),
                )
                .expression_attribute_values(":now", n(now.timestamp_millis())),
        };
        match request.update_expression(update).send().await {
            Ok(output) => {
                let version = output
                    .attributes
                    .as_ref()
                    .and_then(|a| number(a, "ver"))
                    .and_then(|v| u64::try_from(v).ok())
                    .ok_or_else(|| malformed(key, "no ver after write"))?;
                Ok(PutOutcome::Written { version })
            }
            Err(error) if condition_failed(&error) => Ok(PutOutcome::Conflict),
            Err(error) => Err(unavailable("put")(error)),
        }
    }

    async fn delete(&self, key: Key<'_>) -> Result<(), StateError> {
        check_key(key)?;
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(key.partition))
            .key("sk", s(key.item))
            .send()
            .await
            .map_err(unavailable("delete"))?;
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
        let start = after.map(|item| {
            HashMap::from([("pk".to_owned(), s(partition)), ("sk".to_owned(), s(item))])
        });
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .set_limit(i32::try_from(limit.max(1)).ok())
            .expression_attribute_values(":pk", s(partition))
            .set_exclusive_start_key(start);
        query = if item_prefix.is_empty() {
            query.key_condition_expression("pk = :pk")
        } else {
            query
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", s(item_prefix))
        };
        let page = query.send().await.map_err(unavailable("list"))?;
        let mut records = Vec::new();
        for item in page.items.unwrap_or_default() {
            let Some(sk) = text(&item, "sk") else {
                continue;
            };
            if let Some(record) = record(Key::new(partition, sk), &item, now)? {
                records.push((sk.to_owned(), record));
            }
        }
        let next = page
            .last_evaluated_key
            .as_ref()
            .and_then(|key| text(key, "sk"))
            .map(str::to_owned);
        Ok(ListPage { records, next })
    }

    async fn list(
        &self,
        partition: &str,
        item_prefix: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, Record)>, StateError> {
        // DynamoDB pages by 1 MB whatever the limit; follow them to the end.
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .list_page(partition, item_prefix, after.as_deref(), usize::MAX, now)
                .await?;
            out.extend(page.records);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(out),
            }
        }
    }

    async fn add_counters(
        &self,
        key: Key<'_>,
        deltas: &[(&str, i64)],
    ) -> Result<BTreeMap<String, i64>, StateError> {
        check_key(key)?;
        if deltas.is_empty() {
            return self.counters(key).await;
        }
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key.partition))
            .key("sk", s(key.item))
            .return_values(ReturnValue::AllNew);
        let mut clauses = Vec::with_capacity(deltas.len());
        for (i, (name, delta)) in deltas.iter().enumerate() {
            check_counter_name(name)?;
            clauses.push(format!("#c{i} :d{i}"));
            request = request
                .expression_attribute_names(format!("#c{i}"), format!("{COUNTER_PREFIX}{name}"))
                .expression_attribute_values(format!(":d{i}"), n(*delta));
        }
        let output = request
            .update_expression(format!("ADD {}", clauses.join(", ")))
            .send()
            .await
            .map_err(unavailable("add counters"))?;
        Ok(output
            .attributes
            .as_ref()
            .map(counters_of)
            .unwrap_or_default())
    }

    async fn counters(&self, key: Key<'_>) -> Result<BTreeMap<String, i64>, StateError> {
        check_key(key)?;
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key.partition))
            .key("sk", s(key.item))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable("read counters"))?;
        Ok(output.item.as_ref().map(counters_of).unwrap_or_default())
    }
}
