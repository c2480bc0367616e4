//! The simulator's HTTP surface: one handler per Port endpoint, each run through the same
//! preamble (count and record the request, inject a fault, check the bearer token, enforce the
//! 1 MiB body limit) before it touches the catalog. Every bad input gets Port's error body.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use serde_json::{Value, json};

use super::catalog::{Rejection, WriteFlags};
use super::{Endpoint, Fault, MAX_BODY_BYTES, RecordedRequest, SimState, query};

type Shared = Arc<Mutex<SimState>>;

/// Port's bulk limits.
const MAX_BULK_UPSERT: usize = 20;
const MAX_BULK_DELETE: usize = 100;
const MAX_PAGE: usize = 1000;
const MAX_SWEEP_PAGE: usize = 5000;
const MAX_EXAMPLES: usize = 5;

pub(crate) fn router(state: Shared) -> Router {
    Router::new()
        .route("/v1/auth/access_token", post(access_token))
        .route("/v1/blueprints/{bp}/entities", post(upsert))
        .route("/v1/blueprints/{bp}/entities/bulk", post(bulk_upsert))
        .route(
            "/v1/blueprints/{bp}/entities/search",
            post(blueprint_search),
        )
        .route("/v1/blueprints/{bp}/entities/{id}", delete(delete_entity))
        .route(
            "/v1/blueprints/{bp}/bulk/entities/delete",
            post(bulk_delete),
        )
        .route(
            "/v1/blueprints/entities/datasource-entities",
            post(datasource_entities),
        )
        .route("/v1/entities/search", post(search))
        .route("/v1/integration/{id}", get(get_integration))
        .route("/v1/integration/{id}/resync-state", patch(resync_state))
        .route("/v1/integration/{id}/kinds/{kind}/examples", post(examples))
        .route("/_sim/catalog", get(list_catalog))
        // Bodies over Port's limit must reach the handlers, which answer Port's own 413.
        .layer(DefaultBodyLimit::max(16 * MAX_BODY_BYTES))
        .with_state(state)
}

/// Which endpoint a request reached, and how.
struct Route {
    endpoint: Endpoint,
    method: &'static str,
    path: String,
    raw_query: Option<String>,
}

fn route(
    endpoint: Endpoint,
    method: &'static str,
    path: String,
    raw_query: Option<String>,
) -> Route {
    Route {
        endpoint,
        method,
        path,
        raw_query,
    }
}

/// What a handler gets once the preamble passed.
struct Call {
    query: Vec<(String, String)>,
    user_agent: Option<String>,
    body: Bytes,
}

impl Call {
    fn flag(&self, name: &str) -> bool {
        self.query.iter().any(|(k, v)| k == name && v == "true")
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn json(&self) -> Result<Value, Rejection> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Rejection::new(400, "invalid_json", format!("body is not JSON: {e}")))
    }
}

fn reject(rejection: &Rejection) -> Response {
    let status =
        StatusCode::from_u16(rejection.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"ok": false, "error": rejection.code, "message": rejection.message});
    (status, axum::Json(body)).into_response()
}

/// A success answer, in the shape handlers return.
fn ok(status: StatusCode, body: Value) -> Result<Response, Rejection> {
    Ok((status, axum::Json(body)).into_response())
}

fn fault_response(fault: &Fault) -> Response {
    let error = |status: u16, code: &'static str| {
        reject(&Rejection::new(status, code, "injected by the simulator"))
    };
    match fault {
        Fault::RateLimited { retry_after_secs } => {
            let mut response = error(429, "rate_limit_exceeded");
            if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Fault::RateLimitReset { reset_secs } => {
            let mut response = error(429, "rate_limit_exceeded");
            if let Ok(value) = HeaderValue::from_str(&reset_secs.to_string()) {
                response.headers_mut().insert("x-ratelimit-reset", value);
            }
            response
        }
        Fault::BadGateway => (
            StatusCode::BAD_GATEWAY,
            "<html><body>502 Bad Gateway</body></html>",
        )
            .into_response(),
        Fault::Unavailable => error(503, "service_unavailable"),
        Fault::PayloadTooLarge => error(413, "payload_too_large"),
        Fault::Unauthorized => error(401, "unauthorized"),
    }
}

