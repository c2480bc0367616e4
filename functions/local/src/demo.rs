//! `port-github demo`: the product working offline, in seconds. A simulated GitHub organization
//! and an embedded Port-compatible catalog; signed webhook deliveries go through the same code as
//! the Lambdas (webhook checks → FIFO queue → worker: re-fetch, map, upsert or delete). Prints
//! what changed and where the catalog is.

use std::sync::Arc;

use anyhow::Context as _;
use http::{HeaderMap, HeaderValue};
use port_github_core::github::{Feature, GitHubClient};
use port_github_core::live::{LiveProcessor, QueuedEvent, TokenClients, process_batch_reporting};
use port_github_core::mapping::defaults::{DEFAULT_BLUEPRINTS, DEFAULT_PORT_APP_CONFIG};
use port_github_core::mapping::{CompiledMapping, JqOptions, PortAppConfig};
use port_github_core::port::PortClient;
use port_github_core::queue::InMemoryEventQueue;
use port_github_core::webhook::{
    WebhookHandler, WebhookLimits, WebhookRequest, fixed_secrets, sign,
};
use port_github_tests::github_sim::{OrgSpec, SimHarness};
use port_github_tests::port_sim::harness::client_config;
use port_github_tests::port_sim::{Blueprint, PortSim};
use serde_json::{Value, json};

/// The demo's webhook secret: deliveries are signed and verified exactly as in AWS.
const DEMO_SECRET: &str = "demo-webhook-secret";

