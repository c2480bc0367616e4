//! The simulator's entity-write endpoints: single and bulk upsert (Port's 1–20 limit, 207 with
//! per-entity errors by index), delete, and bulk delete (1–100, dependents, partial results).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::Endpoint;
use super::catalog::{Rejection, WriteFlags};
use super::routes::{Call, Shared, handle, ok, route};

/// Port's bulk limits.
const MAX_BULK_UPSERT: usize = 20;
const MAX_BULK_DELETE: usize = 100;

fn write_flags(call: &Call) -> WriteFlags {
    WriteFlags {
        merge: call.flag("merge"),
        create_missing_related_entities: call.flag("create_missing_related_entities"),
    }
}

pub(super) async fn upsert(
    State(shared): State<Shared>,
    Path(bp): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/v1/blueprints/{bp}/entities");
    handle(
        &shared,
        route(Endpoint::Upsert, "POST", path, raw),
        &headers,
        body,
        |state, call| {
            let json = call.json()?;
            let exists = json
                .get("identifier")
                .and_then(Value::as_str)
                .is_some_and(|id| {
                    state
                        .catalog
                        .entities
                        .contains_key(&(bp.clone(), id.to_owned()))
                });
            if exists && !call.flag("upsert") {
                return Err(Rejection::new(
                    409,
                    "identifier_taken",
                    "entity exists and upsert is not set",
                ));
            }
            match state
                .catalog
                .upsert(&bp, &json, write_flags(call), call.user_agent.as_deref())
            {
                Ok((entity, _)) => ok(
                    StatusCode::CREATED,
                    json!({"ok": true, "entity": entity.to_json()}),
                ),
                Err(rejection) => Err(rejection),
            }
        },
    )
}

pub(super) async fn bulk_upsert(
    State(shared): State<Shared>,
    Path(bp): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/v1/blueprints/{bp}/entities/bulk");
    handle(
        &shared,
        route(Endpoint::BulkUpsert, "POST", path, raw),
        &headers,
        body,
        |state, call| {
            let json = call.json()?;
            let Some(entities) = json.get("entities").and_then(Value::as_array) else {
                return Err(Rejection::new(
                    422,
                    "invalid_request",
                    "\"entities\" must be an array",
                ));
            };
            if entities.is_empty() || entities.len() > MAX_BULK_UPSERT {
                let message = format!(
                    "a bulk upsert takes 1 to {MAX_BULK_UPSERT} entities, got {}",
                    entities.len()
                );
                return Err(Rejection::new(422, "invalid_request", message));
            }
            state.catalog.blueprint(&bp)?;
            let flags = write_flags(call);
            let (mut stored, mut errors) = (Vec::new(), Vec::new());
            for (index, entity) in entities.iter().enumerate() {
                let identifier = entity.get("identifier").cloned().unwrap_or(Value::Null);
                match state
                    .catalog
                    .upsert(&bp, entity, flags, call.user_agent.as_deref())
                {
                    Ok((_, created)) => stored.push(
                        json!({"index": index, "identifier": identifier, "created": created}),
                    ),
                    Err(r) => errors.push(
                        json!({"index": index, "identifier": identifier, "statusCode": r.status,
                    "error": r.code, "message": r.message}),
                    ),
                }
            }
            let status = if errors.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::MULTI_STATUS
            };
            ok(
                status,
                json!({"ok": true, "entities": stored, "errors": errors}),
            )
        },
    )
}

pub(super) async fn delete_entity(
    State(shared): State<Shared>,
    Path((bp, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let path = format!("/v1/blueprints/{bp}/entities/{id}");
    handle(
        &shared,
        route(Endpoint::Delete, "DELETE", path, raw),
        &headers,
        Bytes::new(),
        |state, call| match state
            .catalog
            .delete(&bp, &id, call.flag("delete_dependents"))
        {
            Ok(()) => ok(StatusCode::OK, json!({"ok": true})),
            Err(rejection) => Err(rejection),
        },
    )
}

pub(super) async fn bulk_delete(
    State(shared): State<Shared>,
    Path(bp): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/v1/blueprints/{bp}/bulk/entities/delete");
    handle(
        &shared,
        route(Endpoint::BulkDelete, "POST", path, raw),
        &headers,
        body,
        |state, call| {
            let json = call.json()?;
            let ids: Option<Vec<String>> =
                json.get("entities")
                    .and_then(Value::as_array)
                    .and_then(|items| {
                        items
                            .iter()
                            .map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    });
            let Some(ids) = ids.filter(|ids| (1..=MAX_BULK_DELETE).contains(&ids.len())) else {
                let message = format!("\"entities\" must hold 1 to {MAX_BULK_DELETE} identifiers");
                return Err(Rejection::new(422, "invalid_request", message));
            };
            state.catalog.blueprint(&bp)?;
            let delete_dependents = call.flag("delete_dependents");
            let key = |id: &String| (bp.clone(), id.clone());
            let targets: Vec<&String> = ids
                .iter()
                .filter(|id| {
                    state.catalog.entities.contains_key(&key(id))
                        && !state.protected.contains(&key(id))
                })
                .collect();
            if !delete_dependents
                && let Some(id) = targets
                    .iter()
                    .find(|id| !state.catalog.dependents_of(&bp, id).is_empty())
            {
                return Err(Rejection::new(
                    422,
                    "has_dependents",
                    format!("entity \"{id}\" has dependent entities"),
                ));
            }
            let mut deleted = Vec::new();
            for id in targets {
                if state.catalog.delete(&bp, id, delete_dependents).is_ok() {
                    deleted.push(id.clone());
                }
            }
            ok(
                StatusCode::OK,
                json!({"ok": true, "deletedEntities": deleted}),
            )
        },
    )
}
