//! Kinds: for each kind of the table in `ARCHITECTURE.md`, how to list it and fetch one object, with
//! the selector options of Port's GitHub integration and the enrichment keys its mappings expect
//! (`__repository`, `__organization`, …). Repository-scoped lists come back page by page, and a
//! feature that is off for one repository is an outcome ([`Listed::NotAvailable`]), not an error.

pub mod actions;
pub mod deployments;
pub mod files;
pub mod kind;
pub mod organization;
pub mod people;
pub mod pulls;
pub mod refs;
pub mod security;

pub use kind::{Kind, Scope};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::client::{Feature, GitHubClient};
use super::error::GitHubError;
use super::pages::{Page, Pages};

/// A repository as the kind modules need it: where it lives, and its REST object.
#[derive(Debug, Clone, PartialEq)]
pub struct Repo {
    pub owner: String,
    pub name: String,
    pub default_branch: String,
    /// The repository's REST object (for `__repository_object`-style enrichment).
    pub object: Value,
}

impl Repo {
    /// Reads owner, name and default branch out of a REST repository object.
    pub fn from_object(object: Value) -> Result<Self, GitHubError> {
        let text = |pointer: &str| {
            object
                .pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let (Some(owner), Some(name)) = (text("/owner/login"), text("/name")) else {
            return Err(GitHubError::Permanent {
                path: "repository".to_owned(),
                status: 0,
                message: "repository object without owner.login or name".to_owned(),
            });
        };
        let default_branch = text("/default_branch").unwrap_or_else(|| "main".to_owned());
        Ok(Self {
            owner,
            name,
            default_branch,
            object,
        })
    }

    /// `/repos/{owner}/{name}` with `suffix` appended, path segments escaped.
    pub fn path(&self, suffix: &str) -> String {
        format!(
            "/repos/{}/{}{}",
            segment(&self.owner),
            segment(&self.name),
            suffix
        )
    }
}

/// Escapes one path segment (branch names may hold `/`, `#`, `%`, …).
pub fn segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Escapes a query value.
pub fn query_value(raw: &str) -> String {
    segment(raw)
}

/// Reads a kind's selector (the `selector` object of a resource in `port-app-config`), using the
/// defaults of Port's integration for anything missing.
pub fn selector<T: DeserializeOwned + Default>(raw: Option<&Value>) -> Result<T, GitHubError> {
    match raw {
        None | Some(Value::Null) => Ok(T::default()),
        Some(value) => serde_json::from_value(value.clone()).map_err(|err| GitHubError::Config {
            reason: "invalid selector".to_owned(),
            source: Some(Box::new(err)),
        }),
    }
}

/// What one step of a repository-scoped list produced.
#[derive(Debug)]
pub enum Listed {
    /// A page of enriched raw objects.
    Page(Page),
    /// The feature is disabled or not permitted on this repository (GitHub answered 403/404):
    /// there is nothing of this kind here. Not a failure of the run.
    NotAvailable { status: u16, message: String },
    /// The list is done.
    Done,
}

/// How often a kind was "not available" across the repositories of one run. A feature that is
/// off on a few repositories is normal; the same answer from every repository looks like a
/// missing permission or an outage, and a run should not treat that as "nothing exists" (and
/// delete the kind's entities).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AvailabilityTally {
    pub available: usize,
    pub not_available: usize,
}

impl AvailabilityTally {
    /// Records one repository's outcome.
    pub fn record(&mut self, listed_anything: bool) {
        if listed_anything {
            self.available += 1;
        } else {
            self.not_available += 1;
        }
    }

    /// True when at least `min_repositories` answered and none of them had the kind available.
    pub fn looks_like_an_outage(&self, min_repositories: usize) -> bool {
        self.available == 0 && self.not_available >= min_repositories.max(1)
    }
}

/// A saved position in a kind's list: serializable, so a resync job can carry it in a queue
/// message and continue in the next invocation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindCursor {
    /// The next page's URL, as GitHub gave it.
    pub next: String,
    pub items_field: Option<String>,
    pub optional_feature: bool,
    /// The enrichment keys added to every item.
    pub enrichment: Map<String, Value>,
}

/// The pages of one kind in one repository (or organization), each item carrying the
/// enrichment keys.
#[derive(Debug)]
pub struct KindPages {
    pages: Pages,
    enrichment: Map<String, Value>,
}

impl KindPages {
    pub(crate) fn new(pages: Pages, enrichment: Map<String, Value>) -> Self {
        Self { pages, enrichment }
    }

