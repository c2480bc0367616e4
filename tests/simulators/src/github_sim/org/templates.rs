//! The example responses the synthetic organization is built on: GitHub's own (from
//! `tests/fixtures/github/rest/`) and the Ocean examples, compiled in and parsed once, one
//! template per object kind.

use serde_json::{Value, json};

macro_rules! fixture {
    ($path:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/", $path))
    };
}

/// Parsed templates, one per object kind.
#[derive(Debug)]
pub(crate) struct Templates {
    pub(super) repo: Value,
    pub(super) pull: Value,
    pub(super) issue: Value,
    pub(super) release: Value,
    pub(super) branch: Value,
    pub(super) deployment: Value,
    pub(super) team: Value,
    pub(super) user: Value,
    pub(super) dependabot: Value,
    pub(super) code_scanning: Value,
    pub(super) secret_scanning: Value,
    pub(super) installation: Value,
    pub(super) environment: Value,
    pub(super) workflow: Value,
    pub(super) run: Value,
    pub(super) collaborator: Value,
}

fn first(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(mut items)) if !items.is_empty() => items.swap_remove(0),
        Ok(Value::Object(mut object)) => {
            object.retain(|key, _| !key.starts_with("__"));
            Value::Object(object)
        }
        _ => json!({}),
    }
}

impl Templates {
    pub(crate) fn load() -> Self {
        Self {
            repo: first(fixture!("github/rest/list-org-repos.json")),
            pull: first(fixture!("github/rest/list-pulls.octocrab-fixture.json")),
            issue: first(fixture!(
                "github/rest/list-issues.octokit-fixtures-recorded.json"
            )),
            release: first(fixture!("github/rest/list-releases.json")),
            branch: first(fixture!("github/rest/list-branches.json")),
            deployment: first(fixture!("github/rest/list-deployments.json")),
            team: first(fixture!("github/rest/list-teams.json")),
            user: first(fixture!(
                "github/rest/list-org-members.octocrab-fixture.json"
            )),
            dependabot: first(fixture!(
                "github/rest/list-dependabot-alerts-repo.octocrab-fixture.json"
            )),
            code_scanning: first(fixture!(
                "github/rest/list-code-scanning-alerts-repo.octocrab-fixture.json"
            )),
            secret_scanning: first(fixture!(
                "github/rest/list-secret-scanning-alerts-repo.octocrab-fixture.json"
            )),
            installation: first(fixture!("github/rest/list-app-installations.json")),
            environment: first(fixture!("ocean/examples/environment/a.json")),
            workflow: first(fixture!("ocean/examples/workflow/a.json")),
            run: first(fixture!("ocean/examples/workflow-run/a.json")),
            collaborator: first(fixture!("ocean/examples/collaborator/a.json")),
        }
    }
}