/// The preamble every endpoint shares; runs `work` on the state when the request gets through.
fn handle(
    shared: &Shared,
    route: Route,
    headers: &HeaderMap,
    body: Bytes,
    work: impl FnOnce(&mut SimState, &Call) -> Result<Response, Rejection>,
) -> Response {
    let Route {
        endpoint,
        method,
        path,
        raw_query,
    } = route;
    let mut state = shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let query: Vec<(String, String)> =
        form_urlencoded::parse(raw_query.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    *state.counters.entry(endpoint).or_insert(0) += 1;
    state.requests.push(RecordedRequest {
        endpoint,
        method: method.to_owned(),
        path,
        query: query.clone(),
        user_agent: user_agent.clone(),
        body_bytes: body.len(),
        body: serde_json::from_slice(&body).ok(),
    });
    if let Some(fault) = state.next_fault(endpoint) {
        return fault_response(&fault);
    }
    if endpoint != Endpoint::AccessToken {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let valid = token
            .and_then(|t| state.tokens.get(t))
            .is_some_and(|expires| Instant::now() < *expires);
        if !valid {
            let why = "missing, unknown or expired access token";
            return reject(&Rejection::new(401, "unauthorized", why));
        }
    }
    if body.len() > MAX_BODY_BYTES {
        let why = "request body is larger than 1 MiB";
        return reject(&Rejection::new(413, "payload_too_large", why));
    }
    let call = Call {
        query,
        user_agent,
        body,
    };
    work(&mut state, &call).unwrap_or_else(|rejection| reject(&rejection))
}

async fn access_token(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    handle(
        &shared,
        route(
            Endpoint::AccessToken,
            "POST",
            "/v1/auth/access_token".into(),
            None,
        ),
        &headers,
        body,
        |state, call| {
            let json = call.json()?;
            let id = json.get("clientId").and_then(Value::as_str);
            let secret = json.get("clientSecret").and_then(Value::as_str);
            if id != Some(state.client_id.as_str()) || secret != Some(state.client_secret.as_str())
            {
                return Err(Rejection::new(
                    401,
                    "unauthorized",
                    "invalid client id or secret",
                ));
            }
            state.issued += 1;
            let token = format!("sim-token-{}", state.issued);
            let lifetime = state.token_lifetime;
            state
                .tokens
                .insert(token.clone(), Instant::now() + lifetime);
            ok(
                StatusCode::OK,
                json!({"ok": true, "accessToken": token, "expiresIn": lifetime.as_secs(), "tokenType": "Bearer"}),
            )
        },
    )
}

fn write_flags(call: &Call) -> WriteFlags {
    WriteFlags {
        merge: call.flag("merge"),
        create_missing_related_entities: call.flag("create_missing_related_entities"),
    }
}

async fn upsert(
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

async fn bulk_upsert(
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

async fn delete_entity(
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

async fn bulk_delete(
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

async fn search(
    State(shared): State<Shared>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(
        &shared,
        route(Endpoint::Search, "POST", "/v1/entities/search".into(), raw),
        &headers,
        body,
        |state, call| {
            let json = call.json()?;
            query::validate(&json)?;
            let include = call.all("include");
            let mut found = Vec::new();
            for entity in state.catalog.entities.values() {
                match query::matches(&json, entity) {
                    Ok(true) => found.push(query::project(entity, &include)),
                    Ok(false) => {}
                    Err(rejection) => return Err(rejection),
                }
            }
            ok(StatusCode::OK, json!({"ok": true, "entities": found}))
        },
    )
}

/// Reads a page cursor (the simulator's cursors are offsets in a string).
fn cursor(value: Option<&Value>) -> Result<usize, Rejection> {
    match value {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(text)) => text
            .parse()
            .map_err(|_| Rejection::new(422, "invalid_request", "unknown \"from\" cursor")),
        Some(_) => Err(Rejection::new(
            422,
            "invalid_request",
            "\"from\" must be a cursor string",
        )),
    }
}

fn page_limit(value: Option<&Value>, default: usize, max: usize) -> Result<usize, Rejection> {
    match value {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                Rejection::new(
                    422,
                    "invalid_request",
                    format!("\"limit\" must be 1 to {max}"),
                )
            }),
    }
}

/// One page of `items` and the cursor of the next one.
fn paginate(items: Vec<Value>, from: usize, limit: usize) -> Value {
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(from).take(limit).collect();
    let next = (from + limit < total).then(|| (from + limit).to_string());
    json!({"ok": true, "entities": page, "next": next})
}

async fn blueprint_search(
    State(shared): State<Shared>,
    Path(bp): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/v1/blueprints/{bp}/entities/search");
    handle(
        &shared,
        route(Endpoint::BlueprintSearch, "POST", path, None),
        &headers,
        body,
        |state, call| {
            let json = call.json()?;
            state.catalog.blueprint(&bp)?;
            let (from, limit) = (
                cursor(json.get("from"))?,
                page_limit(json.get("limit"), 100, MAX_PAGE)?,
            );
            if let Some(q) = json.get("query").filter(|q| !q.is_null()) {
                query::validate(q)?;
            }
            let include: Vec<String> = json
                .get("include")
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            let mut found = Vec::new();
            for entity in state
                .catalog
                .entities
                .values()
                .filter(|e| e.blueprint == bp)
            {
                let matched = match json.get("query") {
                    None | Some(Value::Null) => Ok(true),
                    Some(q) => query::matches(q, entity),
                };
                match matched {
                    Ok(true) => found.push(query::project(entity, &include)),
                    Ok(false) => {}
                    Err(rejection) => return Err(rejection),
                }
            }
            ok(StatusCode::OK, paginate(found, from, limit))
        },
    )
}

async fn datasource_entities(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = "/v1/blueprints/entities/datasource-entities".to_owned();
    handle(
        &shared,
        route(Endpoint::DatasourceEntities, "POST", path, None),
        &headers,
        body,
        |state, call| {
            let json = call.json()?;
            let text = |key: &str| {
                json.get(key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let (prefix, suffix) = (text("datasource_prefix"), text("datasource_suffix"));
            let (from, limit) = (
                cursor(json.get("from"))?,
                page_limit(json.get("limit"), MAX_SWEEP_PAGE, MAX_SWEEP_PAGE)?,
            );
            let owned: Vec<Value> = state
            .catalog
            .entities
            .values()
            .filter(|e| e.datasource.as_deref().is_some_and(|ds| ds.starts_with(&prefix) && ds.ends_with(&suffix)))
            .map(|e| json!({"identifier": e.identifier, "blueprint": e.blueprint, "$datasource": e.datasource}))
            .collect();
            ok(StatusCode::OK, paginate(owned, from, limit))
        },
    )
}

async fn get_integration(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/v1/integration/{id}");
    handle(
        &shared,
        route(Endpoint::GetIntegration, "GET", path, None),
        &headers,
        Bytes::new(),
        |state, _| match state.integrations.get(&id) {
            Some(record) => ok(StatusCode::OK, json!({"ok": true, "integration": record})),
            None => Err(Rejection::new(
                404,
                "not_found",
                format!("integration \"{id}\" was not found"),
            )),
        },
    )
}

async fn resync_state(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/v1/integration/{id}/resync-state");
    handle(
        &shared,
        route(Endpoint::ResyncState, "PATCH", path, None),
        &headers,
        body,
        |state, call| {
            let json = call.json()?;
            let status = json.get("status").and_then(Value::as_str);
            if !matches!(status, Some("running" | "completed" | "failed" | "aborted")) {
                return Err(Rejection::new(
                    422,
                    "invalid_request",
                    "\"status\" must be running, completed, failed or aborted",
                ));
            }
            state.resync_states.push(super::ResyncStateUpdate {
                integration: id.clone(),
                body: json,
            });
            ok(StatusCode::OK, json!({"ok": true}))
        },
    )
}

async fn examples(
    State(shared): State<Shared>,
    Path((id, kind)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/v1/integration/{id}/kinds/{kind}/examples");
    handle(
        &shared,
        route(Endpoint::Examples, "POST", path, None),
        &headers,
        body,
        |state, call| {
            let json = call.json()?;
            let Some(examples) = json
                .get("examples")
                .and_then(Value::as_array)
                .filter(|e| e.len() <= MAX_EXAMPLES)
            else {
                let message = format!("\"examples\" must be an array of at most {MAX_EXAMPLES}");
                return Err(Rejection::new(422, "invalid_request", message));
            };
            state.examples.push(super::ExampleUpload {
                integration: id.clone(),
                kind: kind.clone(),
                examples: examples.clone(),
            });
            ok(StatusCode::OK, json!({"ok": true}))
        },
    )
}

/// The whole catalog, for the demo and for poking at a running simulator (no token needed).
async fn list_catalog(State(shared): State<Shared>) -> Response {
    let state = shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let entities: Vec<Value> = state
        .catalog
        .entities
        .values()
        .map(|e| e.to_json())
        .collect();
    (
        StatusCode::OK,
        axum::Json(json!({"ok": true, "entities": entities})),
    )
        .into_response()
}
