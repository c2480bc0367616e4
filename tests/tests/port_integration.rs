//! The integration record in Port: the mapping with its TTL cache, the resync state, and the
//! masked raw data examples, against the simulator.

use std::time::Duration;

use port_github_core::port::{ResyncState, ResyncStatus};
use port_github_simulators::port_sim::Endpoint;
use port_github_simulators::port_sim::harness::{INTEGRATION_ID, spawn, spawn_with};
use serde_json::json;

#[tokio::test]
async fn the_mapping_is_fetched_once_within_its_ttl() -> anyhow::Result<()> {
    let (sim, client, _) = spawn().await?;
    let mapping = json!({"deleteDependentEntities": true, "resources": [{"kind": "repository"}]});
    sim.set_integration_config(INTEGRATION_ID, mapping.clone());
    for _ in 0..3 {
        assert_eq!(client.integration_config().await?, Some(mapping.clone()));
    }
    assert_eq!(sim.count(Endpoint::GetIntegration), 1);
    client.forget_integration_config().await;
    assert_eq!(client.integration_config().await?, Some(mapping));
    assert_eq!(sim.count(Endpoint::GetIntegration), 2);
    Ok(())
}

#[tokio::test]
async fn an_expired_ttl_fetches_again_and_a_missing_integration_is_none() -> anyhow::Result<()> {
    let (sim, client, _) = spawn_with(|c| c.integration_config_ttl = Duration::ZERO).await?;
    assert_eq!(
        client.integration_config().await?,
        None,
        "404: not created yet"
    );
    sim.set_integration_config(INTEGRATION_ID, json!({"resources": []}));
    assert_eq!(
        client.integration_config().await?,
        Some(json!({"resources": []}))
    );
    assert_eq!(sim.count(Endpoint::GetIntegration), 2);
    Ok(())
}

#[tokio::test]
async fn the_resync_state_uses_ports_keys() -> anyhow::Result<()> {
    let (sim, client, _) = spawn().await?;
    let state = ResyncState {
        status: ResyncStatus::Running,
        last_resync_start: chrono::DateTime::from_timestamp(1_750_000_000, 0),
        last_resync_end: None,
        next_resync: chrono::DateTime::from_timestamp(1_750_003_600, 0),
        interval_in_minutes: Some(60),
    };
    // Port answers 404 for a sub-resource of an integration that does not exist.
    let missing = client.patch_resync_state(&state).await.unwrap_err();
    assert_eq!(missing.status(), Some(404));
    sim.set_integration_config(INTEGRATION_ID, json!({}));
    client.patch_resync_state(&state).await?;
    let updates = sim.resync_states();
    assert_eq!(updates.len(), 1);
    let update = updates
        .first()
        .map(|u| (u.integration.clone(), u.body.clone()));
    assert_eq!(
        update,
        Some((
            INTEGRATION_ID.to_owned(),
            json!({
                "status": "running",
                "lastResyncStart": "2025-06-15T15:06:40.000Z",
                "lastResyncEnd": null,
                "nextResync": "2025-06-15T16:06:40.000Z",
                "intervalInMinuets": 60
            })
        ))
    );
    Ok(())
}

#[tokio::test]
async fn raw_examples_are_masked_and_capped_at_five() -> anyhow::Result<()> {
    let (sim, client, _) = spawn().await?;
    let token = format!("ghs_{}", "T0k3n".repeat(8));
    let raw: Vec<serde_json::Value> = (0..7)
        .map(|i| {
            json!({
                "id": i,
                "name": format!("repo-{i}"),
                "private": true,
                "clone_url": format!("https://x-access-token:{token}@github.com/octo/repo-{i}.git"),
                "config": {"secret": "hunter2", "content_type": "json"},
                "__repository": {"full_name": "octo/repo"}
            })
        })
        .collect();
    let missing = client
        .send_raw_examples("repository", &raw)
        .await
        .unwrap_err();
    assert_eq!(missing.status(), Some(404), "no integration yet");
    sim.set_integration_config(INTEGRATION_ID, json!({}));
    client.send_raw_examples("repository", &raw).await?;
    let uploads = sim.examples();
    assert_eq!(uploads.len(), 1);
    let upload = uploads
        .first()
        .map(|u| (u.integration.as_str(), u.kind.as_str(), u.examples.len()));
    assert_eq!(upload, Some((INTEGRATION_ID, "repository", 5)));
    let first = uploads
        .first()
        .and_then(|u| u.examples.first())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        first,
        json!({
            "id": 0,
            "name": "repo-0",
            "private": true,
            "clone_url": "********",
            "config": {"secret": "********", "content_type": "json"},
            "__repository": {"full_name": "octo/repo"}
        })
    );
    let sent = sim.requests_to(Endpoint::Examples);
    assert!(sent.iter().all(|r| {
        r.body
            .as_ref()
            .is_some_and(|b| !b.to_string().contains("hunter2"))
    }));
    Ok(())
}
