//! The `branch`, `tag` and `release` kinds. Branches carry `__repository_object` and
//! `__is_default_branch`, and, when the selector asks, the detailed branch object and its
//! protection rules (`__protection_rules`).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{KindPages, Listed, Repo, SimpleKind, enrich, get_one, repo_keys, segment};
use crate::github::client::{Feature, GitHubClient};
use crate::github::error::GitHubError;

/// Port's branch selector.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BranchSelector {
    /// Replace each listed branch with `GET /branches/{b}` (one request per branch).
    pub detailed: bool,
    /// Add `__protection_rules` from `GET /branches/{b}/protection` (one request per branch).
    pub protection_rules: bool,
}

fn branch_keys(repo: &Repo) -> Map<String, Value> {
    let mut keys = repo_keys(repo);
    keys.insert("__repository_object".to_owned(), repo.object.clone());
    keys
}

/// The branches of one repository, with the selector's extra calls made per page.
#[derive(Debug)]
pub struct BranchPages {
    client: GitHubClient,
    repo: Repo,
    selector: BranchSelector,
    pages: KindPages,
}

/// The branches of `repo`.
pub fn list_branches(
    client: &GitHubClient,
    repo: &Repo,
    selector: &BranchSelector,
) -> Result<BranchPages, GitHubError> {
    let pages = KindPages::new(
        client.pages(&repo.path("/branches"), None, Feature::Required)?,
        branch_keys(repo),
    );
    Ok(BranchPages {
        client: client.clone(),
        repo: repo.clone(),
        selector: selector.clone(),
        pages,
    })
}

impl BranchPages {
    /// The next page of branches, or [`Listed::Done`].
    pub async fn next(&mut self) -> Result<Listed, GitHubError> {
        let mut page = match self.pages.next().await? {
            Listed::Page(page) => page,
            other => return Ok(other),
        };
        for item in &mut page.items {
            let Some(name) = item.get("name").and_then(Value::as_str).map(str::to_owned) else {
                continue;
            };
            if self.selector.detailed
                && let Some(detailed) = get_branch_object(&self.client, &self.repo, &name).await?
            {
                *item = detailed;
            }
            if self.selector.protection_rules {
                let rules = protection(&self.client, &self.repo, &name).await?;
                enrich(
                    item,
                    &Map::from_iter([("__protection_rules".to_owned(), rules)]),
                );
            }
            finish_branch(item, &self.repo, &name);
        }
        Ok(Listed::Page(page))
    }

    /// Where the list stands (`None` when done), to resume with [`BranchPages::resume`].
    pub fn cursor(&self) -> Option<super::KindCursor> {
        self.pages.cursor()
    }

    /// Continues the branches of `repo` from a saved cursor.
    pub fn resume(
        client: &GitHubClient,
        repo: &Repo,
        selector: &BranchSelector,
        cursor: &super::KindCursor,
    ) -> Result<Self, GitHubError> {
        Ok(Self {
            client: client.clone(),
            repo: repo.clone(),
            selector: selector.clone(),
            pages: KindPages::resume(client, cursor)?,
        })
    }

    /// Every branch.
    pub async fn collect(mut self) -> Result<Vec<Value>, GitHubError> {
        let mut all = Vec::new();
        while let Listed::Page(page) = self.next().await? {
            all.extend(page.items);
        }
        Ok(all)
    }
}

fn finish_branch(item: &mut Value, repo: &Repo, name: &str) {
    let mut keys = branch_keys(repo);
    keys.insert(
        "__is_default_branch".to_owned(),
        Value::from(name == repo.default_branch),
    );
    enrich(item, &keys);
}

async fn get_branch_object(
    client: &GitHubClient,
    repo: &Repo,
    name: &str,
) -> Result<Option<Value>, GitHubError> {
    client
        .get_if_exists(&repo.path(&format!("/branches/{}", segment(name))))
        .await
}

/// The protection of a branch, `null` when it is not protected or the token may not see it.
async fn protection(client: &GitHubClient, repo: &Repo, name: &str) -> Result<Value, GitHubError> {
    match client
        .get(
            &repo.path(&format!("/branches/{}/protection", segment(name))),
            Feature::Optional,
        )
        .await
    {
        Ok(rules) => Ok(rules),
        Err(GitHubError::NotAvailable { .. }) => Ok(Value::Null),
        Err(err) => Err(err),
    }
}

/// One branch (for live `push`/`create` events), enriched as in the list; `None` when deleted.
pub async fn get_branch(
    client: &GitHubClient,
    repo: &Repo,
    name: &str,
    selector: &BranchSelector,
) -> Result<Option<Value>, GitHubError> {
    let Some(mut item) = get_branch_object(client, repo, name).await? else {
        return Ok(None);
    };
    if selector.protection_rules {
        let rules = protection(client, repo, name).await?;
        enrich(
            &mut item,
            &Map::from_iter([("__protection_rules".to_owned(), rules)]),
        );
    }
    finish_branch(&mut item, repo, name);
    Ok(Some(item))
}

/// The tags of `repo`.
pub fn list_tags(client: &GitHubClient, repo: &Repo) -> Result<KindPages, GitHubError> {
    SimpleKind::Tag.list(client, repo)
}

/// One tag in the list's shape (`name`, `commit.sha`), from `GET /git/refs/tags/{tag}`;
/// `None` when deleted.
pub async fn get_tag(
    client: &GitHubClient,
    repo: &Repo,
    tag: &str,
) -> Result<Option<Value>, GitHubError> {
    let Some(reference) =
        get_one(client, repo, &format!("/git/refs/tags/{}", segment(tag))).await?
    else {
        return Ok(None);
    };
    let sha = reference
        .pointer("/object/sha")
        .cloned()
        .unwrap_or(Value::Null);
    let mut item = serde_json::json!({
        "name": tag,
        "commit": { "sha": sha, "url": reference.pointer("/object/url").cloned().unwrap_or(Value::Null) },
        "node_id": reference.get("node_id").cloned().unwrap_or(Value::Null),
    });
    enrich(&mut item, &repo_keys(repo));
    Ok(Some(item))
}

/// The releases of `repo`.
pub fn list_releases(client: &GitHubClient, repo: &Repo) -> Result<KindPages, GitHubError> {
    SimpleKind::Release.list(client, repo)
}

/// One release, `None` when deleted.
pub async fn get_release(
    client: &GitHubClient,
    repo: &Repo,
    id: u64,
) -> Result<Option<Value>, GitHubError> {
    get_one(client, repo, &format!("/releases/{id}")).await
}
