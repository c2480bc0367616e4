//! Entity deletes: one at a time (404 = already gone) and in bulk (at most 100 per request,
//! partial results: only what Port lists in `deletedEntities` counts as deleted).

use std::collections::HashSet;

use reqwest::Method;
use serde::Deserialize;

use super::PortClient;
use super::entities::EntityFailure;
use super::error::PortError;

/// Port's limit on identifiers per bulk delete.
pub const BULK_DELETE_MAX: usize = 100;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkDeleteAnswer {
    #[serde(default)]
    deleted_entities: Vec<DeletedEntity>,
}

/// Port lists deleted entities by identifier; accept an object with one too.
#[derive(Deserialize)]
#[serde(untagged)]
enum DeletedEntity {
    Identifier(String),
    Entity { identifier: String },
}

/// Whether a delete removed the entity or found it already gone (404).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    AlreadyGone,
}

/// An entity a bulk delete did not remove, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotDeleted {
    pub identifier: String,
    pub failure: EntityFailure,
}

/// What a bulk delete did: only what Port listed in `deletedEntities` counts as deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkDeleteReport {
    pub deleted: Vec<String>,
    pub not_deleted: Vec<NotDeleted>,
}

fn dependents_query(delete_dependents: bool) -> [(&'static str, &'static str); 1] {
    [(
        "delete_dependents",
        if delete_dependents { "true" } else { "false" },
    )]
}

impl PortClient {
    /// Deletes one entity (`delete_dependents` = the mapping's `deleteDependentEntities`).
    pub async fn delete_entity(
        &self,
        blueprint: &str,
        identifier: &str,
        delete_dependents: bool,
    ) -> Result<DeleteOutcome, PortError> {
        let query = dependents_query(delete_dependents);
        let url = self
            .inner
            .url(&["blueprints", blueprint, "entities", identifier], &query)?;
        match self.inner.call("delete", Method::DELETE, url, None).await {
            Ok(_) => Ok(DeleteOutcome::Deleted),
            Err(error) if error.status() == Some(404) => Ok(DeleteOutcome::AlreadyGone),
            Err(error) => Err(error),
        }
    }

    /// Deletes entities of one blueprint, [`BULK_DELETE_MAX`] per request. Port may delete only
    /// some of them: the report lists what it confirmed and, for the rest, why not.
    pub async fn delete_entities(
        &self,
        blueprint: &str,
        identifiers: &[String],
        delete_dependents: bool,
    ) -> BulkDeleteReport {
        let mut report = BulkDeleteReport::default();
        let query = dependents_query(delete_dependents);
        for chunk in identifiers.chunks(BULK_DELETE_MAX) {
            let body =
                serde_json::to_vec(&serde_json::json!({ "entities": chunk })).unwrap_or_default();
            let answer = match self.inner.url(
                &["blueprints", blueprint, "bulk", "entities", "delete"],
                &query,
            ) {
                Ok(url) => {
                    self.inner
                        .call("bulk delete", Method::POST, url, Some(body))
                        .await
                }
                Err(error) => Err(error),
            };
            let (confirmed, failure) = match answer.and_then(|a| {
                serde_json::from_slice::<BulkDeleteAnswer>(&a.body)
                    .map_err(|e| PortError::decode("bulk delete", e))
            }) {
                Ok(parsed) => {
                    let confirmed: HashSet<String> = parsed
                        .deleted_entities
                        .into_iter()
                        .map(|d| match d {
                            DeletedEntity::Identifier(id)
                            | DeletedEntity::Entity { identifier: id } => id,
                        })
                        .collect();
                    (
                        confirmed,
                        EntityFailure::local("not_deleted", "Port did not list it as deleted"),
                    )
                }
                Err(error) => (HashSet::new(), EntityFailure::from_error(&error)),
            };
            for id in chunk {
                if confirmed.contains(id) {
                    report.deleted.push(id.clone());
                } else {
                    report.not_deleted.push(NotDeleted {
                        identifier: id.clone(),
                        failure: failure.clone(),
                    });
                }
            }
        }
        report
    }
}