    /// The next page, [`Listed::NotAvailable`] for a disabled feature, or [`Listed::Done`].
    pub async fn next(&mut self) -> Result<Listed, GitHubError> {
        match self.pages.next_page().await {
            Ok(Some(mut page)) => {
                for item in &mut page.items {
                    enrich(item, &self.enrichment);
                }
                Ok(Listed::Page(page))
            }
            Ok(None) => Ok(Listed::Done),
            Err(GitHubError::NotAvailable {
                path,
                status,
                message,
            }) => {
                tracing::info!(path, status, "not available for this repository");
                Ok(Listed::NotAvailable { status, message })
            }
            Err(err) => Err(err),
        }
    }

    /// Where the list stands, to resume with [`KindPages::resume`] (for example in another
    /// Lambda invocation); `None` when the list is done.
    pub fn cursor(&self) -> Option<KindCursor> {
        Some(KindCursor {
            next: self.pages.cursor()?.to_owned(),
            items_field: self.pages.items_field().map(str::to_owned),
            optional_feature: self.pages.feature() == Feature::Optional,
            enrichment: self.enrichment.clone(),
        })
    }

    /// Continues a list from a saved [`KindCursor`].
    pub fn resume(client: &GitHubClient, cursor: &KindCursor) -> Result<Self, GitHubError> {
        let feature = if cursor.optional_feature {
            Feature::Optional
        } else {
            Feature::Required
        };
        let pages = client.resume_pages(&cursor.next, cursor.items_field.as_deref(), feature)?;
        Ok(Self::new(pages, cursor.enrichment.clone()))
    }

    /// Every remaining item; `None` when the feature is not available here.
    pub async fn collect(mut self) -> Result<Option<Vec<Value>>, GitHubError> {
        let mut all = Vec::new();
        loop {
            match self.next().await? {
                Listed::Page(page) => all.extend(page.items),
                Listed::NotAvailable { .. } => return Ok(None),
                Listed::Done => return Ok(Some(all)),
            }
        }
    }
}

/// Adds the enrichment keys to one raw object (objects only; other values are left alone).
pub fn enrich(item: &mut Value, keys: &Map<String, Value>) {
    if let Value::Object(object) = item {
        for (key, value) in keys {
            object.insert(key.clone(), value.clone());
        }
    }
}

/// `__repository` (the name) and `__organization` (the owner login), as Port's integration adds
/// them to every repository-scoped object.
pub fn repo_keys(repo: &Repo) -> Map<String, Value> {
    let mut keys = Map::new();
    keys.insert("__repository".to_owned(), Value::from(repo.name.clone()));
    keys.insert("__organization".to_owned(), Value::from(repo.owner.clone()));
    keys
}

/// The repository-scoped kinds that are one list endpoint with no fan-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimpleKind {
    Release,
    Tag,
    Environment,
    Deployment,
    Workflow,
    Collaborator,
}

impl SimpleKind {
    /// Port's kind name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Release => "release",
            Self::Tag => "tag",
            Self::Environment => "environment",
            Self::Deployment => "deployment",
            Self::Workflow => "workflow",
            Self::Collaborator => "collaborator",
        }
    }

    fn endpoint(self) -> (&'static str, Option<&'static str>, Feature) {
        match self {
            Self::Release => ("/releases", None, Feature::Required),
            Self::Tag => ("/tags", None, Feature::Required),
            Self::Environment => ("/environments", Some("environments"), Feature::Optional),
            Self::Deployment => ("/deployments", None, Feature::Required),
            Self::Workflow => ("/actions/workflows", Some("workflows"), Feature::Optional),
            Self::Collaborator => ("/collaborators?affiliation=all", None, Feature::Optional),
        }
    }

    /// The pages of this kind in `repo`.
    pub fn list(self, client: &GitHubClient, repo: &Repo) -> Result<KindPages, GitHubError> {
        let (suffix, field, feature) = self.endpoint();
        let pages = client.pages(&repo.path(suffix), field, feature)?;
        Ok(KindPages::new(pages, repo_keys(repo)))
    }
}

/// Fetches one repository-scoped object and enriches it; `None` when it no longer exists.
pub(crate) async fn get_one(
    client: &GitHubClient,
    repo: &Repo,
    suffix: &str,
) -> Result<Option<Value>, GitHubError> {
    let found = client.get_if_exists(&repo.path(suffix)).await?;
    Ok(found.map(|mut item| {
        enrich(&mut item, &repo_keys(repo));
        item
    }))
}
