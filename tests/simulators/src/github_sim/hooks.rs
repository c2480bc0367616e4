//! The simulator's organization webhooks: mutable hooks (list, create, get, patch, delete, with
//! GitHub's validation and the secret shown as `********`), a per-hook deliveries log that tests
//! seed, redelivery requests (recorded, answered 202, logged as a new delivery), and a switch that
//! makes the hooks API answer 403 or 404 as it does without the "Webhooks" permission.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::routes::Answer;
use super::server::lock;

/// One hooks endpoint, as routed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum HookCall {
    List,
    Create,
    Get(u64),
    Patch(u64),
    Delete(u64),
    Deliveries(u64),
    Redeliver { hook: u64, delivery: u64 },
}

/// How the hooks API answers the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HooksAccess {
    #[default]
    Granted,
    /// 403 "Resource not accessible by integration" (an App without the permission).
    Forbidden,
    /// 404 (a token whose owner is not an organization owner).
    NotFound,
}

/// A hook as the simulator holds it; `secret` is what the API never shows.
#[derive(Debug, Clone, PartialEq)]
pub struct SimHook {
    pub id: u64,
    pub active: bool,
    pub events: Vec<String>,
    pub url: String,
    pub content_type: String,
    pub insecure_ssl: String,
    pub secret: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// One delivery in a hook's log.
#[derive(Debug, Clone, PartialEq)]
pub struct SimDelivery {
    pub guid: String,
    pub status_code: u16,
    pub delivered_at: DateTime<Utc>,
    pub redelivery: bool,
    pub event: String,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    hooks: BTreeMap<u64, SimHook>,
    /// Per hook, (delivery id, delivery).
    deliveries: BTreeMap<u64, Vec<(u64, SimDelivery)>>,
    redeliveries: Vec<(u64, u64)>,
    access: HooksAccess,
    redelivery_status: Option<u16>,
}

#[derive(Debug, Default)]
pub(crate) struct HookStore {
    inner: Mutex<Inner>,
}

fn invalid(text: &str) -> Answer {
    Answer::Status(
        422,
        json!({"message": "Validation Failed", "errors": [{"resource": "Hook", "code": "custom", "message": text}]}),
    )
}

impl HookStore {
    pub(crate) fn set_access(&self, access: HooksAccess) {
        lock(&self.inner).access = access;
    }

    pub(crate) fn set_redelivery_status(&self, status: u16) {
        lock(&self.inner).redelivery_status = Some(status);
    }

    pub(crate) fn insert(&self, mut hook: SimHook) -> u64 {
        let mut inner = lock(&self.inner);
        inner.next_id += 1;
        hook.id = 1_000 + inner.next_id;
        let id = hook.id;
        inner.hooks.insert(id, hook);
        id
    }

    pub(crate) fn hooks(&self) -> Vec<SimHook> {
        lock(&self.inner).hooks.values().cloned().collect()
    }

    pub(crate) fn add_delivery(&self, hook: u64, delivery: SimDelivery) -> u64 {
        let mut inner = lock(&self.inner);
        inner.next_id += 1;
        let id = 900_000 + inner.next_id;
        inner
            .deliveries
            .entry(hook)
            .or_default()
            .push((id, delivery));
        id
    }

    pub(crate) fn redeliveries(&self) -> Vec<(u64, u64)> {
        lock(&self.inner).redeliveries.clone()
    }

    pub(crate) fn deliveries(&self, hook: u64) -> Vec<(u64, SimDelivery)> {
        lock(&self.inner)
            .deliveries
            .get(&hook)
            .cloned()
            .unwrap_or_default()
    }

