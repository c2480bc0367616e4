//! The `StateStore` contract, run against both implementations: DynamoDB (moto, through the AWS
//! SDK) and the in-process one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use port_github_core::state::{
    DynamoDbStateStore, Expect, InMemoryStateStore, Key, LeaseOutcome, ListPage, PutOutcome,
    StateStore,
};
use port_github_tests::moto::{create_state_table, moto};

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
}

async fn dynamodb_store() -> Arc<dyn StateStore> {
    let client = aws_sdk_dynamodb::Client::new(&moto().sdk_config().await);
    let table = create_state_table(&client, "state").await.unwrap();
    Arc::new(DynamoDbStateStore::new(client, table))
}

fn memory_store() -> Arc<dyn StateStore> {
    Arc::new(InMemoryStateStore::default())
}

async fn leases(store: Arc<dyn StateStore>) {
    let hour = Duration::from_secs(3600);
    let first = store
        .acquire_lease("resync", "run-a", t(0), hour)
        .await
        .unwrap();
    assert!(matches!(first, LeaseOutcome::Acquired(ref l) if l.expires_at == t(3600)));
    match store
        .acquire_lease("resync", "run-b", t(10), hour)
        .await
        .unwrap()
    {
        LeaseOutcome::Held(lease) => {
            assert_eq!(lease.holder, "run-a");
            assert_eq!(lease.expires_at, t(3600));
        }
        other => panic!("a second run must not take a held lease: {other:?}"),
    }
    // The holder renews; another lease name is independent.
    assert!(matches!(
        store
            .acquire_lease("resync", "run-a", t(20), hour)
            .await
            .unwrap(),
        LeaseOutcome::Acquired(_)
    ));
    assert!(matches!(
        store
            .acquire_lease("other", "run-b", t(20), hour)
            .await
            .unwrap(),
        LeaseOutcome::Acquired(_)
    ));
    // Only the holder releases.
    assert!(!store.release_lease("resync", "run-b").await.unwrap());
    assert!(store.release_lease("resync", "run-a").await.unwrap());
    assert!(!store.release_lease("resync", "run-a").await.unwrap());
    assert!(matches!(
        store
            .acquire_lease("resync", "run-b", t(30), hour)
            .await
            .unwrap(),
        LeaseOutcome::Acquired(_)
    ));
    // A crashed holder's lease expires and the next run proceeds.
    assert!(matches!(
        store
            .acquire_lease("resync", "run-c", t(30 + 3599), hour)
            .await
            .unwrap(),
        LeaseOutcome::Held(_)
    ));
    assert!(matches!(
        store
            .acquire_lease("resync", "run-c", t(30 + 3600), hour)
            .await
            .unwrap(),
        LeaseOutcome::Acquired(_)
    ));
}

/// The resync's renewal: a conditional write on the holder that extends, never shortens, never
/// takes the lease from a newer holder and never recreates a released one.
async fn renewals(store: Arc<dyn StateStore>) {
    let half_hour = Duration::from_secs(1800);
    let held = |holder: &str, until: i64| {
        let holder = holder.to_owned();
        move |outcome: LeaseOutcome| match outcome {
            LeaseOutcome::Held(lease) => lease.holder == holder && lease.expires_at == t(until),
            LeaseOutcome::Acquired(_) => false,
        }
    };
    store
        .acquire_lease("resync", "run-a", t(0), half_hour)
        .await
        .unwrap();
    let renewed = store.renew_lease("resync", "run-a", t(3600)).await.unwrap();
    assert_eq!(renewed.map(|l| l.expires_at), Some(t(3600)));
    // A shorter renewal (a batch without a delay after one with) keeps the longer lease.
    let renewed = store.renew_lease("resync", "run-a", t(2000)).await.unwrap();
    assert_eq!(
        renewed.map(|l| (l.holder, l.expires_at)),
        Some(("run-a".to_owned(), t(3600)))
    );
    // Another holder renews nothing.
    assert_eq!(
        store.renew_lease("resync", "run-b", t(9000)).await.unwrap(),
        None
    );
    let outcome = store
        .acquire_lease("resync", "run-b", t(100), half_hour)
        .await
        .unwrap();
    assert!(held("run-a", 3600)(outcome.clone()), "{outcome:?}");
    // It lapses; a newer run takes it, and the old run's renewal neither steals nor extends it.
    let outcome = store
        .acquire_lease("resync", "run-b", t(3600), half_hour)
        .await
        .unwrap();
    assert!(
        matches!(outcome, LeaseOutcome::Acquired(ref l) if l.expires_at == t(5400)),
        "{outcome:?}"
    );
    assert_eq!(
        store.renew_lease("resync", "run-a", t(9000)).await.unwrap(),
        None
    );
    let outcome = store
        .acquire_lease("resync", "run-c", t(5399), half_hour)
        .await
        .unwrap();
    assert!(held("run-b", 5400)(outcome.clone()), "{outcome:?}");
    // A released lease stays released.
    assert!(store.release_lease("resync", "run-b").await.unwrap());
    assert_eq!(
        store.renew_lease("resync", "run-b", t(9000)).await.unwrap(),
        None
    );
    let outcome = store
        .acquire_lease("resync", "run-c", t(5000), half_hour)
        .await
        .unwrap();
    assert!(
        matches!(outcome, LeaseOutcome::Acquired(ref l) if l.expires_at == t(6800)),
        "{outcome:?}"
    );
    // Lapsed but taken by nobody since: still the holder's to renew (its jobs came back).
    let renewed = store.renew_lease("resync", "run-c", t(9000)).await.unwrap();
    assert_eq!(renewed.map(|l| l.expires_at), Some(t(9000)));
}

