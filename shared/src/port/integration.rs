//! The integration's own record in Port: its mapping (`GET /v1/integration/{id}`, cached for a
//! TTL), the last press of its "Resync" button (`GET /v1/integration/{id}/resync-request`), the
//! resync state it reports, and the masked raw data examples per kind.

use std::time::Duration;

use reqwest::Method;
use serde::{Deserialize, Serialize, Serializer};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::blueprints::Created;
use super::error::PortError;
use super::{PortClient, mask};

/// Port keeps at most this many raw examples per kind.
pub const MAX_EXAMPLES: usize = 5;

/// The mapping fetched last, and when.
pub(crate) struct ConfigCache {
    ttl: Duration,
    entry: Mutex<Option<(Instant, Option<serde_json::Value>)>>,
}

impl ConfigCache {
    pub fn new(ttl: Duration) -> Self {
        ConfigCache {
            ttl,
            entry: Mutex::new(None),
        }
    }
}

#[derive(Deserialize)]
struct IntegrationAnswer {
    integration: IntegrationRecord,
}

/// The integration's record in Port, as far as this integration reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct IntegrationRecord {
    /// The mapping users edit in Port's UI (`null` or `{}` when none was set).
    #[serde(default)]
    pub config: Option<serde_json::Value>,
    /// Where Port takes the integration's logs (`logAttributes`), when it says.
    #[serde(default, rename = "logAttributes")]
    pub log_attributes: Option<super::logs::LogAttributes>,
}

impl IntegrationRecord {
    /// Whether the record holds no mapping: no config, `null`, or an empty object.
    pub fn config_is_empty(&self) -> bool {
        match &self.config {
            None | Some(serde_json::Value::Null) => true,
            Some(serde_json::Value::Object(fields)) => fields.is_empty(),
            Some(_) => false,
        }
    }
}

/// The last press of the integration's "Resync" button in Port.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ResyncRequest {
    /// When it was pressed, by Port's clock.
    #[serde(rename = "updatedAt")]
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Deserialize)]
struct ResyncRequestAnswer {
    /// `null` until the button was pressed once.
    #[serde(default)]
    request: Option<ResyncRequest>,
}

/// Where a resync stands, as Port shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResyncStatus {
    Running,
    Completed,
    Failed,
    Aborted,
}

/// The body of `PATCH /v1/integration/{id}/resync-state`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResyncState {
    pub status: ResyncStatus,
    #[serde(serialize_with = "rfc3339")]
    pub last_resync_start: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(serialize_with = "rfc3339")]
    pub last_resync_end: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(serialize_with = "rfc3339")]
    pub next_resync: Option<chrono::DateTime<chrono::Utc>>,
    /// Port's key really is spelled `intervalInMinuets`.
    #[serde(rename = "intervalInMinuets")]
    pub interval_in_minutes: Option<u64>,
}

fn rfc3339<S: Serializer>(
    time: &Option<chrono::DateTime<chrono::Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => s.serialize_str(&time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        None => s.serialize_none(),
    }
}

impl PortClient {
    /// The mapping (`port-app-config`) users edit in Port's UI; `None` when the integration does
    /// not exist yet (404) or has no config. Reused for the configured TTL.
    pub async fn integration_config(&self) -> Result<Option<serde_json::Value>, PortError> {
        let mut entry = self.integration.entry.lock().await;
        if let Some((fetched, config)) = entry.as_ref()
            && fetched.elapsed() < self.integration.ttl
        {
            return Ok(config.clone());
        }
        let config = self.fetch_integration_config().await?;
        *entry = Some((Instant::now(), config.clone()));
        Ok(config)
    }

    /// Forgets the cached mapping, so the next [`Self::integration_config`] fetches it.
    pub async fn forget_integration_config(&self) {
        *self.integration.entry.lock().await = None;
    }

    async fn fetch_integration_config(&self) -> Result<Option<serde_json::Value>, PortError> {
        Ok(self
            .integration_record()
            .await?
            .and_then(|record| record.config)
            .filter(|c| !c.is_null()))
    }

