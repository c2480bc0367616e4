//! One resource's list, page by page, whatever its kind: the kind functions of `github::kinds`
//! behind one interface, with a cursor to continue in another invocation where the kind's list
//! has one (fan-out kinds such as workflow runs are read whole).

use serde_json::Value;

use crate::github::kinds::{
    self, KindCursor, KindPages, Listed, Repo, SimpleKind, actions, deployments, files,
    organization, people, pulls, refs, security,
};
use crate::github::{GitHubClient, GitHubError};
use crate::live::selection::{path_patterns, selector_json};
use crate::mapping::CompiledResource;

/// Where a kind's data lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Organization,
    Repository,
}

/// The scope of a kind, `None` for kinds this integration cannot list (`skill`, `plugin`).
pub fn scope_of(kind: &str) -> Option<Scope> {
    match kind {
        "organization" | "team" | "user" => Some(Scope::Organization),
        "repository"
        | "pull-request"
        | "issue"
        | "release"
        | "tag"
        | "branch"
        | "environment"
        | "deployment"
        | "deployment-status"
        | "workflow"
        | "workflow-run"
        | "dependabot-alert"
        | "code-scanning-alerts"
        | "secret-scanning-alerts"
        | "collaborator"
        | "file"
        | "folder" => Some(Scope::Repository),
        _ => None,
    }
}

/// What one step produced.
pub enum Step {
    Items(Vec<Value>),
    /// The kind is switched off or not permitted here (an outcome, not a failure).
    NotAvailable,
    Done,
}

pub enum Lister {
    Pages(KindPages),
    Pulls(pulls::PullRequestPages),
    Branches(refs::BranchPages),
    Teams(people::TeamPages),
    Users(people::UserPages),
    /// A list read whole (`None` inside: not available); taken on the first step.
    Whole(Option<Option<Vec<Value>>>),
}

impl Lister {
    /// Starts (or, with `cursor`, continues) `resource`'s list in `org` / `repo`.
    pub async fn start(
        client: &GitHubClient,
        org: &str,
        repo: Option<&Repo>,
        resource: &CompiledResource,
        cursor: Option<&Value>,
    ) -> Result<Self, GitHubError> {
        let kind = resource.config().kind.as_str();
        let raw_selector = selector_json(resource);
        let selector = Some(&raw_selector);
        if let Some(cursor) = cursor {
            if let Some(saved) = cursor.get("pages") {
                let saved: KindCursor = serde_json::from_value(saved.clone()).map_err(bad)?;
                return Ok(Self::Pages(KindPages::resume(client, &saved)?));
            }
            if let Some(saved) = cursor.get("pulls") {
                let saved: pulls::PullRequestCursor =
                    serde_json::from_value(saved.clone()).map_err(bad)?;
                return Ok(Self::Pulls(pulls::PullRequestPages::resume(
                    client, &saved,
                )?));
            }
            if let (Some(saved), Some(repo)) = (cursor.get("branches"), repo) {
                let saved: KindCursor = serde_json::from_value(saved.clone()).map_err(bad)?;
                return Ok(Self::Branches(refs::BranchPages::resume(
                    client,
                    repo,
                    &kinds::selector(selector)?,
                    &saved,
                )?));
            }
            if let Some(next) = cursor.get("teams").and_then(Value::as_str) {
                return Ok(Self::Teams(people::TeamPages::resume(
                    client,
                    org,
                    &kinds::selector(selector)?,
                    next,
                )?));
            }
            if let Some(next) = cursor.get("users").and_then(Value::as_str) {
                return Ok(Self::Users(people::UserPages::resume(client, next)?));
            }
            return Err(bad_cursor());
        }
        let Some(repo) = repo else {
            return Ok(match kind {
                "organization" => Self::Whole(Some(Some(vec![
                    organization::get_organization(client, org).await?,
                ]))),
                "team" => Self::Teams(people::list_teams(
                    client,
                    org,
                    &kinds::selector(selector)?,
                )?),
                "user" => Self::Users(people::list_users(client, org)?),
                _ => Self::Whole(Some(Some(Vec::new()))),
            });
        };
        Ok(match kind {
            "repository" => {
                let object = organization::repository_raw(
                    client,
                    repo,
                    Some(&repo.owner),
                    &kinds::selector(selector)?,
                )
                .await?;
                Self::Whole(Some(Some(vec![object])))
            }
            "pull-request" => Self::Pulls(pulls::list_pull_requests(
                client,
                repo,
                &kinds::selector(selector)?,
            )?),
            "issue" => Self::Pages(pulls::list_issues(
                client,
                repo,
                &kinds::selector(selector)?,
            )?),
            "release" => Self::Pages(SimpleKind::Release.list(client, repo)?),
            "tag" => Self::Pages(SimpleKind::Tag.list(client, repo)?),
            "environment" => Self::Pages(SimpleKind::Environment.list(client, repo)?),
            "deployment" => Self::Pages(SimpleKind::Deployment.list(client, repo)?),
            "workflow" => Self::Pages(SimpleKind::Workflow.list(client, repo)?),
            "collaborator" => Self::Pages(SimpleKind::Collaborator.list(client, repo)?),
            "branch" => Self::Branches(refs::list_branches(
                client,
                repo,
                &kinds::selector(selector)?,
            )?),
            "dependabot-alert" => Self::Pages(security::list_dependabot_alerts(
                client,
                repo,
                &kinds::selector(selector)?,
            )?),
            "code-scanning-alerts" => Self::Pages(security::list_code_scanning_alerts(
                client,
                repo,
                &kinds::selector(selector)?,
            )?),
            "secret-scanning-alerts" => Self::Pages(security::list_secret_scanning_alerts(
                client,
                repo,
                &kinds::selector(selector)?,
            )?),
            "deployment-status" => Self::Whole(Some(deployment_statuses(client, repo).await?)),
            "workflow-run" => Self::Whole(Some(
                workflow_runs(client, repo, &kinds::selector(selector)?).await?,
            )),
            "file" | "folder" => {
                let patterns: Vec<files::PathPattern> = path_patterns(resource)
                    .into_iter()
                    .filter(|p| p.branch_for(repo).is_some())
                    .collect();
                let found = if patterns.is_empty() {
                    Vec::new()
                } else if kind == "file" {
                    files::list_files(client, repo, &patterns).await?
                } else {
                    files::list_folders(client, repo, &patterns).await?
                };
                Self::Whole(Some(Some(found)))
            }
            _ => Self::Whole(Some(Some(Vec::new()))),
        })
    }

