//! The Port client against the Port simulator: batching, per-entity results, fallbacks,
//! retries, tokens. Each test runs its own simulator.

use std::time::Duration;

use port_github_core::port::{Entity, PortError, UpsertOptions, UpsertResult};
use port_github_simulators::port_sim::harness::{
    INTEGRATION_ID, INTEGRATION_TYPE, INTEGRATION_VERSION, spawn, spawn_with,
};
use port_github_simulators::port_sim::{Endpoint, Fault};
use serde_json::{Map, Value, json};

fn repo(identifier: &str) -> Entity {
    Entity {
        identifier: identifier.to_owned(),
        title: Some(identifier.to_owned()),
        blueprint: "githubRepository".to_owned(),
        icon: Some("Github".to_owned()),
        team: Value::Null,
        properties: object(json!({"visibility": "public", "defaultBranch": "main"})),
        relations: Map::new(),
    }
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

fn own_user_agent() -> String {
    format!("port-ocean/{INTEGRATION_TYPE}/{INTEGRATION_VERSION}/{INTEGRATION_ID}/exporter")
}

#[tokio::test]
async fn forty_five_entities_go_in_three_bulk_requests_with_the_ownership_user_agent()
-> anyhow::Result<()> {
    let (sim, client, _) = spawn().await?;
    let entities: Vec<Entity> = (0..45).map(|i| repo(&format!("octo/repo-{i}"))).collect();
    let outcomes = client
        .upsert_entities(&entities, UpsertOptions::default())
        .await;

    assert_eq!(outcomes.len(), 45);
    for (entity, outcome) in entities.iter().zip(&outcomes) {
        assert_eq!(outcome.identifier, entity.identifier);
        assert_eq!(
            outcome.result,
            UpsertResult::Upserted {
                created: Some(true)
            }
        );
    }
    let bulk = sim.requests_to(Endpoint::BulkUpsert);
    let sizes: Vec<usize> = bulk
        .iter()
        .map(|r| {
            r.body
                .as_ref()
                .and_then(|b| b["entities"].as_array().map(Vec::len))
                .unwrap_or(0)
        })
        .collect();
    assert_eq!(sizes, vec![20, 20, 5]);
    for request in &bulk {
        assert_eq!(
            request.user_agent.as_deref(),
            Some(own_user_agent().as_str())
        );
        assert!(
            request
                .query
                .contains(&("merge".to_owned(), "true".to_owned()))
        );
        assert!(request.query.contains(&(
            "create_missing_related_entities".to_owned(),
            "false".to_owned()
        )));
        assert!(
            request
                .path
                .ends_with("/blueprints/githubRepository/entities/bulk")
        );
    }
    let stored = sim.entities_of("githubRepository");
    assert_eq!(stored.len(), 45);
    assert!(
        stored
            .iter()
            .all(|e| e.datasource.as_deref() == Some(own_user_agent().as_str()))
    );
    Ok(())
}

#[tokio::test]
async fn entities_are_grouped_by_blueprint_and_split_under_one_mebibyte() -> anyhow::Result<()> {
    let (sim, client, _) = spawn().await?;
    let mut entities = Vec::new();
    for i in 0..6 {
        let mut entity = repo(&format!("octo/big-{i}"));
        entity
            .properties
            .insert("readme".to_owned(), Value::String("r".repeat(400 * 1024)));
        entities.push(entity);
    }
    let org = Entity {
        blueprint: "githubOrganization".to_owned(),
        properties: object(json!({"login": "octo"})),
        ..repo("octo")
    };
    entities.insert(2, org);
    let outcomes = client
        .upsert_entities(&entities, UpsertOptions::default())
        .await;
    assert!(outcomes.iter().all(|o| o.is_ok()), "{outcomes:?}");
    assert_eq!(
        outcomes.get(2).map(|o| o.blueprint.as_str()),
        Some("githubOrganization")
    );

    let bulk = sim.requests_to(Endpoint::BulkUpsert);
    assert_eq!(
        bulk.len(),
        4,
        "three batches of two big repositories and one organization"
    );
    assert!(bulk.iter().all(|r| r.body_bytes <= 1024 * 1024));
    assert_eq!(sim.entities_of("githubRepository").len(), 6);
    assert_eq!(sim.count(Endpoint::Upsert), 0);
    Ok(())
}

#[tokio::test]
async fn a_207_answer_is_matched_to_the_right_entities() -> anyhow::Result<()> {
    let (sim, client, _) = spawn().await?;
    let mut missing_org = repo("octo/orphan");
    missing_org
        .relations
        .insert("organization".to_owned(), json!("nowhere"));
    let mut wrong_type = repo("octo/typed");
    wrong_type
        .properties
        .insert("description".to_owned(), json!(42));
    let entities = vec![
        repo("octo/a"),
        repo("has space"),
        missing_org,
        repo("octo/b"),
        wrong_type,
        repo("."),
    ];
    let outcomes = client
        .upsert_entities(&entities, UpsertOptions::default())
        .await;

    let summary: Vec<(&str, Option<u16>)> = outcomes
        .iter()
        .map(|o| (o.identifier.as_str(), o.failure().and_then(|f| f.status)))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("octo/a", None),
            ("has space", Some(422)),
            ("octo/orphan", Some(404)),
            ("octo/b", None),
            ("octo/typed", Some(422)),
            (".", Some(422)),
        ]
    );
    assert_eq!(
        outcomes
            .get(2)
            .and_then(|o| o.failure())
            .map(|f| f.code.as_str()),
        Some("not_found")
    );
    assert!(
        outcomes
            .iter()
            .filter_map(|o| o.failure())
            .all(|f| !f.transient)
    );
    assert_eq!(
        sim.count(Endpoint::BulkUpsert),
        1,
        "per-entity errors are not retried"
    );
    let stored: Vec<String> = sim
        .entities_of("githubRepository")
        .into_iter()
        .map(|e| e.identifier)
        .collect();
    assert_eq!(stored, vec!["octo/a".to_owned(), "octo/b".to_owned()]);
    Ok(())
}

