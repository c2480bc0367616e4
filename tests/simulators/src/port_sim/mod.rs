//! A Port API simulator for tests and the local demo: an HTTP server on loopback with an
//! in-memory catalog that checks requests the way Port does (`ARCHITECTURE.md`, "What the integration relies on from Port"), records
//! `$datasource` from the User-Agent, and injects faults on demand. Tests drive it and read its
//! state through [`PortSim`]; it must answer errors, never panic, on bad requests. It also takes
//! the integration's log lines: its integration records carry `logAttributes.ingestUrl` pointing
//! at its own ingest (`POST /_ingest/{id}/logs`, not a Port API route), unless told not to.

mod admin_routes;
mod catalog;
mod entity_routes;
pub mod harness;
mod log_routes;
mod query;
mod routes;
mod search_routes;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

pub use admin_routes::BLUEPRINT_REQUIRED_FIELDS;
pub use catalog::{Blueprint, CatalogEntity, MAX_IDENTIFIER_CHARS, check_identifier};
pub use routes::ROUTES;

/// The client id and secret the simulator accepts unless told otherwise.
pub const CLIENT_ID: &str = "sim-client-id";
pub const CLIENT_SECRET: &str = "sim-client-secret";
/// Port's body limit.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The endpoints the simulator serves, for counters and fault targeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    AccessToken,
    Upsert,
    BulkUpsert,
    Delete,
    BulkDelete,
    Search,
    BlueprintSearch,
    DatasourceEntities,
    GetIntegration,
    CreateIntegration,
    PatchIntegration,
    ResyncState,
    /// `GET /v1/integration/{id}/resync-request`: the last press of Port's "Resync" button.
    ResyncRequest,
    Examples,
    GetBlueprint,
    CreateBlueprint,
    PatchBlueprint,
    /// The simulator's own log ingest (the URL its integration records give as
    /// `logAttributes.ingestUrl`; not a Port API route).
    LogIngest,
}

/// A failure the simulator answers instead of doing the work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `retry-after: <seconds>`.
    RateLimited { retry_after_secs: u64 },
    /// 429 with `x-ratelimit-reset: <seconds>` and no `retry-after`.
    RateLimitReset { reset_secs: u64 },
    /// 502 from "a proxy", with an HTML body.
    BadGateway,
    /// 503.
    Unavailable,
    /// 413, as if the body were too large.
    PayloadTooLarge,
    /// 401, as if the token had been revoked.
    Unauthorized,
    /// 403, as if the credentials' role lacked the permission.
    Forbidden,
    /// 500.
    Internal,
}

/// One request as the simulator saw it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub endpoint: Endpoint,
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub user_agent: Option<String>,
    pub body_bytes: usize,
    /// The JSON body, when it parsed.
    pub body: Option<Value>,
    /// When it arrived.
    pub at: Instant,
}

/// A PATCH of the resync state.
#[derive(Debug, Clone, PartialEq)]
pub struct ResyncStateUpdate {
    pub integration: String,
    pub body: Value,
}

/// Raw data examples sent for a kind.
#[derive(Debug, Clone, PartialEq)]
pub struct ExampleUpload {
    pub integration: String,
    pub kind: String,
    pub examples: Vec<Value>,
}

struct FaultRule {
    endpoint: Option<Endpoint>,
    fault: Fault,
    remaining: u32,
}

/// Everything the simulator holds, behind one lock (never held across an await).
pub(crate) struct SimState {
    pub catalog: catalog::Catalog,
    pub client_id: String,
    pub client_secret: String,
    pub token_lifetime: Duration,
    pub tokens: HashMap<String, Instant>,
    pub issued: u64,
    pub integrations: HashMap<String, Value>,
    pub resync_states: Vec<ResyncStateUpdate>,
    /// The last resync request per integration (Port's "Resync" button), as the route answers it.
    pub resync_requests: HashMap<String, Value>,
    pub examples: Vec<ExampleUpload>,
    pub protected: Vec<(String, String)>,
    faults: VecDeque<FaultRule>,
    /// Requests answered with an injected fault so far.
    faults_served: u64,
    /// Delays before the next requests (any but the token one) are served.
    pub stalls: VecDeque<Duration>,
    pub counters: HashMap<Endpoint, u64>,
    pub requests: Vec<RecordedRequest>,
    /// `http://127.0.0.1:<port>`, for the URLs the simulator hands out.
    pub base_url: String,
    /// Whether integration records carry `logAttributes.ingestUrl`.
    pub log_attributes: bool,
    /// The largest body the log ingest takes (413 above).
    pub log_ingest_limit: usize,
    /// The log lines the ingest received, in order.
    pub logs: Vec<Value>,
}

