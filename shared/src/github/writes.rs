//! Writes to the REST API (POST, PATCH, PUT, DELETE): the same authentication, headers,
//! rate-limit accounting and retries as reads, never conditional and never cached. A 4xx is
//! never retried: 403 is [`GitHubError::Permanent`], 404/410 [`GitHubError::NotFound`].

use reqwest::Method;
use serde_json::Value;

use super::auth::join;
use super::client::{Feature, GitHubClient};
use super::error::GitHubError;

impl GitHubClient {
    /// Sends `body` as JSON with `method` to `path_and_query` and returns GitHub's answer
    /// (`Value::Null` for an empty one, e.g. 204).
    ///
    /// Retries follow the reads: 5xx, timeouts and secondary limits are retried, so a
    /// non-idempotent POST may reach GitHub twice when an answer is lost; callers that care
    /// (creating a hook) re-read before writing again.
    pub async fn send_json(
        &self,
        method: Method,
        path_and_query: &str,
        body: &Value,
    ) -> Result<Value, GitHubError> {
        let url = join(self.base(), path_and_query)?;
        Ok(self
            .execute(method, url, Some(body), Feature::Required)
            .await?
            .body)
    }

    /// Sends `method` to `path_and_query` without a body (e.g. a redelivery request).
    pub async fn send_empty(
        &self,
        method: Method,
        path_and_query: &str,
    ) -> Result<Value, GitHubError> {
        let url = join(self.base(), path_and_query)?;
        Ok(self
            .execute(method, url, None, Feature::Required)
            .await?
            .body)
    }

    /// `DELETE path_and_query`.
    pub async fn delete(&self, path_and_query: &str) -> Result<(), GitHubError> {
        self.send_empty(Method::DELETE, path_and_query).await?;
        Ok(())
    }
}
