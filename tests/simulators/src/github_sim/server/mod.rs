//! The simulator's HTTP side: the one handler every request goes through (authentication,
//! injected faults, the hourly budget, paging, ETags and 304s, counters) and the state it keeps.
//! The credential checks are in `auth`, the budget and counters in `budget`, the wire details
//! (query parsing, replies, `Link` headers) in `wire`.

mod auth;
mod budget;
pub(super) mod wire;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use port_github_core::github::Clock;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::hooks::HookStore;
use super::org::OrgData;
use super::routes::{Answer, Needs, Request, route};
use super::{EndpointCount, Faults, SimConfig};
use wire::{bearer, message, parse_query, percent_decode, reply};

#[derive(Debug, Clone)]
pub(crate) struct TokenInfo {
    pub(crate) minted_at: DateTime<Utc>,
    pub(crate) expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) used: u64,
    pub(crate) reset: DateTime<Utc>,
}

/// The credentials the simulator accepts now (they rotate while it runs).
#[derive(Debug)]
pub(crate) struct Accepted {
    pub(crate) public_key_pem: String,
    pub(crate) personal_token: Option<String>,
}

#[derive(Debug)]
pub(crate) struct SimState {
    pub(crate) data: OrgData,
    /// What the App installation is granted now.
    pub(crate) permissions: Mutex<BTreeMap<String, String>>,
    /// The webhook events the App installation subscribes to now.
    pub(crate) events: Mutex<Vec<String>>,
    pub(crate) accepted: Mutex<Accepted>,
    pub(crate) hooks: HookStore,
    pub(crate) config: SimConfig,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) base_url: String,
    pub(crate) origin: String,
    pub(crate) faults: Mutex<Faults>,
    pub(crate) counts: Mutex<BTreeMap<String, EndpointCount>>,
    pub(crate) tokens: Mutex<HashMap<String, TokenInfo>>,
    pub(crate) windows: Mutex<HashMap<String, Window>>,
    pub(crate) generations: Mutex<HashMap<usize, u64>>,
    pub(crate) removed: Mutex<std::collections::HashSet<usize>>,
    /// The lowest primary budget left after a counted request (`u64::MAX` before any).
    pub(crate) lowest_remaining: AtomicU64,
    pub(crate) minted: AtomicU64,
    pub(crate) missing_version_header: AtomicU64,
    pub(crate) in_flight: AtomicU64,
    pub(crate) max_in_flight: AtomicU64,
    /// Requests that spent the hourly budget (304s, App JWT calls and refusals do not).
    pub(crate) spent: AtomicU64,
    /// Requests refused because the hourly budget was spent.
    pub(crate) rate_limited: AtomicU64,
}

/// Counts a request as in flight until dropped.
struct InFlight<'a>(&'a SimState);

