//! Deletes and ownership: single and bulk deletes against the simulator, and both ways of
//! finding the entities this integration owns (seeded beside another integration's).

use port_github_core::port::{DeleteOutcome, EntityRef};
use port_github_simulators::port_sim::harness::{INTEGRATION_ID, INTEGRATION_TYPE, spawn};
use port_github_simulators::port_sim::{Endpoint, Fault, PortSim};
use serde_json::json;

fn datasource(integration_type: &str, integration_id: &str) -> String {
    format!("port-ocean/{integration_type}/0.9.0/{integration_id}/exporter")
}

fn seed(sim: &PortSim, blueprint: &str, identifier: &str, owner: &str) -> anyhow::Result<()> {
    sim.seed_entity(blueprint, json!({"identifier": identifier}), Some(owner))
}

fn refs(pairs: &[(&str, &str)]) -> Vec<EntityRef> {
    let mut refs: Vec<EntityRef> = pairs
        .iter()
        .map(|(blueprint, identifier)| EntityRef {
            blueprint: (*blueprint).to_owned(),
            identifier: (*identifier).to_owned(),
        })
        .collect();
    refs.sort();
    refs
}

#[tokio::test]
async fn deleting_a_missing_entity_counts_as_done() -> anyhow::Result<()> {
    let (sim, client, _) = spawn().await?;
    let ours = datasource(INTEGRATION_TYPE, INTEGRATION_ID);
    seed(&sim, "githubRepository", "octo/with/slashes", &ours)?;
    let first = client
        .delete_entity("githubRepository", "octo/with/slashes", false)
        .await?;
    assert_eq!(first, DeleteOutcome::Deleted);
    assert!(
        sim.entity("githubRepository", "octo/with/slashes")
            .is_none()
    );
    let again = client
        .delete_entity("githubRepository", "octo/with/slashes", false)
        .await?;
    assert_eq!(again, DeleteOutcome::AlreadyGone);
    let query = sim
        .requests_to(Endpoint::Delete)
        .first()
        .map(|r| r.query.clone())
        .unwrap_or_default();
    assert_eq!(
        query,
        vec![("delete_dependents".to_owned(), "false".to_owned())]
    );
    Ok(())
}

#[tokio::test]
async fn an_entity_with_dependents_needs_delete_dependents() -> anyhow::Result<()> {
    let (sim, client, _) = spawn().await?;
    let ours = datasource(INTEGRATION_TYPE, INTEGRATION_ID);
    seed(&sim, "githubOrganization", "octo", &ours)?;
    sim.seed_entity(
        "githubRepository",
        json!({"identifier": "octo/r", "relations": {"organization": "octo"}}),
        Some(&ours),
    )?;
    let refused = client
        .delete_entity("githubOrganization", "octo", false)
        .await
        .err();
    assert!(
        refused
            .as_ref()
            .is_some_and(|e| !e.is_transient() && e.status() == Some(422)),
        "{refused:?}"
    );
    assert_eq!(
        client
            .delete_entity("githubOrganization", "octo", true)
            .await?,
        DeleteOutcome::Deleted
    );
    assert!(
        sim.catalog().is_empty(),
        "the dependent repository went too"
    );
    Ok(())
}

#[tokio::test]
async fn bulk_delete_reports_what_port_did_not_delete() -> anyhow::Result<()> {
    let (sim, client, _) = spawn().await?;
    let ours = datasource(INTEGRATION_TYPE, INTEGRATION_ID);
    let ids: Vec<String> = (0..150).map(|i| format!("octo/r{i}")).collect();
    for id in &ids {
        seed(&sim, "githubRepository", id, &ours)?;
    }
    sim.protect_from_bulk_delete("githubRepository", "octo/r7");
    sim.protect_from_bulk_delete("githubRepository", "octo/r120");
    let report = client.delete_entities("githubRepository", &ids, true).await;

    assert_eq!(
        sim.count(Endpoint::BulkDelete),
        2,
        "at most 100 per request"
    );
    assert_eq!(report.deleted.len(), 148);
    let kept: Vec<&str> = report
        .not_deleted
        .iter()
        .map(|n| n.identifier.as_str())
        .collect();
    assert_eq!(kept, vec!["octo/r7", "octo/r120"]);
    assert!(report.not_deleted.iter().all(|n| !n.failure.transient));
    let left: Vec<String> = sim
        .entities_of("githubRepository")
        .into_iter()
        .map(|e| e.identifier)
        .collect();
    assert_eq!(left, vec!["octo/r120".to_owned(), "octo/r7".to_owned()]);
    let query = sim
        .requests_to(Endpoint::BulkDelete)
        .first()
        .map(|r| r.query.clone())
        .unwrap_or_default();
    assert_eq!(
        query,
        vec![("delete_dependents".to_owned(), "true".to_owned())]
    );
    Ok(())
}

#[tokio::test]
async fn a_failed_bulk_delete_marks_its_whole_chunk() -> anyhow::Result<()> {
    let (sim, client, _) = spawn().await?;
    let ours = datasource(INTEGRATION_TYPE, INTEGRATION_ID);
    for id in ["a", "b"] {
        seed(&sim, "githubRepository", id, &ours)?;
    }
    sim.fail_next(Some(Endpoint::BulkDelete), Fault::Unavailable, 10);
    let ids = vec!["a".to_owned(), "b".to_owned()];
    let report = client
        .delete_entities("githubRepository", &ids, false)
        .await;
    assert!(report.deleted.is_empty());
    let failures: Vec<(Option<u16>, bool)> = report
        .not_deleted
        .iter()
        .map(|n| (n.failure.status, n.failure.transient))
        .collect();
    assert_eq!(failures, vec![(Some(503), true), (Some(503), true)]);
    assert_eq!(sim.entities_of("githubRepository").len(), 2);
    Ok(())
}

