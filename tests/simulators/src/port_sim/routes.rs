//! The simulator's HTTP surface: one handler per Port endpoint, each run through the same
//! preamble (count and record the request, inject a fault, check the bearer token, enforce the
//! 1 MiB body limit) before it touches the catalog; the token and integration endpoints live here,
//! entity writes in `entity_routes`, searches in `search_routes`, the log ingest in `log_routes`.
//! Every bad input gets Port's error body.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use serde_json::{Value, json};

use super::catalog::Rejection;
use super::log_routes::with_log_attributes;
use super::{
    Endpoint, Fault, MAX_BODY_BYTES, RecordedRequest, SimState, admin_routes, entity_routes,
    log_routes, search_routes,
};

pub(super) type Shared = Arc<Mutex<SimState>>;

/// Port's limit on raw examples per kind.
const MAX_EXAMPLES: usize = 5;

/// Every Port route the simulator serves: (method, path, in Port's OpenAPI). Routes marked
/// `false` are known only from how Port's own integrations call them; `tests/tests/port_sim.rs`
/// checks this table against `tests/fixtures/port/openapi.yaml` both ways.
pub const ROUTES: &[(&str, &str, bool)] = &[
    ("POST", "/v1/auth/access_token", true),
    ("POST", "/v1/blueprints", true),
    ("GET", "/v1/blueprints/{identifier}", true),
    ("PATCH", "/v1/blueprints/{identifier}", true),
    (
        "POST",
        "/v1/blueprints/{blueprint_identifier}/entities",
        true,
    ),
    (
        "POST",
        "/v1/blueprints/{blueprint_identifier}/entities/bulk",
        true,
    ),
    (
        "POST",
        "/v1/blueprints/{blueprint_identifier}/entities/search",
        true,
    ),
    (
        "DELETE",
        "/v1/blueprints/{blueprint_identifier}/entities/{entity_identifier}",
        true,
    ),
    (
        "POST",
        "/v1/blueprints/{blueprint_identifier}/bulk/entities/delete",
        true,
    ),
    ("POST", "/v1/blueprints/entities/datasource-entities", false),
    ("POST", "/v1/entities/search", true),
    ("POST", "/v1/integration", false),
    ("GET", "/v1/integration/{identifier}", true),
    ("PATCH", "/v1/integration/{identifier}", true),
    ("PATCH", "/v1/integration/{identifier}/resync-state", false),
    ("GET", "/v1/integration/{identifier}/resync-request", false),
    (
        "POST",
        "/v1/integration/{identifier}/kinds/{kind}/examples",
        false,
    ),
];

pub(crate) fn router(state: Shared) -> Router {
    Router::new()
        .route("/v1/auth/access_token", post(access_token))
        .route("/v1/blueprints", post(admin_routes::create_blueprint))
        .route(
            "/v1/blueprints/{bp}",
            get(admin_routes::get_blueprint).patch(admin_routes::patch_blueprint),
        )
        .route("/v1/blueprints/{bp}/entities", post(entity_routes::upsert))
        .route(
            "/v1/blueprints/{bp}/entities/bulk",
            post(entity_routes::bulk_upsert),
        )
        .route(
            "/v1/blueprints/{bp}/entities/search",
            post(search_routes::blueprint_search),
        )
        .route(
            "/v1/blueprints/{bp}/entities/{id}",
            delete(entity_routes::delete_entity),
        )
        .route(
            "/v1/blueprints/{bp}/bulk/entities/delete",
            post(entity_routes::bulk_delete),
        )
        .route(
            "/v1/blueprints/entities/datasource-entities",
            post(search_routes::datasource_entities),
        )
        .route("/v1/entities/search", post(search_routes::search))
        .route("/v1/integration", post(admin_routes::create_integration))
        .route(
            "/v1/integration/{id}",
            get(get_integration).patch(admin_routes::patch_integration),
        )
        .route("/v1/integration/{id}/resync-state", patch(resync_state))
        .route(
            "/v1/integration/{id}/resync-request",
            get(admin_routes::resync_request),
        )
        .route("/v1/integration/{id}/kinds/{kind}/examples", post(examples))
        .route("/_ingest/{id}/logs", post(log_routes::log_ingest))
        .route("/_sim/catalog", get(list_catalog))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            stall,
        ))
        // Bodies over Port's limit must reach the handlers, which answer Port's own 413.
        .layer(DefaultBodyLimit::max(16 * MAX_BODY_BYTES))
        .with_state(state)
}

/// Holds a request for the next configured stall, if any, before it is served.
async fn stall(
    State(shared): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let delay = if request.uri().path() == "/v1/auth/access_token" {
        None
    } else {
        let mut state = shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.stalls.pop_front()
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    next.run(request).await
}

/// Which endpoint a request reached, and how.
pub(super) struct Route {
    endpoint: Endpoint,
    method: &'static str,
    path: String,
    raw_query: Option<String>,
}

pub(super) fn route(
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
pub(super) struct Call {
    pub query: Vec<(String, String)>,
    pub user_agent: Option<String>,
    pub body: Bytes,
}

impl Call {
    pub(super) fn flag(&self, name: &str) -> bool {
        self.query.iter().any(|(k, v)| k == name && v == "true")
    }

    pub(super) fn all(&self, name: &str) -> Vec<String> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub(super) fn json(&self) -> Result<Value, Rejection> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Rejection::new(400, "invalid_json", format!("body is not JSON: {e}")))
    }
}

pub(super) fn reject(rejection: &Rejection) -> Response {
    let status =
        StatusCode::from_u16(rejection.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"ok": false, "error": rejection.code, "message": rejection.message});
    (status, axum::Json(body)).into_response()
}

/// A success answer, in the shape handlers return.
pub(super) fn ok(status: StatusCode, body: Value) -> Result<Response, Rejection> {
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
        Fault::Forbidden => error(403, "forbidden"),
        Fault::Internal => error(500, "internal_error"),
    }
}

/// The preamble every endpoint shares; runs `work` on the state when the request gets through.
pub(super) fn handle(
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
        at: std::time::Instant::now(),
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
            Some(record) => {
                let record = with_log_attributes(state, &id, record);
                ok(StatusCode::OK, json!({"ok": true, "integration": record}))
            }
            None => Err(missing_integration(&id)),
        },
    )
}

/// Port's answer for a missing integration, and for any sub-resource of one.
pub(super) fn missing_integration(id: &str) -> Rejection {
    Rejection::new(
        404,
        "not_found",
        format!("integration \"{id}\" was not found"),
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
            if !state.integrations.contains_key(&id) {
                return Err(missing_integration(&id));
            }
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
            if !state.integrations.contains_key(&id) {
                return Err(missing_integration(&id));
            }
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
