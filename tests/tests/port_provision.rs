//! First contact with a Port organization (`port::provision`) against the Port simulator: a
//! fresh organization gets the integration record and every blueprint the mapping targets; what
//! exists is never changed; two containers at once both succeed; refusals name the credential.

use std::sync::Arc;

use port_github_core::mapping::defaults::{DEFAULT_BLUEPRINTS, DEFAULT_PORT_APP_CONFIG};
use port_github_core::mapping::{CompiledMapping, JqOptions, PortAppConfig};
use port_github_core::port::provision::{IntegrationStep, ProvisionError, Provisioner, provision};
use port_github_core::port::{Created, PortClient};
use port_github_simulators::port_sim::harness::{INTEGRATION_ID, INTEGRATION_TYPE, client_config};
use port_github_simulators::port_sim::{Blueprint, Endpoint, Fault, PortSim};
use serde_json::{Value, json};

fn compile(text: &str) -> CompiledMapping {
    let config = PortAppConfig::from_yaml_or_json(text).expect("mapping parses");
    CompiledMapping::compile(&config, &JqOptions::default()).expect("mapping compiles")
}

fn builtin_ids() -> Vec<String> {
    let list: Vec<Value> = serde_json::from_str(DEFAULT_BLUEPRINTS).expect("built-in blueprints");
    let mut ids: Vec<String> = list
        .iter()
        .filter_map(|b| b["identifier"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

fn client(sim: &PortSim) -> PortClient {
    PortClient::new(client_config(sim.base_url())).expect("client")
}

#[tokio::test]
async fn a_fresh_organization_gets_the_integration_and_every_blueprint() -> anyhow::Result<()> {
    let sim = PortSim::start_fresh().await?;
    let mapping = compile(DEFAULT_PORT_APP_CONFIG);
    let report = provision(&client(&sim), &mapping, DEFAULT_BLUEPRINTS).await?;
    assert_eq!(report.integration, IntegrationStep::Created);
    let mut created = report.created.clone();
    created.sort();
    assert_eq!(created, builtin_ids());
    assert!(report.not_provided.is_empty() && report.relations_left_out.is_empty());

    let record = sim
        .integration(INTEGRATION_ID)
        .expect("integration created");
    assert_eq!(record["config"], mapping.config().document);
    assert_eq!(record["installationAppType"], json!(INTEGRATION_TYPE));
    // Every built-in blueprint exists with its relations, as defined.
    let builtin: Vec<Value> = serde_json::from_str(DEFAULT_BLUEPRINTS)?;
    for definition in &builtin {
        let id = definition["identifier"].as_str().unwrap_or_default();
        let stored = sim.blueprint(id).expect("created");
        assert_eq!(stored["relations"], definition["relations"], "{id}");
        assert_eq!(stored["schema"], definition["schema"], "{id}");
    }
    // Port's own blueprints are still there, as they were.
    assert!(sim.blueprint("_user").is_some() && sim.blueprint("_team").is_some());
    // Bare first (no relations in any create), then one PATCH per blueprint with relations.
    for request in sim.requests_to(Endpoint::CreateBlueprint) {
        let body = request.body.unwrap_or_default();
        assert!(body.get("relations").is_none(), "{body}");
    }
    let with_relations = builtin
        .iter()
        .filter(|b| b["relations"].as_object().is_some_and(|r| !r.is_empty()))
        .count();
    assert_eq!(sim.count(Endpoint::PatchBlueprint) as usize, with_relations);
    Ok(())
}

#[tokio::test]
async fn a_second_run_changes_nothing_and_existing_blueprints_stay_the_users() -> anyhow::Result<()>
{
    let sim = PortSim::start_fresh().await?;
    // The user made their own githubRepository, unlike ours.
    let theirs = json!({"identifier": "githubRepository", "title": "Their repos",
        "schema": {"properties": {"team": {"type": "string"}}}, "relations": {}});
    sim.add_blueprint(Blueprint::from_port_json(&theirs).expect("blueprint"));
    let mapping = compile(DEFAULT_PORT_APP_CONFIG);
    let port = client(&sim);
    let first = provision(&port, &mapping, DEFAULT_BLUEPRINTS).await?;
    assert!(first.present.contains(&"githubRepository".to_owned()));
    assert!(!first.created.contains(&"githubRepository".to_owned()));
    assert_eq!(sim.blueprint("githubRepository"), Some(theirs));
    // Ours relate to theirs: the relation target exists, so it is kept.
    let pr = sim.blueprint("githubPullRequest").expect("created");
    assert_eq!(
        pr["relations"]["repository"]["target"],
        json!("githubRepository")
    );

    let before = sim.requests().len();
    let second = provision(&port, &mapping, DEFAULT_BLUEPRINTS).await?;
    assert_eq!(second.integration, IntegrationStep::Present);
    assert!(second.created.is_empty() && !second.changed_anything());
    let writes = sim.requests()[before..]
        .iter()
        .filter(|r| r.method != "GET" && r.endpoint != Endpoint::AccessToken)
        .count();
    assert_eq!(writes, 0, "a second provisioning writes nothing");
    Ok(())
}

#[tokio::test]
async fn an_empty_config_is_filled_and_a_users_config_is_never_overwritten() -> anyhow::Result<()> {
    let sim = PortSim::start_fresh().await?;
    let mapping = compile(DEFAULT_PORT_APP_CONFIG);
    sim.set_integration_config(INTEGRATION_ID, json!({}));
    let report = provision(&client(&sim), &mapping, DEFAULT_BLUEPRINTS).await?;
    assert_eq!(report.integration, IntegrationStep::ConfigFilled);
    assert_eq!(
        sim.integration(INTEGRATION_ID).map(|r| r["config"].clone()),
        Some(mapping.config().document.clone())
    );

    let users = json!({"resources": [{"kind": "repository", "selector": {"query": "true"},
        "port": {"entity": {"mappings": {"identifier": ".name", "blueprint": "\"theirs\""}}}}]});
    sim.set_integration_config(INTEGRATION_ID, users.clone());
    let report = provision(&client(&sim), &mapping, DEFAULT_BLUEPRINTS).await?;
    assert_eq!(report.integration, IntegrationStep::Present);
    assert_eq!(
        sim.integration(INTEGRATION_ID).map(|r| r["config"].clone()),
        Some(users)
    );
    Ok(())
}

#[tokio::test]
async fn two_containers_provisioning_at_once_both_succeed() -> anyhow::Result<()> {
    let sim = PortSim::start_fresh().await?;
    let mapping = compile(DEFAULT_PORT_APP_CONFIG);
    let (a, b) = (client(&sim), client(&sim));
    let (first, second) = tokio::join!(
        provision(&a, &mapping, DEFAULT_BLUEPRINTS),
        provision(&b, &mapping, DEFAULT_BLUEPRINTS)
    );
    let (first, second) = (first?, second?);
    let steps = [first.integration, second.integration];
    assert!(steps.contains(&IntegrationStep::Created), "{steps:?}");
    let mut created: Vec<String> = first
        .created
        .iter()
        .chain(&second.created)
        .cloned()
        .collect();
    created.sort();
    assert_eq!(
        created,
        builtin_ids(),
        "each blueprint created exactly once"
    );
    assert_eq!(sim.blueprint_ids().len(), builtin_ids().len() + 2);

    // The 409 paths themselves: what exists already is "created elsewhere".
    assert_eq!(
        a.create_integration(&json!({})).await?,
        Created::AlreadyExisted
    );
    let repo = json!({"identifier": "githubRepository", "title": "x", "schema": {}});
    assert_eq!(a.create_blueprint(&repo).await?, Created::AlreadyExisted);
    Ok(())
}

#[tokio::test]
async fn refusals_say_which_credential_lacks_which_permission() -> anyhow::Result<()> {
    let sim = PortSim::start_fresh().await?;
    let mapping = compile(DEFAULT_PORT_APP_CONFIG);
    sim.fail_next(Some(Endpoint::CreateBlueprint), Fault::Forbidden, 1);
    let error = provision(&client(&sim), &mapping, DEFAULT_BLUEPRINTS)
        .await
        .expect_err("403");
    assert!(
        matches!(error, ProvisionError::Forbidden { .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains("create blueprint githubOrganization"),
        "{text}"
    );
    assert!(
        text.contains(port_github_simulators::port_sim::CLIENT_ID),
        "{text}"
    );
    assert!(text.contains("PORT_CREATE_RESOURCES=false"), "{text}");

    sim.set_credentials("other-id", "other-secret");
    let error = provision(&client(&sim), &mapping, DEFAULT_BLUEPRINTS)
        .await
        .expect_err("401");
    assert!(
        matches!(error, ProvisionError::Credentials { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("PORT_CLIENT_ID"), "{error}");
    Ok(())
}

#[tokio::test]
async fn targets_that_are_not_built_in_are_reported_not_invented() -> anyhow::Result<()> {
    let sim = PortSim::start_fresh().await?;
    let mapping = compile(
        r#"
resources:
  - kind: repository
    selector: {query: "true"}
    port:
      entity:
        mappings:
          identifier: .name
          blueprint: '"service"'
  - kind: pull-request
    selector: {query: "true"}
    port:
      entity:
        mappings:
          identifier: .id | tostring
          blueprint: '"githubPullRequest"'
  - kind: issue
    selector: {query: "true"}
    port:
      entity:
        mappings:
          identifier: .id | tostring
          blueprint: 'if .pull_request then "a" else "b" end'
"#,
    );
    let report = provision(&client(&sim), &mapping, DEFAULT_BLUEPRINTS).await?;
    assert_eq!(report.not_provided, vec!["service".to_owned()]);
    assert_eq!(report.created, vec!["githubPullRequest".to_owned()]);
    assert_eq!(report.computed_targets, vec!["issue".to_owned()]);
    // Its relations to blueprints that do not exist are left out, and said so.
    assert!(
        report
            .relations_left_out
            .iter()
            .any(|r| r.starts_with("githubPullRequest.repository")),
        "{report:?}"
    );
    assert!(sim.blueprint("service").is_none());
    Ok(())
}

#[tokio::test]
async fn the_provisioner_runs_once_per_mapping_and_not_at_all_when_off() -> anyhow::Result<()> {
    let sim = PortSim::start_fresh().await?;
    let port = client(&sim);
    let mapping = compile(DEFAULT_PORT_APP_CONFIG);
    let off = Provisioner::new(false, DEFAULT_BLUEPRINTS);
    assert!(off.ensure(&port, &mapping).await.is_none());
    assert!(sim.requests().is_empty(), "turned off, it never calls Port");

    let provisioner = Arc::new(Provisioner::new(true, DEFAULT_BLUEPRINTS));
    let (a, b) = tokio::join!(
        provisioner.ensure(&port, &mapping),
        provisioner.ensure(&port, &mapping)
    );
    assert_eq!(
        [a.is_some(), b.is_some()]
            .iter()
            .filter(|ran| **ran)
            .count(),
        1,
        "single flight"
    );
    let before = sim.requests().len();
    assert!(provisioner.ensure(&port, &mapping).await.is_none());
    assert_eq!(sim.requests().len(), before, "no request once done");

    // A new mapping (edited in Port) targeting another blueprint: provisioned again.
    sim.add_blueprint(Blueprint::bare("placeholder"));
    let edited = compile(
        r#"
resources:
  - kind: repository
    selector: {query: "true"}
    port:
      entity:
        mappings:
          identifier: .name
          blueprint: '"githubRepository"'
"#,
    );
    let again = provisioner.ensure(&port, &edited).await;
    assert!(matches!(again, Some(Ok(_))), "{again:?}");

    // A failure is retried, but not at once.
    let fresh = PortSim::start_fresh().await?;
    let port = client(&fresh);
    fresh.fail_next(Some(Endpoint::GetIntegration), Fault::Forbidden, 1);
    let provisioner = Provisioner::new(true, DEFAULT_BLUEPRINTS);
    assert!(matches!(
        provisioner.ensure(&port, &mapping).await,
        Some(Err(_))
    ));
    assert!(
        provisioner.ensure(&port, &mapping).await.is_none(),
        "not at once"
    );
    Ok(())
}
