//! The full resync of a simulated organization (5,000 repositories by default, every kind of the
//! built-in mapping, 20 ms per GitHub request, GitHub's 12,500 requests an hour), driven in
//! process as Lambda would run it from SQS; then the same organization re-synced unchanged.
//! Prints GitHub requests against Σ⌈items/100⌉, Port requests against ⌈entities/20⌉,
//! invocations, time and memory; asserts nothing.
//!
//! Settings (environment): `RESYNC_BENCH_REPOS` (5000), `RESYNC_BENCH_PARALLEL` invocations at
//! once (2, the template's `ResyncMaxConcurrency`), `RESYNC_BENCH_BATCH` jobs per invocation
//! (10), `RESYNC_BENCH_JOB_CONCURRENCY` jobs listing at once in an invocation (8),
//! `RESYNC_BENCH_LATENCY_MS` (20), `RESYNC_BENCH_HOURLY_LIMIT` (12500),
//! `RESYNC_BENCH_MEMORY_REPOS` repositories of the one-invocation-at-a-time memory phase (200,
//! at most `RESYNC_BENCH_REPOS`; 0 skips it).
//!
//! Memory: the bench counts the heap with a global allocator (current and peak bytes, every
//! thread: the resync, both simulators, the in-memory state store, queue and ETag store) and reads
//! the process's `VmHWM` / `VmRSS`. The per-invocation figure comes from the memory phase, where
//! one invocation runs at a time: the heap's peak during the invocation above the heap at its
//! start, an upper bound of the invocation's working set (it includes the simulators' answers
//! and what the in-memory stores kept during it).

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::time::{Duration, Instant};

use peak_alloc::PeakAlloc;
use port_github_core::mapping::defaults::DEFAULT_PORT_APP_CONFIG;
use port_github_core::mapping::{CompiledMapping, JqOptions, PortAppConfig};
use port_github_core::queue::InMemoryJobQueue;
use port_github_core::resync::driver::{DriveReport, DriveSettings, run_to_end};
use port_github_simulators::github_sim::{EndpointCount, OrgSpec, SimConfig};
use port_github_simulators::port_sim::{Endpoint, PortSim};
use port_github_simulators::resync_world::ResyncWorld;
use port_github_tests::request_bounds::{builtin_mapping_lower_bound, builtin_mapping_total};

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

const MB: f64 = 1024.0 * 1024.0;

const PORT_ENDPOINTS: [Endpoint; 11] = [
    Endpoint::AccessToken,
    Endpoint::Upsert,
    Endpoint::BulkUpsert,
    Endpoint::Delete,
    Endpoint::BulkDelete,
    Endpoint::Search,
    Endpoint::BlueprintSearch,
    Endpoint::DatasourceEntities,
    Endpoint::GetIntegration,
    Endpoint::ResyncState,
    Endpoint::Examples,
];

struct Settings {
    repos: usize,
    parallel: usize,
    batch: usize,
    job_concurrency: usize,
    latency: Duration,
    hourly_limit: u64,
    memory_repos: usize,
}

fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
        Err(_) => default,
    }
}

impl Settings {
    fn from_env() -> Self {
        let repos = env_or("RESYNC_BENCH_REPOS", 5_000usize);
        Self {
            repos,
            parallel: env_or("RESYNC_BENCH_PARALLEL", 2usize).max(1),
            batch: env_or("RESYNC_BENCH_BATCH", 10usize).max(1),
            job_concurrency: env_or("RESYNC_BENCH_JOB_CONCURRENCY", 8usize).max(1),
            latency: Duration::from_millis(env_or("RESYNC_BENCH_LATENCY_MS", 20u64)),
            hourly_limit: env_or("RESYNC_BENCH_HOURLY_LIMIT", 12_500u64),
            memory_repos: env_or("RESYNC_BENCH_MEMORY_REPOS", 200usize).min(repos),
        }
    }

    fn drive(&self, parallel: usize) -> DriveSettings {
        DriveSettings {
            batch: self.batch,
            parallel,
            ..DriveSettings::default()
        }
    }
}

/// Sizes per repository of a large organization's typical repository: a few open pull requests
/// (more closed ones, which the built-in mapping does not list), issues, releases, tags,
/// branches, two environments, three deployments with two statuses each, three workflows with
/// ten runs each, a few alerts; every third repository has alerts and environments off. People
/// scale with the organization: a member per five repositories, a team per sixty.
fn spec(repos: usize) -> OrgSpec {
    OrgSpec {
        repos,
        open_prs: 4,
        closed_prs: 30,
        issues: 6,
        releases: 5,
        tags: 10,
        branches: 5,
        environments: 2,
        deployments: 3,
        statuses_per_deployment: 2,
        workflows: 3,
        runs_per_workflow: 10,
        dependabot_alerts: 4,
        code_scanning_alerts: 2,
        secret_scanning_alerts: 1,
        features_off_every: 3,
        collaborators: 5,
        members: (repos / 5).max(10),
        teams: (repos / 60).max(2),
        members_per_team: 12,
        apps: 1,
        ..OrgSpec::default()
    }
}

