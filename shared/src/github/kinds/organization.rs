//! The `organization` and `repository` kinds: the organization object, the repositories an
//! identity may sync (an App installation's own list, or an organization's), and the
//! `__includedFiles` enrichment of Port's repository selector.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Repo, query_value, segment};
use crate::github::client::{Feature, GitHubClient};
use crate::github::error::GitHubError;
use crate::github::pages::{Page, Pages};

/// The organization object (`GET /orgs/{org}`, or `/users/{login}` for a personal account).
pub async fn get_organization(client: &GitHubClient, org: &str) -> Result<Value, GitHubError> {
    match client
        .get_if_exists(&format!("/orgs/{}", segment(org)))
        .await?
    {
        Some(found) => Ok(found),
        None => {
            client
                .get(&format!("/users/{}", segment(org)), Feature::Required)
                .await
        }
    }
}

/// Port's repository selector (`includedFiles`), plus `repositoryType` (a top-level setting of
/// `port-app-config`, passed through here).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RepositorySelector {
    /// Files whose content is added under `__includedFiles` (path → text, `null` when absent).
    pub included_files: Vec<String>,
    /// `all` (default), `public`, `private`, `forks`, `sources`, `member`.
    pub repository_type: Option<String>,
}

/// Where the repositories to sync come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoSource {
    /// `GET /installation/repositories`: only the repositories the App was given.
    Installation,
    /// `GET /orgs/{org}/repos?type=…`: for a personal or fine-grained token.
    Organization(String),
}

/// Repositories page by page, filtered by `repositoryType`.
#[derive(Debug)]
pub struct RepositoryPages {
    pages: Pages,
    repository_type: String,
}

impl RepositoryPages {
    /// The next page of repository objects (`None` when done).
    pub async fn next_page(&mut self) -> Result<Option<Page>, GitHubError> {
        let Some(mut page) = self.pages.next_page().await? else {
            return Ok(None);
        };
        page.items
            .retain(|repo| type_matches(repo, &self.repository_type));
        Ok(Some(page))
    }

    /// Where the list stands, to resume with [`resume_repositories`].
    pub fn cursor(&self) -> Option<&str> {
        self.pages.cursor()
    }

    /// Every remaining repository, as [`Repo`]s.
    pub async fn collect_repos(mut self) -> Result<Vec<Repo>, GitHubError> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            for item in page.items {
                all.push(Repo::from_object(item)?);
            }
        }
        Ok(all)
    }
}

fn type_matches(repo: &Value, repository_type: &str) -> bool {
    let flag = |name: &str| repo.get(name).and_then(Value::as_bool).unwrap_or(false);
    match repository_type {
        "public" => !flag("private"),
        "private" => flag("private"),
        "forks" => flag("fork"),
        "sources" => !flag("fork"),
        _ => true,
    }
}

fn repository_type(selector: &RepositorySelector) -> String {
    selector
        .repository_type
        .clone()
        .unwrap_or_else(|| "all".to_owned())
}

/// The repositories of `source`.
pub fn list_repositories(
    client: &GitHubClient,
    source: &RepoSource,
    selector: &RepositorySelector,
) -> Result<RepositoryPages, GitHubError> {
    let repository_type = repository_type(selector);
    let pages = match source {
        RepoSource::Installation => client.pages(
            "/installation/repositories",
            Some("repositories"),
            Feature::Required,
        )?,
        RepoSource::Organization(org) => client.pages(
            &format!(
                "/orgs/{}/repos?type={}",
                segment(org),
                query_value(&repository_type)
            ),
            None,
            Feature::Required,
        )?,
    };
    Ok(RepositoryPages {
        pages,
        repository_type,
    })
}

/// Resumes [`list_repositories`] from a cursor.
pub fn resume_repositories(
    client: &GitHubClient,
    source: &RepoSource,
    selector: &RepositorySelector,
    cursor: &str,
) -> Result<RepositoryPages, GitHubError> {
    let field = match source {
        RepoSource::Installation => Some("repositories"),
        RepoSource::Organization(_) => None,
    };
    Ok(RepositoryPages {
        pages: client.resume_pages(cursor, field, Feature::Required)?,
        repository_type: repository_type(selector),
    })
}

/// One repository (`GET /repos/{o}/{r}`), `None` when it no longer exists.
pub async fn get_repository(
    client: &GitHubClient,
    owner: &str,
    name: &str,
) -> Result<Option<Value>, GitHubError> {
    client
        .get_if_exists(&format!("/repos/{}/{}", segment(owner), segment(name)))
        .await
}

/// A repository as the resync and live events both map it: its REST object with
/// `__organization` (when it belongs to one) and the selector's `__includedFiles`.
pub async fn repository_raw(
    client: &GitHubClient,
    repo: &Repo,
    organization: Option<&str>,
    selector: &RepositorySelector,
) -> Result<Value, GitHubError> {
    let mut object = repo.object.clone();
    if let (Some(fields), Some(org)) = (object.as_object_mut(), organization) {
        fields
            .entry("__organization")
            .or_insert_with(|| Value::String(org.to_owned()));
    }
    include_files(client, &mut object, selector).await?;
    Ok(object)
}

/// Adds `__includedFiles` to a repository object: each selected path's text on the default
/// branch, or `null` when the file does not exist.
pub async fn include_files(
    client: &GitHubClient,
    repository: &mut Value,
    selector: &RepositorySelector,
) -> Result<(), GitHubError> {
    if selector.included_files.is_empty() {
        return Ok(());
    }
    let repo = Repo::from_object(repository.clone())?;
    let mut files = Map::new();
    for path in &selector.included_files {
        let content = file_text(client, &repo, path, &repo.default_branch).await?;
        files.insert(
            path.clone(),
            content.map(Value::from).unwrap_or(Value::Null),
        );
    }
    if let Value::Object(object) = repository {
        object.insert("__includedFiles".to_owned(), Value::Object(files));
    }
    Ok(())
}

/// The text of one file at `git_ref` (`GET /repos/{o}/{r}/contents/{path}?ref=`), `None` when
/// it does not exist or is not a file.
pub async fn file_text(
    client: &GitHubClient,
    repo: &Repo,
    path: &str,
    git_ref: &str,
) -> Result<Option<String>, GitHubError> {
    let encoded: Vec<String> = path.trim_matches('/').split('/').map(segment).collect();
    let request = repo.path(&format!(
        "/contents/{}?ref={}",
        encoded.join("/"),
        query_value(git_ref)
    ));
    let found = match client.get(&request, Feature::Optional).await {
        Ok(found) => found,
        Err(GitHubError::NotAvailable { .. }) => return Ok(None),
        Err(err) => return Err(err),
    };
    let Some(content) = found.get("content").and_then(Value::as_str) else {
        return Ok(None);
    };
    let compact: String = content.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| GitHubError::Permanent {
            path: request.clone(),
            status: 0,
            message: "file content is not base64".to_owned(),
        })?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}