async fn concurrent_leases(store: Arc<dyn StateStore>) {
    let attempts = (0..8).map(|i| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            store
                .acquire_lease("race", &format!("run-{i}"), t(0), Duration::from_secs(60))
                .await
                .unwrap()
        })
    });
    let mut winners = 0;
    for attempt in attempts {
        if matches!(attempt.await.unwrap(), LeaseOutcome::Acquired(_)) {
            winners += 1;
        }
    }
    assert_eq!(
        winners, 1,
        "exactly one of eight simultaneous runs gets the lease"
    );
}

async fn records(store: Arc<dyn StateStore>) {
    let key = Key::new("run-1", "job#repo-1#issue");
    assert_eq!(store.get(key, t(0)).await.unwrap(), None);
    assert_eq!(
        store
            .put(key, "v1", Expect::Absent, None, t(0))
            .await
            .unwrap(),
        PutOutcome::Written { version: 1 }
    );
    assert_eq!(
        store
            .put(key, "again", Expect::Absent, None, t(0))
            .await
            .unwrap(),
        PutOutcome::Conflict
    );
    assert_eq!(
        store
            .put(key, "v2", Expect::Version(7), None, t(0))
            .await
            .unwrap(),
        PutOutcome::Conflict
    );
    assert_eq!(
        store
            .put(key, "v2", Expect::Version(1), None, t(0))
            .await
            .unwrap(),
        PutOutcome::Written { version: 2 }
    );
    let record = store.get(key, t(0)).await.unwrap().unwrap();
    assert_eq!(
        (record.value.as_str(), record.version, record.expires_at),
        ("v2", 2, None)
    );

    // Expiry: gone for readers at the instant it expires, and writable as absent again.
    let at = t(100);
    assert!(matches!(
        store
            .put(key, "v3", Expect::Anything, Some(at), t(0))
            .await
            .unwrap(),
        PutOutcome::Written { .. }
    ));
    assert_eq!(
        store.get(key, t(99)).await.unwrap().unwrap().expires_at,
        Some(at)
    );
    assert_eq!(store.get(key, t(100)).await.unwrap(), None);
    assert!(matches!(
        store
            .put(key, "v4", Expect::Version(3), None, t(100))
            .await
            .unwrap(),
        PutOutcome::Conflict
    ));
    assert!(matches!(
        store
            .put(key, "v4", Expect::Absent, None, t(100))
            .await
            .unwrap(),
        PutOutcome::Written { .. }
    ));

    // Listing a partition by prefix, in item order; other partitions and expired items excluded.
    for item in ["seen#b", "seen#a", "meta"] {
        store
            .put(Key::new("run-2", item), item, Expect::Anything, None, t(0))
            .await
            .unwrap();
    }
    store
        .put(
            Key::new("run-2", "seen#old"),
            "x",
            Expect::Anything,
            Some(t(5)),
            t(0),
        )
        .await
        .unwrap();
    store
        .put(
            Key::new("run-3", "seen#z"),
            "x",
            Expect::Anything,
            None,
            t(0),
        )
        .await
        .unwrap();
    let listed: Vec<String> = store
        .list("run-2", "seen#", t(10))
        .await
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(listed, ["seen#a", "seen#b"]);
    assert_eq!(store.list("run-2", "", t(10)).await.unwrap().len(), 3);

    // Paged: the same records, a page at a time, expired ones skipped but still counted as
    // looked at; the prefix bounds the pages and other partitions never show.
    for prefix in ["page/", "page/b"] {
        for n in 0..7 {
            let expires = (n == 3).then(|| t(5));
            store
                .put(
                    Key::new(
                        "run-4",
                        &format!("page/{}{n}", if n < 4 { "a" } else { "b" }),
                    ),
                    &n.to_string(),
                    Expect::Anything,
                    expires,
                    t(0),
                )
                .await
                .unwrap();
        }
        let expected: Vec<String> = store
            .list("run-4", prefix, t(10))
            .await
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let mut paged = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = store
                .list_page("run-4", prefix, after.as_deref(), 2, t(10))
                .await
                .unwrap();
            pages += 1;
            assert!(page.records.len() <= 2);
            paged.extend(page.records.into_iter().map(|(k, _)| k));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
            assert!(pages < 10, "the listing must end");
        }
        assert_eq!(paged, expected, "prefix {prefix}");
    }
    assert_eq!(
        store
            .list_page("run-4", "page/", Some("page/b6"), 2, t(10))
            .await
            .unwrap()
            .records,
        []
    );
    assert_eq!(
        store
            .list_page("run-4", "nothing/", None, 2, t(10))
            .await
            .unwrap(),
        ListPage::default()
    );

    // A 300 KB value (a seen set) round-trips.
    let big = "x".repeat(300_000);
    store
        .put(Key::new("run-2", "big"), &big, Expect::Anything, None, t(0))
        .await
        .unwrap();
    assert_eq!(
        store
            .get(Key::new("run-2", "big"), t(0))
            .await
            .unwrap()
            .unwrap()
            .value
            .len(),
        300_000
    );

    store.delete(Key::new("run-2", "meta")).await.unwrap();
    assert_eq!(
        store.get(Key::new("run-2", "meta"), t(0)).await.unwrap(),
        None
    );
    assert!(
        store
            .put(Key::new("", "x"), "v", Expect::Anything, None, t(0))
            .await
            .is_err()
    );
}

