//! Requests needed to read a simulated organization with every kind, against the lower bound
//! Σ⌈items/100⌉ (one request at least per list), and the share of 304s when the same unchanged
//! organization is read again with the ETag store. Prints figures; asserts nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use futures_util::StreamExt;
use port_github_core::github::kinds::actions::{
    WorkflowRunSelector, list_workflow_runs, list_workflows,
};
use port_github_core::github::kinds::deployments::{
    deployment_ids, list_deployment_statuses, list_deployments, list_environments,
};
use port_github_core::github::kinds::files::{PathPattern, list_files};
use port_github_core::github::kinds::organization::{
    RepoSource, RepositorySelector, get_organization, include_files, list_repositories,
};
use port_github_core::github::kinds::people::{
    TeamSelector, list_collaborators, list_teams, list_users,
};
use port_github_core::github::kinds::pulls::{
    IssueSelector, PullRequestSelector, list_issues, list_pull_requests,
};
use port_github_core::github::kinds::refs::{
    BranchSelector, list_branches, list_releases, list_tags,
};
use port_github_core::github::kinds::security::{
    DependabotSelector, ScanningSelector, list_code_scanning_alerts, list_dependabot_alerts,
    list_secret_scanning_alerts,
};
use port_github_core::github::kinds::{KindPages, Repo};
use port_github_core::github::{GitHubClient, GitHubError};
use port_github_simulators::github_sim::{OrgSpec, SimConfig, SimHarness};
use serde_json::Value;

/// Σ⌈items/100⌉ over the lists read, at least one request per list.
#[derive(Default)]
struct Bound(AtomicU64);

impl Bound {
    fn list(&self, items: usize) {
        self.0
            .fetch_add(items.div_ceil(100).max(1) as u64, Ordering::Relaxed);
    }
}

async fn drain(pages: KindPages, bound: &Bound) -> Result<Vec<Value>, GitHubError> {
    let items = pages.collect().await?.unwrap_or_default();
    bound.list(items.len());
    Ok(items)
}

async fn read_repo(client: &GitHubClient, repo: &Repo, bound: &Bound) -> Result<(), GitHubError> {
    let both: PullRequestSelector = PullRequestSelector {
        states: vec!["open".to_owned(), "closed".to_owned()],
        ..PullRequestSelector::default()
    };
    let pulls = list_pull_requests(client, repo, &both)?.collect().await?;
    // Open and closed are two lists.
    bound.list(pulls.len().min(100));
    bound.list(0);
    drain(list_issues(client, repo, &IssueSelector::default())?, bound).await?;
    drain(list_releases(client, repo)?, bound).await?;
    drain(list_tags(client, repo)?, bound).await?;
    let branches = list_branches(client, repo, &BranchSelector::default())?
        .collect()
        .await?;
    bound.list(branches.len());
    drain(list_environments(client, repo)?, bound).await?;
    let deployments = drain(list_deployments(client, repo)?, bound).await?;
    for id in deployment_ids(&deployments) {
        drain(list_deployment_statuses(client, repo, id)?, bound).await?;
    }
    let workflows = drain(list_workflows(client, repo)?, bound).await?;
    for id in workflows.iter().filter_map(|w| w["id"].as_u64()) {
        let runs = list_workflow_runs(client, repo, id, &WorkflowRunSelector::default())
            .await?
            .unwrap_or_default();
        bound.list(runs.len());
    }
    drain(
        list_dependabot_alerts(client, repo, &DependabotSelector::default())?,
        bound,
    )
    .await?;
    drain(
        list_code_scanning_alerts(client, repo, &ScanningSelector::default())?,
        bound,
    )
    .await?;
    drain(
        list_secret_scanning_alerts(client, repo, &ScanningSelector::default())?,
        bound,
    )
    .await?;
    drain(list_collaborators(client, repo)?, bound).await?;
    let files = list_files(
        client,
        repo,
        &[PathPattern {
            path: "**/package.json".to_owned(),
            ..PathPattern::default()
        }],
    )
    .await?;
    bound.list(0); // the tree
    for _ in &files {
        bound.list(1); // one contents request per file
    }
    let mut object = repo.object.clone();
    let selector = RepositorySelector {
        included_files: vec!["README.md".to_owned()],
        ..RepositorySelector::default()
    };
    include_files(client, &mut object, &selector).await?;
    bound.list(1);
    Ok(())
}