    pub async fn next(&mut self) -> Result<Step, GitHubError> {
        let listed = match self {
            Self::Pages(pages) => pages.next().await?,
            Self::Pulls(pages) => pages.next().await?,
            Self::Branches(pages) => pages.next().await?,
            Self::Teams(pages) => return Ok(page_step(pages.next_page().await?)),
            Self::Users(pages) => return Ok(page_step(pages.next_page().await?)),
            Self::Whole(whole) => {
                return Ok(match whole.take() {
                    Some(Some(items)) => Step::Items(items),
                    Some(None) => Step::NotAvailable,
                    None => Step::Done,
                });
            }
        };
        Ok(match listed {
            Listed::Page(page) => Step::Items(page.items),
            Listed::NotAvailable { .. } => Step::NotAvailable,
            Listed::Done => Step::Done,
        })
    }

    /// Where the list stands, for a continuation; `None` when it cannot be resumed (it is done,
    /// or its kind is read whole).
    pub fn cursor(&self) -> Option<Value> {
        match self {
            Self::Pages(pages) => pages
                .cursor()
                .and_then(|c| serde_json::to_value(c).ok())
                .map(|c| serde_json::json!({ "pages": c })),
            Self::Pulls(pages) => pages
                .cursor()
                .and_then(|c| serde_json::to_value(c).ok())
                .map(|c| serde_json::json!({ "pulls": c })),
            Self::Branches(pages) => pages
                .cursor()
                .and_then(|c| serde_json::to_value(c).ok())
                .map(|c| serde_json::json!({ "branches": c })),
            Self::Teams(pages) => pages.cursor().map(|c| serde_json::json!({ "teams": c })),
            Self::Users(pages) => pages.cursor().map(|c| serde_json::json!({ "users": c })),
            Self::Whole(_) => None,
        }
    }
}

fn page_step(page: Option<crate::github::Page>) -> Step {
    match page {
        Some(page) => Step::Items(page.items),
        None => Step::Done,
    }
}

fn bad(err: serde_json::Error) -> GitHubError {
    GitHubError::Config {
        reason: "a resync job's cursor is malformed".to_owned(),
        source: Some(Box::new(err)),
    }
}

fn bad_cursor() -> GitHubError {
    GitHubError::Config {
        reason: "a resync job's cursor is of an unknown form".to_owned(),
        source: None,
    }
}

/// Every status of every deployment of `repo`.
async fn deployment_statuses(
    client: &GitHubClient,
    repo: &Repo,
) -> Result<Option<Vec<Value>>, GitHubError> {
    let Some(found) = deployments::list_deployments(client, repo)?
        .collect()
        .await?
    else {
        return Ok(None);
    };
    let mut statuses = Vec::new();
    for id in deployments::deployment_ids(&found) {
        if let Some(items) = deployments::list_deployment_statuses(client, repo, id)?
            .collect()
            .await?
        {
            statuses.extend(items);
        }
    }
    Ok(Some(statuses))
}

/// The runs of every workflow of `repo`, at most the selector's `maxRuns` per workflow.
async fn workflow_runs(
    client: &GitHubClient,
    repo: &Repo,
    selector: &actions::WorkflowRunSelector,
) -> Result<Option<Vec<Value>>, GitHubError> {
    let Some(workflows) = actions::list_workflows(client, repo)?.collect().await? else {
        return Ok(None);
    };
    let mut runs = Vec::new();
    for id in workflows
        .iter()
        .filter_map(|w| w.get("id").and_then(Value::as_u64))
    {
        if let Some(items) = actions::list_workflow_runs(client, repo, id, selector).await? {
            runs.extend(items);
        }
    }
    Ok(Some(runs))
}
