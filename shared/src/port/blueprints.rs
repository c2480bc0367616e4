//! Blueprints, as provisioning needs them: read one (`GET /v1/blueprints/{id}`, 404 = absent),
//! create one (`POST /v1/blueprints`, 409 = someone created it first) and patch one
//! (`PATCH /v1/blueprints/{id}`). Which blueprints to create, and in what stages, is
//! `provision`'s business.

use reqwest::Method;

use super::PortClient;
use super::error::PortError;

/// What a create call came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// This call created it.
    New,
    /// It existed already (409): another container, or a user, was first.
    AlreadyExisted,
}

#[derive(serde::Deserialize)]
struct BlueprintAnswer {
    blueprint: serde_json::Value,
}

impl PortClient {
    /// The blueprint as Port holds it, or `None` when it does not exist.
    pub async fn blueprint(
        &self,
        identifier: &str,
    ) -> Result<Option<serde_json::Value>, PortError> {
        const ENDPOINT: &str = "get blueprint";
        let url = self.inner.url(&["blueprints", identifier], &[])?;
        match self.inner.call(ENDPOINT, Method::GET, url, None).await {
            Ok(answer) => {
                let parsed: BlueprintAnswer = serde_json::from_slice(&answer.body)
                    .map_err(|e| PortError::decode(ENDPOINT, e))?;
                Ok(Some(parsed.blueprint))
            }
            Err(error) if error.status() == Some(404) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Creates a blueprint from its Port JSON body.
    pub async fn create_blueprint(&self, body: &serde_json::Value) -> Result<Created, PortError> {
        const ENDPOINT: &str = "create blueprint";
        let bytes = serde_json::to_vec(body).map_err(|e| PortError::decode(ENDPOINT, e))?;
        let url = self.inner.url(&["blueprints"], &[])?;
        match self
            .inner
            .call(ENDPOINT, Method::POST, url, Some(bytes))
            .await
        {
            Ok(_) => Ok(Created::New),
            Err(error) if error.status() == Some(409) => Ok(Created::AlreadyExisted),
            Err(error) => Err(error),
        }
    }

    /// Changes the given top-level fields of a blueprint (`relations`, `mirrorProperties`…).
    pub async fn patch_blueprint(
        &self,
        identifier: &str,
        changes: &serde_json::Value,
    ) -> Result<(), PortError> {
        const ENDPOINT: &str = "patch blueprint";
        let bytes = serde_json::to_vec(changes).map_err(|e| PortError::decode(ENDPOINT, e))?;
        let url = self.inner.url(&["blueprints", identifier], &[])?;
        self.inner
            .call(ENDPOINT, Method::PATCH, url, Some(bytes))
            .await?;
        Ok(())
    }
}
