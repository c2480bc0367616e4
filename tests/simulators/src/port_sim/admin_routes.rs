//! The simulator's set-up endpoints, as a fresh Port organization meets an integration: the
//! integration record (`POST /v1/integration`, `PATCH /v1/integration/{id}`, and the last press
//! of its "Resync" button, `GET /v1/integration/{id}/resync-request`) and blueprints
//! (`GET`/`PATCH /v1/blueprints/{id}`, `POST /v1/blueprints`). Port's refusals are kept: 409 for
//! an identifier that exists, 404 for a missing record or a relation whose target blueprint does
//! not exist, 422 for a body without the fields Port's OpenAPI requires.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::Endpoint;
use super::catalog::{Blueprint, Rejection};
use super::log_routes::with_log_attributes;
use super::routes::{Shared, handle, ok, route};

/// The fields `POST /v1/blueprints` requires (Port's OpenAPI, `components` of that route).
pub const BLUEPRINT_REQUIRED_FIELDS: [&str; 3] = ["identifier", "title", "schema"];

fn invalid(message: impl Into<String>) -> Rejection {
    Rejection::new(422, "invalid_request", message)
}

fn integration_not_found(id: &str) -> Rejection {
    Rejection::new(
        404,
        "not_found",
        format!("integration \"{id}\" was not found"),
    )
}

fn object(value: Value, what: &str) -> Result<Map<String, Value>, Rejection> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(invalid(format!("{what} must be an object"))),
    }
}

pub(super) async fn create_integration(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(
        &shared,
        route(
            Endpoint::CreateIntegration,
            "POST",
            "/v1/integration".into(),
            None,
        ),
        &headers,
        body,
        |state, call| {
            let body = object(call.json()?, "the body")?;
            let Some(id) = body.get("installationId").and_then(Value::as_str) else {
                return Err(invalid(
                    "\"installationId\" is required and must be a string",
                ));
            };
            if id.is_empty() {
                return Err(invalid("\"installationId\" cannot be empty"));
            }
            if state.integrations.contains_key(id) {
                return Err(Rejection::new(
                    409,
                    "identifier_taken",
                    format!("an integration with installationId \"{id}\" already exists"),
                ));
            }
            if let Some(config) = body.get("config")
                && !(config.is_object() || config.is_null())
            {
                return Err(invalid("\"config\" must be an object"));
            }
            let mut record = body.clone();
            record.insert("identifier".into(), json!(id));
            record
                .entry("config")
                .or_insert_with(|| Value::Object(Map::new()));
            let record = Value::Object(record);
            state.integrations.insert(id.to_owned(), record.clone());
            let record = with_log_attributes(state, id, &record);
            ok(
                StatusCode::CREATED,
                json!({"ok": true, "integration": record}),
            )
        },
    )
}

pub(super) async fn patch_integration(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/v1/integration/{id}");
    handle(
        &shared,
        route(Endpoint::PatchIntegration, "PATCH", path, None),
        &headers,
        body,
        |state, call| {
            let changes = object(call.json()?, "the body")?;
            if let Some(config) = changes.get("config")
                && !(config.is_object() || config.is_null())
            {
                return Err(invalid("\"config\" must be an object"));
            }
            let record = state
                .integrations
                .get_mut(&id)
                .ok_or_else(|| integration_not_found(&id))?;
            if let Some(fields) = record.as_object_mut() {
                for (key, value) in changes {
                    if key != "identifier" && key != "installationId" {
                        fields.insert(key, value);
                    }
                }
            }
            let record = record.clone();
            let record = with_log_attributes(state, &id, &record);
            ok(StatusCode::OK, json!({"ok": true, "integration": record}))
        },
    )
}

/// `{"ok": true, "request": {"updatedAt", ...} | null}`: the last press of the integration's
/// "Resync" button ([`super::PortSim::press_resync`]); 404 for an integration that does not exist.
pub(super) async fn resync_request(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/v1/integration/{id}/resync-request");
    handle(
        &shared,
        route(Endpoint::ResyncRequest, "GET", path, None),
        &headers,
        Bytes::new(),
        |state, _| {
            if !state.integrations.contains_key(&id) {
                return Err(integration_not_found(&id));
            }
            let request = state
                .resync_requests
                .get(&id)
                .cloned()
                .unwrap_or(Value::Null);
            ok(StatusCode::OK, json!({"ok": true, "request": request}))
        },
    )
}

pub(super) async fn get_blueprint(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/v1/blueprints/{id}");
    handle(
        &shared,
        route(Endpoint::GetBlueprint, "GET", path, None),
        &headers,
        Bytes::new(),
        |state, _| {
            let blueprint = state.catalog.blueprint(&id)?;
            let definition = blueprint.definition.clone();
            ok(StatusCode::OK, json!({"ok": true, "blueprint": definition}))
        },
    )
}

