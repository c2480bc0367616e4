//! The `pull-request` and `issue` kinds. Open pull requests are listed whole; closed ones are
//! read newest-updated first and stop at the selector's age and count limits, as Port's
//! integration does.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{KindCursor, KindPages, Listed, Repo, get_one, query_value, repo_keys};
use crate::github::client::{Feature, GitHubClient};
use crate::github::error::GitHubError;

/// Port's pull-request selector.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PullRequestSelector {
    /// `open` and/or `closed` (default: open only).
    pub states: Vec<String>,
    /// Most closed pull requests per repository (default 100).
    pub max_results: usize,
    /// Closed pull requests updated within this many days (default 60).
    pub since: u32,
}

impl Default for PullRequestSelector {
    fn default() -> Self {
        Self {
            states: vec!["open".to_owned()],
            max_results: 100,
            since: 60,
        }
    }
}

/// The pull requests of one repository: open ones, then closed ones within the limits.
#[derive(Debug)]
pub struct PullRequestPages {
    open: Option<KindPages>,
    closed: Option<KindPages>,
    closed_left: usize,
    cutoff: DateTime<Utc>,
}

/// The pull requests of `repo` selected by `selector`.
pub fn list_pull_requests(
    client: &GitHubClient,
    repo: &Repo,
    selector: &PullRequestSelector,
) -> Result<PullRequestPages, GitHubError> {
    let wants = |state: &str| {
        selector
            .states
            .iter()
            .any(|s| s.eq_ignore_ascii_case(state))
    };
    let open = if wants("open") {
        Some(KindPages::new(
            client.pages(&repo.path("/pulls?state=open"), None, Feature::Required)?,
            repo_keys(repo),
        ))
    } else {
        None
    };
    let closed = if wants("closed") && selector.max_results > 0 {
        Some(KindPages::new(
            client.pages(
                &repo.path("/pulls?state=closed&sort=updated&direction=desc"),
                None,
                Feature::Required,
            )?,
            repo_keys(repo),
        ))
    } else {
        None
    };
    let cutoff = client.clock().now() - TimeDelta::days(i64::from(selector.since));
    Ok(PullRequestPages {
        open,
        closed,
        closed_left: selector.max_results,
        cutoff,
    })
}

/// A saved position in [`PullRequestPages`] (serializable for a resync continuation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullRequestCursor {
    /// Where the open list stands (`None`: done or not selected).
    pub open: Option<KindCursor>,
    /// Where the closed list stands (`None`: done or not selected).
    pub closed: Option<KindCursor>,
    pub closed_left: usize,
    /// Closed pull requests updated before this (epoch seconds) are not listed.
    pub cutoff_epoch: i64,
}

impl PullRequestPages {
    /// Where the lists stand; `None` when both are done.
    pub fn cursor(&self) -> Option<PullRequestCursor> {
        let open = self.open.as_ref().and_then(KindPages::cursor);
        let closed = self.closed.as_ref().and_then(KindPages::cursor);
        if open.is_none() && closed.is_none() {
            return None;
        }
        Some(PullRequestCursor {
            open,
            closed,
            closed_left: self.closed_left,
            cutoff_epoch: self.cutoff.timestamp(),
        })
    }

    /// Continues from a saved [`PullRequestCursor`].
    pub fn resume(client: &GitHubClient, cursor: &PullRequestCursor) -> Result<Self, GitHubError> {
        let resume = |saved: &Option<KindCursor>| {
            saved
                .as_ref()
                .map(|c| KindPages::resume(client, c))
                .transpose()
        };
        Ok(Self {
            open: resume(&cursor.open)?,
            closed: resume(&cursor.closed)?,
            closed_left: cursor.closed_left,
            cutoff: DateTime::<Utc>::from_timestamp(cursor.cutoff_epoch, 0).unwrap_or_default(),
        })
    }

    /// The next page of pull requests, or [`Listed::Done`].
    pub async fn next(&mut self) -> Result<Listed, GitHubError> {
        if let Some(open) = &mut self.open {
            match open.next().await? {
                Listed::Done => self.open = None,
                other => return Ok(other),
            }
        }
        let Some(closed) = &mut self.closed else {
            return Ok(Listed::Done);
        };
        match closed.next().await? {
            Listed::Page(mut page) => {
                let before = page.items.len();
                let cutoff = self.cutoff;
                page.items
                    .retain(|pr| updated_at(pr).is_some_and(|at| at >= cutoff));
                page.items.truncate(self.closed_left);
                self.closed_left -= page.items.len();
                // Sorted by update time: an item past the cutoff ends the list.
                if page.items.len() < before || self.closed_left == 0 {
                    self.closed = None;
                }
                Ok(Listed::Page(page))
            }
            other => {
                self.closed = None;
                Ok(other)
            }
        }
    }

    /// Every selected pull request.
    pub async fn collect(mut self) -> Result<Vec<Value>, GitHubError> {
        let mut all = Vec::new();
        while let Listed::Page(page) = self.next().await? {
            all.extend(page.items);
        }
        Ok(all)
    }
}

fn updated_at(item: &Value) -> Option<DateTime<Utc>> {
    let text = item.get("updated_at")?.as_str()?;
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// One pull request, `None` when it no longer exists.
pub async fn get_pull_request(
    client: &GitHubClient,
    repo: &Repo,
    number: u64,
) -> Result<Option<Value>, GitHubError> {
    get_one(client, repo, &format!("/pulls/{number}")).await
}

/// Port's issue selector.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IssueSelector {
    /// `open` (default), `closed` or `all`.
    pub state: String,
    /// Optional comma-separated label filter.
    pub labels: Option<String>,
}

impl Default for IssueSelector {
    fn default() -> Self {
        Self {
            state: "open".to_owned(),
            labels: None,
        }
    }
}

/// The issues of `repo` (GitHub's list includes pull requests, which carry `pull_request`).
pub fn list_issues(
    client: &GitHubClient,
    repo: &Repo,
    selector: &IssueSelector,
) -> Result<KindPages, GitHubError> {
    let mut suffix = format!("/issues?state={}", query_value(&selector.state));
    if let Some(labels) = &selector.labels {
        suffix.push_str(&format!("&labels={}", query_value(labels)));
    }
    Ok(KindPages::new(
        client.pages(&repo.path(&suffix), None, Feature::Optional)?,
        repo_keys(repo),
    ))
}

/// One issue, `None` when it no longer exists.
pub async fn get_issue(
    client: &GitHubClient,
    repo: &Repo,
    number: u64,
) -> Result<Option<Value>, GitHubError> {
    get_one(client, repo, &format!("/issues/{number}")).await
}
