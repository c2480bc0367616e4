//! A first resync into a fresh Port organization (Port's `_user` and `_team` blueprints only, no
//! integration), in process against the simulators: the integration provisions what it needs,
//! leaves what the user made alone, and a run in which Port refused entities says so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use port_github_core::mapping::defaults::DEFAULT_BLUEPRINTS;
use port_github_core::resync::driver::DriveSettings;
use port_github_core::resync::{COMPLETED, COMPLETED_WITH_ERRORS};
use port_github_simulators::github_sim::{OrgSpec, SimConfig};
use port_github_simulators::port_sim::Blueprint;
use port_github_simulators::port_sim::harness::INTEGRATION_ID;
use port_github_simulators::resync_world::ResyncWorld;
use serde_json::{Value, json};

fn counts(world: &ResyncWorld) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for entity in world.port.catalog() {
        *out.entry(entity.blueprint).or_default() += 1;
    }
    out
}

fn builtin(identifier: &str) -> Value {
    let list: Vec<Value> = serde_json::from_str(DEFAULT_BLUEPRINTS).unwrap();
    list.into_iter()
        .find(|b| b["identifier"] == json!(identifier))
        .unwrap()
}

async fn fresh_world() -> ResyncWorld {
    ResyncWorld::start_fresh(
        SimConfig {
            spec: OrgSpec::default(),
            ..SimConfig::default()
        },
        None,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_first_resync_into_a_fresh_organization_lands_everything() {
    let world = fresh_world().await;
    // The user made their own githubTeam before: a title and a property of their own.
    let mut theirs = builtin("githubTeam");
    theirs["title"] = json!("Our teams");
    theirs["schema"]["properties"]["budget"] = json!({"type": "number"});
    world
        .port
        .add_blueprint(Blueprint::from_port_json(&theirs).unwrap());
    assert!(world.port.integration(INTEGRATION_ID).is_none());

    let report = world.run(&DriveSettings::default()).await.unwrap();
    let summary = report.summary.unwrap();
    assert_eq!(summary.status, COMPLETED, "{summary:#?}");
    assert!(summary.refused.is_empty(), "{summary:#?}");

    // The integration exists, holding the mapping the run used.
    let record = world.port.integration(INTEGRATION_ID).unwrap();
    assert_eq!(record["config"], world.mapping.config().document);
    // Every blueprint the mapping needs exists; the user's is as they made it.
    let list: Vec<Value> = serde_json::from_str(DEFAULT_BLUEPRINTS).unwrap();
    for definition in &list {
        let id = definition["identifier"].as_str().unwrap();
        assert!(world.port.blueprint(id).is_some(), "{id}");
    }
    assert_eq!(world.port.blueprint("githubTeam"), Some(theirs));
    // Every entity landed: the same catalog as a run into an organization that had it all.
    let prepared = ResyncWorld::with_spec(OrgSpec::default(), None)
        .await
        .unwrap();
    prepared.run(&DriveSettings::default()).await.unwrap();
    assert_eq!(counts(&world), counts(&prepared));
    assert!(counts(&world).values().sum::<usize>() > 50);
    // The resync state reached Port: running, then completed.
    let states: Vec<Value> = world
        .port
        .resync_states()
        .into_iter()
        .map(|s| s.body["status"].clone())
        .collect();
    assert_eq!(states, vec![json!("running"), json!("completed")]);
}

#[tokio::test]
async fn a_run_with_entities_refused_by_port_says_so_and_the_rest_lands() {
    let world = fresh_world().await;
    // The user's githubIssue says `status` is a number: Port refuses every issue we send.
    let mut theirs = builtin("githubIssue");
    theirs["schema"]["properties"]["status"] = json!({"type": "number"});
    world
        .port
        .add_blueprint(Blueprint::from_port_json(&theirs).unwrap());

    let report = world.run(&DriveSettings::default()).await.unwrap();
    let summary = report.summary.unwrap();
    assert_eq!(summary.status, COMPLETED_WITH_ERRORS, "{summary:#?}");
    let spec = OrgSpec::default();
    let refused = summary.refused.get("githubIssue").expect("issues refused");
    assert_eq!(refused.count as usize, spec.repos * spec.issues);
    assert!(
        refused.first_reason.contains("status") && refused.first_reason.contains("number"),
        "{refused:?}"
    );
    assert_eq!(summary.refused.len(), 1, "{summary:#?}");
    assert_eq!(
        summary.counters.get("refused").copied(),
        Some(refused.count)
    );
    // The others landed; no issue did.
    let counts = counts(&world);
    assert_eq!(counts.get("githubIssue"), None);
    assert_eq!(counts.get("githubRepository"), Some(&spec.repos));
    // Port shows the run as failed (its states have no "with errors").
    let last = world.port.resync_states().last().cloned().unwrap();
    assert_eq!(last.body["status"], json!("failed"));
    // The next run, once the user fixed their blueprint, completes and sends the issues.
    world
        .port
        .add_blueprint(Blueprint::from_port_json(&builtin("githubIssue")).unwrap());
    let again = world.run(&DriveSettings::default()).await.unwrap();
    let again = again.summary.unwrap();
    assert_eq!(again.status, COMPLETED, "{again:#?}");
    assert_eq!(
        self::counts(&world).get("githubIssue"),
        Some(&(spec.repos * spec.issues))
    );
}

#[tokio::test]
async fn with_provisioning_off_a_fresh_organization_refuses_and_the_run_says_so() {
    let mut world = fresh_world().await;
    world.provisioning = false;
    let report = world.run(&DriveSettings::default()).await.unwrap();
    let summary = report.summary.unwrap();
    assert_eq!(summary.status, COMPLETED_WITH_ERRORS, "{summary:#?}");
    let repos = summary.refused.get("githubRepository").unwrap();
    assert!(
        repos.first_reason.contains("githubRepository") && repos.first_reason.contains("not found"),
        "{repos:?}"
    );
    assert!(world.port.integration(INTEGRATION_ID).is_none());
    assert!(world.port.catalog().is_empty());
}
