//! `port-github demo`: the product working offline, in seconds. A simulated GitHub organization
//! and an embedded Port-compatible catalog; first a full resync of the organization (the core's
//! `Resync` with in-memory state and jobs queue, driven to the end on the simulator's clock),
//! then signed webhook deliveries through the same code as the Lambdas (webhook checks → FIFO
//! queue → worker: re-fetch, map, upsert or delete). Prints what each part did, what the catalog
//! holds after each, and where the catalog is.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::sync::Arc;

use anyhow::Context as _;
use http::{HeaderMap, HeaderValue};
use port_github_core::github::{Feature, GitHubClient};
use port_github_core::live::{BatchSettings, LiveProcessor, Outcome, QueuedEvent, process_batch};
use port_github_core::port::PortClient;
use port_github_core::queue::InMemoryEventQueue;
use port_github_core::resync::driver::{DriveSettings, run_to_end};
use port_github_core::sync::TokenClients;
use port_github_core::webhook::{
    WebhookHandler, WebhookLimits, WebhookRequest, fixed_secrets, sign,
};
use port_github_simulators::github_sim::{OrgSpec, SimConfig};
use port_github_simulators::port_sim::CatalogEntity;
use port_github_simulators::port_sim::harness::client_config;
use port_github_simulators::resync_world::ResyncWorld;
use serde_json::{Value, json};

use crate::progress::{Progress, summary_lines};

/// The demo's webhook secret: deliveries are signed and verified exactly as in AWS.
const DEMO_SECRET: &str = "demo-webhook-secret";
/// Repositories of the simulated organization.
const REPOS: usize = 4;

pub async fn run() -> anyhow::Result<()> {
    println!(
        "port-github demo: a simulated GitHub organization and an embedded Port catalog, offline\n"
    );
    // The simulators, with in-memory state and jobs queue on the GitHub simulator's clock (a
    // rate-limit wait or a delayed job costs no real time).
    // Port starts as a fresh organization (Port's `_user` and `_team` only): the resync provisions
    // the integration record and the blueprints, as on a first deployment.
    let world = ResyncWorld::start_fresh(
        SimConfig {
            spec: OrgSpec {
                repos: REPOS,
                ..OrgSpec::default()
            },
            ..SimConfig::default()
        },
        None,
    )
    .await
    .context("simulators")?;
    let (github, port) = (&world.github, &world.port);
    println!(
        "GitHub: organization {} ({REPOS} repositories) at {}",
        github.sim.org(),
        github.sim.base_url()
    );
    println!(
        "Port:   embedded catalog at {}, a fresh organization (blueprints: {})\n",
        port.base_url(),
        port.blueprint_ids().join(", ")
    );

    let blueprints_before = port.blueprint_ids().len();
    println!("full resync of {}:", github.sim.org());
    let resync = world.resync()?;
    let mut progress = Progress::new(std::io::stdout(), std::io::stdout().is_terminal());
    let report = run_to_end(
        &resync,
        &world.queue,
        world.clock.clone(),
        &DriveSettings::default(),
        |counters| progress.update(counters),
    )
    .await?;
    let summary = report
        .summary
        .context("the resync stopped without a summary")?;
    for line in summary_lines(&summary, false) {
        println!("{line}");
    }
    anyhow::ensure!(summary.status == "completed", "the resync did not complete");
    println!(
        "provisioned in Port on first contact: the integration record {} (holding the mapping) and {} blueprints",
        port_github_simulators::port_sim::harness::INTEGRATION_ID,
        port.blueprint_ids().len() - blueprints_before
    );
    let after_resync = per_blueprint(&port.catalog());
    println!(
        "catalog after the resync: {} entities\n",
        after_resync.values().sum::<usize>()
    );

    println!("then webhook deliveries, as GitHub would send them:");
    let client = github.pat_client(github.client_config())?;
    let processor = LiveProcessor::new(
        Arc::new(TokenClients(client.clone())),
        PortClient::new(client_config(port.base_url()))?,
        world.mapping.clone(),
    );
    let queue = Arc::new(InMemoryEventQueue::default());
    let limits = WebhookLimits {
        max_body_bytes: 25 << 20,
        max_message_bytes: 256 * 1024,
    };
    let webhook = WebhookHandler::new(fixed_secrets(DEMO_SECRET, None), queue.clone(), limits);
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
        let outcome = process_batch(&processor, &batch, BatchSettings::default()).await;
        for (id, outcome) in &outcome.messages {
            match outcome {
                Outcome::Applied(report) => {
                    upserted += report.upserted.len();
                    deleted += report.deleted.len();
                }
                other => anyhow::bail!("the worker did not apply {id}: {other:?}"),
            }
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
    let now = per_blueprint(&catalog);
    println!("\ncatalog: {} entities", catalog.len());
    println!(
        "  {:<28} {:>7} {:>9} {:>7}",
        "blueprint", "resync", "webhooks", "now"
    );
    let blueprints: std::collections::BTreeSet<&String> =
        after_resync.keys().chain(now.keys()).collect();
    for blueprint in blueprints {
        let before = after_resync.get(blueprint).copied().unwrap_or(0);
        let after = now.get(blueprint).copied().unwrap_or(0);
        let change = after as i64 - before as i64;
        let change = if change == 0 {
            "0".to_owned()
        } else {
            format!("{change:+}")
        };
        println!("  {blueprint:<28} {before:>7} {change:>9} {after:>7}");
    }
    let dir = std::env::temp_dir().join("port-github-demo");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("catalog.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&catalog)?)?;
    println!("\nthe catalog is in {}", path.display());
    Ok(())
}

fn per_blueprint(catalog: &[CatalogEntity]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for entity in catalog {
        *counts.entry(entity.blueprint.clone()).or_default() += 1;
    }
    counts
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
