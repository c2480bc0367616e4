//! One resource's list, page by page, whatever its kind: the kind functions of `github::kinds`
//! behind one interface, with a cursor to continue in another invocation where the kind's list
//! has one (fan-out kinds such as workflow runs are read whole).

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::github::kinds::Scope;
use crate::github::kinds::{
    self, Kind, KindCursor, KindPages, Listed, Repo, SimpleKind, actions, deployments, files,
    organization, people, pulls, refs, security,
};
use crate::github::{GitHubClient, GitHubError};
use crate::mapping::CompiledResource;
use crate::sync::selection::{path_patterns, selector_json};

/// Where a resource's list stands, for a continuation in another invocation: one variant per
/// form of list that can be resumed (kinds read whole have none). Externally tagged, so a job
/// carries it as `{"pages": {...}}`, `{"pulls": {...}}`, `{"branches": {...}}`, `{"teams": "<url>"}`
/// or `{"users": "<url>"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListCursor {
    Pages(KindCursor),
    Pulls(pulls::PullRequestCursor),
    Branches(KindCursor),
    /// The next page's URL.
    Teams(String),
    /// The next page's URL.
    Users(String),
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
        cursor: Option<&ListCursor>,
    ) -> Result<Self, GitHubError> {
        let kind = resource.config().kind;
        let raw_selector = selector_json(resource);
        let selector = Some(&raw_selector);
        if let Some(cursor) = cursor {
            return Ok(match (cursor, repo) {
                (ListCursor::Pages(saved), _) => Self::Pages(KindPages::resume(client, saved)?),
                (ListCursor::Pulls(saved), _) => {
                    Self::Pulls(pulls::PullRequestPages::resume(client, saved)?)
                }
                (ListCursor::Branches(saved), Some(repo)) => Self::Branches(
                    refs::BranchPages::resume(client, repo, &kinds::selector(selector)?, saved)?,
                ),
                (ListCursor::Branches(_), None) => return Err(misplaced_cursor()),
                (ListCursor::Teams(next), _) => Self::Teams(people::TeamPages::resume(
                    client,
                    org,
                    &kinds::selector(selector)?,
                    next,
                )?),
                (ListCursor::Users(next), _) => {
                    Self::Users(people::UserPages::resume(client, next)?)
                }
            });
        }
        let Some(repo) = repo else {
            return Ok(match kind {
                Kind::Organization => Self::Whole(Some(Some(vec![
                    organization::get_organization(client, org).await?,
                ]))),
                Kind::Team => Self::Teams(people::list_teams(
                    client,
                    org,
                    &kinds::selector(selector)?,
                )?),
                Kind::User => Self::Users(people::list_users(client, org)?),
                _ => Self::Whole(Some(Some(Vec::new()))),
            });
        };
        Ok(match kind {
            Kind::Repository => {
                let object = organization::repository_raw(
                    client,
                    repo,
                    Some(&repo.owner),
                    &kinds::selector(selector)?,
                )
                .await?;
                Self::Whole(Some(Some(vec![object])))
            }
            Kind::PullRequest => Self::Pulls(pulls::list_pull_requests(
                client,
                repo,
                &kinds::selector(selector)?,
            )?),
            Kind::Issue => Self::Pages(pulls::list_issues(
                client,
                repo,
                &kinds::selector(selector)?,
            )?),
            Kind::Release => Self::Pages(SimpleKind::Release.list(client, repo)?),
            Kind::Tag => Self::Pages(SimpleKind::Tag.list(client, repo)?),
            Kind::Environment => Self::Pages(SimpleKind::Environment.list(client, repo)?),
            Kind::Deployment => Self::Pages(SimpleKind::Deployment.list(client, repo)?),
            Kind::Workflow => Self::Pages(SimpleKind::Workflow.list(client, repo)?),
            Kind::Collaborator => Self::Pages(SimpleKind::Collaborator.list(client, repo)?),
            Kind::Branch => Self::Branches(refs::list_branches(
                client,
                repo,
                &kinds::selector(selector)?,
            )?),
            Kind::DependabotAlert => Self::Pages(security::list_dependabot_alerts(
                client,
                repo,
                &kinds::selector(selector)?,
            )?),
            Kind::CodeScanningAlerts => Self::Pages(security::list_code_scanning_alerts(
                client,
                repo,
                &kinds::selector(selector)?,
            )?),
            Kind::SecretScanningAlerts => Self::Pages(security::list_secret_scanning_alerts(
                client,
                repo,
                &kinds::selector(selector)?,
            )?),
            Kind::DeploymentStatus => Self::Whole(Some(
                deployments::every_deployment_status(client, repo).await?,
            )),
            Kind::WorkflowRun => Self::Whole(Some(
                actions::every_workflow_run(client, repo, &kinds::selector(selector)?).await?,
            )),
            Kind::File | Kind::Folder => {
                let patterns: Vec<files::PathPattern> = path_patterns(resource)
                    .into_iter()
                    .filter(|p| p.branch_for(repo).is_some())
                    .collect();
                let found = if patterns.is_empty() {
                    Vec::new()
                } else if kind == Kind::File {
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
    pub fn cursor(&self) -> Option<ListCursor> {
        match self {
            Self::Pages(pages) => pages.cursor().map(ListCursor::Pages),
            Self::Pulls(pages) => pages.cursor().map(ListCursor::Pulls),
            Self::Branches(pages) => pages.cursor().map(ListCursor::Branches),
            Self::Teams(pages) => pages.cursor().map(|c| ListCursor::Teams(c.to_owned())),
            Self::Users(pages) => pages.cursor().map(|c| ListCursor::Users(c.to_owned())),
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

fn misplaced_cursor() -> GitHubError {
    GitHubError::Config {
        reason: "a resync job carries a branch list's cursor outside a repository".to_owned(),
        source: None,
    }
}
