//! Each handled event, in a realistic sequence per object, against the GitHub and Port
//! simulators with the built-in mapping (every kind): the catalog follows what GitHub says.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use port_github_core::github::{Feature, GitHubClient};
use port_github_core::live::LiveProcessor;
use port_github_core::mapping::defaults::{DEFAULT_BLUEPRINTS, DEFAULT_PORT_APP_CONFIG};
use port_github_core::mapping::{CompiledMapping, JqOptions, PortAppConfig};
use port_github_core::port::PortClient;
use port_github_core::sync::TokenClients;
use port_github_core::webhook::envelope::Envelope;
use port_github_simulators::github_sim::{OrgSpec, SimHarness};
use port_github_simulators::port_sim::harness::client_config;
use port_github_simulators::port_sim::{Blueprint, PortSim};
use serde_json::{Value, json};

struct World {
    _github: SimHarness,
    client: GitHubClient,
    port: PortSim,
    processor: LiveProcessor,
    repo: Value,
}

async fn world() -> World {
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
    let port_client = PortClient::new(client_config(port.base_url())).unwrap();
    let config = PortAppConfig::from_yaml_or_json(DEFAULT_PORT_APP_CONFIG).unwrap();
    let mapping = Arc::new(CompiledMapping::compile(&config, &JqOptions::default()).unwrap());
    let processor =
        LiveProcessor::new(Arc::new(TokenClients(client.clone())), port_client, mapping);
    let repos = client
        .get("/orgs/sim-org/repos?per_page=100", Feature::Required)
        .await
        .unwrap();
    World {
        _github: github,
        client,
        port,
        processor,
        repo: repos[0].clone(),
    }
}

impl World {
    async fn get(&self, suffix: &str) -> Value {
        let name = self.repo["name"].as_str().unwrap();
        self.client
            .get(&format!("/repos/sim-org/{name}{suffix}"), Feature::Required)
            .await
            .unwrap()
    }

    async fn org(&self, path: &str) -> Value {
        self.client.get(path, Feature::Required).await.unwrap()
    }

    /// Sends one event (the repository and organization filled in) and returns how many entities
    /// of `blueprint` the catalog then holds.
    async fn send(
        &self,
        event: &str,
        action: Option<&str>,
        mut payload: Value,
        blueprint: &str,
    ) -> usize {
        payload["repository"] = self.repo.clone();
        payload["organization"] = json!({"login": "sim-org", "id": 1});
        if let Some(action) = action {
            payload["action"] = json!(action);
        }
        let envelope = Envelope {
            version: 1,
            event: event.into(),
            action: action.map(str::to_owned),
            delivery_id: format!("{event}-{}", action.unwrap_or("-")),
            hook_id: None,
            installation_id: None,
            organization: Some("sim-org".into()),
            repository: self.repo["full_name"].as_str().map(str::to_owned),
            received_at: "2026-11-24T00:00:00Z".into(),
            payload_reduced: false,
            payload,
        };
        let report = self
            .processor
            .process(&envelope)
            .await
            .unwrap_or_else(|e| panic!("{event}/{action:?}: {e}"));
        assert_eq!(report.field_errors, 0, "{event}/{action:?}: {report:?}");
        self.port.entities_of(blueprint).len()
    }
}

