//! Re-reading an event's object from GitHub: the repository it happened in, then the one object
//! a routing target names (by the ids GitHub's single-object endpoints take), with the first
//! resource's selector of its kind where the kind function takes options. `None`: it is gone.

use serde_json::Value;

use super::error::LiveError;
use super::routing::Target;
use crate::github::GitHubClient;
use crate::github::kinds::{self, Repo};
use crate::webhook::envelope::Envelope;

pub(super) async fn repository(
    client: &GitHubClient,
    envelope: &Envelope,
) -> Result<Option<Repo>, LiveError> {
    let payload = &envelope.payload;
    let owner = payload
        .pointer("/repository/owner/login")
        .and_then(Value::as_str);
    let name = payload.pointer("/repository/name").and_then(Value::as_str);
    let (Some(owner), Some(name)) = (owner, name) else {
        return Err(LiveError::permanent(
            "the event has no repository owner and name",
        ));
    };
    match kinds::organization::get_repository(client, owner, name).await? {
        Some(object) => Ok(Some(Repo::from_object(object)?)),
        None => Ok(None),
    }
}

pub(super) async fn current_object(
    client: &GitHubClient,
    envelope: &Envelope,
    repo: &Repo,
    target: &Target,
    selector: Option<&Value>,
) -> Result<Option<Value>, LiveError> {
    use kinds::{actions, deployments, organization, people, pulls, refs, security};
    let found = match target {
        Target::Repository => {
            let selector = kinds::selector(selector)?;
            Some(
                organization::repository_raw(
                    client,
                    repo,
                    envelope.organization.as_deref(),
                    &selector,
                )
                .await?,
            )
        }
        Target::PullRequest { number } => pulls::get_pull_request(client, repo, *number).await?,
        Target::Issue { number } => pulls::get_issue(client, repo, *number).await?,
        Target::Release { id } => refs::get_release(client, repo, *id).await?,
        Target::Tag { name } => refs::get_tag(client, repo, name).await?,
        Target::Branch { name } => {
            let selector = kinds::selector(selector)?;
            refs::get_branch(client, repo, name, &selector).await?
        }
        Target::Environment { name } => deployments::get_environment(client, repo, name).await?,
        Target::Deployment { id } => deployments::get_deployment(client, repo, *id).await?,
        Target::DeploymentStatus { deployment_id, id } => {
            deployments::get_deployment_status(client, repo, *deployment_id, *id).await?
        }
        Target::Workflow { id } => actions::get_workflow(client, repo, &id.to_string()).await?,
        Target::WorkflowRun { id } => actions::get_workflow_run(client, repo, *id).await?,
        Target::DependabotAlert { number } => {
            security::get_dependabot_alert(client, repo, *number).await?
        }
        Target::CodeScanningAlert { number } => {
            security::get_code_scanning_alert(client, repo, *number).await?
        }
        Target::SecretScanningAlert { number } => {
            let selector = kinds::selector(selector)?;
            security::get_secret_scanning_alert(client, repo, *number, &selector).await?
        }
        Target::Collaborator { login } => people::get_collaborator(client, repo, login).await?,
        // Handled by `refresh_paths`.
        Target::Paths { .. } => None,
        Target::Team { .. } | Target::User { .. } => None,
    };
    Ok(found)
}

pub(super) async fn org_object(
    client: &GitHubClient,
    envelope: &Envelope,
    target: &Target,
    selector: Option<&Value>,
) -> Result<Option<Value>, LiveError> {
    use kinds::people;
    let org = envelope.organization.as_deref().unwrap_or_default();
    match target {
        Target::Team { slug } => {
            let selector = kinds::selector(selector)?;
            Ok(people::get_team(client, org, slug, &selector).await?)
        }
        Target::User { login } => Ok(people::get_user(client, login).await?),
        _ => Ok(None),
    }
}
