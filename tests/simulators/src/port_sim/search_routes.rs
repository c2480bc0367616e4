//! The simulator's read endpoints: the entity search with rules, the paged per-blueprint search,
//! and the paged datasource-entities sweep.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::catalog::Rejection;
use super::routes::{Shared, handle, ok, route};
use super::{Endpoint, query};

const MAX_PAGE: usize = 1000;
const MAX_SWEEP_PAGE: usize = 5000;

pub(super) async fn search(
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

pub(super) async fn blueprint_search(
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

pub(super) async fn datasource_entities(
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
            // Only the page is built (a large catalog is swept in many requests).
            let mut owned = state.catalog.entities.values().filter(|e| {
                e.datasource
                    .as_deref()
                    .is_some_and(|ds| ds.starts_with(&prefix) && ds.ends_with(&suffix))
            });
            let page: Vec<Value> = owned
                .by_ref()
                .skip(from)
                .take(limit)
                .map(|e| json!({"identifier": e.identifier, "blueprint": e.blueprint, "$datasource": e.datasource}))
                .collect();
            let more = owned.next().is_some();
            let next = more.then(|| (from + limit).to_string());
            ok(
                StatusCode::OK,
                json!({"ok": true, "entities": page, "next": next}),
            )
        },
    )
}
