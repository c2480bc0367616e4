//! The `environment`, `deployment` and `deployment-status` kinds. Statuses fan out over the
//! deployments of a repository and carry `__deployment_id`.

use serde_json::{Map, Value};

use super::{KindPages, Repo, SimpleKind, get_one, repo_keys, segment};
use crate::github::client::{Feature, GitHubClient};
use crate::github::error::GitHubError;

/// The environments of `repo` (not available on some plans: an outcome, not an error).
pub fn list_environments(client: &GitHubClient, repo: &Repo) -> Result<KindPages, GitHubError> {
    SimpleKind::Environment.list(client, repo)
}

/// One environment, `None` when deleted.
pub async fn get_environment(
    client: &GitHubClient,
    repo: &Repo,
    name: &str,
) -> Result<Option<Value>, GitHubError> {
    get_one(client, repo, &format!("/environments/{}", segment(name))).await
}

/// The deployments of `repo`.
pub fn list_deployments(client: &GitHubClient, repo: &Repo) -> Result<KindPages, GitHubError> {
    SimpleKind::Deployment.list(client, repo)
}

/// One deployment, `None` when deleted.
pub async fn get_deployment(
    client: &GitHubClient,
    repo: &Repo,
    id: u64,
) -> Result<Option<Value>, GitHubError> {
    get_one(client, repo, &format!("/deployments/{id}")).await
}

fn status_keys(repo: &Repo, deployment_id: u64) -> Map<String, Value> {
    let mut keys = repo_keys(repo);
    keys.insert(
        "__deployment_id".to_owned(),
        Value::from(deployment_id.to_string()),
    );
    keys
}

/// The statuses of one deployment.
pub fn list_deployment_statuses(
    client: &GitHubClient,
    repo: &Repo,
    deployment_id: u64,
) -> Result<KindPages, GitHubError> {
    Ok(KindPages::new(
        client.pages(
            &repo.path(&format!("/deployments/{deployment_id}/statuses")),
            None,
            Feature::Required,
        )?,
        status_keys(repo, deployment_id),
    ))
}

/// One deployment status, `None` when deleted.
pub async fn get_deployment_status(
    client: &GitHubClient,
    repo: &Repo,
    deployment_id: u64,
    status_id: u64,
) -> Result<Option<Value>, GitHubError> {
    let found = get_one(
        client,
        repo,
        &format!("/deployments/{deployment_id}/statuses/{status_id}"),
    )
    .await?;
    Ok(found.map(|mut item| {
        super::enrich(&mut item, &status_keys(repo, deployment_id));
        item
    }))
}

/// The ids of deployment objects (for the status fan-out).
pub fn deployment_ids(deployments: &[Value]) -> Vec<u64> {
    deployments
        .iter()
        .filter_map(|d| d.get("id").and_then(Value::as_u64))
        .collect()
}

/// The fan-out of kind `deployment-status` in a resync: every status of every deployment of
/// `repo` (`None`: deployments are not available here).
pub async fn every_deployment_status(
    client: &GitHubClient,
    repo: &Repo,
) -> Result<Option<Vec<Value>>, GitHubError> {
    let Some(found) = list_deployments(client, repo)?.collect().await? else {
        return Ok(None);
    };
    let mut statuses = Vec::new();
    for id in deployment_ids(&found) {
        if let Some(items) = list_deployment_statuses(client, repo, id)?
            .collect()
            .await?
        {
            statuses.extend(items);
        }
    }
    Ok(Some(statuses))
}