impl<'a> InFlight<'a> {
    fn enter(state: &'a SimState) -> Self {
        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.max_in_flight.fetch_max(now, Ordering::SeqCst);
        Self(state)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) async fn handle(
    State(state): State<Arc<SimState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _in_flight = InFlight::enter(&state);
    let faults = lock(&state.faults).clone();
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    if !headers.contains_key("x-github-api-version") {
        state.missing_version_header.fetch_add(1, Ordering::Relaxed);
    }
    let query = parse_query(uri.query());
    let prefix = state.config.path_prefix.trim_end_matches('/');
    let Some(api_path) = uri.path().strip_prefix(prefix) else {
        state.count("unknown", false);
        return message(StatusCode::NOT_FOUND, "Not Found", Vec::new());
    };
    let segments: Vec<String> = api_path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let permissions = lock(&state.permissions).clone();
    let events = lock(&state.events).clone();
    let generations = lock(&state.generations).clone();
    let generation = move |repo: usize| generations.get(&repo).copied().unwrap_or(0);
    let removed = lock(&state.removed).clone();
    let request = Request {
        removed: &removed,
        method: method.as_str(),
        segments,
        query: &query,
        generation: &generation,
        installation_id: state.config.installation_id,
        app_id: &state.config.app_id,
        permissions: &permissions,
        events: &events,
    };
    let Some(routed) = route(&state.data, &request) else {
        state.count("unknown", false);
        return message(StatusCode::NOT_FOUND, "Not Found", Vec::new());
    };
    state.count(&routed.endpoint, false);

    // Authentication.
    let Some(credential) = bearer(&headers) else {
        return message(
            StatusCode::UNAUTHORIZED,
            "Requires authentication",
            Vec::new(),
        );
    };
    let identity = match routed.needs {
        Needs::AppJwt => {
            if !state.verify_jwt(credential) {
                return message(
                    StatusCode::UNAUTHORIZED,
                    "A JSON web token could not be decoded",
                    Vec::new(),
                );
            }
            "app"
        }
        Needs::Token => match state.check_token(credential) {
            Ok(identity) => identity,
            Err(reason) => return message(StatusCode::UNAUTHORIZED, reason, Vec::new()),
        },
    };

    // Injected faults.
    {
        let mut live = lock(&state.faults);
        if live.status_next > 0 {
            live.status_next -= 1;
            let status = StatusCode::from_u16(live.status_of_next)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return message(status, "Injected failure", Vec::new());
        }
        if live.bad_gateway_next > 0 {
            live.bad_gateway_next -= 1;
            return message(StatusCode::BAD_GATEWAY, "Server Error", Vec::new());
        }
        if live.secondary_next > 0 {
            live.secondary_next -= 1;
            let (_, mut limit_headers) = state.budget(identity, false);
            if let Some(seconds) = live.secondary_retry_after {
                limit_headers.push(("retry-after", seconds.to_string()));
            }
            return message(
                StatusCode::FORBIDDEN,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                limit_headers,
            );
        }
    }

    // Primary budget.
    let (remaining, _) = state.budget(identity, false);
    if remaining == 0 && identity != "app" {
        state.rate_limited.fetch_add(1, Ordering::Relaxed);
        let (_, limit_headers) = state.budget(identity, false);
        return message(
            StatusCode::FORBIDDEN,
            "API rate limit exceeded for installation.",
            limit_headers,
        );
    }

    // The installation's permissions (a personal token is not limited here); `/user` is a
    // user's own endpoint, which no installation token may read.
    if identity == "installation"
        && (!super::permissions::allows(&permissions, &routed.endpoint)
            || routed.endpoint == "GET /user")
    {
        let (_, limit_headers) = state.budget(identity, true);
        return message(
            StatusCode::FORBIDDEN,
            super::permissions::NOT_ACCESSIBLE,
            limit_headers,
        );
    }

    if let Some(_installation) = routed.mint_for {
        let body = state.mint();
        return reply(
            StatusCode::CREATED,
            Vec::new(),
            Some(body.to_string().into_bytes()),
        );
    }

    let answer = match routed.answer {
        Answer::Hooks(call) => state.hooks.apply(
            call,
            &body,
            &state.base_url,
            &state.data.spec.org,
            state.clock.now(),
        ),
        answer => answer,
    };
    let (status, body, link) = match answer {
        Answer::Object(object) => (StatusCode::OK, object, None),
        Answer::Status(code, object) => {
            let (_, limit_headers) = state.budget(identity, true);
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
            let bytes = (!object.is_null()).then(|| object.to_string().into_bytes());
            return reply(status, limit_headers, bytes);
        }
        Answer::Hooks(_) => {
            return message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "hooks call left unanswered",
                Vec::new(),
            );
        }
        Answer::NotFound(text) => {
            let (_, limit_headers) = state.budget(identity, true);
            return message(StatusCode::NOT_FOUND, text, limit_headers);
        }
        Answer::Forbidden(text) => {
            let (_, limit_headers) = state.budget(identity, true);
            return message(StatusCode::FORBIDDEN, text, limit_headers);
        }
        Answer::List { items, wrapper } => {
            let per_page = query
                .iter()
                .find(|(k, _)| k == "per_page")
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .unwrap_or(30)
                .clamp(1, 100);
            let page = query
                .iter()
                .find(|(k, _)| k == "page")
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .unwrap_or(1)
                .max(1);
            let total = items.len();
            let last = total.div_ceil(per_page).max(1);
            let slice: Vec<Value> = items
                .into_iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .collect();
            let body = match wrapper {
                Some(field) => json!({"total_count": total, field: slice}),
                None => Value::Array(slice),
            };
            (
                StatusCode::OK,
                body,
                state.link_header(&uri, &query, page, last),
            )
        }
    };
    let bytes = body.to_string().into_bytes();
    let mut digest = Sha256::new();
    digest.update(&bytes);
    digest.update(link.as_deref().unwrap_or("").as_bytes());
    let etag = format!("W/\"{}\"", hex::encode(&digest.finalize()[..16]));
    let matches = headers
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|sent| sent == etag);
    if matches {
        let mut counts = lock(&state.counts);
        if let Some(entry) = counts.get_mut(&routed.endpoint) {
            entry.not_modified += 1;
        }
        drop(counts);
        let (_, mut extra) = state.budget(identity, false);
        extra.push(("etag", etag));
        return reply(StatusCode::NOT_MODIFIED, extra, None);
    }
    let (_, mut extra) = state.budget(identity, identity != "app");
    extra.push(("etag", etag));
    if let Some(link) = link {
        extra.push(("link", link));
    }
    if let (Some(scopes), "personal") = (&state.config.personal_token_scopes, identity) {
        extra.push(("x-oauth-scopes", scopes.clone()));
    }
    reply(status, extra, Some(bytes))
}
