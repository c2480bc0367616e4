//! Entity upserts: in bulk (batches from `batching`, 200/207 results matched to the request by
//! `index`, one-by-one fallback on 413) and one at a time. Every entity handed in comes back with
//! its own outcome; none is lost.

use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;

use super::batching::{bulk_body, plan};
use super::error::{Failure, PortError, is_transient_status};
use super::{Entity, PortClient};

/// The mapping's write options, sent as query parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpsertOptions {
    /// `enableMergeEntity` → `merge=`: merge properties into the stored entity instead of replacing it.
    pub merge: bool,
    /// `createMissingRelatedEntities` → `create_missing_related_entities=`.
    pub create_missing_related_entities: bool,
}

impl Default for UpsertOptions {
    /// Port's integration defaults: merge on, missing related entities not created.
    fn default() -> Self {
        UpsertOptions {
            merge: true,
            create_missing_related_entities: false,
        }
    }
}

impl UpsertOptions {
    fn query(&self) -> [(&'static str, &'static str); 3] {
        let flag = |on: bool| if on { "true" } else { "false" };
        [
            ("upsert", "true"),
            ("merge", flag(self.merge)),
            (
                "create_missing_related_entities",
                flag(self.create_missing_related_entities),
            ),
        ]
    }
}

/// Why Port did not take one entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityFailure {
    /// Port's per-entity or per-request status, when there was one.
    pub status: Option<u16>,
    /// Port's error code (`not_found`, `invalid_request`…) or a local one.
    pub code: String,
    pub message: String,
    /// Whether sending it again later may succeed.
    pub transient: bool,
    /// Port's wait hint, when the whole request was turned away for a while (429).
    pub retry_after: Option<Duration>,
}

impl EntityFailure {
    pub(crate) fn from_error(error: &PortError) -> Self {
        let (status, code, message) = match error.cause() {
            Failure::Status {
                status,
                code,
                message,
            } => (Some(*status), code.clone(), message.clone()),
            other => (None, "request_failed".to_owned(), other.to_string()),
        };
        EntityFailure {
            status,
            code,
            message,
            transient: error.is_transient(),
            retry_after: error.retry_after(),
        }
    }

    /// The failure of an entity left unsent because Port was unavailable (`self`).
    fn not_sent(&self) -> Self {
        EntityFailure {
            status: self.status,
            code: "not_sent".to_owned(),
            message: format!("not sent while Port was unavailable ({})", self.code),
            transient: true,
            retry_after: self.retry_after,
        }
    }

    pub(crate) fn local(code: &str, message: impl Into<String>) -> Self {
        EntityFailure {
            status: None,
            code: code.to_owned(),
            message: message.into(),
            transient: false,
            retry_after: None,
        }
    }
}

/// What happened to one entity of a bulk upsert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpsertResult {
    /// Stored; `created` says whether it was new, when Port said so.
    Upserted {
        created: Option<bool>,
    },
    Failed(EntityFailure),
}

/// One entity's outcome, in the position of the entity it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityOutcome {
    pub blueprint: String,
    pub identifier: String,
    pub result: UpsertResult,
}

impl EntityOutcome {
    pub fn is_ok(&self) -> bool {
        matches!(self.result, UpsertResult::Upserted { .. })
    }

    pub fn failure(&self) -> Option<&EntityFailure> {
        match &self.result {
            UpsertResult::Failed(failure) => Some(failure),
            UpsertResult::Upserted { .. } => None,
        }
    }
}

/// Port's answer to a bulk upsert (200 or 207).
#[derive(Deserialize)]
struct BulkAnswer {
    #[serde(default)]
    entities: Vec<BulkOk>,
    #[serde(default)]
    errors: Vec<BulkError>,
}

