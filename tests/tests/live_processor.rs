//! The live-event processor against both simulators: GitHub (re-fetch) and Port (catalog),
//! with Port's own default mapping, unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use port_github_core::github::{Feature, GitHubClient};
use port_github_core::live::{LiveError, LiveProcessor};
use port_github_core::mapping::{CompiledMapping, JqOptions, PortAppConfig};
use port_github_core::sync::TokenClients;
use port_github_core::webhook::envelope::Envelope;
use port_github_simulators::fixtures::fixtures_dir;
use port_github_simulators::github_sim::{OrgSpec, SimHarness};
use port_github_simulators::port_sim::PortSim;
use port_github_simulators::port_sim::harness::{
    INTEGRATION_ID, INTEGRATION_TYPE, INTEGRATION_VERSION, spawn,
};
use serde_json::{Value, json};

struct World {
    github: SimHarness,
    client: GitHubClient,
    port: PortSim,
    processor: LiveProcessor,
}

async fn world() -> World {
    let github = SimHarness::start(OrgSpec::default()).await.unwrap();
    let client = github.pat_client(github.client_config()).unwrap();
    let (port, port_client, _) = spawn().await.unwrap();
    let mapping = Arc::new(port_default_mapping());
    let processor =
        LiveProcessor::new(Arc::new(TokenClients(client.clone())), port_client, mapping);
    World {
        github,
        client,
        port,
        processor,
    }
}

/// Port's own default mapping, unchanged.
fn port_default_mapping() -> CompiledMapping {
    let text = std::fs::read_to_string(fixtures_dir().join("ocean/port-app-config.yml")).unwrap();
    CompiledMapping::compile(
        &PortAppConfig::from_yaml_or_json(&text).unwrap(),
        &JqOptions::default(),
    )
    .unwrap()
}

fn ours() -> String {
    format!("port-ocean/{INTEGRATION_TYPE}/{INTEGRATION_VERSION}/{INTEGRATION_ID}/exporter")
}

fn envelope(event: &str, payload: Value) -> Envelope {
    Envelope {
        version: 1,
        event: event.into(),
        action: payload["action"].as_str().map(str::to_owned),
        delivery_id: "d-1".into(),
        hook_id: None,
        installation_id: None,
        organization: Some("sim-org".into()),
        repository: payload["repository"]["full_name"]
            .as_str()
            .map(str::to_owned),
        received_at: "2026-11-24T00:00:00Z".into(),
        payload_reduced: false,
        payload,
    }
}

/// The first repository of the simulated org and one of its pull requests in `state`.
async fn repo_and_pr(client: &GitHubClient, state: &str) -> (Value, Value) {
    let repos = client
        .get("/orgs/sim-org/repos?per_page=100", Feature::Required)
        .await
        .unwrap();
    let repo = repos[0].clone();
    let name = repo["name"].as_str().unwrap();
    let prs = client
        .get(
            &format!("/repos/sim-org/{name}/pulls?state={state}&per_page=100"),
            Feature::Required,
        )
        .await
        .unwrap();
    (repo, prs[0].clone())
}

fn pr_event(action: &str, repo: &Value, pr: &Value) -> Envelope {
    envelope(
        "pull_request",
        json!({"action": action, "number": pr["number"], "pull_request": pr, "repository": repo,
               "organization": {"login": "sim-org"}}),
    )
}

fn pr_identifier(pr: &Value) -> String {
    format!(
        "{}{}",
        pr["head"]["repo"]["name"].as_str().unwrap(),
        pr["id"]
    )
}

#[tokio::test]
async fn an_opened_pull_request_is_refetched_mapped_and_upserted() {
    let w = world().await;
    let (repo, pr) = repo_and_pr(&w.client, "open").await;
    // The payload is stale on purpose: the processor must use GitHub's current object.
    let mut stale = pr.clone();
    stale["title"] = json!("an old title");
    let report = w
        .processor
        .process(&pr_event("opened", &repo, &stale))
        .await
        .unwrap();
    let identifier = pr_identifier(&pr);
    assert_eq!(
        report.upserted,
        [("githubPullRequest".to_owned(), identifier.clone())]
    );
    let stored = w
        .port
        .entity("githubPullRequest", &identifier)
        .expect("in the catalog");
    assert_eq!(
        stored.title.as_deref(),
        pr["title"].as_str(),
        "the current title, not the payload's"
    );
    assert_eq!(stored.properties["status"], "open");
    assert_eq!(stored.datasource.as_deref(), Some(ours().as_str()));

    // The same delivery again changes nothing.
    let again = w
        .processor
        .process(&pr_event("opened", &repo, &stale))
        .await
        .unwrap();
    assert_eq!(again.upserted, report.upserted);
    assert_eq!(w.port.entities_of("githubPullRequest").len(), 1);
}

