//! Black-box tests of `port-github resync [--dry-run]`: the real binary against the GitHub and
//! Port simulators, settings from the environment; the catalog checked in the Port simulator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

use port_github_simulators::github_sim::{OrgSpec, SimHarness};
use port_github_simulators::port_sim::harness::INTEGRATION_ID;
use port_github_simulators::port_sim::{CLIENT_ID, CLIENT_SECRET, PortSim};
use port_github_simulators::resync_world::default_blueprints;
use serde_json::Value;

const REPOS: usize = 3;

/// A small mapping: repositories and their pull requests.
const MAPPING: &str = r#"
resources:
  - kind: repository
    selector: {query: "true"}
    port:
      entity:
        mappings:
          identifier: .name
          title: .name
          blueprint: '"githubRepository"'
          properties: {url: .html_url}
  - kind: pull-request
    selector: {query: "true"}
    port:
      entity:
        mappings:
          identifier: .id | tostring
          title: .title
          blueprint: '"githubPullRequest"'
          properties: {status: .state}
"#;

async fn simulators() -> (SimHarness, PortSim) {
    let github = SimHarness::start(OrgSpec {
        repos: REPOS,
        ..OrgSpec::default()
    })
    .await
    .expect("GitHub simulator starts");
    let port = PortSim::start(default_blueprints().unwrap())
        .await
        .expect("Port simulator starts");
    (github, port)
}

fn github_settings(github: &SimHarness) -> Vec<(&'static str, String)> {
    vec![
        ("GITHUB_API_URL", github.sim.base_url().to_owned()),
        (
            "GITHUB_TOKEN",
            github.sim.personal_token().unwrap_or_default().to_owned(),
        ),
        ("GITHUB_ORGANIZATIONS", github.sim.org().to_owned()),
    ]
}

