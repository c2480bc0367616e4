//! Which GitHub client serves an event: the installation named in the delivery (App deliveries),
//! else the installation that covers the event's organization, or the one personal-token client.

use std::collections::HashMap;

use async_trait::async_trait;
use tokio::sync::Mutex;

use crate::github::{GitHubApp, GitHubClient, GitHubError};
use crate::webhook::envelope::Envelope;

/// Contract: returns a client allowed to read the event's repository or organization, or an error
/// saying why none is (a permanent error when no installation covers the organization).
#[async_trait]
pub trait GitHubClients: Send + Sync {
    async fn for_event(&self, envelope: &Envelope) -> Result<GitHubClient, GitHubError>;
}

/// One client for everything (a personal or fine-grained token).
pub struct TokenClients(pub GitHubClient);

#[async_trait]
impl GitHubClients for TokenClients {
    async fn for_event(&self, _envelope: &Envelope) -> Result<GitHubClient, GitHubError> {
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
}