/// Port's rule for blueprint identifiers.
fn check_blueprint_identifier(id: &str) -> Result<(), Rejection> {
    let valid = !id.is_empty()
        && id.len() <= 100
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '@' | '_' | '=' | '-'));
    if valid {
        Ok(())
    } else {
        Err(invalid(format!(
            "blueprint identifier \"{id}\" must match ^[A-Za-z0-9@_=\\-]+$"
        )))
    }
}

/// Checks a blueprint body's shape and that every relation's target exists (or is the
/// blueprint itself).
fn check_definition(
    definition: &Map<String, Value>,
    identifier: &str,
    known: &dyn Fn(&str) -> bool,
) -> Result<(), Rejection> {
    if !definition.get("title").is_some_and(Value::is_string) {
        return Err(invalid("\"title\" is required and must be a string"));
    }
    match definition.get("schema") {
        Some(Value::Object(schema)) => {
            if let Some(properties) = schema.get("properties")
                && !properties.is_object()
            {
                return Err(invalid("\"schema.properties\" must be an object"));
            }
        }
        _ => return Err(invalid("\"schema\" is required and must be an object")),
    }
    match definition.get("relations") {
        None | Some(Value::Null) => {}
        Some(Value::Object(relations)) => {
            for (name, relation) in relations {
                let Some(target) = relation.get("target").and_then(Value::as_str) else {
                    return Err(invalid(format!(
                        "relation \"{name}\" needs a string \"target\""
                    )));
                };
                if target != identifier && !known(target) {
                    return Err(Rejection::new(
                        404,
                        "not_found",
                        format!("relation \"{name}\": target blueprint \"{target}\" was not found"),
                    ));
                }
            }
        }
        Some(_) => return Err(invalid("\"relations\" must be an object")),
    }
    Ok(())
}

pub(super) async fn create_blueprint(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(
        &shared,
        route(
            Endpoint::CreateBlueprint,
            "POST",
            "/v1/blueprints".into(),
            None,
        ),
        &headers,
        body,
        |state, call| {
            let body = object(call.json()?, "the body")?;
            for field in BLUEPRINT_REQUIRED_FIELDS {
                if !body.contains_key(field) {
                    return Err(invalid(format!("\"{field}\" is required")));
                }
            }
            let Some(id) = body.get("identifier").and_then(Value::as_str) else {
                return Err(invalid("\"identifier\" must be a string"));
            };
            let id = id.to_owned();
            check_blueprint_identifier(&id)?;
            if state.catalog.blueprints.contains_key(&id) {
                return Err(Rejection::new(
                    409,
                    "identifier_taken",
                    format!("a blueprint with identifier \"{id}\" already exists"),
                ));
            }
            let blueprints = &state.catalog.blueprints;
            check_definition(&body, &id, &|target| blueprints.contains_key(target))?;
            let mut definition = body;
            definition
                .entry("relations")
                .or_insert_with(|| Value::Object(Map::new()));
            let definition = Value::Object(definition);
            let blueprint = Blueprint::from_port_json(&definition)
                .ok_or_else(|| invalid("the blueprint could not be read"))?;
            state.catalog.blueprints.insert(id, blueprint);
            ok(
                StatusCode::CREATED,
                json!({"ok": true, "blueprint": definition}),
            )
        },
    )
}

pub(super) async fn patch_blueprint(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/v1/blueprints/{id}");
    handle(
        &shared,
        route(Endpoint::PatchBlueprint, "PATCH", path, None),
        &headers,
        body,
        |state, call| {
            let changes = object(call.json()?, "the body")?;
            if let Some(named) = changes.get("identifier")
                && named.as_str() != Some(id.as_str())
            {
                return Err(invalid("\"identifier\" cannot be changed by a PATCH"));
            }
            let current = state.catalog.blueprint(&id)?;
            let mut definition = current.definition.as_object().cloned().unwrap_or_default();
            for (key, value) in changes {
                definition.insert(key, value);
            }
            let blueprints = &state.catalog.blueprints;
            check_definition(&definition, &id, &|target| blueprints.contains_key(target))?;
            let definition = Value::Object(definition);
            let blueprint = Blueprint::from_port_json(&definition)
                .ok_or_else(|| invalid("the blueprint could not be read"))?;
            state.catalog.blueprints.insert(id.clone(), blueprint);
            ok(StatusCode::OK, json!({"ok": true, "blueprint": definition}))
        },
    )
}
