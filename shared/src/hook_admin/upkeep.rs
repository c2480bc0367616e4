//! The webhook upkeep a scheduled resync runs first, per organization: reconcile the hook
//! (`reconcile`), then redeliver its failed deliveries (`redelivery`). A missing permission is an
//! outcome, so the resync goes on; it syncs nothing itself.

use chrono::{DateTime, Utc};

use super::reconcile::{
    DesiredHook, HookError, HookOutcome, ensure_org_webhook, permission_denied,
};
use super::redelivery::{RedeliveryError, RedeliveryReport, redeliver_failed};
use crate::github::GitHubClient;
use crate::state::StateStore;

/// What the upkeep of one organization's webhook did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUpkeep {
    pub hook: HookOutcome,
    /// `None` when there is no hook to look at (not permitted), or the deliveries list was refused.
    pub redelivery: Option<RedeliveryReport>,
}

#[derive(Debug, thiserror::Error)]
pub enum UpkeepError {
    #[error("webhook reconciliation failed")]
    Hook(#[source] HookError),
    #[error("webhook redelivery failed")]
    Redelivery(#[source] RedeliveryError),
}

/// Reconciles `org`'s hook with `desired`, then redelivers its failed deliveries.
pub async fn upkeep_org_webhook(
    client: &GitHubClient,
    org: &str,
    desired: &DesiredHook<'_>,
    state: &dyn StateStore,
    now: DateTime<Utc>,
) -> Result<WebhookUpkeep, UpkeepError> {
    let hook = ensure_org_webhook(client, org, desired, state, now)
        .await
        .map_err(UpkeepError::Hook)?;
    let Some(hook_id) = hook.hook_id() else {
        return Ok(WebhookUpkeep {
            hook,
            redelivery: None,
        });
    };
    let redelivery = match redeliver_failed(client, org, hook_id, state, now).await {
        Ok(report) => Some(report),
        Err(err) if err.github().and_then(permission_denied).is_some() => {
            tracing::warn!(org, hook_id, error = %err, "GitHub refused the hook's deliveries; failed deliveries are not redelivered");
            None
        }
        Err(err) => return Err(UpkeepError::Redelivery(err)),
    };
    Ok(WebhookUpkeep { hook, redelivery })
}
