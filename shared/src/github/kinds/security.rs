//! The alert kinds: `dependabot-alert`, `code-scanning-alerts`, `secret-scanning-alerts`. Each
//! is a per-repository feature: when it is off or not permitted, GitHub answers 403/404, which
//! comes back as [`super::Listed::NotAvailable`] for that repository only.

use serde::Deserialize;
use serde_json::Value;

use super::{KindPages, Repo, get_one, query_value, repo_keys};
use crate::github::client::{Feature, GitHubClient};
use crate::github::error::GitHubError;

/// Port's dependabot-alert selector.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DependabotSelector {
    /// Alert states to list (default: `open`).
    pub states: Vec<String>,
}

impl Default for DependabotSelector {
    fn default() -> Self {
        Self {
            states: vec!["open".to_owned()],
        }
    }
}

/// Port's code-scanning and secret-scanning selectors.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ScanningSelector {
    /// Alert state to list (default: `open`).
    pub state: String,
    /// Secret scanning only: leave the secret out of the alert (default true).
    pub hide_secret: bool,
}

impl Default for ScanningSelector {
    fn default() -> Self {
        Self {
            state: "open".to_owned(),
            hide_secret: true,
        }
    }
}

/// The dependabot alerts of `repo` in the selected states.
pub fn list_dependabot_alerts(
    client: &GitHubClient,
    repo: &Repo,
    selector: &DependabotSelector,
) -> Result<KindPages, GitHubError> {
    let mut suffix = "/dependabot/alerts".to_owned();
    if !selector.states.is_empty() {
        suffix.push_str(&format!(
            "?state={}",
            query_value(&selector.states.join(","))
        ));
    }
    Ok(KindPages::new(
        client.pages(&repo.path(&suffix), None, Feature::Optional)?,
        repo_keys(repo),
    ))
}

/// One dependabot alert, `None` when gone.
pub async fn get_dependabot_alert(
    client: &GitHubClient,
    repo: &Repo,
    number: u64,
) -> Result<Option<Value>, GitHubError> {
    optional_one(client, repo, &format!("/dependabot/alerts/{number}")).await
}

/// The code-scanning alerts of `repo` in the selected state.
pub fn list_code_scanning_alerts(
    client: &GitHubClient,
    repo: &Repo,
    selector: &ScanningSelector,
) -> Result<KindPages, GitHubError> {
    let suffix = format!(
        "/code-scanning/alerts?state={}",
        query_value(&selector.state)
    );
    Ok(KindPages::new(
        client.pages(&repo.path(&suffix), None, Feature::Optional)?,
        repo_keys(repo),
    ))
}

/// One code-scanning alert, `None` when gone.
pub async fn get_code_scanning_alert(
    client: &GitHubClient,
    repo: &Repo,
    number: u64,
) -> Result<Option<Value>, GitHubError> {
    optional_one(client, repo, &format!("/code-scanning/alerts/{number}")).await
}

/// The secret-scanning alerts of `repo` in the selected state.
pub fn list_secret_scanning_alerts(
    client: &GitHubClient,
    repo: &Repo,
    selector: &ScanningSelector,
) -> Result<KindPages, GitHubError> {
    let suffix = format!(
        "/secret-scanning/alerts?state={}&hide_secret={}",
        query_value(&selector.state),
        selector.hide_secret
    );
    Ok(KindPages::new(
        client.pages(&repo.path(&suffix), None, Feature::Optional)?,
        repo_keys(repo),
    ))
}

/// One secret-scanning alert, `None` when gone.
pub async fn get_secret_scanning_alert(
    client: &GitHubClient,
    repo: &Repo,
    number: u64,
    selector: &ScanningSelector,
) -> Result<Option<Value>, GitHubError> {
    optional_one(
        client,
        repo,
        &format!(
            "/secret-scanning/alerts/{number}?hide_secret={}",
            selector.hide_secret
        ),
    )
    .await
}

/// A single alert: 403/404 (feature off, or the alert is gone) both read as "nothing here".
async fn optional_one(
    client: &GitHubClient,
    repo: &Repo,
    suffix: &str,
) -> Result<Option<Value>, GitHubError> {
    match get_one(client, repo, suffix).await {
        Ok(found) => Ok(found),
        Err(GitHubError::Permanent { status: 403, .. }) => Ok(None),
        Err(err) => Err(err),
    }
}
