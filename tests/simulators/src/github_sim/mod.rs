//! A GitHub REST API simulator for tests, the local demo and benchmarks: a deterministic
//! synthetic organization ([`OrgSpec`]) served over HTTP with GitHub's shapes, `Link` pagination,
//! ETags and 304s, an hourly rate-limit budget, the App endpoints (JWTs checked against the App's
//! public key, expiring installation tokens), switchable faults, and per-endpoint counters.

mod harness;
mod hooks;
mod org;
pub mod permissions;
mod routes;
mod server;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use chrono::TimeDelta;
use port_github_core::github::Clock;

pub use harness::SimHarness;
pub use hooks::{HooksAccess, SimDelivery, SimHook};
use org::OrgData;
pub use org::OrgSpec;
use server::{SimState, Window, handle, lock};

/// The throwaway test App key pair (see `tests/fixtures/README.md`).
pub const TEST_APP_PRIVATE_KEY: &str = include_str!("../../../fixtures/test-app-key.pem");
/// The public half, which the simulator verifies App JWTs with.
pub const TEST_APP_PUBLIC_KEY: &str = include_str!("../../../fixtures/test-app-key.pub.pem");
/// Another throwaway key, for "signed with the wrong key" tests and key rotations.
pub const TEST_OTHER_PRIVATE_KEY: &str = include_str!("../../../fixtures/test-other-key.pem");
/// Its public half ([`GitHubSim::rotate_app_key`]).
pub const TEST_OTHER_PUBLIC_KEY: &str = include_str!("../../../fixtures/test-other-key.pub.pem");

/// How the simulator is set up.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub spec: OrgSpec,
    /// The App ID (or client ID) expected as the JWT `iss`.
    pub app_id: String,
    pub public_key_pem: String,
    pub installation_id: u64,
    /// A personal token accepted on every endpoint, when set.
    pub personal_token: Option<String>,
    /// Requests per hour per identity.
    pub hourly_limit: u64,
    /// Lifetime of an installation token.
    pub token_ttl: Duration,
    /// A path the API lives under, like GitHub Enterprise Server's `/api/v3` (empty: the root).
    pub path_prefix: String,
    /// What the App installation is granted (permission key → `read`/`write`/`admin`); its
    /// tokens are refused, 403, on endpoints whose permission is missing.
    pub permissions: BTreeMap<String, String>,
    /// The webhook events the App installation subscribes to (its `events`).
    pub events: Vec<String>,
    /// `x-oauth-scopes` on every answer to the personal token, as GitHub sends it for a classic
    /// token; `None` for a fine-grained token, whose answers carry no scopes.
    pub personal_token_scopes: Option<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            spec: OrgSpec::default(),
            app_id: "4242".to_owned(),
            public_key_pem: TEST_APP_PUBLIC_KEY.to_owned(),
            installation_id: 77,
            personal_token: Some("ghp_simulated_personal_token".to_owned()),
            hourly_limit: 5_000,
            token_ttl: Duration::from_secs(3_600),
            path_prefix: String::new(),
            permissions: permissions::all_granted(),
            events: crate::fixtures::handled_events_from_spec()
                .into_iter()
                .map(|(event, _)| event)
                .collect(),
            personal_token_scopes: Some("admin:org_hook, read:org, repo".to_owned()),
        }
    }
}

/// Faults the simulator injects; change them while it runs with [`GitHubSim::faults`].
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Real delay added to every answer.
    pub latency: Duration,
    /// The next N requests answer 502.
    pub bad_gateway_next: u32,
    /// The next N requests answer `status_of_next` (any status, e.g. 422 or 503).
    pub status_next: u32,
    pub status_of_next: u16,
    /// The next N requests hit a secondary rate limit (403).
    pub secondary_next: u32,
    /// `retry-after` seconds sent with a secondary limit (none: GitHub's message only).
    pub secondary_retry_after: Option<u64>,
    /// Installation tokens answer 401 until they are this old.
    pub unauthorized_after_mint: Duration,
}

/// Requests seen for one endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointCount {
    pub total: u64,
    pub not_modified: u64,
}