#[tokio::test]
async fn missing_related_entities_are_created_when_asked() -> anyhow::Result<()> {
    let (sim, client, _) = spawn().await?;
    let mut entity = repo("octo/hello");
    entity
        .relations
        .insert("organization".to_owned(), json!("octo"));
    let options = UpsertOptions {
        merge: false,
        create_missing_related_entities: true,
    };
    let outcomes = client.upsert_entities(&[entity], options).await;
    assert!(outcomes.iter().all(|o| o.is_ok()), "{outcomes:?}");
    assert!(sim.entity("githubOrganization", "octo").is_some());
    let request = sim.requests_to(Endpoint::BulkUpsert);
    let query = request.first().map(|r| r.query.clone()).unwrap_or_default();
    assert!(query.contains(&(
        "create_missing_related_entities".to_owned(),
        "true".to_owned()
    )));
    assert!(query.contains(&("merge".to_owned(), "false".to_owned())));
    Ok(())
}

#[tokio::test]
async fn merge_keeps_stored_properties_and_replace_drops_them() -> anyhow::Result<()> {
    let (sim, client, _) = spawn().await?;
    client
        .upsert_entity(&repo("octo/m"), UpsertOptions::default())
        .await?;
    let mut update = repo("octo/m");
    update.properties = object(json!({"language": "Rust"}));
    let merged = client
        .upsert_entity(&update, UpsertOptions::default())
        .await?;
    assert_eq!(
        merged.properties,
        object(json!({"visibility": "public", "defaultBranch": "main", "language": "Rust"}))
    );
    assert_eq!(merged.blueprint, "githubRepository");
    let replace = UpsertOptions {
        merge: false,
        create_missing_related_entities: false,
    };
    client.upsert_entity(&update, replace).await?;
    let stored = sim
        .entity("githubRepository", "octo/m")
        .map(|e| e.properties);
    assert_eq!(stored, Some(object(json!({"language": "Rust"}))));
    Ok(())
}

