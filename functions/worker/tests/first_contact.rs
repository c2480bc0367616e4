//! The real `worker` binary's first event into a fresh Port organization (Port's `_user` and
//! `_team` blueprints only, no integration): it creates the integration record with the mapping
//! in use and the blueprints that mapping targets, then applies the event.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::Duration;

use port_github_core::github::Feature;
use port_github_core::mapping::PortAppConfig;
use port_github_core::mapping::defaults::{DEFAULT_BLUEPRINTS, DEFAULT_PORT_APP_CONFIG};
use port_github_simulators::github_sim::{OrgSpec, SimHarness};
use port_github_simulators::port_sim::harness::{INTEGRATION_ID, INTEGRATION_TYPE};
use port_github_simulators::port_sim::{Blueprint, CLIENT_ID, CLIENT_SECRET, Endpoint, PortSim};
use port_github_tests::lambda_runtime_api::{
    KillOnDrop, Outcome, RuntimeApi, events_record as record,
};
use serde_json::{Value, json};

fn builtin_blueprint(identifier: &str) -> Value {
    let list: Vec<Value> = serde_json::from_str(DEFAULT_BLUEPRINTS).unwrap();
    list.into_iter()
        .find(|b| b["identifier"] == identifier)
        .unwrap()
}

#[tokio::test]
async fn the_first_event_into_a_fresh_port_organization_provisions_it() {
    let github = SimHarness::start(OrgSpec::default()).await.unwrap();
    let client = github.pat_client(github.client_config()).unwrap();
    let port = PortSim::start_fresh().await.unwrap();
    // The user's own githubRepository, made before the integration: it stays as they made it.
    let mut theirs = builtin_blueprint("githubRepository");
    theirs["title"] = json!("Our repositories");
    port.add_blueprint(Blueprint::from_port_json(&theirs).unwrap());

    let repos = client
        .get("/orgs/sim-org/repos?per_page=100", Feature::Required)
        .await
        .unwrap();
    let repo = repos[0].clone();
    let name = repo["name"].as_str().unwrap().to_owned();
    let prs = client
        .get(
            &format!("/repos/sim-org/{name}/pulls?state=open"),
            Feature::Required,
        )
        .await
        .unwrap();
    let pr = prs[0].clone();

    let runtime = RuntimeApi::start().await.unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_worker"));
    command
        .env_clear()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .envs(runtime.lambda_env("worker"))
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("GITHUB_API_URL", github.sim.base_url())
        .env("GITHUB_TOKEN", github.sim.personal_token().unwrap())
        .env("PORT_API_URL", port.base_url())
        .env("PORT_CLIENT_ID", CLIENT_ID)
        .env("PORT_CLIENT_SECRET", CLIENT_SECRET)
        .env("PORT_INTEGRATION_ID", INTEGRATION_ID)
        .env("PORT_INTEGRATION_TYPE", INTEGRATION_TYPE);
    let _worker = KillOnDrop(command.spawn().expect("spawn the worker binary"));

    let envelope = json!({"version": 1, "event": "pull_request", "action": "opened", "delivery_id": "d-1",
        "received_at": "2026-11-24T00:00:00Z", "organization": "sim-org",
        "payload": {"action": "opened", "pull_request": pr, "repository": repo, "organization": {"login": "sim-org"}}});
    let event = json!({"Records": [record("m-1", "pr", envelope.to_string())]});
    let answer = match runtime
        .invoke(&event, Duration::from_secs(60))
        .await
        .unwrap()
    {
        Outcome::Response(answer) => answer,
        Outcome::Error(error) => panic!("the worker reported an error: {error}"),
    };
    assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");

    // The event landed, under the built-in mapping's identifier.
    let identifier = format!("{name}-{}", pr["number"]);
    assert!(
        port.entity("githubPullRequest", &identifier).is_some(),
        "{:?}",
        port.catalog()
    );
    // The integration exists with the mapping in use: none was given, so the built-in one.
    let integration = port.integration(INTEGRATION_ID).expect("created");
    let builtin = PortAppConfig::from_yaml_or_json(DEFAULT_PORT_APP_CONFIG).unwrap();
    assert_eq!(integration["config"], builtin.document, "{integration}");
    // Every blueprint the mapping targets exists; the user's is untouched.
    let list: Vec<Value> = serde_json::from_str(DEFAULT_BLUEPRINTS).unwrap();
    for definition in &list {
        let id = definition["identifier"].as_str().unwrap();
        assert!(port.blueprint(id).is_some(), "{id}");
    }
    assert_eq!(port.blueprint("githubRepository"), Some(theirs));

    // A second event of the same container provisions nothing again.
    let created = port.count(Endpoint::CreateBlueprint);
    let looked_up = port.count(Endpoint::GetBlueprint);
    let envelope = json!({"version": 1, "event": "pull_request", "action": "edited", "delivery_id": "d-2",
        "received_at": "2026-11-24T00:00:01Z", "organization": "sim-org",
        "payload": {"action": "edited", "pull_request": pr, "repository": repo, "organization": {"login": "sim-org"}}});
    let event = json!({"Records": [record("m-2", "pr", envelope.to_string())]});
    let Outcome::Response(answer) = runtime
        .invoke(&event, Duration::from_secs(60))
        .await
        .unwrap()
    else {
        panic!("the worker reported an error")
    };
    assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    assert_eq!(port.count(Endpoint::CreateBlueprint), created);
    assert_eq!(
        port.count(Endpoint::GetBlueprint),
        looked_up,
        "provisioning runs once per container"
    );
}