#[tokio::test]
async fn a_closed_pull_request_the_selector_does_not_want_is_deleted_if_ours() {
    let w = world().await;
    let (repo, pr) = repo_and_pr(&w.client, "closed").await;
    let identifier = pr_identifier(&pr);
    w.port
        .seed_entity(
            "githubPullRequest",
            json!({"identifier": identifier, "properties": {}}),
            Some(&ours()),
        )
        .unwrap();
    let report = w
        .processor
        .process(&pr_event("closed", &repo, &pr))
        .await
        .unwrap();
    assert_eq!(
        report.deleted,
        [("githubPullRequest".to_owned(), identifier.clone())]
    );
    assert!(w.port.entity("githubPullRequest", &identifier).is_none());
}

#[tokio::test]
async fn an_entity_another_integration_owns_is_never_deleted() {
    let w = world().await;
    let (repo, pr) = repo_and_pr(&w.client, "closed").await;
    let identifier = pr_identifier(&pr);
    w.port
        .seed_entity(
            "githubPullRequest",
            json!({"identifier": identifier, "properties": {}}),
            Some("port-ocean/github/1.0/other/exporter"),
        )
        .unwrap();
    let report = w
        .processor
        .process(&pr_event("closed", &repo, &pr))
        .await
        .unwrap();
    assert!(report.deleted.is_empty());
    assert_eq!(
        report.not_owned,
        [("githubPullRequest".to_owned(), identifier.clone())]
    );
    assert!(w.port.entity("githubPullRequest", &identifier).is_some());
}

#[tokio::test]
async fn out_of_order_closed_then_edited_leaves_the_current_state() {
    let w = world().await;
    let (repo, pr) = repo_and_pr(&w.client, "open").await;
    let mut closed = pr.clone();
    closed["state"] = json!("closed");
    // `closed` (stale: the PR is open again now) arrives, then an older `edited`.
    w.processor
        .process(&pr_event("closed", &repo, &closed))
        .await
        .unwrap();
    w.processor
        .process(&pr_event("edited", &repo, &pr))
        .await
        .unwrap();
    let stored = w
        .port
        .entity("githubPullRequest", &pr_identifier(&pr))
        .expect("present: GitHub says open");
    assert_eq!(stored.properties["status"], "open");
}

#[tokio::test]
async fn a_deleted_repository_is_removed_and_kinds_nobody_maps_cost_no_github_call() {
    let w = world().await;
    let (repo, _) = repo_and_pr(&w.client, "open").await;
    let name = repo["name"].as_str().unwrap().to_owned();
    w.port
        .seed_entity(
            "githubRepository",
            json!({"identifier": name, "properties": {}}),
            Some(&ours()),
        )
        .unwrap();
    let report = w
        .processor
        .process(&envelope(
            "repository",
            json!({"action": "deleted", "repository": repo}),
        ))
        .await
        .unwrap();
    assert_eq!(
        report.deleted,
        [("githubRepository".to_owned(), name.clone())]
    );

    // Port's default mapping has no `collaborator` resource: a `member` event needs no GitHub call.
    let before = w.github.sim.total().total;
    let member =
        json!({"action": "added", "member": {"login": "someone", "id": 9}, "repository": repo});
    let report = w
        .processor
        .process(&envelope("member", member))
        .await
        .unwrap();
    assert_eq!(report.unmapped_kinds, ["collaborator"]);
    assert_eq!(w.github.sim.total().total, before);
}

#[tokio::test]
async fn a_repository_event_maps_the_included_files_as_the_resync_does() {
    let w = world().await;
    let (repo, _) = repo_and_pr(&w.client, "open").await;
    let name = repo["name"].as_str().unwrap().to_owned();
    w.processor
        .process(&envelope(
            "repository",
            json!({"action": "edited", "repository": repo}),
        ))
        .await
        .unwrap();
    // Port's default mapping: `includedFiles: [README.md, CODEOWNERS]` on the repository.
    let entity = w.port.entity("githubRepository", &name).unwrap();
    assert_eq!(
        entity.properties["readme"],
        json!(format!("# {name}\n\nA simulated repository.\n"))
    );
    assert_eq!(
        entity.properties["codeowners"],
        json!("* @sim-org/team-0\n")
    );
}