pub async fn run() -> anyhow::Result<()> {
    println!(
        "port-github demo: a simulated GitHub organization and an embedded Port catalog, offline\n"
    );
    let github = SimHarness::start(OrgSpec {
        repos: 4,
        ..OrgSpec::default()
    })
    .await
    .context("GitHub simulator")?;
    let client = github.pat_client(github.client_config())?;
    let blueprints: Value = serde_json::from_str(DEFAULT_BLUEPRINTS)?;
    let blueprints = blueprints
        .as_array()
        .map(|b| b.iter().filter_map(Blueprint::from_port_json).collect())
        .unwrap_or_default();
    let port = PortSim::start(blueprints)
        .await
        .context("embedded catalog")?;
    let mapping = CompiledMapping::compile(
        &PortAppConfig::from_yaml_or_json(DEFAULT_PORT_APP_CONFIG)?,
        &JqOptions::default(),
    )?;
    let processor = LiveProcessor::new(
        Arc::new(TokenClients(client.clone())),
        PortClient::new(client_config(port.base_url()))?,
        Arc::new(mapping),
    );
    let queue = Arc::new(InMemoryEventQueue::default());
    let limits = WebhookLimits {
        max_body_bytes: 25 << 20,
        max_message_bytes: 256 * 1024,
    };
    let webhook = WebhookHandler::new(fixed_secrets(DEMO_SECRET, None), queue.clone(), limits);

    println!(
        "GitHub: organization {} ({} repositories) at {}",
        github.sim.org(),
        4,
        github.sim.base_url()
    );
    println!("Port:   embedded catalog at {}", port.base_url());
    println!("(the full resync arrives with the resync function; this demo runs the live path)\n");

    let deliveries = deliveries(&client).await?;
    println!(
        "{:<34} {:>7}  {:>8} {:>7}",
        "delivery", "webhook", "upserted", "deleted"
    );
    for (i, (event, payload)) in deliveries.iter().enumerate() {
        let status = deliver(&webhook, event, &format!("demo-{i:03}"), payload).await;
        let mut upserted = 0;
        let mut deleted = 0;
        // The worker's own batch path, as Lambda would hand it the queued messages.
        let batch: Vec<QueuedEvent> = queue
            .drain(10)
            .into_iter()
            .enumerate()
            .map(|(n, message)| QueuedEvent {
                message_id: format!("demo-{i:03}-{n}"),
                group_id: Some(message.group_id),
                body: message.body,
            })
            .collect();
        let (failed, reports) = process_batch_reporting(&processor, &batch).await;
        anyhow::ensure!(failed.is_empty(), "the worker handed back {failed:?}");
        for (_, report) in &reports {
            upserted += report.upserted.len();
            deleted += report.deleted.len();
        }
        let label = format!("{event} {}", payload["action"].as_str().unwrap_or(""));
        println!(
            "{:<34} {:>7}  {:>8} {:>7}",
            label.trim(),
            status,
            upserted,
            deleted
        );
    }

    let catalog = port.catalog();
    let mut per_blueprint: std::collections::BTreeMap<&str, usize> =
        std::collections::BTreeMap::new();
    for entity in &catalog {
        *per_blueprint.entry(entity.blueprint.as_str()).or_default() += 1;
    }
    println!("\ncatalog: {} entities", catalog.len());
    for (blueprint, count) in &per_blueprint {
        println!("  {blueprint:<28} {count}");
    }
    let dir = std::env::temp_dir().join("port-github-demo");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("catalog.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&catalog)?)?;
    println!("\nthe catalog is in {}", path.display());
    Ok(())
}

async fn deliver(webhook: &WebhookHandler, event: &str, delivery: &str, payload: &Value) -> u16 {
    let body = serde_json::to_vec(payload).unwrap_or_default();
    let mut headers = HeaderMap::new();
    let pairs = [
        ("x-github-event", event.to_owned()),
        ("x-github-delivery", delivery.to_owned()),
        ("x-github-hook-id", "1".to_owned()),
        ("content-type", "application/json".to_owned()),
        ("x-hub-signature-256", sign(DEMO_SECRET, &body)),
    ];
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    webhook
        .handle(WebhookRequest {
            method: "POST",
            headers: &headers,
            body: &body,
        })
        .await
        .status
}

/// A realistic afternoon in the simulated organization, as GitHub would deliver it.
async fn deliveries(client: &GitHubClient) -> anyhow::Result<Vec<(&'static str, Value)>> {
    let get = |path: String| async move { client.get(&path, Feature::Required).await };
    let repos = get("/orgs/sim-org/repos?per_page=100".into()).await?;
    let repos = repos.as_array().cloned().unwrap_or_default();
    let org = json!({"login": "sim-org", "id": 1});
    let mut out = Vec::new();
    for repo in &repos {
        out.push((
            "repository",
            json!({"action": "created", "repository": repo, "organization": org}),
        ));
    }
    let Some(repo) = repos.first() else {
        return Ok(out);
    };
    let name = repo["name"].as_str().unwrap_or_default();
    let at = |suffix: &str| format!("/repos/sim-org/{name}{suffix}");
    let with = |action: &str, key: &str, object: &Value| json!({"action": action, key: object, "repository": repo, "organization": org});
    let open = get(at("/pulls?state=open")).await?;
    for pr in open.as_array().into_iter().flatten().take(2) {
        out.push(("pull_request", with("opened", "pull_request", pr)));
    }
    if let Some(issue) = get(at("/issues?state=open")).await?.get(0) {
        out.push(("issues", with("labeled", "issue", issue)));
    }
    if let Some(release) = get(at("/releases")).await?.get(0) {
        out.push(("release", with("created", "release", release)));
        out.push(("release", with("deleted", "release", release)));
    }
    if let Some(deployment) = get(at("/deployments")).await?.get(0) {
        out.push(("deployment", with("created", "deployment", deployment)));
    }
    if let Some(team) = get("/orgs/sim-org/teams".into()).await?.get(0) {
        out.push((
            "team",
            json!({"action": "created", "team": team, "organization": org}),
        ));
    }
    if let Some(last) = repos.last() {
        out.push((
            "repository",
            json!({"action": "archived", "repository": last, "organization": org}),
        ));
    }
    Ok(out)
}