async fn counters(store: Arc<dyn StateStore>) {
    let key = Key::new("run-1", "progress");
    let after = store
        .add_counters(key, &[("jobs_queued", 5), ("jobs_done", 0)])
        .await
        .unwrap();
    assert_eq!(after.get("jobs_queued"), Some(&5));
    let adds = (0..20).map(|_| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            store
                .add_counters(
                    Key::new("run-1", "progress"),
                    &[("jobs_done", 1), ("entities-repository", 3)],
                )
                .await
                .unwrap()
        })
    });
    for add in adds {
        add.await.unwrap();
    }
    let totals = store.counters(key).await.unwrap();
    assert_eq!(
        totals.get("jobs_done"),
        Some(&20),
        "concurrent increments are not lost"
    );
    assert_eq!(totals.get("entities-repository"), Some(&60));
    assert_eq!(totals.get("jobs_queued"), Some(&5));
    assert!(store.add_counters(key, &[("bad name", 1)]).await.is_err());
    assert!(
        store
            .counters(Key::new("run-1", "nothing"))
            .await
            .unwrap()
            .is_empty()
    );
    // Counters and a record can share an item without clobbering each other.
    store
        .put(key, "summary", Expect::Anything, None, t(0))
        .await
        .unwrap();
    assert_eq!(
        store.counters(key).await.unwrap().get("jobs_done"),
        Some(&20)
    );
    store
        .add_counters(key, &[("jobs_failed", 1)])
        .await
        .unwrap();
    assert_eq!(
        store.get(key, t(0)).await.unwrap().unwrap().value,
        "summary"
    );
}

#[tokio::test]
async fn dynamodb_leases() {
    leases(dynamodb_store().await).await;
}

#[tokio::test]
async fn dynamodb_renewals() {
    renewals(dynamodb_store().await).await;
}

#[tokio::test]
async fn memory_renewals() {
    renewals(memory_store()).await;
}

#[tokio::test]
async fn dynamodb_concurrent_leases() {
    concurrent_leases(dynamodb_store().await).await;
}

#[tokio::test]
async fn dynamodb_records() {
    records(dynamodb_store().await).await;
}

#[tokio::test]
async fn dynamodb_counters() {
    counters(dynamodb_store().await).await;
}

#[tokio::test]
async fn memory_leases() {
    leases(memory_store()).await;
}

#[tokio::test]
async fn memory_concurrent_leases() {
    concurrent_leases(memory_store()).await;
}

#[tokio::test]
async fn memory_records() {
    records(memory_store()).await;
}

#[tokio::test]
async fn memory_counters() {
    counters(memory_store()).await;
}