#[tokio::test]
async fn failures_are_sorted_into_retry_and_give_up() {
    let w = world().await;
    let (repo, pr) = repo_and_pr(&w.client, "open").await;
    // GitHub keeps failing: SQS should retry the message.
    w.github.sim.faults(|f| f.bad_gateway_next = 50);
    let error = w
        .processor
        .process(&pr_event("opened", &repo, &pr))
        .await
        .unwrap_err();
    assert!(matches!(error, LiveError::Transient { .. }), "{error}");
    w.github.sim.faults(|f| f.bad_gateway_next = 0);
    // A payload without the ids the event needs is permanent.
    let error = w
        .processor
        .process(&envelope(
            "pull_request",
            json!({"action": "opened", "repository": repo}),
        ))
        .await
        .unwrap_err();
    assert!(matches!(error, LiveError::Permanent { .. }), "{error}");
}

/// The built-in mapping (every kind) and its blueprints in the Port simulator.
async fn builtin_world() -> World {
    use port_github_core::mapping::defaults::{DEFAULT_BLUEPRINTS, DEFAULT_PORT_APP_CONFIG};
    use port_github_simulators::port_sim::Blueprint;
    let github = SimHarness::start(OrgSpec::default()).await.unwrap();
    let client = github.pat_client(github.client_config()).unwrap();
    let blueprints: Value = serde_json::from_str(DEFAULT_BLUEPRINTS).unwrap();
    let port = PortSim::start(
        blueprints
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Blueprint::from_port_json)
            .collect(),
    )
    .await
    .unwrap();
    let port_client = port_github_core::port::PortClient::new(
        port_github_simulators::port_sim::harness::client_config(port.base_url()),
    )
    .unwrap();
    let config = PortAppConfig::from_yaml_or_json(DEFAULT_PORT_APP_CONFIG).unwrap();
    let mapping = Arc::new(CompiledMapping::compile(&config, &JqOptions::default()).unwrap());
    let processor =
        LiveProcessor::new(Arc::new(TokenClients(client.clone())), port_client, mapping);
    World {
        github,
        client,
        port,
        processor,
    }
}

#[tokio::test]
async fn a_push_to_the_default_branch_refreshes_the_workflows_it_changed() {
    let w = builtin_world().await;
    let (repo, _) = repo_and_pr(&w.client, "open").await;
    let branch = repo["default_branch"].as_str().unwrap().to_owned();
    let push = json!({"ref": format!("refs/heads/{branch}"), "before": "a", "after": "b", "deleted": false,
        "repository": repo, "organization": {"login": "sim-org"},
        "commits": [{"added": [], "modified": [".github/workflows/w0.yml", "src/main.rs"], "removed": []}]});
    let report = w
        .processor
        .process(&envelope("push", push.clone()))
        .await
        .unwrap();
    let workflows: Vec<&(String, String)> = report
        .upserted
        .iter()
        .filter(|(bp, _)| bp == "githubWorkflow")
        .collect();
    assert_eq!(workflows.len(), 1, "{report:?}");
    assert!(
        report.upserted.iter().any(|(bp, _)| bp == "githubBranch"),
        "the branch too: {report:?}"
    );
    assert_eq!(w.port.entities_of("githubWorkflow").len(), 1);

    // The same push to another branch touches the branch only.
    let mut other = push;
    other["ref"] = json!("refs/heads/feature");
    let report = w.processor.process(&envelope("push", other)).await.unwrap();
    assert!(
        report.upserted.iter().all(|(bp, _)| bp != "githubWorkflow"),
        "{report:?}"
    );
}