/// Ours, another integration of the same type, and another type with our identifier.
fn seed_three_owners(sim: &PortSim) -> anyhow::Result<()> {
    let ours = datasource(INTEGRATION_TYPE, INTEGRATION_ID);
    let same_type_other_id = datasource(INTEGRATION_TYPE, "other-github");
    let other_type = datasource("gitlab", INTEGRATION_ID);
    seed(sim, "githubOrganization", "octo", &ours)?;
    seed(sim, "githubRepository", "octo/a", &ours)?;
    seed(sim, "githubRepository", "octo/b", &ours)?;
    seed(sim, "githubRepository", "octo/theirs", &same_type_other_id)?;
    seed(sim, "githubRepository", "octo/gitlab", &other_type)?;
    sim.seed_entity(
        "githubRepository",
        json!({"identifier": "octo/ui-made"}),
        None,
    )
}

#[tokio::test]
async fn the_datasource_search_finds_only_our_entities() -> anyhow::Result<()> {
    let (sim, client, _) = spawn().await?;
    seed_three_owners(&sim)?;
    let mut all = client.search_owned_entities(None).await?;
    all.sort();
    let expected = refs(&[
        ("githubOrganization", "octo"),
        ("githubRepository", "octo/a"),
        ("githubRepository", "octo/b"),
    ]);
    assert_eq!(all, expected);
    let mut repos = client
        .search_owned_entities(Some("githubRepository"))
        .await?;
    repos.sort();
    assert_eq!(
        repos,
        refs(&[
            ("githubRepository", "octo/a"),
            ("githubRepository", "octo/b")
        ])
    );

    let request = sim.requests_to(Endpoint::Search);
    let body = request
        .first()
        .and_then(|r| r.body.clone())
        .unwrap_or_default();
    assert_eq!(
        body["rules"],
        json!([
            {"property": "$datasource", "operator": "contains", "value": format!("port-ocean/{INTEGRATION_TYPE}/")},
            {"property": "$datasource", "operator": "contains", "value": format!("/{INTEGRATION_ID}/exporter")}
        ])
    );
    let include: Vec<&str> = request
        .first()
        .map(|r| {
            r.query
                .iter()
                .filter(|(k, _)| k == "include")
                .map(|(_, v)| v.as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(include, vec!["blueprint", "identifier"]);
    Ok(())
}

#[tokio::test]
async fn the_stale_sweep_pages_through_our_entities() -> anyhow::Result<()> {
    let (sim, client, _) = spawn().await?;
    seed_three_owners(&sim)?;
    let ours = datasource(INTEGRATION_TYPE, INTEGRATION_ID);
    for i in 0..5200 {
        seed(
            &sim,
            "githubPullRequest",
            &format!("octo/a/pull/{i}"),
            &ours,
        )?;
    }
    let swept = client.sweep_owned_entities().await?;
    assert_eq!(sim.count(Endpoint::DatasourceEntities), 2, "5,000 per page");
    assert_eq!(swept.len(), 5203);
    assert!(
        !swept
            .iter()
            .any(|e| e.identifier == "octo/theirs" || e.identifier == "octo/gitlab")
    );
    let second_page = sim
        .requests_to(Endpoint::DatasourceEntities)
        .get(1)
        .and_then(|r| r.body.clone())
        .unwrap_or_default();
    assert_eq!(
        second_page["datasource_prefix"],
        json!(format!("port-ocean/{INTEGRATION_TYPE}/"))
    );
    assert_eq!(
        second_page["datasource_suffix"],
        json!(format!("/{INTEGRATION_ID}/exporter"))
    );
    assert!(second_page.get("from").is_some_and(|f| !f.is_null()));
    Ok(())
}

#[tokio::test]
async fn a_blueprint_search_follows_the_cursor() -> anyhow::Result<()> {
    let (sim, client, _) = spawn().await?;
    let ours = datasource(INTEGRATION_TYPE, INTEGRATION_ID);
    for i in 0..2500 {
        seed(
            &sim,
            "githubPullRequest",
            &format!("octo/a/pull/{i}"),
            &ours,
        )?;
    }
    seed(
        &sim,
        "githubPullRequest",
        "octo/b/pull/1",
        &datasource(INTEGRATION_TYPE, "other-github"),
    )?;
    let query = json!({"combinator": "and", "rules": [
        {"property": "$datasource", "operator": "contains", "value": format!("/{INTEGRATION_ID}/exporter")}
    ]});
    let found = client
        .search_blueprint_entities("githubPullRequest", &query, &["identifier"])
        .await?;
    assert_eq!(found.len(), 2500);
    assert!(found.iter().all(|e| {
        e.as_object()
            .is_some_and(|o| o.len() == 1 && o.contains_key("identifier"))
    }));
    assert_eq!(sim.count(Endpoint::BlueprintSearch), 3, "1,000 per page");
    let unknown = client
        .search_blueprint_entities("nope", &query, &[])
        .await
        .err();
    assert_eq!(unknown.as_ref().and_then(|e| e.code()), Some("not_found"));
    Ok(())
}
