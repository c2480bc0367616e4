//! The organization webhook this integration receives events on: makes sure each organization has
//! exactly one hook for our public URL, active, JSON, with the current secret and exactly the
//! handled events, creating or patching it. It never touches a hook with another URL, and it does
//! not look at deliveries (that is `redelivery`). The events to subscribe are the caller's: it
//! passes the list (the product passes `webhook::events::handled_event_names()`).
//!
//! How the secret is kept current: GitHub never returns a hook's secret (it shows `********`), so
//! the secret last set is remembered as a fingerprint in the state store (an HMAC-SHA256 keyed by
//! the secret itself over the organization and hook id: it identifies the secret without
//! revealing it). When the recorded fingerprint is missing or differs from the current secret's,
//! the hook's `config` is patched with the secret. A `config` patch always carries the secret,
//! because GitHub removes a hook's secret when a `config` update leaves it out.
//!
//! A hook is ours when its URL equals ours ignoring ASCII case and a trailing `/`; it must then
//! match exactly. Duplicates of ours are deleted, keeping the oldest.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac as _};
use reqwest::Method;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::github::{Feature, GitHubClient, GitHubError};
use crate::state::{Expect, Key, StateError, StateStore};

/// State-store partition of the secret fingerprints.
pub const SECRET_PARTITION: &str = "webhook-hook-secret";
/// What the operator must grant when the hooks API refuses.
pub const PERMISSION_HINT: &str = "the organization permission \"Webhooks: read and write\"";

/// The hook an organization must have.
#[derive(Debug)]
pub struct DesiredHook<'a> {
    /// The public webhook URL (the stack's output).
    pub url: &'a str,
    /// The current webhook secret.
    pub secret: &'a SecretString,
    /// Exactly the events the hook must send.
    pub events: BTreeSet<String>,
}

impl<'a> DesiredHook<'a> {
    /// The hook for `url` and `secret` that sends exactly `events`.
    pub fn new<E: Into<String>>(
        url: &'a str,
        secret: &'a SecretString,
        events: impl IntoIterator<Item = E>,
    ) -> Self {
        Self {
            url,
            secret,
            events: events.into_iter().map(Into::into).collect(),
        }
    }
}

/// One difference between our hook and the desired one, put right by [`ensure_org_webhook`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookChange {
    Active,
    Events {
        added: Vec<String>,
        removed: Vec<String>,
    },
    ContentType {
        was: String,
    },
    InsecureSsl,
    Url {
        was: String,
    },
    /// The secret was unknown or differed from the current one.
    Secret,
    /// Another hook with our URL, deleted.
    RemovedDuplicate {
        hook_id: u64,
    },
}

/// What [`ensure_org_webhook`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookOutcome {
    Created {
        hook_id: u64,
    },
    Updated {
        hook_id: u64,
        changed: Vec<HookChange>,
    },
    Unchanged {
        hook_id: u64,
    },
    /// The hooks API answered 403/404: the identity lacks [`PERMISSION_HINT`].
    NotPermitted {
        status: u16,
    },
}