impl SimState {
    /// Takes the first fault rule that applies to `endpoint`, if any.
    pub fn next_fault(&mut self, endpoint: Endpoint) -> Option<Fault> {
        let position = self.faults.iter().position(|rule| match rule.endpoint {
            Some(target) => target == endpoint,
            None => endpoint != Endpoint::AccessToken,
        })?;
        let rule = self.faults.get_mut(position)?;
        let fault = rule.fault.clone();
        self.faults_served += 1;
        rule.remaining = rule.remaining.saturating_sub(1);
        if rule.remaining == 0 {
            self.faults.remove(position);
        }
        Some(fault)
    }
}

/// A running simulator. Dropping it stops the server.
pub struct PortSim {
    base_url: String,
    state: Arc<Mutex<SimState>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for PortSim {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl PortSim {
    /// Starts a simulator on `127.0.0.1:<free port>` knowing `blueprints`.
    pub async fn start(blueprints: Vec<Blueprint>) -> anyhow::Result<PortSim> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let base_url = format!("http://{address}");
        let state = SimState {
            catalog: catalog::Catalog {
                blueprints: blueprints
                    .into_iter()
                    .map(|bp| (bp.identifier.clone(), bp))
                    .collect(),
                entities: Default::default(),
            },
            client_id: CLIENT_ID.to_owned(),
            client_secret: CLIENT_SECRET.to_owned(),
            token_lifetime: Duration::from_secs(3 * 3600),
            tokens: HashMap::new(),
            issued: 0,
            integrations: HashMap::new(),
            resync_states: Vec::new(),
            resync_requests: HashMap::new(),
            examples: Vec::new(),
            protected: Vec::new(),
            faults: VecDeque::new(),
            faults_served: 0,
            stalls: VecDeque::new(),
            counters: HashMap::new(),
            requests: Vec::new(),
            base_url: base_url.clone(),
            log_attributes: true,
            log_ingest_limit: MAX_BODY_BYTES,
            logs: Vec::new(),
        };
        let state = Arc::new(Mutex::new(state));
        let app = routes::router(Arc::clone(&state));
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("port simulator stopped: {error}");
            }
        });
        Ok(PortSim {
            base_url,
            state,
            server,
        })
    }

    /// Starts a simulator knowing the blueprints of a Port blueprints JSON file (an array).
    pub async fn start_with_blueprints_file(path: &std::path::Path) -> anyhow::Result<PortSim> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read blueprints {}: {e}", path.display()))?;
        let json: Value = serde_json::from_str(&text)?;
        let blueprints = json
            .as_array()
            .map(|items| items.iter().filter_map(Blueprint::from_port_json).collect())
            .unwrap_or_default();
        PortSim::start(blueprints).await
    }

    /// Starts a simulator as a fresh Port organization is: Port's own `_user` and `_team`
    /// blueprints, no integration, no entities.
    pub async fn start_fresh() -> anyhow::Result<PortSim> {
        PortSim::start(Blueprint::system()).await
    }

    /// The base URL to give the client (no `/v1`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn add_blueprint(&self, blueprint: Blueprint) {
        self.lock()
            .catalog
            .blueprints
            .insert(blueprint.identifier.clone(), blueprint);
    }

    /// Accept these credentials instead of [`CLIENT_ID`] / [`CLIENT_SECRET`].
    pub fn set_credentials(&self, client_id: &str, client_secret: &str) {
        let mut state = self.lock();
        state.client_id = client_id.to_owned();
        state.client_secret = client_secret.to_owned();
    }

    /// The `expiresIn` of tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.lock().token_lifetime = lifetime;
    }

    /// Revokes every issued token: the next call with one gets 401.
    pub fn expire_tokens(&self) {
        self.lock().tokens.clear();
    }

    /// The next `times` requests to `endpoint` (any endpoint but the token one when `None`) fail with `fault`.
    pub fn fail_next(&self, endpoint: Option<Endpoint>, fault: Fault, times: u32) {
        if times > 0 {
            self.lock().faults.push_back(FaultRule {
                endpoint,
                fault,
                remaining: times,
            });
        }
    }

    /// Drops every pending fault: the simulator answers normally again.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// The next `times` requests (any but the token one) are held for `delay` before they are
    /// served, so a client with a shorter timeout gives up on them.
    pub fn stall_next(&self, delay: Duration, times: u32) {
        let mut state = self.lock();
        for _ in 0..times {
            state.stalls.push_back(delay);
        }
    }

    /// Bulk deletes will leave this entity in place and not list it as deleted.
    pub fn protect_from_bulk_delete(&self, blueprint: &str, identifier: &str) {
        self.lock()
            .protected
            .push((blueprint.to_owned(), identifier.to_owned()));
    }

    /// Requests answered with an injected fault so far.
    pub fn faults_served(&self) -> u64 {
        self.lock().faults_served
    }

    /// Stores an entity directly, as written by the integration whose User-Agent is `datasource`.
    pub fn seed_entity(
        &self,
        blueprint: &str,
        entity: Value,
        datasource: Option<&str>,
    ) -> anyhow::Result<()> {
        let mut state = self.lock();
        state
            .catalog
            .blueprints
            .entry(blueprint.to_owned())
            .or_insert_with(|| Blueprint::bare(blueprint));
        let flags = catalog::WriteFlags {
            merge: false,
            create_missing_related_entities: true,
        };
        state
            .catalog
            .upsert(blueprint, &entity, flags, datasource)
            .map(|_| ())
            .map_err(|r| anyhow::anyhow!("seed rejected: {} {}", r.code, r.message))
    }

    /// Sets the integration record `GET /v1/integration/{id}` answers with.
    pub fn set_integration_config(&self, integration: &str, config: Value) {
        let record = serde_json::json!({
            "identifier": integration,
            "installationType": "OnPrem",
            "config": config,
        });
        self.lock()
            .integrations
            .insert(integration.to_owned(), record);
    }

    /// Presses the integration's "Resync" button in Port: `GET .../resync-request` then answers
    /// a request with `updatedAt` = `at` (the simulator's own now when `None`). Fails when the
    /// integration does not exist, as Port has no button for it then.
    pub fn press_resync(
        &self,
        integration: &str,
        at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> anyhow::Result<()> {
        let mut state = self.lock();
        if !state.integrations.contains_key(integration) {
            anyhow::bail!("no integration {integration:?} in the simulator: no button to press");
        }
        let at = at.unwrap_or_else(chrono::Utc::now);
        let request = serde_json::json!({
            "updatedAt": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "updatedBy": "sim-user",
        });
        state
            .resync_requests
            .insert(integration.to_owned(), request);
        Ok(())
    }

    /// Whether integration records carry `logAttributes.ingestUrl` (pointing at this
    /// simulator's log ingest, [`Self::log_ingest_url`]); on by default. Off, they have no
    /// `logAttributes`, as in a Port account without the integration log.
    pub fn set_log_attributes(&self, on: bool) {
        self.lock().log_attributes = on;
    }

    /// The ingest URL the records of `integration` give (`POST` takes `{"logs": [...]}`).
    pub fn log_ingest_url(&self, integration: &str) -> String {
        log_routes::log_ingest_url(&self.base_url, integration)
    }

    /// The largest body the log ingest accepts (413 above); 1 MiB unless told.
    pub fn set_log_ingest_limit(&self, bytes: usize) {
        self.lock().log_ingest_limit = bytes;
    }

    /// Every log line the ingest accepted, in order (`{"level", "message", "timestamp",
    /// "extra", "integration"}`: the last is the ingest path's, added by the simulator).
    pub fn received_logs(&self) -> Vec<Value> {
        self.lock().logs.clone()
    }

    /// The integration record `GET /v1/integration/{id}` answers with, if it exists.
    pub fn integration(&self, integration: &str) -> Option<Value> {
        self.lock().integrations.get(integration).cloned()
    }

    /// A blueprint as `GET /v1/blueprints/{id}` returns it, if it exists.
    pub fn blueprint(&self, identifier: &str) -> Option<Value> {
        self.lock()
            .catalog
            .blueprints
            .get(identifier)
            .map(|b| b.definition.clone())
    }

    /// The identifiers of every blueprint, sorted.
    pub fn blueprint_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.lock().catalog.blueprints.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Every stored entity, ordered by blueprint then identifier.
    pub fn catalog(&self) -> Vec<CatalogEntity> {
        self.lock().catalog.entities.values().cloned().collect()
    }

    /// How many entities are stored.
    pub fn entity_count(&self) -> usize {
        self.lock().catalog.entities.len()
    }

    pub fn entities_of(&self, blueprint: &str) -> Vec<CatalogEntity> {
        self.lock()
            .catalog
            .entities
            .values()
            .filter(|e| e.blueprint == blueprint)
            .cloned()
            .collect()
    }

    pub fn entity(&self, blueprint: &str, identifier: &str) -> Option<CatalogEntity> {
        self.lock()
            .catalog
            .entities
            .get(&(blueprint.to_owned(), identifier.to_owned()))
            .cloned()
    }

    pub fn resync_states(&self) -> Vec<ResyncStateUpdate> {
        self.lock().resync_states.clone()
    }

    pub fn examples(&self) -> Vec<ExampleUpload> {
        self.lock().examples.clone()
    }

    /// How many requests reached `endpoint`, faulted ones included.
    pub fn count(&self, endpoint: Endpoint) -> u64 {
        self.lock().counters.get(&endpoint).copied().unwrap_or(0)
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// Takes the requests recorded so far, leaving none (the counters stay): a long benchmark
    /// calls it now and then so the record does not grow with every entity sent.
    pub fn take_requests(&self) -> Vec<RecordedRequest> {
        std::mem::take(&mut self.lock().requests)
    }

    /// The requests to one endpoint, in order.
    pub fn requests_to(&self, endpoint: Endpoint) -> Vec<RecordedRequest> {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.endpoint == endpoint)
            .cloned()
            .collect()
    }
}
