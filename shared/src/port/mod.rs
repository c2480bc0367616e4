//! The Port API client: access token, entity upserts and deletes, ownership search, the
//! integration's mapping, resync state and raw data examples, as `ARCHITECTURE.md` describes them.
//! It owns the HTTP calls to Port and nothing else: where the credentials come from and what to
//! do with a failure are the caller's business.

mod auth;
mod batching;
mod blueprints;
mod deletes;
mod entities;
mod error;
mod integration;
pub mod logs;
pub mod mask;
pub mod provision;
pub mod retry;
mod search;
mod transport;

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::secrets::{CachedSecret, PortCredentials};

pub use batching::{BULK_UPSERT_MAX_BYTES, BULK_UPSERT_MAX_ENTITIES, Batch, plan_batches};
pub use blueprints::Created;
pub use deletes::{BULK_DELETE_MAX, BulkDeleteReport, DeleteOutcome, NotDeleted};
pub use entities::{EntityFailure, EntityOutcome, UpsertOptions, UpsertResult};
pub use error::{Failure, PortError, is_transient_status};
pub use integration::{IntegrationRecord, MAX_EXAMPLES, ResyncRequest, ResyncState, ResyncStatus};
pub use retry::{RetrySettings, Sleeper, TokioSleeper};
pub use search::{EntityRef, datasource_prefix, datasource_suffix};

/// A Port entity as the API takes it. `blueprint` travels in the URL, not in the body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub identifier: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing)]
    pub blueprint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// A team name, a list of them, or null.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub team: serde_json::Value,
    #[serde(default)]
    pub properties: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub relations: serde_json::Map<String, serde_json::Value>,
}

impl Entity {
    /// Port takes string identifiers; a mapped identifier that is a number is written as text,
    /// and anything else (a search query, null) cannot be written or deleted by identifier.
    pub fn from_mapped(mapped: &crate::mapping::Entity) -> Option<Self> {
        use serde_json::Value;
        let text = |value: &Value| match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        Some(Self {
            identifier: text(&mapped.identifier)?,
            title: mapped.title.as_ref().and_then(text),
            blueprint: mapped.blueprint.clone(),
            icon: mapped.icon.as_ref().and_then(text),
            team: mapped.team.clone().unwrap_or(Value::Null),
            properties: mapped.properties.clone(),
            relations: mapped.relations.clone(),
        })
    }
}

/// Everything the client needs, in plain values. Where the credentials come from (environment or
/// Secrets Manager) is decided elsewhere.
#[derive(Debug, Clone)]
pub struct PortClientConfig {
    /// `https://api.port.io` (EU), `https://api.us.port.io` (US), or a simulator; without `/v1`.
    pub base_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// Where the credentials are read (and re-read after their TTL, or when Port refuses them)
    /// instead of `client_id`/`client_secret`, when they come from Secrets Manager.
    pub credentials: Option<Arc<CachedSecret<PortCredentials>>>,
    /// The integration's identifier in Port (`PORT_INTEGRATION_ID`).
    pub integration_id: String,
    /// The `<type>` of the ownership User-Agent (`PORT_INTEGRATION_TYPE`).
    pub integration_type: String,
    /// The `<version>` of the ownership User-Agent.
    pub integration_version: String,
    /// Limit for one HTTP request, connection included.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub retry: RetrySettings,
    /// How long the integration's mapping from Port is reused before it is fetched again.
    pub integration_config_ttl: Duration,
    /// How long before Port's `expiresIn` the access token is renewed.
    pub token_refresh_margin: Duration,
}

impl PortClientConfig {
    /// A configuration with the usual timeouts and retries.
    pub fn new(
        base_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: SecretString,
        integration_id: impl Into<String>,
        integration_type: impl Into<String>,
    ) -> Self {
        PortClientConfig {
            base_url: base_url.into(),
            client_id: client_id.into(),
            client_secret,
            credentials: None,
            integration_id: integration_id.into(),
            integration_type: integration_type.into(),
            integration_version: env!("CARGO_PKG_VERSION").to_owned(),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            retry: RetrySettings::default(),
            integration_config_ttl: Duration::from_secs(300),
            token_refresh_margin: Duration::from_secs(300),
        }
    }

    /// Reads the credentials from `source` (re-read after its TTL, and when Port refuses them)
    /// instead of the fixed `client_id`/`client_secret`.
    pub fn with_credentials(mut self, source: Arc<CachedSecret<PortCredentials>>) -> Self {
        self.credentials = Some(source);
        self
    }

    /// `port-ocean/<type>/<version>/<integration id>/exporter`: Port records it as the entity's
    /// `$datasource`, which is how this integration later finds the entities it owns.
    pub fn user_agent(&self) -> String {
        format!(
            "port-ocean/{}/{}/{}/exporter",
            self.integration_type, self.integration_version, self.integration_id
        )
    }
}

/// The Port API client. Cheap to clone; build one per container and share it.
#[derive(Clone)]
pub struct PortClient {
    inner: Arc<transport::Transport>,
    integration: Arc<integration::ConfigCache>,
}

impl std::fmt::Debug for PortClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortClient")
            .field("base_url", &self.inner.config.base_url)
            .field("integration_id", &self.inner.config.integration_id)
            .finish_non_exhaustive()
    }
}

impl PortClient {
    /// A client that waits between retries on the Tokio timer.
    pub fn new(config: PortClientConfig) -> Result<Self, PortError> {
        Self::with_sleeper(config, Arc::new(TokioSleeper))
    }

    /// A client whose waits between retries go through `sleeper` (tests record them instead).
    pub fn with_sleeper(
        config: PortClientConfig,
        sleeper: Arc<dyn Sleeper>,
    ) -> Result<Self, PortError> {
        let ttl = config.integration_config_ttl;
        Ok(PortClient {
            inner: Arc::new(transport::Transport::new(config, sleeper)?),
            integration: Arc::new(integration::ConfigCache::new(ttl)),
        })
    }

    pub fn config(&self) -> &PortClientConfig {
        &self.inner.config
    }

    /// Asks Port for an access token (unless one is cached): whether the credentials work. An
    /// error names the `auth` endpoint; its 401 means the client id and secret were refused.
    pub async fn authenticate(&self) -> Result<(), PortError> {
        self.inner.access_token().await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_names_type_version_and_integration() {
        let mut config = PortClientConfig::new(
            "http://localhost",
            "id",
            SecretString::from("secret"),
            "my-github",
            "github-serverless",
        );
        config.integration_version = "1.2.3".to_owned();
        assert_eq!(
            config.user_agent(),
            "port-ocean/github-serverless/1.2.3/my-github/exporter"
        );
        assert!(!format!("{config:?}").contains("secret\""));
    }

    #[test]
    fn entity_body_leaves_blueprint_to_the_url() {
        let entity = Entity {
            identifier: "org/repo".to_owned(),
            title: Some("repo".to_owned()),
            blueprint: "githubRepository".to_owned(),
            icon: None,
            team: serde_json::Value::Null,
            properties: serde_json::Map::new(),
            relations: serde_json::Map::new(),
        };
        let body = serde_json::to_value(&entity).unwrap_or_default();
        assert_eq!(
            body,
            serde_json::json!({"identifier": "org/repo", "title": "repo", "properties": {}, "relations": {}})
        );
        let back: Result<Entity, _> = serde_json::from_value(serde_json::json!({
            "identifier": "x", "blueprint": "bp", "team": ["a"], "createdAt": "2024-01-01"
        }));
        assert!(back.is_ok_and(|e| e.blueprint == "bp" && e.team == serde_json::json!(["a"])));
    }
}