/// A field of `/proc/self/status` (`VmHWM`, `VmRSS`), in bytes.
fn proc_status(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
    let kb: u64 = line[field.len() + 1..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / MB)
}

fn rss(field: &str) -> String {
    proc_status(field).map_or_else(|| "n/a".to_owned(), mb)
}

async fn world(settings: &Settings, repos: usize) -> anyhow::Result<ResyncWorld> {
    let mut world = ResyncWorld::start(
        SimConfig {
            spec: spec(repos),
            hourly_limit: settings.hourly_limit,
            ..SimConfig::default()
        },
        None,
    )
    .await?;
    world.settings.job_concurrency = settings.job_concurrency;
    let latency = settings.latency;
    world.github.sim.faults(|f| f.latency = latency);
    Ok(world)
}

/// Heap figures per round of invocations (with `parallel = 1`, per invocation).
#[derive(Default)]
struct Rounds {
    start: usize,
    /// Peak heap above the heap at the round's start, per round.
    peaks: Vec<usize>,
    /// Peak heap of the rounds that ran after every job had settled: the cleanup.
    cleanup_peaks: Vec<usize>,
    /// Whether every job of the run had settled when the current round began.
    settled: bool,
    max_rss: u64,
    port_bytes: u64,
}

impl Rounds {
    fn begin() -> Self {
        HEAP.reset_peak_usage();
        Self {
            start: HEAP.current_usage(),
            ..Self::default()
        }
    }

    fn after_round(&mut self, port: &PortSim, counters: Option<&BTreeMap<String, i64>>) {
        let peak = HEAP.peak_usage().saturating_sub(self.start);
        self.peaks.push(peak);
        if self.settled && counters.is_some() {
            self.cleanup_peaks.push(peak);
        }
        if let Some(counters) = counters {
            let get = |name: &str| counters.get(name).copied().unwrap_or(0);
            self.settled = get("queued") > 0 && get("done") + get("failed") >= get("queued");
        }
        self.max_rss = self.max_rss.max(proc_status("VmRSS").unwrap_or(0));
        // The Port simulator records every request; keep only their sizes.
        self.port_bytes += port
            .take_requests()
            .iter()
            .map(|r| r.body_bytes as u64)
            .sum::<u64>();
        HEAP.reset_peak_usage();
        self.start = HEAP.current_usage();
    }
}

struct RunFigures {
    report: DriveReport,
    wall: Duration,
    waited: Duration,
    span: chrono::TimeDelta,
    github: BTreeMap<String, EndpointCount>,
    github_total: EndpointCount,
    spent: u64,
    refused: u64,
    max_in_flight: u64,
    port: BTreeMap<String, u64>,
    messages: u64,
    rounds: Rounds,
    heap_end: usize,
    hwm: u64,
    catalog: usize,
}

impl RunFigures {
    fn counter(&self, name: &str) -> i64 {
        self.report
            .summary
            .as_ref()
            .and_then(|s| s.counters.get(name).copied())
            .unwrap_or(0)
    }

    fn port(&self, endpoint: Endpoint) -> u64 {
        self.port
            .get(&format!("{endpoint:?}"))
            .copied()
            .unwrap_or(0)
    }

    fn port_total(&self) -> u64 {
        self.port.values().sum()
    }

    /// Entities mapped per kind (the built-in mapping has one blueprint per kind).
    fn entities(&self) -> BTreeMap<String, i64> {
        self.report
            .summary
            .iter()
            .flat_map(|s| s.counters.iter())
            .filter_map(|(name, n)| Some((name.strip_prefix("entities-")?.to_owned(), *n)))
            .collect()
    }
}

