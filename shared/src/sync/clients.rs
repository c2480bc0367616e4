//! Which GitHub client serves an event: the installation named in the delivery (App deliveries),
//! else the installation that covers the event's organization, or the one personal-token client.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use tokio::sync::Mutex;

use crate::github::{GitHubApp, GitHubClient, GitHubError};
use crate::webhook::envelope::Envelope;

/// Contract: returns a client allowed to read the event's repository or organization, or an error
/// saying why none is (a permanent error when no installation covers the organization).
#[async_trait]
pub trait GitHubClients: Send + Sync {
    async fn for_event(&self, envelope: &Envelope) -> Result<GitHubClient, GitHubError>;

    /// The organizations a full sync covers (those of `allowed` only, when given), each with
    /// the installation that covers it.
    async fn organizations(
        &self,
        allowed: Option<&[String]>,
    ) -> Result<Vec<OrgAccess>, GitHubError>;

    /// The client for one organization of [`GitHubClients::organizations`].
    fn for_org(&self, access: &OrgAccess) -> Result<GitHubClient, GitHubError>;

    /// The permissions granted for one organization (permission key → `read`/`write`/`admin`),
    /// or `None` when the credentials do not say (a personal token).
    async fn granted_permissions(
        &self,
        _access: &OrgAccess,
    ) -> Result<Option<BTreeMap<String, String>>, GitHubError> {
        Ok(None)
    }
}

/// An organization to sync, and how.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrgAccess {
    pub login: String,
    /// The App installation (`None` with a personal token).
    pub installation: Option<u64>,
}

impl OrgAccess {
    /// Where its repositories come from: the installation's own list (an App may have been
    /// given only some repositories), or the organization's.
    pub fn repo_source(&self) -> crate::github::kinds::organization::RepoSource {
        use crate::github::kinds::organization::RepoSource;
        match self.installation {
            Some(_) => RepoSource::Installation,
            None => RepoSource::Organization(self.login.clone()),
        }
    }
}

/// One client for everything (a personal or fine-grained token).
pub struct TokenClients(pub GitHubClient);

#[async_trait]
impl GitHubClients for TokenClients {
    async fn for_event(&self, _envelope: &Envelope) -> Result<GitHubClient, GitHubError> {
        Ok(self.0.clone())
    }

    /// A token does not say which organizations to sync: the allow-list does.
    async fn organizations(
        &self,
        allowed: Option<&[String]>,
    ) -> Result<Vec<OrgAccess>, GitHubError> {
        match allowed {
            Some(list) if !list.is_empty() => Ok(list
                .iter()
                .map(|login| OrgAccess {
                    login: login.clone(),
                    installation: None,
                })
                .collect()),
            _ => Err(GitHubError::Config {
                reason: "with a personal token, name the organizations to sync in GITHUB_ORGANIZATIONS (or `organizations` in the mapping)".into(),
                source: None,
            }),
        }
    }

    fn for_org(&self, _access: &OrgAccess) -> Result<GitHubClient, GitHubError> {
        Ok(self.0.clone())
    }
}

/// A GitHub App: the delivery's installation, or the one installed on the event's organization
/// (looked up once per organization, then remembered).
pub struct AppClients {
    app: GitHubApp,
    by_org: Mutex<HashMap<String, u64>>,
}

impl AppClients {
    pub fn new(app: GitHubApp) -> Self {
        Self {
            app,
            by_org: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl GitHubClients for AppClients {
    async fn for_event(&self, envelope: &Envelope) -> Result<GitHubClient, GitHubError> {
        if let Some(id) = envelope.installation_id {
            return self.app.installation_client(id);
        }
        let Some(org) = envelope.organization.as_deref() else {
            return Err(GitHubError::Config {
                reason: "the event names neither an installation nor an organization".into(),
                source: None,
            });
        };
        let key = org.to_ascii_lowercase();
        let known = self.by_org.lock().await.get(&key).copied();
        let id = match known {
            Some(id) => id,
            None => {
                let installations = self.app.installations(None).await?;
                let found = installations
                    .iter()
                    .find(|i| i.account.login.eq_ignore_ascii_case(org))
                    .map(|i| i.id)
                    .ok_or_else(|| GitHubError::Config {
                        reason: format!("no installation of the App covers {org}"),
                        source: None,
                    })?;
                self.by_org.lock().await.insert(key, found);
                found
            }
        };
        self.app.installation_client(id)
    }

    async fn organizations(
        &self,
        allowed: Option<&[String]>,
    ) -> Result<Vec<OrgAccess>, GitHubError> {
        let installations = self.app.installations(allowed).await?;
        let mut by_org = self.by_org.lock().await;
        Ok(installations
            .into_iter()
            .map(|installation| {
                by_org.insert(
                    installation.account.login.to_ascii_lowercase(),
                    installation.id,
                );
                OrgAccess {
                    login: installation.account.login,
                    installation: Some(installation.id),
                }
            })
            .collect())
    }

    fn for_org(&self, access: &OrgAccess) -> Result<GitHubClient, GitHubError> {
        match access.installation {
            Some(id) => self.app.installation_client(id),
            None => Err(GitHubError::Config {
                reason: format!("no installation of the App covers {}", access.login),
                source: None,
            }),
        }
    }

    /// The installation's grant as GitHub has it now (an organization owner may have accepted
    /// or refused new permissions since the last run).
    async fn granted_permissions(
        &self,
        access: &OrgAccess,
    ) -> Result<Option<BTreeMap<String, String>>, GitHubError> {
        match access.installation {
            Some(id) => Ok(Some(self.app.installation(id).await?.permissions)),
            None => Ok(None),
        }
    }
}
