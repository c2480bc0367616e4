//! App permissions against the GitHub simulator: the installation reports what it was granted
//! (`GET /app/installations`, `GET /app/installations/{id}`, the token response), and an
//! installation token is refused (403 "Resource not accessible by integration") on the endpoints
//! of a permission it lacks, as GitHub refuses it; the personal token is not limited.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use port_github_core::github::kinds::Listed;
use port_github_core::github::kinds::Repo;
use port_github_core::github::kinds::pulls::{IssueSelector, list_issues};
use port_github_core::github::{Feature, GitHubError};
use port_github_simulators::github_sim::permissions::{NOT_ACCESSIBLE, all_granted};
use port_github_simulators::github_sim::{OrgSpec, SimConfig, SimHarness};

fn without(keys: &[&str]) -> BTreeMap<String, String> {
    let mut granted = all_granted();
    for key in keys {
        granted.remove(*key);
    }
    granted
}

async fn harness(permissions: BTreeMap<String, String>) -> SimHarness {
    SimHarness::start_with(SimConfig {
        spec: OrgSpec {
            repos: 2,
            ..OrgSpec::default()
        },
        permissions,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_installation_reports_what_it_was_granted() {
    let granted = without(&["issues", "secret_scanning_alerts"]);
    let h = harness(granted.clone()).await;
    let app = h.app(h.client_config()).unwrap();
    let listed = app.installations(None).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].permissions, granted);
    let one = app.installation(h.sim.installation_id()).await.unwrap();
    assert_eq!(one.permissions, granted);
    assert!(matches!(
        app.installation(999).await,
        Err(GitHubError::NotFound { .. })
    ));
    // A change by an organization owner shows at the next read.
    h.sim.revoke_permission("members");
    let now = app.installation(h.sim.installation_id()).await.unwrap();
    assert!(!now.permissions.contains_key("members"));
    assert_eq!(now.permissions.len(), granted.len() - 1);
}

#[tokio::test]
async fn a_request_of_a_kind_whose_permission_is_missing_is_refused_403() {
    let h = harness(without(&["issues", "pull_requests"])).await;
    let app = h.app(h.client_config()).unwrap();
    let client = app.installation_client(h.sim.installation_id()).unwrap();
    let repos = client
        .get("/installation/repositories?per_page=100", Feature::Required)
        .await
        .unwrap();
    let repo = Repo::from_object(repos["repositories"][0].clone()).unwrap();

    // A required endpoint: a permanent error carrying GitHub's message.
    let refused = client
        .get(&repo.path("/pulls?state=open"), Feature::Required)
        .await
        .unwrap_err();
    match &refused {
        GitHubError::Permanent {
            status, message, ..
        } => {
            assert_eq!(*status, 403);
            assert!(message.contains(NOT_ACCESSIBLE), "{message}");
        }
        other => panic!("expected a 403, got {other:?}"),
    }
    // An optional kind (issues) says "not available", never an empty success.
    let mut issues = list_issues(&client, &repo, &IssueSelector::default()).unwrap();
    match issues.next().await.unwrap() {
        Listed::NotAvailable { status, message } => {
            assert_eq!(status, 403);
            assert!(message.contains(NOT_ACCESSIBLE), "{message}");
        }
        other => panic!("expected not available, got {other:?}"),
    }
    // What it was granted still answers, and the personal token is not limited.
    assert!(
        client
            .get(&repo.path("/releases"), Feature::Required)
            .await
            .is_ok()
    );
    let pat = h.pat_client(h.client_config()).unwrap();
    assert!(
        pat.get(&repo.path("/pulls?state=open"), Feature::Required)
            .await
            .is_ok()
    );
    assert_eq!(h.sim.count("GET /repos/{o}/{r}/pulls").total, 2);
}

#[tokio::test]
async fn a_permission_granted_later_is_honoured_at_once() {
    let h = harness(without(&["deployments"])).await;
    let app = h.app(h.client_config()).unwrap();
    let client = app.installation_client(h.sim.installation_id()).unwrap();
    let path = format!("/repos/{}/{}/deployments", h.sim.org(), h.sim.repo_name(0));
    assert!(client.get(&path, Feature::Required).await.is_err());
    h.sim.set_permissions(all_granted());
    assert!(client.get(&path, Feature::Required).await.is_ok());
}

/// The README's permission table (deployment step 1) is the built-in mapping's needs, row for row:
/// permission, REST key, access and kinds, as `github::permissions` computes them.
#[test]
fn the_readme_lists_the_permissions_the_built_in_mapping_needs() {
    use port_github_core::github::permissions::{Level, needed};
    use port_github_core::mapping::PortAppConfig;
    use port_github_core::mapping::defaults::DEFAULT_PORT_APP_CONFIG;

    let readme_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the repository root")
        .join("README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let marker = "tests/tests/github_permissions.rs checks this table";
    let start = readme
        .find(marker)
        .expect("the README marks its permission table");
    let rows: Vec<(String, String, String, Vec<String>)> = readme[start..]
        .lines()
        .skip(1)
        .map(str::trim)
        .take_while(|line| line.starts_with('|'))
        .skip(2) // header and separator
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let kinds = cells[3].split(':').next().unwrap_or_default();
            (
                cells[0].to_owned(),
                cells[1].trim_matches('`').to_owned(),
                cells[2].to_owned(),
                kinds.split(", ").map(str::to_owned).collect(),
            )
        })
        .collect();

    let mapping = PortAppConfig::from_yaml_or_json(DEFAULT_PORT_APP_CONFIG).unwrap();
    let expected: Vec<(String, String, String, Vec<String>)> = needed(
        mapping
            .resources
            .iter()
            .map(|r| (r.kind, &r.selector.options)),
        true,
    )
    .into_iter()
    .map(|need| {
        let access = match need.level {
            Level::Read => "read",
            Level::Write => "read and write",
            Level::Admin => "admin",
        };
        (need.title, need.permission, access.to_owned(), need.kinds)
    })
    .collect();
    let sorted = |mut rows: Vec<(String, String, String, Vec<String>)>| {
        rows.sort();
        rows
    };
    assert_eq!(
        sorted(rows),
        sorted(expected.clone()),
        "README.md's table must be:\n{}",
        expected
            .iter()
            .map(|(t, k, a, kinds)| format!("| {t} | `{k}` | {a} | {} |", kinds.join(", ")))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
