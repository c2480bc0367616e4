//! The integration's log in Port, as Port's own integrations (Ocean) reach it: the ingest URL is
//! the integration record's `logAttributes.ingestUrl` (no attribute: no shipping), and a batch is
//! `POST {"logs": [{"level", "message", "timestamp", "extra"}, ...]}` to it with the Port client's
//! bearer token, sent once (never retried: a lost batch is counted by the shipper). The capture,
//! buffering and masking are `crate::log_shipping`'s.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, Url};
use serde::Deserialize;

use super::PortClient;
use super::error::PortError;
use crate::log_shipping::{Discovery, IngestError, LogIngest};

/// How long one batch may take to send.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// `logAttributes` of the integration record, as far as this integration reads it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogAttributes {
    #[serde(default)]
    pub ingest_url: Option<String>,
}

/// Where the integration record says logs go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestUrl {
    At(Url),
    /// The record has no (usable) `logAttributes.ingestUrl`; the reason says which.
    Absent(String),
    /// The integration has no record in Port yet.
    NoRecord,
}

impl PortClient {
    /// The ingest URL from the integration record (`GET /v1/integration/{id}`).
    pub async fn log_ingest_url(&self) -> Result<IngestUrl, PortError> {
        let Some(record) = self.integration_record().await? else {
            return Ok(IngestUrl::NoRecord);
        };
        let Some(text) = record
            .log_attributes
            .and_then(|attributes| attributes.ingest_url)
            .filter(|url| !url.trim().is_empty())
        else {
            return Ok(IngestUrl::Absent(
                "the integration record has no logAttributes.ingestUrl".to_owned(),
            ));
        };
        match Url::parse(text.trim()) {
            Ok(url) if matches!(url.scheme(), "https" | "http") => Ok(IngestUrl::At(url)),
            _ => Ok(IngestUrl::Absent(
                "logAttributes.ingestUrl is not an http(s) URL".to_owned(),
            )),
        }
    }

    /// Posts one `{"logs": [...]}` body to `url`, once, with the client's bearer token.
    pub async fn send_logs(&self, url: &Url, body: Vec<u8>) -> Result<(), PortError> {
        self.inner
            .call_with(
                "integration logs",
                Method::POST,
                url.clone(),
                Some(body),
                1,
                Some(SEND_TIMEOUT),
            )
            .await
            .map(|_| ())
    }
}

/// Port's integration log as the shipper's destination.
pub struct PortLogIngest {
    client: PortClient,
}

impl PortLogIngest {
    pub fn new(client: PortClient) -> Self {
        Self { client }
    }
}

#[async_trait]
impl LogIngest for PortLogIngest {
    async fn discover(&self) -> Discovery {
        match self.client.log_ingest_url().await {
            Ok(IngestUrl::At(url)) => Discovery::At(url.to_string()),
            Ok(IngestUrl::Absent(reason)) => Discovery::Off(reason),
            Ok(IngestUrl::NoRecord) => {
                Discovery::NotYet("the integration has no record in Port yet".to_owned())
            }
            Err(error) => {
                Discovery::NotYet(format!("could not read the integration record: {error}"))
            }
        }
    }

    async fn send(&self, url: &str, body: Vec<u8>) -> Result<(), IngestError> {
        let url = Url::parse(url).map_err(|error| IngestError {
            message: format!("bad ingest URL: {error}"),
            gone: true,
        })?;
        self.client
            .send_logs(&url, body)
            .await
            .map_err(|error| IngestError {
                gone: matches!(error.status(), Some(404 | 410)),
                message: error.to_string(),
            })
    }
}
