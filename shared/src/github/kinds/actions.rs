//! The `workflow` and `workflow-run` kinds. Runs fan out over a repository's workflows and are
//! capped per workflow (the newest first), as Port's integration does.

use serde::Deserialize;
use serde_json::Value;

use super::{KindPages, Listed, Repo, SimpleKind, get_one, repo_keys};
use crate::github::client::{Feature, GitHubClient};
use crate::github::error::GitHubError;

/// The workflows of `repo` (Actions may be disabled: an outcome, not an error).
pub fn list_workflows(client: &GitHubClient, repo: &Repo) -> Result<KindPages, GitHubError> {
    SimpleKind::Workflow.list(client, repo)
}

/// One workflow by id or file name, `None` when deleted.
pub async fn get_workflow(
    client: &GitHubClient,
    repo: &Repo,
    id_or_file: &str,
) -> Result<Option<Value>, GitHubError> {
    get_one(
        client,
        repo,
        &format!("/actions/workflows/{}", super::segment(id_or_file)),
    )
    .await
}

/// Selector for workflow runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkflowRunSelector {
    /// Most runs per workflow, newest first (default 100: one page).
    pub max_runs: usize,
}

impl Default for WorkflowRunSelector {
    fn default() -> Self {
        Self { max_runs: 100 }
    }
}

/// The runs of one workflow, newest first, at most `selector.max_runs`.
pub async fn list_workflow_runs(
    client: &GitHubClient,
    repo: &Repo,
    workflow_id: u64,
    selector: &WorkflowRunSelector,
) -> Result<Option<Vec<Value>>, GitHubError> {
    let mut pages = KindPages::new(
        client.pages(
            &repo.path(&format!("/actions/workflows/{workflow_id}/runs")),
            Some("workflow_runs"),
            Feature::Optional,
        )?,
        repo_keys(repo),
    );
    let mut runs = Vec::new();
    while runs.len() < selector.max_runs {
        match pages.next().await? {
            Listed::Page(page) => runs.extend(page.items),
            Listed::NotAvailable { .. } => return Ok(None),
            Listed::Done => break,
        }
    }
    runs.truncate(selector.max_runs);
    Ok(Some(runs))
}

/// One workflow run, `None` when deleted.
pub async fn get_workflow_run(
    client: &GitHubClient,
    repo: &Repo,
    run_id: u64,
) -> Result<Option<Value>, GitHubError> {
    get_one(client, repo, &format!("/actions/runs/{run_id}")).await
}

/// The fan-out of kind `workflow-run` in a resync: the runs of every workflow of `repo`, at
/// most the selector's `maxRuns` per workflow (`None`: Actions is not available here).
pub async fn every_workflow_run(
    client: &GitHubClient,
    repo: &Repo,
    selector: &WorkflowRunSelector,
) -> Result<Option<Vec<Value>>, GitHubError> {
    let Some(workflows) = list_workflows(client, repo)?.collect().await? else {
        return Ok(None);
    };
    let mut runs = Vec::new();
    for id in workflows
        .iter()
        .filter_map(|w| w.get("id").and_then(Value::as_u64))
    {
        if let Some(items) = list_workflow_runs(client, repo, id, selector).await? {
            runs.extend(items);
        }
    }
    Ok(Some(runs))
}