async fn run_once(world: &ResyncWorld, drive: &DriveSettings) -> anyhow::Result<RunFigures> {
    let sim = &world.github.sim;
    let queue: &InMemoryJobQueue = &world.queue;
    sim.reset_counts();
    let spent = sim.spent();
    let refused = sim.rate_limited();
    let port_before: Vec<u64> = PORT_ENDPOINTS
        .iter()
        .map(|e| world.port.count(*e))
        .collect();
    let messages = queue.sent();
    let waited = world.github.clock.total_slept();
    let began = world.clock.now();
    let resync = world.resync()?;
    let started = Instant::now();
    let mut rounds = Rounds::begin();
    let report = run_to_end(&resync, queue, world.clock.clone(), drive, |counters| {
        rounds.after_round(&world.port, Some(counters))
    })
    .await?;
    let wall = started.elapsed();
    rounds.after_round(&world.port, None);
    let port = PORT_ENDPOINTS
        .iter()
        .zip(port_before)
        .map(|(e, before)| (format!("{e:?}"), world.port.count(*e) - before))
        .filter(|(_, n)| *n > 0)
        .collect();
    Ok(RunFigures {
        wall,
        waited: world.github.clock.total_slept() - waited,
        span: world.clock.now() - began,
        github: sim.counts(),
        github_total: sim.total(),
        spent: sim.spent() - spent,
        refused: sim.rate_limited() - refused,
        max_in_flight: sim.max_in_flight(),
        port,
        messages: queue.sent() - messages,
        rounds,
        heap_end: HEAP.current_usage(),
        hwm: proc_status("VmHWM").unwrap_or(0),
        catalog: world.port.entity_count(),
        report,
    })
}

fn ratio(n: u64, bound: u64) -> String {
    format!("{n} ({:.3}×)", n as f64 / bound.max(1) as f64)
}

fn hours(span: chrono::TimeDelta) -> String {
    format!("{:.1} h", span.num_seconds() as f64 / 3_600.0)
}

/// A row whose two values are the same figure of each run.
fn both(figure: &str, runs: [&RunFigures; 2], value: impl Fn(&RunFigures) -> String, goal: &str) {
    row(figure, value(runs[0]), value(runs[1]), goal);
}

fn row(figure: &str, first: String, second: String, goal: &str) {
    println!("| {figure} | {first} | {second} | {goal} |");
}

/// One invocation at a time over a small organization of the same shape: the heap each
/// invocation needs.
async fn memory_phase(settings: &Settings) -> anyhow::Result<()> {
    let repos = settings.memory_repos;
    let heap_before = HEAP.current_usage();
    let mapping = CompiledMapping::compile(
        &PortAppConfig::from_yaml_or_json(DEFAULT_PORT_APP_CONFIG)?,
        &JqOptions::default(),
    )?;
    let mapping_heap = HEAP.current_usage().saturating_sub(heap_before);
    drop(mapping);
    let world = world(settings, repos).await?;
    let before_clients = HEAP.current_usage();
    let resync = world.resync()?;
    let clients_heap = HEAP.current_usage().saturating_sub(before_clients);
    drop(resync);
    let figures = run_once(&world, &settings.drive(1)).await?;
    let peaks = &figures.rounds.peaks;
    let mut sorted = peaks.clone();
    sorted.sort_unstable();
    let max = sorted.last().copied().unwrap_or(0);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0);
    println!(
        "\n## Memory phase: {repos} repositories, one invocation at a time (batch {}, job concurrency {})\n",
        settings.batch, settings.job_concurrency
    );
    println!("| figure | value |\n|---|---|");
    println!(
        "| invocations | {} (run {}) |",
        figures.report.invocations,
        figures
            .report
            .summary
            .as_ref()
            .map_or("unfinished", |s| s.status.as_str())
    );
    println!(
        "| heap peak above the invocation's start, largest | {} |",
        mb(max as u64)
    );
    println!(
        "| heap peak above the invocation's start, median | {} |",
        mb(median as u64)
    );
    println!(
        "| heap peak above the invocation's start, cleanup ({} invocations after every job settled), largest | {} |",
        figures.rounds.cleanup_peaks.len(),
        mb(figures
            .rounds
            .cleanup_peaks
            .iter()
            .copied()
            .max()
            .unwrap_or(0) as u64)
    );
    println!(
        "| compiled built-in mapping (heap) | {} |",
        mb(mapping_heap as u64)
    );
    println!(
        "| one container's GitHub and Port clients (heap) | {} |",
        mb(clients_heap as u64)
    );
    println!(
        "| process VmRSS, largest after an invocation (both simulators and stores included) | {} |",
        mb(figures.rounds.max_rss)
    );
    println!(
        "| process VmHWM after the phase (everything in one process) | {} |",
        mb(figures.hwm)
    );
    Ok(())
}