#[tokio::test]
async fn a_413_sends_the_batch_one_entity_at_a_time() -> anyhow::Result<()> {
    let (sim, client, _) = spawn().await?;
    sim.fail_next(Some(Endpoint::BulkUpsert), Fault::PayloadTooLarge, 1);
    let entities = vec![repo("octo/x"), repo("bad id"), repo("octo/z")];
    let outcomes = client
        .upsert_entities(&entities, UpsertOptions::default())
        .await;
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| !o.is_ok())
        .map(|o| o.identifier.as_str())
        .collect();
    assert_eq!(failed, vec!["bad id"]);
    assert_eq!(sim.count(Endpoint::BulkUpsert), 1);
    assert_eq!(sim.count(Endpoint::Upsert), 3);
    assert!(
        sim.requests_to(Endpoint::Upsert)
            .iter()
            .all(|r| r.user_agent.as_deref() == Some(own_user_agent().as_str()))
    );
    assert_eq!(sim.entities_of("githubRepository").len(), 2);
    Ok(())
}

#[tokio::test]
async fn a_429_waits_for_retry_after_then_succeeds() -> anyhow::Result<()> {
    let (sim, client, sleeper) = spawn().await?;
    sim.fail_next(
        None,
        Fault::RateLimited {
            retry_after_secs: 3,
        },
        2,
    );
    let outcomes = client
        .upsert_entities(&[repo("octo/r")], UpsertOptions::default())
        .await;
    assert!(outcomes.iter().all(|o| o.is_ok()), "{outcomes:?}");
    assert_eq!(sim.count(Endpoint::BulkUpsert), 3);
    assert_eq!(
        sleeper.waits(),
        vec![Duration::from_secs(3), Duration::from_secs(3)]
    );

    sim.fail_next(None, Fault::RateLimitReset { reset_secs: 2 }, 1);
    client
        .upsert_entity(&repo("octo/s"), UpsertOptions::default())
        .await?;
    assert_eq!(sleeper.waits().last(), Some(&Duration::from_secs(2)));
    Ok(())
}

#[tokio::test]
async fn a_retry_after_beyond_the_max_wait_gives_up_with_the_hint() -> anyhow::Result<()> {
    let (sim, client, sleeper) = spawn().await?;
    sim.fail_next(
        None,
        Fault::RateLimited {
            retry_after_secs: 120,
        },
        1,
    );
    let error = client
        .upsert_entity(&repo("octo/r"), UpsertOptions::default())
        .await
        .err();
    assert!(
        error.as_ref().is_some_and(PortError::is_transient),
        "{error:?}"
    );
    assert_eq!(error.as_ref().and_then(PortError::status), Some(429));
    assert_eq!(
        error.as_ref().and_then(PortError::retry_after),
        Some(Duration::from_secs(120))
    );
    assert!(sleeper.waits().is_empty());
    assert_eq!(sim.count(Endpoint::Upsert), 1);

    sim.fail_next(
        None,
        Fault::RateLimited {
            retry_after_secs: 90,
        },
        1,
    );
    let outcomes = client
        .upsert_entities(&[repo("octo/q")], UpsertOptions::default())
        .await;
    let failure = outcomes.first().and_then(|o| o.failure());
    assert_eq!(
        failure.map(|f| (f.status, f.transient, f.retry_after)),
        Some((Some(429), true, Some(Duration::from_secs(90))))
    );
    Ok(())
}

#[tokio::test]
async fn a_502_burst_is_retried_with_backoff() -> anyhow::Result<()> {
    let (sim, client, sleeper) = spawn().await?;
    sim.fail_next(None, Fault::BadGateway, 3);
    let outcomes = client
        .upsert_entities(&[repo("octo/r")], UpsertOptions::default())
        .await;
    assert!(outcomes.iter().all(|o| o.is_ok()), "{outcomes:?}");
    assert_eq!(sim.count(Endpoint::BulkUpsert), 4);
    let waits = sleeper.waits();
    assert_eq!(waits.len(), 3);
    assert!(waits.iter().all(|w| *w <= Duration::from_secs(10)));
    Ok(())
}