#[tokio::test]
async fn an_entity_port_refuses_fails_the_event_for_good_with_its_reason() {
    let w = world().await;
    let (repo, pr) = repo_and_pr(&w.client, "open").await;
    // A mapping whose `leadTimeHours` is text where the blueprint wants a number: Port answers 422.
    let config = PortAppConfig::from_yaml_or_json(
        "resources:\n- kind: pull-request\n  selector: {query: 'true'}\n  port: {entity: {mappings: {identifier: '.head.repo.name + (.id|tostring)', blueprint: '\"githubPullRequest\"', properties: {leadTimeHours: '\"not a number\"'}}}}",
    )
    .unwrap();
    let mapping = Arc::new(CompiledMapping::compile(&config, &JqOptions::default()).unwrap());
    let port_client = port_github_core::port::PortClient::new(
        port_github_simulators::port_sim::harness::client_config(w.port.base_url()),
    )
    .unwrap();
    let processor = LiveProcessor::new(
        Arc::new(TokenClients(w.client.clone())),
        port_client,
        mapping,
    );
    // A refused entity makes the event fail for good (the worker keeps it in the dead-letter
    // queue with this reason), never a retry.
    let error = processor
        .process(&pr_event("edited", &repo, &pr))
        .await
        .expect_err("a refused entity is a permanent failure");
    let LiveError::Permanent { reason, .. } = &error else {
        panic!("permanent, not retried: {error}");
    };
    assert!(
        reason.contains("githubPullRequest/") && reason.contains("422 invalid_request"),
        "the reason names the entity and Port's answer: {reason}"
    );
    assert!(reason.contains("leadTimeHours"), "{reason}");
    assert!(w.port.entities_of("githubPullRequest").is_empty());
}

#[tokio::test]
async fn a_push_refreshes_the_files_and_folders_it_touched_and_deletes_removed_files() {
    let mut w = builtin_world().await;
    let config = PortAppConfig::from_yaml_or_json(
        r#"
resources:
  - kind: file
    selector: {query: "true", files: [{path: "apps/*/package.json"}]}
    port: {entity: {mappings: {identifier: '.repository.name + "-" + .path', title: .name, blueprint: '"githubFile"', properties: {path: .path}}}}
  - kind: folder
    selector: {query: "true", folders: [{path: "apps/*"}]}
    port: {entity: {mappings: {identifier: '.__repository.name + "-" + .folder.path', blueprint: '"githubFolder"'}}}
"#,
    )
    .unwrap();
    let mapping = Arc::new(CompiledMapping::compile(&config, &JqOptions::default()).unwrap());
    let port_client = port_github_core::port::PortClient::new(
        port_github_simulators::port_sim::harness::client_config(w.port.base_url()),
    )
    .unwrap();
    w.processor = LiveProcessor::new(
        Arc::new(TokenClients(w.client.clone())),
        port_client,
        mapping,
    );
    let (repo, _) = repo_and_pr(&w.client, "open").await;
    let name = repo["name"].as_str().unwrap().to_owned();
    let push = |changes: Value| {
        let mut payload = json!({"ref": format!("refs/heads/{}", repo["default_branch"].as_str().unwrap()), "deleted": false,
            "repository": repo, "organization": {"login": "sim-org"}});
        payload["commits"] = json!([changes]);
        envelope("push", payload)
    };

    // Only README changed: no file or folder is read.
    let report = w
        .processor
        .process(&push(
            json!({"added": [], "modified": ["README.md"], "removed": []}),
        ))
        .await
        .unwrap();
    assert!(report.upserted.is_empty(), "{report:?}");

    let report = w
        .processor
        .process(&push(
            json!({"added": [], "modified": ["apps/app-0/package.json"], "removed": []}),
        ))
        .await
        .unwrap();
    assert!(
        report.upserted.contains(&(
            "githubFile".to_owned(),
            format!("{name}-apps/app-0/package.json")
        )),
        "{report:?}"
    );
    assert!(
        report
            .upserted
            .contains(&("githubFolder".to_owned(), format!("{name}-apps/app-0"))),
        "{report:?}"
    );

    // A removed file's entity goes, if it is ours.
    let gone = format!("{name}-apps/app-7/package.json");
    w.port
        .seed_entity(
            "githubFile",
            json!({"identifier": gone, "properties": {}}),
            Some(&ours()),
        )
        .unwrap();
    let report = w
        .processor
        .process(&push(
            json!({"added": [], "modified": [], "removed": ["apps/app-7/package.json"]}),
        ))
        .await
        .unwrap();
    assert_eq!(report.deleted, [("githubFile".to_owned(), gone)]);
}