fn print_runs(settings: &Settings, spec: &OrgSpec, first: &RunFigures, second: &RunFigures) {
    let bound = builtin_mapping_total(spec);
    println!(
        "\n## {} repositories: first run, then re-run unchanged\n",
        spec.repos
    );
    println!("| figure | first run | unchanged re-run | goal |\n|---|---|---|---|");
    both(
        "run status",
        [first, second],
        |f| {
            f.report
                .summary
                .as_ref()
                .map_or("unfinished".into(), |s| s.status.clone())
        },
        "completed",
    );
    both(
        "GitHub requests (× lower bound)",
        [first, second],
        |f| ratio(f.github_total.total, bound),
        "",
    );
    row(
        "lower bound Σ⌈items/100⌉",
        bound.to_string(),
        bound.to_string(),
        "",
    );
    both(
        "answered 304",
        [first, second],
        |f| f.github_total.not_modified.to_string(),
        "",
    );
    both(
        "refused for the rate limit (403)",
        [first, second],
        |f| f.refused.to_string(),
        "",
    );
    row(
        "rate-limit cost (requests that spent the budget)",
        ratio(first.spent, bound),
        format!(
            "{} = {:.2} % of the first run's",
            second.spent,
            100.0 * second.spent as f64 / first.spent.max(1) as f64
        ),
        "first ≈ bound; re-run ≤ 5 %",
    );
    let entities: i64 = first.entities().values().sum();
    let per_blueprint: i64 = first
        .entities()
        .values()
        .map(|n| (n + 19) / 20)
        .sum::<i64>();
    row(
        "entities mapped",
        entities.to_string(),
        second.entities().values().sum::<i64>().to_string(),
        "",
    );
    row(
        "entities sent (upserted) / unchanged, not sent",
        format!(
            "{} / {}",
            first.counter("upserted"),
            first.counter("unchanged")
        ),
        format!(
            "{} / {}",
            second.counter("upserted"),
            second.counter("unchanged")
        ),
        "",
    );
    let sent_bound = |run: &RunFigures| (run.counter("upserted").max(0) as u64).div_ceil(20);
    both(
        "Port bulk upserts (× ⌈sent/20⌉)",
        [first, second],
        |f| ratio(f.port(Endpoint::BulkUpsert), sent_bound(f)),
        "",
    );
    row(
        "⌈entities sent/20⌉; Σ per blueprint ⌈n/20⌉",
        format!("{}; {per_blueprint}", sent_bound(first)),
        format!("{}; -", sent_bound(second)),
        "",
    );
    row(
        "Port requests, all",
        format!("{} ({})", first.port_total(), port_breakdown(&first.port)),
        format!("{} ({})", second.port_total(), port_breakdown(&second.port)),
        "",
    );
    both(
        "Port request bodies",
        [first, second],
        |f| mb(f.rounds.port_bytes),
        "",
    );
    row(
        "invocations (jobs done; queue messages)",
        format!(
            "{} ({}; {})",
            first.report.invocations,
            first.counter("done"),
            first.messages
        ),
        format!(
            "{} ({}; {})",
            second.report.invocations,
            second.counter("done"),
            second.messages
        ),
        "",
    );
    row(
        "wall time (real, 20 ms a request)",
        format!("{:.1?}", first.wall),
        format!("{:.1?}", second.wall),
        "",
    );
    row(
        "waited on the simulated clock (rate-limit resets, delays)",
        hours(chrono::TimeDelta::from_std(first.waited).unwrap_or_default()),
        hours(chrono::TimeDelta::from_std(second.waited).unwrap_or_default()),
        "",
    );
    both(
        "simulated span (start to end on the clock)",
        [first, second],
        |f| hours(f.span),
        "",
    );
    let cleanup = |run: &RunFigures| {
        run.report
            .summary
            .as_ref()
            .and_then(|s| s.cleanup.as_ref())
            .map_or("none".to_owned(), |c| {
                format!(
                    "{} / {} / {} / {} / {}",
                    c.owned, c.seen, c.stale, c.deleted, c.missing
                )
            })
    };
    both(
        "cleanup: owned / seen / stale / deleted / missing",
        [first, second],
        |f| cleanup(f),
        "",
    );
    both(
        "Port catalog after the run (entities)",
        [first, second],
        |f| f.catalog.to_string(),
        "",
    );
    both(
        "GitHub requests in flight, most at once",
        [first, second],
        |f| f.max_in_flight.to_string(),
        &format!(
            "≤ parallel × job concurrency = {}",
            settings.parallel * settings.job_concurrency
        ),
    );
    both(
        &format!(
            "heap peak above a round's start, largest ({} invocations at once)",
            settings.parallel
        ),
        [first, second],
        |f| mb(f.rounds.peaks.iter().copied().max().unwrap_or(0) as u64),
        "",
    );
    both(
        "heap peak above a round's start, cleanup rounds (after every job settled), largest",
        [first, second],
        |f| mb(f.rounds.cleanup_peaks.iter().copied().max().unwrap_or(0) as u64),
        "",
    );
    both(
        "heap at the end (simulators, Port catalog, in-memory stores)",
        [first, second],
        |f| mb(f.heap_end as u64),
        "",
    );
    both(
        "process VmHWM (everything in one process)",
        [first, second],
        |f| mb(f.hwm),
        "",
    );

    println!("\nLower bound per kind (built-in mapping):");
    for (kind, n) in builtin_mapping_lower_bound(spec) {
        println!("  {kind:<24} {n:>9}");
    }
    println!("\nGitHub requests per endpoint (total / 304), first run | re-run:");
    let endpoints: BTreeSet<&String> = first.github.keys().chain(second.github.keys()).collect();
    for endpoint in endpoints {
        let a = first.github.get(endpoint).copied().unwrap_or_default();
        let b = second.github.get(endpoint).copied().unwrap_or_default();
        println!(
            "  {endpoint:<52} {:>8} / {:>8} | {:>8} / {:>8}",
            a.total, a.not_modified, b.total, b.not_modified
        );
    }
    println!("\nEntities per kind (first run):");
    for (kind, n) in first.entities() {
        println!("  {kind:<24} {n:>9}");
    }
}