impl HookOutcome {
    /// Our hook's id, when there is one.
    pub fn hook_id(&self) -> Option<u64> {
        match self {
            Self::Created { hook_id }
            | Self::Updated { hook_id, .. }
            | Self::Unchanged { hook_id } => Some(*hook_id),
            Self::NotPermitted { .. } => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    #[error("cannot read or record the webhook secret fingerprint")]
    State(#[from] StateError),
    #[error("GitHub answered an unexpected hook for {org}: {reason}")]
    Unexpected { org: String, reason: String },
}

impl HookError {
    /// True when the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::GitHub(err) => err.is_retryable(),
            Self::State(StateError::Unavailable { .. }) => true,
            _ => false,
        }
    }
}

/// An organization hook as GitHub lists it (only the fields compared).
#[derive(Debug, Clone, Deserialize)]
pub struct OrgHook {
    pub id: u64,
    #[serde(default)]
    pub active: bool,
    #[serde(default)]
    pub events: BTreeSet<String>,
    #[serde(default)]
    pub config: HookConfig,
    #[serde(default, deserialize_with = "optional_timestamp")]
    pub created_at: Option<DateTime<Utc>>,
}

/// An RFC 3339 timestamp, `None` when absent or unreadable (it only orders duplicates).
fn optional_timestamp<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?;
    Ok(text
        .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
        .map(|at| at.with_timezone(&Utc)))
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct HookConfig {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub insecure_ssl: Option<Value>,
}

/// The HTTP status when `err` means "this identity may not use the hooks API".
pub fn permission_denied(err: &GitHubError) -> Option<u16> {
    match err {
        GitHubError::Permanent { status: 403, .. } => Some(403),
        GitHubError::NotFound { status, .. } | GitHubError::NotAvailable { status, .. } => {
            Some(*status)
        }
        _ => None,
    }
}

/// Whether `hook_url` is the same endpoint as `ours` (ASCII case and a trailing `/` aside).
pub fn same_url(hook_url: &str, ours: &str) -> bool {
    hook_url
        .trim_end_matches('/')
        .eq_ignore_ascii_case(ours.trim_end_matches('/'))
}

/// Every hook of `org`.
pub async fn list_org_hooks(client: &GitHubClient, org: &str) -> Result<Vec<OrgHook>, GitHubError> {
    let mut pages = client.pages(&format!("/orgs/{org}/hooks"), None, Feature::Required)?;
    let mut hooks = Vec::new();
    while let Some(page) = pages.next_page().await? {
        for item in page.items {
            match serde_json::from_value::<OrgHook>(item) {
                Ok(hook) => hooks.push(hook),
                Err(err) => {
                    tracing::warn!(org, error = %err, "skipping a hook GitHub listed in an unexpected shape")
                }
            }
        }
    }
    Ok(hooks)
}

/// Our hooks of `org` (URL matching ours), oldest first.
pub async fn find_org_webhooks(
    client: &GitHubClient,
    org: &str,
    url: &str,
) -> Result<Vec<OrgHook>, GitHubError> {
    let mut ours: Vec<OrgHook> = list_org_hooks(client, org)
        .await?
        .into_iter()
        .filter(|hook| hook.config.url.as_deref().is_some_and(|u| same_url(u, url)))
        .collect();
    ours.sort_by_key(|hook| (hook.created_at, hook.id));
    Ok(ours)
}

/// Ensures `org` has exactly one hook for `desired.url`, equal to `desired`. 403/404 from the
/// hooks API is [`HookOutcome::NotPermitted`] (logged once here), not an error.
pub async fn ensure_org_webhook(
    client: &GitHubClient,
    org: &str,
    desired: &DesiredHook<'_>,
    state: &dyn StateStore,
    now: DateTime<Utc>,
) -> Result<HookOutcome, HookError> {
    match reconcile(client, org, desired, state, now).await {
        Err(HookError::GitHub(err)) => match permission_denied(&err) {
            Some(status) => {
                tracing::warn!(
                    org,
                    status,
                    "GitHub refused the organization hooks API; webhooks are not managed for this organization until the App or token has {PERMISSION_HINT}"
                );
                Ok(HookOutcome::NotPermitted { status })
            }
            None => Err(HookError::GitHub(err)),
        },
        other => other,
    }
}

async fn reconcile(
    client: &GitHubClient,
    org: &str,
    desired: &DesiredHook<'_>,
    state: &dyn StateStore,
    now: DateTime<Utc>,
) -> Result<HookOutcome, HookError> {
    let mut ours = find_org_webhooks(client, org, desired.url)
        .await?
        .into_iter();
    let Some(keep) = ours.next() else {
        let created = client
            .send_json(
                Method::POST,
                &format!("/orgs/{org}/hooks"),
                &create_body(desired),
            )
            .await?;
        let hook_id =
            created
                .get("id")
                .and_then(Value::as_u64)
                .ok_or_else(|| HookError::Unexpected {
                    org: org.to_owned(),
                    reason: "the created hook has no id".to_owned(),
                })?;
        record_secret(state, org, hook_id, desired.secret, now).await?;
        tracing::info!(org, hook_id, "created the organization webhook");
        return Ok(HookOutcome::Created { hook_id });
    };

    let mut changed = differences(&keep, desired);
    let secret_key = secret_item(org, keep.id);
    let recorded = state
        .get(Key::new(SECRET_PARTITION, &secret_key), now)
        .await?;
    let current = fingerprint(desired.secret, org, keep.id);
    if recorded.is_none_or(|record| record.value != current) {
        changed.push(HookChange::Secret);
    }
    if !changed.is_empty() {
        let body = patch_body(&changed, desired);
        client
            .send_json(
                Method::PATCH,
                &format!("/orgs/{org}/hooks/{}", keep.id),
                &body,
            )
            .await?;
        if body.get("config").is_some() {
            record_secret(state, org, keep.id, desired.secret, now).await?;
        }
        tracing::info!(org, hook_id = keep.id, changes = ?changed, "updated the organization webhook");
    }
    for duplicate in ours {
        match client
            .delete(&format!("/orgs/{org}/hooks/{}", duplicate.id))
            .await
        {
            Ok(()) | Err(GitHubError::NotFound { .. }) => {}
            Err(err) => return Err(err.into()),
        }
        // The fingerprint of a deleted hook is dead weight; losing it changes nothing.
        if let Err(err) = state
            .delete(Key::new(SECRET_PARTITION, &secret_item(org, duplicate.id)))
            .await
        {
            tracing::warn!(org, hook_id = duplicate.id, error = %err, "could not forget a deleted hook's secret fingerprint");
        }
        tracing::info!(
            org,
            hook_id = duplicate.id,
            kept = keep.id,
            "deleted a duplicate of the organization webhook"
        );
        changed.push(HookChange::RemovedDuplicate {
            hook_id: duplicate.id,
        });
    }
    Ok(if changed.is_empty() {
        HookOutcome::Unchanged { hook_id: keep.id }
    } else {
        HookOutcome::Updated {
            hook_id: keep.id,
            changed,
        }
    })
}

/// What differs between `hook` and `desired`, the secret aside (GitHub does not show it).
pub fn differences(hook: &OrgHook, desired: &DesiredHook<'_>) -> Vec<HookChange> {
    let mut changed = Vec::new();
    if !hook.active {
        changed.push(HookChange::Active);
    }
    if hook.events != desired.events {
        changed.push(HookChange::Events {
            added: desired.events.difference(&hook.events).cloned().collect(),
            removed: hook.events.difference(&desired.events).cloned().collect(),
        });
    }
    let content_type = hook.config.content_type.as_deref().unwrap_or("form");
    if content_type != "json" {
        changed.push(HookChange::ContentType {
            was: content_type.to_owned(),
        });
    }
    let insecure = match &hook.config.insecure_ssl {
        None => false,
        Some(Value::String(text)) => text != "0",
        Some(Value::Number(number)) => number.as_u64() != Some(0),
        Some(_) => true,
    };
    if insecure {
        changed.push(HookChange::InsecureSsl);
    }
    let url = hook.config.url.as_deref().unwrap_or_default();
    if url != desired.url {
        changed.push(HookChange::Url {
            was: url.to_owned(),
        });
    }
    changed
}

fn desired_config(desired: &DesiredHook<'_>) -> Value {
    json!({
        "url": desired.url,
        "content_type": "json",
        "insecure_ssl": "0",
        "secret": desired.secret.expose_secret(),
    })
}

fn create_body(desired: &DesiredHook<'_>) -> Value {
    json!({
        "name": "web",
        "active": true,
        "events": desired.events,
        "config": desired_config(desired),
    })
}

fn patch_body(changed: &[HookChange], desired: &DesiredHook<'_>) -> Value {
    let mut body = serde_json::Map::new();
    for change in changed {
        match change {
            HookChange::Active => {
                body.insert("active".to_owned(), Value::Bool(true));
            }
            HookChange::Events { .. } => {
                body.insert("events".to_owned(), json!(desired.events));
            }
            HookChange::ContentType { .. }
            | HookChange::InsecureSsl
            | HookChange::Url { .. }
            | HookChange::Secret => {
                body.insert("config".to_owned(), desired_config(desired));
            }
            HookChange::RemovedDuplicate { .. } => {}
        }
    }
    Value::Object(body)
}

fn secret_item(org: &str, hook_id: u64) -> String {
    format!("{}/{hook_id}", org.to_ascii_lowercase())
}

/// Identifies `secret` as set on one hook, without revealing it.
pub fn fingerprint(secret: &SecretString, org: &str, hook_id: u64) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this arm is never reached.
        Err(_) => return String::new(),
    };
    mac.update(b"port-github webhook secret fingerprint\n");
    mac.update(org.to_ascii_lowercase().as_bytes());
    mac.update(b"\n");
    mac.update(hook_id.to_string().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

async fn record_secret(
    state: &dyn StateStore,
    org: &str,
    hook_id: u64,
    secret: &SecretString,
    now: DateTime<Utc>,
) -> Result<(), StateError> {
    let item = secret_item(org, hook_id);
    state
        .put(
            Key::new(SECRET_PARTITION, &item),
            &fingerprint(secret, org, hook_id),
            Expect::Anything,
            None,
            now,
        )
        .await?;
    Ok(())
}