/// A running simulator. Dropping it stops the server.
#[derive(Debug)]
pub struct GitHubSim {
    state: Arc<SimState>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for GitHubSim {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl GitHubSim {
    /// Starts a simulator on `127.0.0.1:0`, on `clock` (share it with the client under test).
    pub async fn start(config: SimConfig, clock: Arc<dyn Clock>) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let origin = format!("http://{}", listener.local_addr()?);
        let base_url = format!("{origin}{}", config.path_prefix.trim_end_matches('/'));
        let accepted = server::Accepted {
            public_key_pem: config.public_key_pem.clone(),
            personal_token: config.personal_token.clone(),
        };
        let state = Arc::new(SimState {
            data: OrgData::new(config.spec.clone()),
            permissions: Mutex::new(config.permissions.clone()),
            events: Mutex::new(config.events.clone()),
            hooks: hooks::HookStore::default(),
            config,
            clock,
            base_url,
            origin,
            accepted: Mutex::new(accepted),
            faults: Mutex::new(Faults::default()),
            counts: Mutex::new(BTreeMap::new()),
            tokens: Mutex::new(HashMap::new()),
            windows: Mutex::new(HashMap::new()),
            generations: Mutex::new(HashMap::new()),
            removed: Mutex::new(std::collections::HashSet::new()),
            lowest_remaining: AtomicU64::new(u64::MAX),
            minted: AtomicU64::new(0),
            missing_version_header: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
            spent: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
        });
        let app = Router::new().fallback(handle).with_state(state.clone());
        let server = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                eprintln!("GitHub simulator stopped: {err}");
            }
        });
        Ok(Self { state, server })
    }

    /// The REST base URL (`GITHUB_API_URL`).
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// The organization's login.
    pub fn org(&self) -> &str {
        &self.state.data.spec.org
    }

    /// The installation id the simulator knows.
    pub fn installation_id(&self) -> u64 {
        self.state.config.installation_id
    }

    /// The App ID expected in JWTs.
    pub fn app_id(&self) -> &str {
        &self.state.config.app_id
    }

    /// The personal token the simulator was started with (accepted until
    /// [`Self::rotate_personal_token`]).
    pub fn personal_token(&self) -> Option<&str> {
        self.state.config.personal_token.as_deref()
    }

    /// The App's key was rotated: JWTs are verified with `public_key_pem` from now on, and those
    /// signed with the old key answer 401 (installation tokens already minted stay valid until
    /// they expire, as on GitHub; [`Self::expire_tokens`] ends them).
    pub fn rotate_app_key(&self, public_key_pem: &str) {
        lock(&self.state.accepted).public_key_pem = public_key_pem.to_owned();
    }

    /// The personal token was replaced: only `token` is accepted from now on.
    pub fn rotate_personal_token(&self, token: &str) {
        lock(&self.state.accepted).personal_token = Some(token.to_owned());
    }

    /// Changes the faults while running.
    pub fn faults(&self, change: impl FnOnce(&mut Faults)) {
        change(&mut lock(&self.state.faults));
    }

    /// Spends the whole hourly budget of every identity (until its window resets).
    pub fn exhaust_primary(&self) {
        let now = self.state.clock.now();
        let limit = self.state.config.hourly_limit;
        let mut windows = lock(&self.state.windows);
        for key in ["installation", "personal"] {
            let window = windows.entry(key.to_owned()).or_insert(Window {
                used: 0,
                reset: now + TimeDelta::hours(1),
            });
            window.used = limit;
        }
    }

    /// Makes every installation token minted so far expire now.
    pub fn expire_tokens(&self) {
        let now = self.state.clock.now();
        for token in lock(&self.state.tokens).values_mut() {
            token.expires_at = now;
        }
    }

    /// Changes repository `index` (new `updated_at`, so new ETags for its object and lists).
    pub fn touch_repo(&self, index: usize) {
        *lock(&self.state.generations).entry(index).or_insert(0) += 1;
    }

    /// The lowest primary budget any counted request left (`u64::MAX` before any).
    pub fn lowest_remaining(&self) -> u64 {
        self.state.lowest_remaining.load(Ordering::Relaxed)
    }

    /// Deletes repository `index`: it leaves the lists, and its endpoints answer 404.
    pub fn remove_repo(&self, index: usize) {
        lock(&self.state.removed).insert(index);
    }

    /// Brings repository `index` back after [`GitHubSim::remove_repo`] (or makes one hidden from
    /// the start appear): it is listed and served again.
    pub fn restore_repo(&self, index: usize) {
        lock(&self.state.removed).remove(&index);
    }

    /// The name of repository `index`.
    pub fn repo_name(&self, index: usize) -> String {
        self.state.data.repo_name(index)
    }

    /// Installation tokens minted so far.
    pub fn tokens_minted(&self) -> u64 {
        self.state.minted.load(Ordering::Relaxed)
    }

    /// The most requests the simulator has had in flight at once.
    pub fn max_in_flight(&self) -> u64 {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }

    /// Requests that spent the hourly budget so far: the rate-limit cost (304s, App JWT calls
    /// and requests refused for the limit cost nothing). Not reset by [`Self::reset_counts`].
    pub fn spent(&self) -> u64 {
        self.state.spent.load(Ordering::Relaxed)
    }

    /// Requests refused so far because the hourly budget was spent (403, counted in
    /// [`Self::total`] too).
    pub fn rate_limited(&self) -> u64 {
        self.state.rate_limited.load(Ordering::Relaxed)
    }

    /// Requests that came without `X-GitHub-Api-Version`.
    pub fn missing_version_header(&self) -> u64 {
        self.state.missing_version_header.load(Ordering::Relaxed)
    }

    /// Requests per endpoint template (e.g. `GET /repos/{o}/{r}/pulls`).
    pub fn counts(&self) -> BTreeMap<String, EndpointCount> {
        lock(&self.state.counts).clone()
    }

    /// Requests to one endpoint template.
    pub fn count(&self, endpoint: &str) -> EndpointCount {
        lock(&self.state.counts)
            .get(endpoint)
            .copied()
            .unwrap_or_default()
    }

    /// Requests to every endpoint.
    pub fn total(&self) -> EndpointCount {
        lock(&self.state.counts)
            .values()
            .fold(EndpointCount::default(), |sum, count| EndpointCount {
                total: sum.total + count.total,
                not_modified: sum.not_modified + count.not_modified,
            })
    }

    /// Forgets the counters.
    pub fn reset_counts(&self) {
        lock(&self.state.counts).clear();
    }

    /// The organization's hooks as stored (secrets included, for assertions).
    pub fn hooks(&self) -> Vec<SimHook> {
        self.state.hooks.hooks()
    }

    /// Adds a hook as if someone had made it; its `id` is assigned and returned.
    pub fn add_hook(&self, hook: SimHook) -> u64 {
        self.state.hooks.insert(hook)
    }

    /// Changes what the App installation is granted (as an organization owner would), from the
    /// next request on.
    pub fn set_permissions(&self, permissions: BTreeMap<String, String>) {
        *lock(&self.state.permissions) = permissions;
    }

    /// Changes the webhook events the App installation subscribes to, from the next request on.
    pub fn set_events(&self, events: &[&str]) {
        *lock(&self.state.events) = events.iter().map(|e| (*e).to_owned()).collect();
    }

    /// Takes one permission away from the App installation.
    pub fn revoke_permission(&self, key: &str) {
        lock(&self.state.permissions).remove(key);
    }

    /// Makes the hooks API answer as with or without the "Webhooks" permission.
    pub fn set_hooks_access(&self, access: HooksAccess) {
        self.state.hooks.set_access(access);
    }

    /// Seeds a delivery in a hook's log; returns its delivery id.
    pub fn add_delivery(&self, hook_id: u64, delivery: SimDelivery) -> u64 {
        self.state.hooks.add_delivery(hook_id, delivery)
    }

    /// A hook's delivery log (delivery id, delivery), in insertion order.
    pub fn deliveries(&self, hook_id: u64) -> Vec<(u64, SimDelivery)> {
        self.state.hooks.deliveries(hook_id)
    }

    /// Redelivery requests received, as (hook id, delivery id).
    pub fn redeliveries(&self) -> Vec<(u64, u64)> {
        self.state.hooks.redeliveries()
    }

    /// The status code logged for redeliveries from now on (default 200).
    pub fn set_redelivery_status(&self, status: u16) {
        self.state.hooks.set_redelivery_status(status);
    }

    /// The simulated organization's size.
    pub fn spec(&self) -> &OrgSpec {
        &self.state.data.spec
    }
}