#[tokio::test]
async fn a_persistent_503_becomes_a_transient_failure_per_entity() -> anyhow::Result<()> {
    let (sim, client, _) = spawn().await?;
    sim.fail_next(None, Fault::Unavailable, 10);
    let outcomes = client
        .upsert_entities(&[repo("octo/a"), repo("octo/b")], UpsertOptions::default())
        .await;
    for outcome in &outcomes {
        let failure = outcome.failure();
        assert_eq!(
            failure.map(|f| (f.status, f.transient)),
            Some((Some(503), true)),
            "{outcome:?}"
        );
    }
    assert_eq!(sim.count(Endpoint::BulkUpsert), 4, "max_attempts");
    Ok(())
}

#[tokio::test]
async fn later_batches_are_not_sent_while_port_is_unavailable() -> anyhow::Result<()> {
    let (sim, client, _) = spawn().await?;
    sim.fail_next(
        None,
        Fault::RateLimited {
            retry_after_secs: 600,
        },
        1,
    );
    let entities: Vec<Entity> = (0..45).map(|i| repo(&format!("octo/u{i}"))).collect();
    let outcomes = client
        .upsert_entities(&entities, UpsertOptions::default())
        .await;
    assert_eq!(sim.count(Endpoint::BulkUpsert), 1);
    assert_eq!(outcomes.len(), 45);
    for (n, outcome) in outcomes.iter().enumerate() {
        let failure = outcome.failure();
        assert_eq!(
            failure.map(|f| (f.transient, f.retry_after)),
            Some((true, Some(Duration::from_secs(600))))
        );
        let expected_code = if n < 20 {
            "rate_limit_exceeded"
        } else {
            "not_sent"
        };
        assert_eq!(
            failure.map(|f| f.code.as_str()),
            Some(expected_code),
            "entity {n}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_422_is_permanent_and_not_retried() -> anyhow::Result<()> {
    let (sim, client, sleeper) = spawn().await?;
    let error = client
        .upsert_entity(&repo("no spaces allowed"), UpsertOptions::default())
        .await
        .err();
    assert!(
        error.as_ref().is_some_and(|e| !e.is_transient()),
        "{error:?}"
    );
    assert_eq!(error.as_ref().and_then(PortError::status), Some(422));
    assert_eq!(sim.count(Endpoint::Upsert), 1);
    assert!(sleeper.waits().is_empty());
    let missing = client
        .upsert_entity(
            &Entity {
                blueprint: "nope".to_owned(),
                ..repo("x")
            },
            UpsertOptions::default(),
        )
        .await;
    assert_eq!(
        missing.err().as_ref().and_then(PortError::code),
        Some("not_found")
    );
    Ok(())
}

#[tokio::test]
async fn the_token_is_cached_and_refreshed_once_on_a_401() -> anyhow::Result<()> {
    let (sim, client, _) = spawn().await?;
    for i in 0..3 {
        client
            .upsert_entity(&repo(&format!("octo/t{i}")), UpsertOptions::default())
            .await?;
    }
    assert_eq!(sim.count(Endpoint::AccessToken), 1);

    sim.expire_tokens();
    client
        .upsert_entity(&repo("octo/after-expiry"), UpsertOptions::default())
        .await?;
    assert_eq!(sim.count(Endpoint::AccessToken), 2);
    assert_eq!(sim.count(Endpoint::Upsert), 5, "one 401, then the retry");

    sim.fail_next(Some(Endpoint::Upsert), Fault::Unauthorized, 2);
    let error = client
        .upsert_entity(&repo("octo/revoked"), UpsertOptions::default())
        .await
        .err();
    assert!(
        error
            .as_ref()
            .is_some_and(|e| !e.is_transient() && e.status() == Some(401)),
        "{error:?}"
    );
    assert_eq!(sim.count(Endpoint::AccessToken), 3, "a single refresh");
    Ok(())
}

#[tokio::test]
async fn a_token_shorter_than_the_refresh_margin_is_still_reused() -> anyhow::Result<()> {
    // Another process may hold the same token with less time left: trust `expiresIn` and use the
    // token for half its life rather than fetching on every call.
    let (sim, client, _) =
        spawn_with(|c| c.token_refresh_margin = Duration::from_secs(3600)).await?;
    sim.set_token_lifetime(Duration::from_secs(600));
    client
        .upsert_entity(&repo("octo/one"), UpsertOptions::default())
        .await?;
    client
        .upsert_entity(&repo("octo/two"), UpsertOptions::default())
        .await?;
    assert_eq!(sim.count(Endpoint::AccessToken), 1);
    Ok(())
}

#[tokio::test]
async fn wrong_credentials_are_a_permanent_failure() -> anyhow::Result<()> {
    let (sim, client, _) = spawn().await?;
    sim.set_credentials("someone-else", "other-secret");
    let error = client
        .upsert_entity(&repo("octo/r"), UpsertOptions::default())
        .await
        .err();
    assert!(
        error
            .as_ref()
            .is_some_and(|e| !e.is_transient() && e.status() == Some(401)),
        "{error:?}"
    );
    assert_eq!(sim.count(Endpoint::Upsert), 0);
    let rendered = format!(
        "{error:?} {}",
        error.as_ref().map(ToString::to_string).unwrap_or_default()
    );
    assert!(!rendered.contains(port_github_simulators::port_sim::CLIENT_SECRET));
    Ok(())
}

#[tokio::test]
async fn concurrent_calls_share_one_token_fetch() -> anyhow::Result<()> {
    let (sim, client, _) = spawn().await?;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            client
                .upsert_entity(&repo(&format!("octo/c{i}")), UpsertOptions::default())
                .await
        }));
    }
    for task in tasks {
        task.await??;
    }
    assert_eq!(sim.count(Endpoint::AccessToken), 1);
    assert_eq!(sim.entities_of("githubRepository").len(), 8);
    Ok(())
}