async fn read_org(client: &GitHubClient, org: &str) -> Result<u64, GitHubError> {
    let bound = Bound::default();
    get_organization(client, org).await?;
    bound.list(1);
    let repos = list_repositories(
        client,
        &RepoSource::Installation,
        &RepositorySelector::default(),
    )?
    .collect_repos()
    .await?;
    bound.list(repos.len());
    let teams = list_teams(client, org, &TeamSelector { members: true })?
        .collect()
        .await?;
    bound.list(teams.len());
    for team in &teams {
        bound.list(
            team["members"]["nodes"]
                .as_array()
                .map(Vec::len)
                .unwrap_or(0),
        );
    }
    let users = list_users(client, org)?.collect().await?;
    bound.list(users.len());
    for _ in &users {
        bound.list(1); // GET /users/{login}
    }
    let results: Vec<Result<(), GitHubError>> = futures_util::stream::iter(repos.iter())
        .map(|repo| read_repo(client, repo, &bound))
        .buffer_unordered(8)
        .collect()
        .await;
    for result in results {
        result?;
    }
    Ok(bound.0.load(Ordering::Relaxed))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let repos = std::env::var("SIM_REPOS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let spec = OrgSpec {
        repos,
        open_prs: 5,
        closed_prs: 5,
        issues: 8,
        releases: 3,
        tags: 4,
        branches: 3,
        environments: 2,
        deployments: 2,
        statuses_per_deployment: 2,
        workflows: 2,
        runs_per_workflow: 5,
        dependabot_alerts: 3,
        code_scanning_alerts: 2,
        secret_scanning_alerts: 1,
        features_off_every: 5,
        collaborators: 3,
        members: 150,
        teams: 12,
        members_per_team: 4,
        apps: 2,
        ..OrgSpec::default()
    };
    let harness = SimHarness::start_with(SimConfig {
        spec,
        hourly_limit: 1_000_000,
        ..SimConfig::default()
    })
    .await?;
    let app = harness.app(harness.client_config())?;
    let client = app.installation_client(harness.sim.installation_id())?;

    let started = Instant::now();
    let bound = read_org(&client, harness.sim.org()).await?;
    let first = harness.sim.total();
    let first_time = started.elapsed();
    println!("simulated org: {repos} repositories, every kind");
    println!(
        "first read:   {} requests, lower bound Σ⌈items/100⌉ = {bound}, ratio {:.3} (goal ≤ 1.05), {:.1?}",
        first.total,
        first.total as f64 / bound as f64,
        first_time
    );
    println!("  token mints: {}", harness.sim.tokens_minted());

    harness.sim.reset_counts();
    let started = Instant::now();
    read_org(&client, harness.sim.org()).await?;
    let second = harness.sim.total();
    println!(
        "second read (unchanged): {} requests, {} answered 304 = {:.1} % (goal ≥ 95 %), {:.1?}",
        second.total,
        second.not_modified,
        100.0 * second.not_modified as f64 / second.total.max(1) as f64,
        started.elapsed()
    );
    let mut worst: Vec<_> = harness
        .sim
        .counts()
        .into_iter()
        .filter(|(_, c)| c.total > c.not_modified)
        .collect();
    worst.sort_by_key(|(_, c)| std::cmp::Reverse(c.total - c.not_modified));
    for (endpoint, count) in worst.iter().take(5) {
        println!(
            "  not 304: {endpoint}: {} of {}",
            count.total - count.not_modified,
            count.total
        );
    }
    Ok(())
}