    /// Answers one call; `body` is the raw request body.
    pub(crate) fn apply(
        &self,
        call: HookCall,
        body: &[u8],
        base_url: &str,
        org: &str,
        now: DateTime<Utc>,
    ) -> Answer {
        let mut inner = lock(&self.inner);
        match inner.access {
            HooksAccess::Granted => {}
            HooksAccess::Forbidden => {
                return Answer::Forbidden("Resource not accessible by integration");
            }
            HooksAccess::NotFound => return Answer::NotFound("Not Found"),
        }
        let parsed = if body.is_empty() {
            Value::Null
        } else {
            match serde_json::from_slice::<Value>(body) {
                Ok(value) => value,
                Err(_) => {
                    return Answer::Status(400, json!({"message": "Problems parsing JSON"}));
                }
            }
        };
        let view = |hook: &SimHook| hook_json(hook, base_url, org);
        match call {
            HookCall::List => Answer::List {
                items: inner.hooks.values().map(view).collect(),
                wrapper: None,
            },
            HookCall::Get(id) => match inner.hooks.get(&id) {
                Some(hook) => Answer::Object(view(hook)),
                None => Answer::NotFound("Not Found"),
            },
            HookCall::Create => {
                if parsed["name"] != "web" {
                    return invalid("Name must be \"web\" for an organization hook");
                }
                let mut hook = SimHook {
                    id: 0,
                    active: true,
                    events: vec!["push".to_owned()],
                    url: String::new(),
                    content_type: "form".to_owned(),
                    insecure_ssl: "0".to_owned(),
                    secret: None,
                    created_at: now,
                };
                if let Err(text) = update(&mut hook, &parsed, true) {
                    return invalid(&text);
                }
                inner.next_id += 1;
                hook.id = 1_000 + inner.next_id;
                let answer = Answer::Status(201, view(&hook));
                inner.hooks.insert(hook.id, hook);
                answer
            }
            HookCall::Patch(id) => {
                let Some(hook) = inner.hooks.get_mut(&id) else {
                    return Answer::NotFound("Not Found");
                };
                let mut changed = hook.clone();
                if let Err(text) = update(&mut changed, &parsed, false) {
                    return invalid(&text);
                }
                *hook = changed;
                Answer::Object(view(hook))
            }
            HookCall::Delete(id) => match inner.hooks.remove(&id) {
                Some(_) => Answer::Status(204, Value::Null),
                None => Answer::NotFound("Not Found"),
            },
            HookCall::Deliveries(id) => {
                if !inner.hooks.contains_key(&id) {
                    return Answer::NotFound("Not Found");
                }
                let mut items: Vec<(u64, SimDelivery)> =
                    inner.deliveries.get(&id).cloned().unwrap_or_default();
                items.sort_by_key(|(delivery_id, d)| {
                    std::cmp::Reverse((d.delivered_at, *delivery_id))
                });
                Answer::List {
                    items: items
                        .iter()
                        .map(|(delivery_id, d)| delivery_json(*delivery_id, d))
                        .collect(),
                    wrapper: None,
                }
            }
            HookCall::Redeliver { hook, delivery } => {
                let found = inner
                    .deliveries
                    .get(&hook)
                    .and_then(|log| log.iter().find(|(id, _)| *id == delivery))
                    .map(|(_, d)| d.clone());
                let Some(original) = found else {
                    return Answer::NotFound("Not Found");
                };
                inner.redeliveries.push((hook, delivery));
                let status = inner.redelivery_status.unwrap_or(200);
                inner.next_id += 1;
                let id = 900_000 + inner.next_id;
                inner.deliveries.entry(hook).or_default().push((
                    id,
                    SimDelivery {
                        guid: original.guid,
                        status_code: status,
                        delivered_at: now,
                        redelivery: true,
                        event: original.event,
                    },
                ));
                Answer::Status(202, json!({}))
            }
        }
    }
}

/// Applies a create or update body the way GitHub does: `config` replaces the whole config, so
/// a `config` without `secret` removes the secret.
fn update(hook: &mut SimHook, body: &Value, creating: bool) -> Result<(), String> {
    if !body.is_object() {
        return Err("Body must be an object".to_owned());
    }
    if let Some(active) = body.get("active") {
        hook.active = active.as_bool().ok_or("active must be a boolean")?;
    }
    if let Some(events) = body.get("events") {
        let list = events.as_array().ok_or("events must be an array")?;
        let mut names = Vec::new();
        for event in list {
            let name = event.as_str().filter(|n| !n.is_empty());
            names.push(name.ok_or("events must be non-empty strings")?.to_owned());
        }
        names.sort();
        names.dedup();
        hook.events = names;
    }
    match body.get("config") {
        Some(config) => {
            let url = config
                .get("url")
                .and_then(Value::as_str)
                .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
                .ok_or("config.url is required and must be an http(s) URL")?;
            hook.url = url.to_owned();
            hook.content_type = match config.get("content_type").and_then(Value::as_str) {
                None => "form".to_owned(),
                Some(kind @ ("json" | "form")) => kind.to_owned(),
                Some(_) => return Err("config.content_type must be json or form".to_owned()),
            };
            hook.insecure_ssl = match config.get("insecure_ssl") {
                None => "0".to_owned(),
                Some(Value::String(text)) => text.clone(),
                Some(Value::Number(number)) => number.to_string(),
                Some(_) => return Err("config.insecure_ssl must be a string".to_owned()),
            };
            hook.secret = config
                .get("secret")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
        }
        None if creating => return Err("config.url is required".to_owned()),
        None => {}
    }
    Ok(())
}

fn hook_json(hook: &SimHook, base_url: &str, org: &str) -> Value {
    let mut config = json!({
        "url": hook.url,
        "content_type": hook.content_type,
        "insecure_ssl": hook.insecure_ssl,
    });
    if hook.secret.is_some() {
        config["secret"] = json!("********");
    }
    let at = hook.created_at.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    json!({
        "type": "Organization",
        "id": hook.id,
        "name": "web",
        "active": hook.active,
        "events": hook.events,
        "config": config,
        "updated_at": at,
        "created_at": at,
        "url": format!("{base_url}/orgs/{org}/hooks/{}", hook.id),
        "ping_url": format!("{base_url}/orgs/{org}/hooks/{}/pings", hook.id),
        "deliveries_url": format!("{base_url}/orgs/{org}/hooks/{}/deliveries", hook.id),
    })
}

fn delivery_json(id: u64, delivery: &SimDelivery) -> Value {
    let ok = (200..300).contains(&delivery.status_code);
    json!({
        "id": id,
        "guid": delivery.guid,
        "delivered_at": delivery.delivered_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "redelivery": delivery.redelivery,
        "duration": 0.3,
        "status": if ok { "OK".to_owned() } else { format!("Invalid HTTP Response: {}", delivery.status_code) },
        "status_code": delivery.status_code,
        "event": delivery.event,
        "action": null,
        "installation_id": null,
        "repository_id": null,
        "url": "",
        "throttled_at": null,
    })
}
