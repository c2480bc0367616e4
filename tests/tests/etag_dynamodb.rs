//! The DynamoDB ETag store against moto (through the AWS SDK), and the GitHub client using it:
//! an unchanged re-read from a new "container" (a fresh client, same table) is answered by 304s.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use port_github_core::github::{CachedPage, DynamoDbEtagStore, EtagStore};
use port_github_tests::moto::{create_state_table, moto};

async fn store() -> (DynamoDbEtagStore, aws_sdk_dynamodb::Client, String) {
    let client = aws_sdk_dynamodb::Client::new(&moto().sdk_config().await);
    let table = create_state_table(&client, "etags").await.unwrap();
    (
        DynamoDbEtagStore::new(
            client.clone(),
            table.clone(),
            Duration::from_secs(7 * 86_400),
        ),
        client,
        table,
    )
}

#[tokio::test]
async fn pages_round_trip_and_replace() {
    let (store, _, _) = store().await;
    assert_eq!(store.get("inst-1 GET /orgs/o/repos").await.unwrap(), None);
    let page = CachedPage {
        etag: "W/\"abc\"".into(),
        next: Some("https://api/x?page=2".into()),
        body: br#"[{"id":1}]"#.to_vec(),
    };
    store
        .put("inst-1 GET /orgs/o/repos", page.clone())
        .await
        .unwrap();
    assert_eq!(
        store.get("inst-1 GET /orgs/o/repos").await.unwrap(),
        Some(page)
    );
    let last = CachedPage {
        etag: "\"def\"".into(),
        next: None,
        body: b"[]".to_vec(),
    };
    store
        .put("inst-1 GET /orgs/o/repos", last.clone())
        .await
        .unwrap();
    assert_eq!(
        store.get("inst-1 GET /orgs/o/repos").await.unwrap(),
        Some(last)
    );
    assert_eq!(
        store.get("inst-2 GET /orgs/o/repos").await.unwrap(),
        None,
        "keys are separate"
    );
}

#[tokio::test]
async fn a_large_page_is_compressed_to_fit_and_a_huge_one_is_declined() {
    let (store, _, _) = store().await;
    let items: Vec<serde_json::Value> = (0..100)
        .map(|i| serde_json::json!({"id": i, "full_name": format!("octo/repo-{i}"), "description": "a fairly long description ".repeat(200)}))
        .collect();
    let body = serde_json::to_vec(&items).unwrap();
    assert!(
        body.len() > 400 * 1024,
        "larger than one DynamoDB item: {}",
        body.len()
    );
    let page = CachedPage {
        etag: "\"big\"".into(),
        next: None,
        body,
    };
    store.put("big", page.clone()).await.unwrap();
    assert!(
        store.get("big").await.unwrap() == Some(page),
        "the large page round-trips"
    );

    // Incompressible and too big: declined, never half-stored.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let noise: Vec<u8> = (0..600_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    store
        .put(
            "noise",
            CachedPage {
                etag: "\"n\"".into(),
                next: None,
                body: noise,
            },
        )
        .await
        .unwrap();
    assert!(
        store.get("noise").await.unwrap().is_none(),
        "an entry too big for one item is declined"
    );
}

#[tokio::test]
async fn a_corrupt_item_is_an_error_the_client_treats_as_a_miss() {
    let (store, client, table) = store().await;
    client
        .put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S("etag#bad".into()))
        .item("sk", AttributeValue::S("page".into()))
        .item("etag", AttributeValue::S("\"x\"".into()))
        .item(
            "body",
            AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(b"garbage".to_vec())),
        )
        .send()
        .await
        .unwrap();
    assert!(store.get("bad").await.is_err());
}

#[tokio::test]
async fn an_unchanged_org_reread_from_a_new_container_costs_304s() {
    use port_github_core::github::kinds::SimpleKind;
    use port_github_core::github::kinds::organization::{
        RepoSource, RepositorySelector, list_repositories,
    };
    use port_github_core::github::{GitHubClient, ManualClock};
    use port_github_simulators::github_sim::OrgSpec;
    use port_github_simulators::github_sim::SimHarness;

    let (store, _, _) = store().await;
    let store: Arc<dyn EtagStore> = Arc::new(store);
    let harness = SimHarness::start(OrgSpec::default()).await.unwrap();
    let token =
        secrecy::SecretString::from(harness.sim.personal_token().unwrap_or_default().to_owned());
    // Each client stands for a fresh Lambda container: nothing shared but the DynamoDB table.
    let container = || {
        let clock: Arc<ManualClock> = Arc::new(harness.clock.clone());
        GitHubClient::with_token(
            harness.client_config(),
            token.clone(),
            clock,
            Arc::clone(&store),
        )
        .unwrap()
    };
    let org = harness.sim.org().to_owned();
    let read_org = |client: GitHubClient| {
        let org = org.clone();
        async move {
            let source = RepoSource::Organization(org);
            let repos = list_repositories(&client, &source, &RepositorySelector::default())
                .unwrap()
                .collect_repos()
                .await
                .unwrap();
            for repo in &repos {
                SimpleKind::Release
                    .list(&client, repo)
                    .unwrap()
                    .collect()
                    .await
                    .unwrap();
            }
            repos.len()
        }
    };
    let repositories = read_org(container()).await;
    assert!(repositories > 0);
    let first = harness.sim.total();
    assert_eq!(first.not_modified, 0);
    read_org(container()).await;
    let second = harness.sim.total();
    let reread = second.total - first.total;
    assert_eq!(reread, first.total, "the same requests again");
    assert_eq!(
        second.not_modified, reread,
        "every request of the re-read was answered 304"
    );
}