#[tokio::test]
async fn as_an_app_the_delivery_installation_or_the_organizations_one_is_used() {
    use port_github_core::sync::AppClients;
    let w = world().await;
    let app = w.github.app(w.github.client_config()).unwrap();
    let (port_sim, port_client, _) = spawn().await.unwrap();
    let mapping = Arc::new(port_default_mapping());
    let processor = LiveProcessor::new(Arc::new(AppClients::new(app)), port_client, mapping);
    let (repo, pr) = repo_and_pr(&w.client, "open").await;

    // The delivery names its installation.
    let mut event = pr_event("opened", &repo, &pr);
    event.installation_id = Some(w.github.sim.installation_id());
    assert_eq!(processor.process(&event).await.unwrap().upserted.len(), 1);
    // No installation in the delivery: the one installed on the organization.
    let mut event = pr_event("edited", &repo, &pr);
    event.installation_id = None;
    assert_eq!(processor.process(&event).await.unwrap().upserted.len(), 1);
    // An organization the App is not installed on: permanent, not retried forever.
    event.organization = Some("elsewhere".into());
    assert!(matches!(
        processor.process(&event).await,
        Err(LiveError::Permanent { .. })
    ));
    assert_eq!(port_sim.entities_of("githubPullRequest").len(), 1);
}

#[tokio::test]
async fn events_of_organizations_outside_the_allow_list_are_left_alone() {
    let w = world().await;
    let (port_sim, port_client, _) = spawn().await.unwrap();
    let mapping = Arc::new(port_default_mapping());
    let processor = LiveProcessor::new(
        Arc::new(TokenClients(w.client.clone())),
        port_client,
        mapping,
    )
    .with_organizations(Some(vec!["Other-Org".into()]));
    let (repo, pr) = repo_and_pr(&w.client, "open").await;
    let before = w.github.sim.total().total;
    let report = processor
        .process(&pr_event("opened", &repo, &pr))
        .await
        .unwrap();
    assert!(report.outside_organizations && report.upserted.is_empty());
    assert_eq!(w.github.sim.total().total, before, "no GitHub call");
    assert!(port_sim.entities_of("githubPullRequest").is_empty());
}

#[tokio::test]
async fn a_mapping_edited_in_port_is_picked_up_without_a_new_container() {
    let github = SimHarness::start(OrgSpec::default()).await.unwrap();
    let client = github.pat_client(github.client_config()).unwrap();
    let (port, _, _) = spawn().await.unwrap();
    // The client caches the integration as in production (5 minutes); no wait between looks:
    // every event looks, past that cache.
    let port_client = port_github_core::port::PortClient::new(
        port_github_simulators::port_sim::harness::client_config(port.base_url()),
    )
    .unwrap();
    let text = std::fs::read_to_string(fixtures_dir().join("ocean/port-app-config.yml")).unwrap();
    let document: Value = serde_norway::from_str(&text).unwrap();
    port.set_integration_config(INTEGRATION_ID, document.clone());
    let processor = LiveProcessor::new(
        Arc::new(TokenClients(client.clone())),
        port_client,
        Arc::new(port_default_mapping()),
    )
    .with_mapping_from_port(std::time::Duration::ZERO);
    let (repo, pr) = repo_and_pr(&client, "open").await;
    processor
        .process(&pr_event("opened", &repo, &pr))
        .await
        .unwrap();
    let identifier = pr_identifier(&pr);
    assert_eq!(
        port.entity("githubPullRequest", &identifier)
            .unwrap()
            .title
            .as_deref(),
        pr["title"].as_str()
    );
    // Someone edits the pull request's title mapping in Port: the next event uses it.
    let mut edited = document.clone();
    for resource in edited["resources"].as_array_mut().unwrap() {
        if resource["kind"] == "pull-request" {
            resource["port"]["entity"]["mappings"]["title"] = json!("\"PR \" + .title");
        }
    }
    port.set_integration_config(INTEGRATION_ID, edited);
    processor
        .process(&pr_event("edited", &repo, &pr))
        .await
        .unwrap();
    let expected = Some(format!("PR {}", pr["title"].as_str().unwrap()));
    assert_eq!(
        port.entity("githubPullRequest", &identifier).unwrap().title,
        expected
    );
    // A mapping that does not compile is refused; the one in use stays.
    let mut broken = document;
    broken["resources"][0]["port"]["entity"]["mappings"]["identifier"] = json!(".login | (");
    port.set_integration_config(INTEGRATION_ID, broken);
    processor
        .process(&pr_event("edited", &repo, &pr))
        .await
        .unwrap();
    assert_eq!(
        port.entity("githubPullRequest", &identifier).unwrap().title,
        expected
    );
}
