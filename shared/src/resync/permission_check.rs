//! The permission check at the start of a run: for each organization, what its App installation
//! was granted (read from GitHub afresh) against what the run's mapping needs
//! (`github::permissions`), each missing permission named once in the log (one warning) and in
//! the run's summary. Nothing is refused here: a kind whose permission is missing answers "not
//! available" (its entities are kept) or fails its jobs, and the warning has already said why. A
//! personal token does not say what it may do, so nothing is checked for it.

use serde::{Deserialize, Serialize};

use crate::github::permissions::{Level, missing, needed};
use crate::mapping::CompiledMapping;
use crate::sync::{GitHubClients, OrgAccess};

/// A permission an organization's installation lacks, and the kinds that need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingPermission {
    pub organization: String,
    /// The REST key (`issues`, `secret_scanning_alerts`).
    pub permission: String,
    /// As the App's settings page names it: `Repository: Issues`.
    pub title: String,
    pub level: Level,
    /// The mapping's kinds that need it (`webhooks` for the organization webhook).
    pub kinds: Vec<String>,
}

/// Compares each organization's grant with the mapping's needs; logs and returns what is missing.
pub async fn check(
    clients: &dyn GitHubClients,
    orgs: &[OrgAccess],
    mapping: &CompiledMapping,
    manages_webhooks: bool,
) -> Vec<MissingPermission> {
    let needs = needed(
        mapping
            .resources()
            .iter()
            .map(|r| (r.config().kind, &r.config().selector.options)),
        manages_webhooks,
    );
    let mut found = Vec::new();
    for org in orgs {
        let granted = match clients.granted_permissions(org).await {
            Ok(Some(granted)) => granted,
            Ok(None) => {
                tracing::debug!(org = %org.login, "permissions not checked: a token does not list them");
                continue;
            }
            Err(error) => {
                tracing::warn!(org = %org.login, %error,
                    "could not read the installation's permissions; they are not checked this run");
                continue;
            }
        };
        for need in missing(&needs, &granted) {
            let kinds = need.kinds.join(", ");
            tracing::warn!(
                org = %org.login,
                permission = %need.permission,
                level = need.level.as_str(),
                kinds = %kinds,
                "the GitHub App lacks the permission \"{}\" ({}) on {}: {} cannot be synced until an organization owner grants it",
                need.title,
                need.level.as_str(),
                org.login,
                kinds,
            );
            found.push(MissingPermission {
                organization: org.login.clone(),
                permission: need.permission,
                title: need.title,
                level: need.level,
                kinds: need.kinds,
            });
        }
    }
    found
}