#[tokio::test]
async fn repository_pull_request_and_issue_sequences() {
    let w = world().await;
    for action in [
        "created",
        "edited",
        "renamed",
        "transferred",
        "unarchived",
        "publicized",
        "privatized",
    ] {
        let mut payload = json!({});
        if action == "renamed" {
            payload["changes"] = json!({"repository": {"name": {"from": "old-name"}}});
        }
        assert_eq!(
            w.send("repository", Some(action), payload, "githubRepository")
                .await,
            1,
            "{action}"
        );
    }
    assert_eq!(
        w.send(
            "repository",
            Some("archived"),
            json!({}),
            "githubRepository"
        )
        .await,
        0
    );

    let open = w.get("/pulls?state=open").await[0].clone();
    let closed = w.get("/pulls?state=closed").await[0].clone();
    for action in [
        "opened",
        "edited",
        "ready_for_review",
        "reopened",
        "synchronize",
        "unassigned",
        "review_request_removed",
    ] {
        assert_eq!(
            w.send(
                "pull_request",
                Some(action),
                json!({"pull_request": open}),
                "githubPullRequest"
            )
            .await,
            1,
            "{action}"
        );
    }
    // `closed` for a PR GitHub says is still open (a stale delivery) keeps it; a really closed one
    // is not selected (states: open) and never written.
    assert_eq!(
        w.send(
            "pull_request",
            Some("closed"),
            json!({"pull_request": open}),
            "githubPullRequest"
        )
        .await,
        1
    );
    assert_eq!(
        w.send(
            "pull_request",
            Some("closed"),
            json!({"pull_request": closed}),
            "githubPullRequest"
        )
        .await,
        1
    );

    let issue = w.get("/issues?state=open").await[0].clone();
    for action in [
        "opened",
        "edited",
        "assigned",
        "labeled",
        "unlabeled",
        "milestoned",
        "demilestoned",
        "locked",
        "unlocked",
        "pinned",
        "unpinned",
        "typed",
        "untyped",
        "reopened",
        "unassigned",
    ] {
        assert_eq!(
            w.send(
                "issues",
                Some(action),
                json!({"issue": issue}),
                "githubIssue"
            )
            .await,
            1,
            "{action}"
        );
    }
    assert_eq!(
        w.send(
            "issues",
            Some("transferred"),
            json!({"issue": issue}),
            "githubIssue"
        )
        .await,
        0
    );
    assert_eq!(
        w.send(
            "issues",
            Some("opened"),
            json!({"issue": issue}),
            "githubIssue"
        )
        .await,
        1
    );
    assert_eq!(
        w.send(
            "issues",
            Some("deleted"),
            json!({"issue": issue}),
            "githubIssue"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn release_tag_branch_and_push_sequences() {
    let w = world().await;
    let release = w.get("/releases").await[0].clone();
    for action in ["created", "edited"] {
        assert_eq!(
            w.send(
                "release",
                Some(action),
                json!({"release": release}),
                "githubRelease"
            )
            .await,
            1
        );
    }
    assert_eq!(
        w.send(
            "release",
            Some("deleted"),
            json!({"release": release}),
            "githubRelease"
        )
        .await,
        0
    );

    let tag = w.get("/tags").await[0]["name"].clone();
    assert_eq!(
        w.send(
            "create",
            None,
            json!({"ref": tag, "ref_type": "tag"}),
            "githubTag"
        )
        .await,
        1
    );
    assert_eq!(
        w.send(
            "delete",
            None,
            json!({"ref": tag, "ref_type": "tag"}),
            "githubTag"
        )
        .await,
        0
    );

    let branch = w.get("/branches").await[0]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        w.send(
            "create",
            None,
            json!({"ref": branch, "ref_type": "branch"}),
            "githubBranch"
        )
        .await,
        1
    );
    let push = json!({"ref": format!("refs/heads/{branch}"), "deleted": false, "commits": []});
    assert_eq!(w.send("push", None, push, "githubBranch").await, 1);
    assert_eq!(
        w.send(
            "delete",
            None,
            json!({"ref": branch, "ref_type": "branch"}),
            "githubBranch"
        )
        .await,
        0
    );
    let push = json!({"ref": format!("refs/heads/{branch}"), "deleted": false, "commits": []});
    assert_eq!(w.send("push", None, push, "githubBranch").await, 1);
    let deleted = json!({"ref": format!("refs/heads/{branch}"), "deleted": true, "commits": []});
    assert_eq!(w.send("push", None, deleted, "githubBranch").await, 0);
}

#[tokio::test]
async fn deployment_and_workflow_sequences() {
    let w = world().await;
    let deployment = w.get("/deployments").await[0].clone();
    let id = deployment["id"].as_u64().unwrap();
    assert_eq!(
        w.send(
            "deployment",
            Some("created"),
            json!({"deployment": deployment}),
            "githubDeployment"
        )
        .await,
        1
    );
    assert!(
        !w.port.entities_of("githubEnvironment").is_empty(),
        "the deployment's environment too"
    );
    let status = w.get(&format!("/deployments/{id}/statuses")).await[0].clone();
    let payload = json!({"deployment": deployment, "deployment_status": status});
    assert_eq!(
        w.send(
            "deployment_status",
            Some("created"),
            payload,
            "githubDeploymentStatus"
        )
        .await,
        1
    );

    let workflow = w.get("/actions/workflows").await["workflows"][0]["id"].clone();
    let run =
        w.get(&format!("/actions/workflows/{workflow}/runs")).await["workflow_runs"][0].clone();
    for action in ["requested", "in_progress", "completed"] {
        assert_eq!(
            w.send(
                "workflow_run",
                Some(action),
                json!({"workflow_run": run}),
                "githubWorkflowRun"
            )
            .await,
            1
        );
    }
    assert_eq!(
        w.port.entities_of("githubWorkflow").len(),
        1,
        "the run's workflow too"
    );
}

#[tokio::test]
async fn alert_sequences_follow_the_selected_states() {
    let w = world().await;
    let cases = [
        (
            "dependabot_alert",
            "/dependabot/alerts?state=open",
            "githubDependabotAlert",
            ["created", "reopened", "auto_reopened", "reintroduced"],
        ),
        (
            "code_scanning_alert",
            "/code-scanning/alerts?state=open",
            "githubCodeScanningAlert",
            ["created", "reopened", "appeared_in_branch", "created"],
        ),
        (
            "secret_scanning_alert",
            "/secret-scanning/alerts?state=open",
            "githubSecretScanningAlert",
            ["created", "reopened", "validated", "publicly_leaked"],
        ),
    ];
    for (event, list, blueprint, actions) in cases {
        let alerts = w.get(list).await;
        let alert = alerts[0].clone();
        assert_eq!(
            alert["state"], "open",
            "{event}: the simulator serves an open alert"
        );
        for action in actions {
            assert_eq!(
                w.send(event, Some(action), json!({"alert": alert}), blueprint)
                    .await,
                1,
                "{event}/{action}"
            );
        }
    }
}

#[tokio::test]
async fn people_sequences() {
    let w = world().await;
    let member = w.org("/orgs/sim-org/members").await[0].clone();
    let membership = json!({"membership": {"user": member}});
    assert_eq!(
        w.send(
            "organization",
            Some("member_added"),
            membership.clone(),
            "githubUser"
        )
        .await,
        1
    );
    assert_eq!(
        w.send(
            "organization",
            Some("member_removed"),
            membership,
            "githubUser"
        )
        .await,
        0
    );

    let team = w.org("/orgs/sim-org/teams").await[0].clone();
    for action in ["created", "edited", "added_to_repository"] {
        assert_eq!(
            w.send("team", Some(action), json!({"team": team}), "githubTeam")
                .await,
            1,
            "{action}"
        );
    }
    for action in ["added", "removed"] {
        assert_eq!(
            w.send(
                "membership",
                Some(action),
                json!({"team": team, "member": member}),
                "githubTeam"
            )
            .await,
            1
        );
    }
    assert_eq!(
        w.send("team", Some("deleted"), json!({"team": team}), "githubTeam")
            .await,
        0
    );

    let collaborator = w.get("/collaborators").await[0].clone();
    for action in ["added", "edited"] {
        assert_eq!(
            w.send(
                "member",
                Some(action),
                json!({"member": collaborator}),
                "githubCollaborator"
            )
            .await,
            1
        );
    }
    assert_eq!(
        w.send(
            "member",
            Some("removed"),
            json!({"member": collaborator}),
            "githubCollaborator"
        )
        .await,
        0
    );
}