fn port_breakdown(port: &BTreeMap<String, u64>) -> String {
    port.iter()
        .map(|(e, n)| format!("{e} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env();
    let spec = spec(settings.repos);
    println!("# Resync of a simulated organization (built-in mapping, every kind)\n");
    println!(
        "settings: {} repositories; {} invocations at once × batch {} × job concurrency {} \
         (SQS batch, ResyncMaxConcurrency, ResyncSettings::job_concurrency); {} ms per GitHub \
         request (real time); GitHub budget {}/h with the resync's 5 % reserve (resets cost no \
         real time: manual clock); invocation budget {:?}; process VmRSS at start {}",
        settings.repos,
        settings.parallel,
        settings.batch,
        settings.job_concurrency,
        settings.latency.as_millis(),
        settings.hourly_limit,
        DriveSettings::default().budget,
        rss("VmRSS"),
    );
    println!(
        "per repository: {} open PRs ({} closed, not listed), {} open issues, {} releases, {} tags, \
         {} branches, {} environments, {} deployments × {} statuses, {} workflows × {} runs, \
         {}+{}+{} dependabot/code/secret alerts, {} collaborators, README.md; every {}rd repository \
         has alerts and environments off; organization: {} members, {} teams × {} members",
        spec.open_prs,
        spec.closed_prs,
        spec.issues,
        spec.releases,
        spec.tags,
        spec.branches,
        spec.environments,
        spec.deployments,
        spec.statuses_per_deployment,
        spec.workflows,
        spec.runs_per_workflow,
        spec.dependabot_alerts,
        spec.code_scanning_alerts,
        spec.secret_scanning_alerts,
        spec.collaborators,
        spec.features_off_every,
        spec.members,
        spec.teams,
        spec.members_per_team,
    );

    if settings.memory_repos > 0 {
        memory_phase(&settings).await?;
    }

    let world = world(&settings, settings.repos).await?;
    let drive = settings.drive(settings.parallel);
    let first = run_once(&world, &drive).await?;
    eprintln!("first run done in {:.1?}", first.wall);
    let second = run_once(&world, &drive).await?;
    print_runs(&settings, &spec, &first, &second);

    // What the heap at the end is made of: each part's heap, measured as it is dropped.
    let ResyncWorld {
        github,
        port,
        state,
        queue,
        ..
    } = world;
    let pages = github.etags.len();
    let parts: Vec<(String, Box<dyn std::any::Any + Send>)> = vec![
        (
            "Port simulator (catalog of every entity)".into(),
            Box::new(port),
        ),
        (
            format!("GitHub simulator and the in-memory ETag store ({pages} pages)"),
            Box::new(github),
        ),
        (
            "in-memory state store (records, run records)".into(),
            Box::new(state),
        ),
        ("in-memory jobs queue".into(), Box::new(queue)),
    ];
    let mut freed = Vec::new();
    for (name, part) in parts {
        let before = HEAP.current_usage();
        drop(part);
        // A simulator's state goes with its server task, which the runtime drops after abort.
        tokio::time::sleep(Duration::from_millis(200)).await;
        freed.push((name, before.saturating_sub(HEAP.current_usage())));
    }
    println!("\nHeap at the end, by part (freed when dropped):");
    for (name, bytes) in freed {
        println!("  {name:<64} {:>10}", mb(bytes as u64));
    }
    Ok(())
}
