//! Live-event routing over every example payload GitHub publishes: each handled event becomes
//! work on the right kinds, with the ids of the objects it is about.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use port_github_core::live::{Operation, Target, WorkItem, route};
use port_github_core::webhook::envelope::Envelope;
use port_github_core::webhook::events::{self, Routing};
use port_github_tests::fixtures::webhook_examples;
use serde_json::Value;

fn envelope(event: &str, payload: Value) -> Envelope {
    Envelope {
        version: 1,
        event: event.to_owned(),
        action: payload["action"].as_str().map(str::to_owned),
        delivery_id: "d".into(),
        hook_id: None,
        installation_id: None,
        organization: None,
        repository: None,
        received_at: "2026-11-24T00:00:00Z".into(),
        payload_reduced: false,
        payload,
    }
}

fn refetched(items: &[WorkItem]) -> Vec<(&str, &Target)> {
    items
        .iter()
        .filter_map(|item| match &item.operation {
            Operation::Refetch(target) => Some((item.kind.as_str(), target)),
            _ => None,
        })
        .collect()
}

fn deleted(items: &[WorkItem]) -> Vec<(&str, &Value)> {
    items
        .iter()
        .filter_map(|item| match &item.operation {
            Operation::Delete { raw } => Some((item.kind.as_str(), raw)),
            _ => None,
        })
        .collect()
}

#[test]
fn every_handled_example_routes_to_known_kinds_with_its_ids() {
    let mut routed = 0;
    for (event, file, body) in webhook_examples() {
        let payload: Value = serde_json::from_slice(&body).unwrap();
        if events::route(&event, payload["action"].as_str()) != Routing::Handled {
            continue;
        }
        let items = route(&envelope(&event, payload.clone()))
            .unwrap_or_else(|e| panic!("{event}/{file}: {e}"));
        assert!(!items.is_empty(), "{event}/{file}: no work");
        for item in &items {
            assert!(
                item.kind.scope().is_some(),
                "{event}/{file}: routes to {}, a kind this integration does not list",
                item.kind
            );
        }
        let action = payload["action"].as_str().unwrap_or("");
        let name = |pointer: &str| {
            payload
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap()
                .to_owned()
        };
        let num = |pointer: &str| payload.pointer(pointer).and_then(Value::as_u64).unwrap();
        match (event.as_str(), action) {
            ("pull_request", _) => {
                assert_eq!(
                    refetched(&items),
                    [(
                        "pull-request",
                        &Target::PullRequest {
                            number: num("/pull_request/number")
                        }
                    )]
                )
            }
            ("issues", "deleted" | "transferred") => {
                let raw = deleted(&items)[0].1;
                assert_eq!(raw["number"], payload["issue"]["number"], "{file}");
                assert_eq!(
                    raw["__repository"], payload["repository"]["name"],
                    "enriched like the resync"
                );
            }
            ("issues", _) => assert_eq!(
                refetched(&items),
                [(
                    "issue",
                    &Target::Issue {
                        number: num("/issue/number")
                    }
                )]
            ),
            ("repository", "deleted" | "archived") => {
                assert_eq!(deleted(&items)[0].0, "repository")
            }
            ("repository", "renamed") => {
                assert_eq!(refetched(&items), [("repository", &Target::Repository)]);
                let Operation::DeleteRenamed { raw } = &items[1].operation else {
                    panic!("{file}: no rename cleanup")
                };
                assert_eq!(
                    raw["name"],
                    payload["changes"]["repository"]["name"]["from"]
                );
            }
            ("release", "deleted") => {
                assert_eq!(deleted(&items)[0].1["id"], payload["release"]["id"])
            }
            ("release", _) => assert_eq!(
                refetched(&items),
                [(
                    "release",
                    &Target::Release {
                        id: num("/release/id")
                    }
                )]
            ),
            ("create", _) => {
                let expected = if payload["ref_type"] == "tag" {
                    ("tag", Target::Tag { name: name("/ref") })
                } else {
                    ("branch", Target::Branch { name: name("/ref") })
                };
                assert_eq!(refetched(&items), [(expected.0, &expected.1)]);
            }
            ("delete", _) => {
                let (kind, raw) = deleted(&items)[0];
                assert_eq!(
                    kind,
                    if payload["ref_type"] == "tag" {
                        "tag"
                    } else {
                        "branch"
                    }
                );
                assert_eq!(raw["name"], payload["ref"]);
            }
            ("deployment_status", _) => {
                let targets = refetched(&items);
                assert!(targets.contains(&(
                    "deployment-status",
                    &Target::DeploymentStatus {
                        deployment_id: num("/deployment/id"),
                        id: num("/deployment_status/id"),
                    }
                )));
                assert!(targets.contains(&(
                    "deployment",
                    &Target::Deployment {
                        id: num("/deployment/id")
                    }
                )));
            }
            ("workflow_run", _) => {
                assert!(refetched(&items).contains(&(
                    "workflow-run",
                    &Target::WorkflowRun {
                        id: num("/workflow_run/id")
                    }
                )))
            }
            ("organization", "member_added") => {
                assert_eq!(
                    refetched(&items),
                    [(
                        "user",
                        &Target::User {
                            login: name("/membership/user/login")
                        }
                    )]
                )
            }
            ("organization", "member_removed") => assert_eq!(deleted(&items)[0].0, "user"),
            ("member", "removed") => assert_eq!(deleted(&items)[0].0, "collaborator"),
            ("member", _) => {
                assert_eq!(
                    refetched(&items),
                    [(
                        "collaborator",
                        &Target::Collaborator {
                            login: name("/member/login")
                        }
                    )]
                )
            }
            ("team", "deleted") => assert_eq!(deleted(&items)[0].1["id"], payload["team"]["id"]),
            ("membership", _) if payload["team"]["deleted"] == true => {
                assert_eq!(deleted(&items)[0].0, "team")
            }
            ("team" | "membership", _) => {
                assert_eq!(
                    refetched(&items),
                    [(
                        "team",
                        &Target::Team {
                            slug: name("/team/slug")
                        }
                    )]
                )
            }
            _ => {}
        }
        routed += 1;
    }
    assert!(routed > 80, "routed {routed} examples");
}