#[derive(Deserialize)]
struct BulkOk {
    index: usize,
    #[serde(default)]
    created: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkError {
    index: usize,
    #[serde(default)]
    status_code: Option<u16>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct SingleAnswer {
    entity: Entity,
}

impl PortClient {
    /// Upserts entities of any blueprints in bulk. `outcomes[i]` belongs to `entities[i]`.
    pub async fn upsert_entities(
        &self,
        entities: &[Entity],
        options: UpsertOptions,
    ) -> Vec<EntityOutcome> {
        let mut results: Vec<Option<UpsertResult>> = vec![None; entities.len()];
        let bodies: Vec<Vec<u8>> = entities
            .iter()
            .map(|entity| serde_json::to_vec(entity).unwrap_or_default())
            .collect();
        // Positions of the entities that can be sent; batches index into this list.
        let mut sendable = Vec::with_capacity(entities.len());
        for (index, entity) in entities.iter().enumerate() {
            if entity.blueprint.is_empty() || entity.identifier.is_empty() {
                if let Some(slot) = results.get_mut(index) {
                    *slot = Some(UpsertResult::Failed(EntityFailure::local(
                        "invalid_entity",
                        "an entity needs a blueprint and an identifier",
                    )));
                }
            } else {
                sendable.push(index);
            }
        }
        let sizes = sendable
            .iter()
            .filter_map(|&i| Some((entities.get(i)?.blueprint.as_str(), bodies.get(i)?.len())));
        // Once Port stays unavailable through a batch's retries, the later batches are not sent:
        // they would only spend the same retries. They fail as transient, to be sent again later.
        let mut unavailable: Option<EntityFailure> = None;
        for batch in plan(sizes) {
            let indices: Vec<usize> = batch
                .indices
                .iter()
                .filter_map(|&i| sendable.get(i).copied())
                .collect();
            let batch_results = match &unavailable {
                Some(stop) => vec![UpsertResult::Failed(stop.not_sent()); indices.len()],
                None => {
                    let (results, stop) = self
                        .upsert_batch(&batch.blueprint, &indices, entities, &bodies, options)
                        .await;
                    unavailable = stop;
                    results
                }
            };
            for (index, result) in indices.into_iter().zip(batch_results) {
                if let Some(slot) = results.get_mut(index) {
                    *slot = Some(result);
                }
            }
        }
        entities
            .iter()
            .zip(results)
            .map(|(entity, result)| EntityOutcome {
                blueprint: entity.blueprint.clone(),
                identifier: entity.identifier.clone(),
                result: result.unwrap_or_else(|| {
                    UpsertResult::Failed(EntityFailure::local(
                        "not_sent",
                        "the entity was not sent",
                    ))
                }),
            })
            .collect()
    }

    /// One bulk request; its results in the order of `indices`, and the failure that shows Port
    /// is unavailable for now, if it is.
    async fn upsert_batch(
        &self,
        blueprint: &str,
        indices: &[usize],
        entities: &[Entity],
        bodies: &[Vec<u8>],
        options: UpsertOptions,
    ) -> (Vec<UpsertResult>, Option<EntityFailure>) {
        let body = bulk_body(
            indices
                .iter()
                .filter_map(|&i| bodies.get(i))
                .map(Vec::as_slice),
        );
        let answer = match self.inner.url(
            &["blueprints", blueprint, "entities", "bulk"],
            &options.query(),
        ) {
            Ok(url) => {
                self.inner
                    .call("bulk upsert", Method::POST, url, Some(body))
                    .await
            }
            Err(error) => Err(error),
        };
        match answer {
            Ok(answer) => match serde_json::from_slice::<BulkAnswer>(&answer.body) {
                Ok(parsed) => (match_results(answer.status, indices.len(), parsed), None),
                Err(error) => {
                    let failure =
                        EntityFailure::from_error(&PortError::decode("bulk upsert", error));
                    (vec![UpsertResult::Failed(failure); indices.len()], None)
                }
            },
            Err(error) if error.status() == Some(413) => {
                tracing::warn!(
                    blueprint,
                    entities = indices.len(),
                    "bulk upsert too large; sending one at a time"
                );
                self.upsert_one_by_one(indices, entities, options).await
            }
            Err(error) => {
                tracing::warn!(blueprint, entities = indices.len(), error = %error, "bulk upsert failed");
                let failure = EntityFailure::from_error(&error);
                let stop = failure.transient.then(|| failure.clone());
                (vec![UpsertResult::Failed(failure); indices.len()], stop)
            }
        }
    }

    /// The 413 fallback: each entity on its own, stopping early if Port becomes unavailable.
    async fn upsert_one_by_one(
        &self,
        indices: &[usize],
        entities: &[Entity],
        options: UpsertOptions,
    ) -> (Vec<UpsertResult>, Option<EntityFailure>) {
        let mut results = Vec::with_capacity(indices.len());
        let mut unavailable: Option<EntityFailure> = None;
        for entity in indices.iter().filter_map(|&i| entities.get(i)) {
            if let Some(stop) = &unavailable {
                results.push(UpsertResult::Failed(stop.not_sent()));
                continue;
            }
            results.push(match self.upsert_entity(entity, options).await {
                Ok(_) => UpsertResult::Upserted { created: None },
                Err(error) => {
                    let failure = EntityFailure::from_error(&error);
                    if failure.transient {
                        unavailable = Some(failure.clone());
                    }
                    UpsertResult::Failed(failure)
                }
            });
        }
        (results, unavailable)
    }

    /// Upserts one entity; returns the entity as Port stored it.
    pub async fn upsert_entity(
        &self,
        entity: &Entity,
        options: UpsertOptions,
    ) -> Result<Entity, PortError> {
        const ENDPOINT: &str = "upsert";
        if entity.blueprint.is_empty() {
            return Err(PortError::permanent_request(
                ENDPOINT,
                "the entity has no blueprint",
            ));
        }
        let body = serde_json::to_vec(entity).map_err(|e| PortError::decode(ENDPOINT, e))?;
        let url = self.inner.url(
            &["blueprints", &entity.blueprint, "entities"],
            &options.query(),
        )?;
        let answer = self
            .inner
            .call(ENDPOINT, Method::POST, url, Some(body))
            .await?;
        let mut stored = serde_json::from_slice::<SingleAnswer>(&answer.body)
            .map_err(|e| PortError::decode(ENDPOINT, e))?
            .entity;
        if stored.blueprint.is_empty() {
            stored.blueprint.clone_from(&entity.blueprint);
        }
        Ok(stored)
    }
}

/// Matches a 200/207 answer to the batch by `index`. An entity Port did not mention counts as
/// stored on a 200 ("all ok") and as failed on a 207.
fn match_results(status: u16, len: usize, answer: BulkAnswer) -> Vec<UpsertResult> {
    let mut results: Vec<Option<UpsertResult>> = vec![None; len];
    for ok in answer.entities {
        if let Some(slot) = results.get_mut(ok.index) {
            *slot = Some(UpsertResult::Upserted {
                created: ok.created,
            });
        }
    }
    for error in answer.errors {
        if let Some(slot) = results.get_mut(error.index) {
            *slot = Some(UpsertResult::Failed(EntityFailure {
                transient: error.status_code.is_some_and(is_transient_status),
                status: error.status_code,
                code: error.error.unwrap_or_else(|| "unknown".to_owned()),
                message: error.message.unwrap_or_default(),
                retry_after: None,
            }));
        }
    }
    results
        .into_iter()
        .map(|slot| {
            slot.unwrap_or_else(|| {
                if status == 200 {
                    UpsertResult::Upserted { created: None }
                } else {
                    UpsertResult::Failed(EntityFailure::local(
                        "no_result",
                        "Port's answer did not mention it",
                    ))
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_matched_by_index() {
        let answer: BulkAnswer = serde_json::from_value(serde_json::json!({
            "ok": true,
            "entities": [{"index": 2, "identifier": "c", "created": true}, {"index": 0, "identifier": "a", "created": false}],
            "errors": [{"index": 1, "identifier": "b", "statusCode": 404, "error": "not_found", "message": "no target"},
                       {"index": 3, "identifier": "d", "statusCode": 503, "error": "unavailable", "message": ""}]
        }))
        .unwrap_or(BulkAnswer { entities: vec![], errors: vec![] });
        let results = match_results(207, 5, answer);
        assert_eq!(
            results.first(),
            Some(&UpsertResult::Upserted {
                created: Some(false)
            })
        );
        assert_eq!(
            results.get(2),
            Some(&UpsertResult::Upserted {
                created: Some(true)
            })
        );
        let failure = |r: Option<&UpsertResult>| match r {
            Some(UpsertResult::Failed(f)) => Some((f.status, f.code.clone(), f.transient)),
            _ => None,
        };
        assert_eq!(
            failure(results.get(1)),
            Some((Some(404), "not_found".to_owned(), false))
        );
        assert_eq!(
            failure(results.get(3)),
            Some((Some(503), "unavailable".to_owned(), true))
        );
        assert_eq!(
            failure(results.get(4)),
            Some((None, "no_result".to_owned(), false))
        );
        let all_ok = match_results(
            200,
            2,
            BulkAnswer {
                entities: vec![],
                errors: vec![],
            },
        );
        assert!(
            all_ok
                .iter()
                .all(|r| matches!(r, UpsertResult::Upserted { .. }))
        );
    }

    #[test]
    fn options_become_query_flags() {
        let query = UpsertOptions {
            merge: false,
            create_missing_related_entities: true,
        }
        .query();
        assert_eq!(
            query,
            [
                ("upsert", "true"),
                ("merge", "false"),
                ("create_missing_related_entities", "true")
            ]
        );
    }
}