#[tokio::test]
async fn a_request_timeout_is_retried_and_then_transient() -> anyhow::Result<()> {
    let (sim, client, sleeper) =
        spawn_with(|c| c.request_timeout = Duration::from_millis(300)).await?;
    sim.stall_next(Duration::from_secs(5), 1);
    client
        .upsert_entity(&repo("octo/slow"), UpsertOptions::default())
        .await?;
    assert_eq!(sleeper.waits().len(), 1, "one timeout, one retry");

    sim.stall_next(Duration::from_secs(5), 4);
    let error = client
        .upsert_entity(&repo("octo/slower"), UpsertOptions::default())
        .await
        .err();
    assert!(
        error.as_ref().is_some_and(PortError::is_transient),
        "{error:?}"
    );
    assert_eq!(
        error.as_ref().and_then(PortError::status),
        None,
        "no HTTP answer, a timeout"
    );
    Ok(())
}

#[tokio::test]
async fn an_unreachable_port_is_transient() -> anyhow::Result<()> {
    // Port 1 on loopback: nothing listens there, the connection is refused.
    let base_url = "http://127.0.0.1:1";
    let mut config = port_github_simulators::port_sim::harness::client_config(base_url);
    config.retry.max_attempts = 2;
    let sleeper =
        std::sync::Arc::new(port_github_simulators::port_sim::harness::RecordingSleeper::default());
    let client = port_github_core::port::PortClient::with_sleeper(config, sleeper.clone())?;
    let error = client
        .upsert_entity(&repo("octo/r"), UpsertOptions::default())
        .await
        .err();
    assert!(
        error.as_ref().is_some_and(PortError::is_transient),
        "{error:?}"
    );
    assert_eq!(sleeper.waits().len(), 1);
    Ok(())
}