    /// The integration's record (`GET /v1/integration/{id}`, never cached), or `None` when the
    /// integration does not exist in Port yet.
    pub async fn integration_record(&self) -> Result<Option<IntegrationRecord>, PortError> {
        const ENDPOINT: &str = "get integration";
        let url = self
            .inner
            .url(&["integration", &self.config().integration_id], &[])?;
        match self.inner.call(ENDPOINT, Method::GET, url, None).await {
            Ok(answer) => {
                let parsed: IntegrationAnswer = serde_json::from_slice(&answer.body)
                    .map_err(|e| PortError::decode(ENDPOINT, e))?;
                Ok(Some(parsed.integration))
            }
            Err(error) if error.status() == Some(404) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Creates the integration's record with `config` as its mapping (`POST /v1/integration`,
    /// as Port's own integrations do on first start); 409 means it exists already.
    pub async fn create_integration(
        &self,
        config: &serde_json::Value,
    ) -> Result<Created, PortError> {
        const ENDPOINT: &str = "create integration";
        let settings = self.config();
        let body = serde_json::json!({
            "installationId": settings.integration_id,
            "installationAppType": settings.integration_type,
            "version": settings.integration_version,
            "changelogDestination": {},
            "config": config,
        });
        let bytes = serde_json::to_vec(&body).map_err(|e| PortError::decode(ENDPOINT, e))?;
        let url = self.inner.url(&["integration"], &[])?;
        let outcome = match self
            .inner
            .call(ENDPOINT, Method::POST, url, Some(bytes))
            .await
        {
            Ok(_) => Created::New,
            Err(error) if error.status() == Some(409) => Created::AlreadyExisted,
            Err(error) => return Err(error),
        };
        self.forget_integration_config().await;
        Ok(outcome)
    }

    /// Sets the integration's mapping (`PATCH /v1/integration/{id}` with `config`).
    pub async fn patch_integration_config(
        &self,
        config: &serde_json::Value,
    ) -> Result<(), PortError> {
        const ENDPOINT: &str = "patch integration";
        let body = serde_json::json!({ "config": config });
        let bytes = serde_json::to_vec(&body).map_err(|e| PortError::decode(ENDPOINT, e))?;
        let url = self
            .inner
            .url(&["integration", &self.config().integration_id], &[])?;
        self.inner
            .call(ENDPOINT, Method::PATCH, url, Some(bytes))
            .await?;
        self.forget_integration_config().await;
        Ok(())
    }

    /// The last resync request made in Port's UI (`None`: the button was never pressed). A 404
    /// (the integration's record does not exist yet) is an error like any other: the caller
    /// decides what a missing answer means.
    pub async fn resync_request(&self) -> Result<Option<ResyncRequest>, PortError> {
        const ENDPOINT: &str = "resync request";
        let url = self.inner.url(
            &[
                "integration",
                &self.config().integration_id,
                "resync-request",
            ],
            &[],
        )?;
        let answer = self.inner.call(ENDPOINT, Method::GET, url, None).await?;
        let parsed: ResyncRequestAnswer =
            serde_json::from_slice(&answer.body).map_err(|e| PortError::decode(ENDPOINT, e))?;
        Ok(parsed.request)
    }

    /// Reports the resync state on the integration.
    pub async fn patch_resync_state(&self, state: &ResyncState) -> Result<(), PortError> {
        const ENDPOINT: &str = "resync state";
        let body = serde_json::to_vec(state).map_err(|e| PortError::decode(ENDPOINT, e))?;
        let url = self.inner.url(
            &["integration", &self.config().integration_id, "resync-state"],
            &[],
        )?;
        self.inner
            .call(ENDPOINT, Method::PATCH, url, Some(body))
            .await?;
        Ok(())
    }

    /// Sends up to [`MAX_EXAMPLES`] raw objects of a kind, with secret-looking values masked.
    pub async fn send_raw_examples(
        &self,
        kind: &str,
        examples: &[serde_json::Value],
    ) -> Result<(), PortError> {
        const ENDPOINT: &str = "raw examples";
        let masked: Vec<serde_json::Value> = examples
            .iter()
            .take(MAX_EXAMPLES)
            .map(mask::mask_secrets)
            .collect();
        if masked.is_empty() {
            return Ok(());
        }
        let body = serde_json::to_vec(&serde_json::json!({ "examples": masked }))
            .map_err(|e| PortError::decode(ENDPOINT, e))?;
        let id = &self.config().integration_id;
        let url = self
            .inner
            .url(&["integration", id, "kinds", kind, "examples"], &[])?;
        self.inner
            .call(ENDPOINT, Method::POST, url, Some(body))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resync_request_reads_its_time_and_null_is_none() {
        let pressed: Result<ResyncRequestAnswer, _> = serde_json::from_str(
            r#"{"ok": true, "request": {"updatedAt": "2026-12-02T10:00:00.000Z", "by": "me"}}"#,
        );
        let at = chrono::DateTime::from_timestamp(1_796_205_600, 0);
        assert_eq!(
            pressed.ok().and_then(|a| a.request).map(|r| r.updated_at),
            at
        );
        let never: Result<ResyncRequestAnswer, _> =
            serde_json::from_str(r#"{"ok": true, "request": null}"#);
        assert!(never.is_ok_and(|a| a.request.is_none()));
    }

    #[test]
    fn resync_state_uses_ports_spelling_and_iso_times() {
        let start = chrono::DateTime::from_timestamp(1_700_000_000, 0);
        let state = ResyncState {
            status: ResyncStatus::Completed,
            last_resync_start: start,
            last_resync_end: None,
            next_resync: None,
            interval_in_minutes: Some(60),
        };
        let body = serde_json::to_value(&state).unwrap_or_default();
        assert_eq!(
            body,
            serde_json::json!({
                "status": "completed",
                "lastResyncStart": "2023-11-14T22:13:20.000Z",
                "lastResyncEnd": null,
                "nextResync": null,
                "intervalInMinuets": 60
            })
        );
    }
}