#[test]
fn a_push_touches_its_branch_and_the_paths_it_changed() {
    let body = std::fs::read(
        port_github_simulators::fixtures::fixtures_dir().join("github/webhooks/push/payload.json"),
    )
    .unwrap();
    let mut payload: Value = serde_json::from_slice(&body).unwrap();
    payload["ref"] = "refs/heads/main".into();
    payload["deleted"] = false.into();
    payload["commits"] = serde_json::json!([
        {"added": ["a.txt"], "modified": [".github/workflows/ci.yml"], "removed": []},
        {"added": [], "modified": ["a.txt"], "removed": ["old/b.md"]}
    ]);
    payload["head_commit"] = Value::Null;
    let items = route(&envelope("push", payload.clone())).unwrap();
    let paths = Target::Paths {
        branch: "main".into(),
        paths: vec![
            "a.txt".into(),
            ".github/workflows/ci.yml".into(),
            "old/b.md".into(),
        ],
        truncated: false,
    };
    assert_eq!(
        refetched(&items),
        [
            (
                "branch",
                &Target::Branch {
                    name: "main".into()
                }
            ),
            ("file", &paths),
            ("folder", &paths),
            ("workflow", &paths)
        ]
    );

    // A payload the webhook reduced carries the paths itself, possibly truncated.
    payload.as_object_mut().unwrap().remove("commits");
    payload["changed_paths"] =
        serde_json::json!({"added": ["x"], "modified": [], "removed": [], "truncated": true});
    let items = route(&envelope("push", payload.clone())).unwrap();
    assert!(
        matches!(&items[1].operation, Operation::Refetch(Target::Paths { truncated: true, paths, .. }) if paths == &["x"])
    );

    // A deleted branch, and tags.
    payload["deleted"] = true.into();
    assert_eq!(
        deleted(&route(&envelope("push", payload.clone())).unwrap())[0].0,
        "branch"
    );
    payload["ref"] = "refs/tags/v1".into();
    assert_eq!(
        deleted(&route(&envelope("push", payload.clone())).unwrap())[0].1["name"],
        "v1"
    );
}

#[test]
fn payloads_missing_their_ids_are_errors_not_panics() {
    for (event, payload) in [
        ("pull_request", serde_json::json!({"action": "opened"})),
        (
            "issues",
            serde_json::json!({"action": "opened", "issue": {}}),
        ),
        ("release", serde_json::json!({"action": "deleted"})),
        ("create", serde_json::json!({"ref_type": "tag"})),
        (
            "workflow_run",
            serde_json::json!({"action": "completed", "workflow_run": {"id": "x"}}),
        ),
        (
            "team",
            serde_json::json!({"action": "edited", "team": {"slug": 3}}),
        ),
        (
            "repository",
            serde_json::json!({"action": "renamed", "repository": {}}),
        ),
        ("installation", serde_json::json!({"action": "created"})),
    ] {
        assert!(route(&envelope(event, payload)).is_err(), "{event}");
    }
}