fn port_settings(port: &PortSim) -> Vec<(&'static str, String)> {
    vec![
        ("PORT_API_URL", port.base_url().to_owned()),
        ("PORT_CLIENT_ID", CLIENT_ID.to_owned()),
        ("PORT_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("PORT_INTEGRATION_ID", INTEGRATION_ID.to_owned()),
    ]
}

fn resync(args: &[&str], settings: Vec<(&'static str, String)>) -> Output {
    Command::new(env!("CARGO_BIN_EXE_port-github"))
        .arg("resync")
        .args(args)
        .env_clear()
        .envs(settings)
        .output()
        .expect("port-github runs")
}

/// A file of this test's own, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("port-github-resync-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_resync_fills_the_catalog() {
    let (github, port) = simulators().await;
    let mut settings = github_settings(&github);
    settings.extend(port_settings(&port));
    let output = resync(&[], settings);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("resync completed"), "{stderr}");
    assert!(stderr.contains("cleanup: owned"), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.trim_start().starts_with("repository ")),
        "a progress line for repositories: {stderr}"
    );
    assert!(output.stdout.is_empty(), "only a dry run prints entities");
    let repositories = port.entities_of("githubRepository");
    assert_eq!(repositories.len(), REPOS, "{repositories:?}");
    assert!(
        !port.resync_states().is_empty(),
        "the run was reported to Port"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_prints_the_entities_and_writes_nothing_to_port() {
    let (github, port) = simulators().await;
    let mapping = TempFile::new("dry-run.yml", MAPPING);
    let mut settings = github_settings(&github);
    settings.push(("PORT_APP_CONFIG", mapping.0.display().to_string()));
    // Port's address without credentials: nothing may reach it.
    settings.push(("PORT_API_URL", port.base_url().to_owned()));
    let output = resync(&["--dry-run"], settings);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("resync completed"), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let entities: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    let of_kind = |kind: &str| entities.iter().filter(|e| e["kind"] == kind).count();
    assert_eq!(of_kind("repository"), REPOS, "{stdout}");
    assert!(of_kind("pull-request") > 0, "{stdout}");
    for entity in &entities {
        assert!(entity["blueprint"].is_string(), "{entity}");
        assert!(entity["identifier"].is_string(), "{entity}");
        assert!(entity["properties"].is_object(), "{entity}");
    }
    let first = stdout.lines().next().unwrap();
    assert!(
        first.starts_with(r#"{"kind":""#),
        "kind first, then map's fields: {first}"
    );
    assert!(port.requests().is_empty(), "{:?}", port.requests());
    assert!(port.catalog().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_without_port_credentials_needs_a_mapping_file() {
    let (github, _port) = simulators().await;
    let output = resync(&["--dry-run"], github_settings(&github));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("PORT_APP_CONFIG"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_organizations_is_refused_naming_the_variable() {
    let (github, port) = simulators().await;
    let mut settings: Vec<_> = github_settings(&github)
        .into_iter()
        .filter(|(name, _)| *name != "GITHUB_ORGANIZATIONS")
        .collect();
    settings.extend(port_settings(&port));
    let output = resync(&[], settings);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("GITHUB_ORGANIZATIONS"), "{stderr}");
    assert!(port.catalog().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_port_credentials_the_embedded_catalog_is_filled_and_saved() {
    let (github, _port) = simulators().await;
    let dir = std::env::temp_dir().join(format!("port-github-embedded-{}", std::process::id()));
    let mut settings = github_settings(&github);
    settings.push(("PORT_GITHUB_CATALOG_DIR", dir.display().to_string()));
    let output = resync(&[], settings);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("embedded catalog"), "{stderr}");
    let saved: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(dir.join("catalog.json")).unwrap()).unwrap();
    let repositories = saved
        .iter()
        .filter(|e| e["blueprint"] == "githubRepository")
        .count();
    assert_eq!(repositories, REPOS, "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// One of the built-in blueprints, as Port's JSON.
fn builtin_blueprint(identifier: &str) -> Value {
    let list: Vec<Value> =
        serde_json::from_str(port_github_core::mapping::defaults::DEFAULT_BLUEPRINTS).unwrap();
    list.into_iter()
        .find(|b| b["identifier"] == identifier)
        .unwrap()
}

async fn fresh_simulators() -> (SimHarness, PortSim) {
    let github = SimHarness::start(OrgSpec {
        repos: REPOS,
        ..OrgSpec::default()
    })
    .await
    .expect("GitHub simulator starts");
    let port = PortSim::start_fresh().await.expect("Port simulator starts");
    (github, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_resync_into_a_fresh_port_organization_provisions_it() {
    let (github, port) = fresh_simulators().await;
    // The user's own githubTeam, made before the integration: it must stay as they made it.
    let mut theirs = builtin_blueprint("githubTeam");
    theirs["title"] = Value::from("Our teams");
    port.add_blueprint(
        port_github_simulators::port_sim::Blueprint::from_port_json(&theirs).unwrap(),
    );
    assert!(port.integration(INTEGRATION_ID).is_none());

    let mut settings = github_settings(&github);
    settings.extend(port_settings(&port));
    let output = resync(&[], settings);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("resync completed"), "{stderr}");
    assert!(!stderr.contains("refused"), "{stderr}");

    let record = port
        .integration(INTEGRATION_ID)
        .expect("the integration was created");
    let kinds: Vec<&str> = record["config"]["resources"]
        .as_array()
        .expect("the built-in mapping is the record's config")
        .iter()
        .filter_map(|r| r["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"repository"), "{record}");
    for id in ["githubRepository", "githubPullRequest", "githubIssue"] {
        assert!(
            port.blueprint(id).is_some(),
            "{id}: {:?}",
            port.blueprint_ids()
        );
    }
    assert_eq!(port.blueprint("githubTeam"), Some(theirs));
    assert_eq!(port.entities_of("githubRepository").len(), REPOS);
    assert!(!port.resync_states().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entities_refused_by_port_end_the_run_with_exit_status_3_naming_the_blueprint() {
    let (github, port) = fresh_simulators().await;
    // The user's githubIssue says `status` is a number: Port refuses every issue.
    let mut theirs = builtin_blueprint("githubIssue");
    theirs["schema"]["properties"]["status"] = serde_json::json!({"type": "number"});
    port.add_blueprint(
        port_github_simulators::port_sim::Blueprint::from_port_json(&theirs).unwrap(),
    );

    let mut settings = github_settings(&github);
    settings.extend(port_settings(&port));
    let output = resync(&[], settings);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("resync completed_with_errors"), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("refused by Port") && l.contains("githubIssue"))
        .unwrap_or_else(|| panic!("a refusal line for githubIssue: {stderr}"));
    assert!(line.contains("status"), "the first reason: {line}");
    assert!(port.entities_of("githubIssue").is_empty());
    assert_eq!(port.entities_of("githubRepository").len(), REPOS);
}
