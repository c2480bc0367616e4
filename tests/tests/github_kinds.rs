//! Every kind against the simulator: lists across pages, selector options, get-one, and the
//! enrichment keys Port's mappings use (checked against `shared/fixtures/ocean/examples/`).

use port_github_core::github::kinds::actions::{
    WorkflowRunSelector, get_workflow_run, list_workflow_runs, list_workflows,
};
use port_github_core::github::kinds::deployments::{
    deployment_ids, get_deployment_status, list_deployment_statuses, list_deployments,
    list_environments,
};
use port_github_core::github::kinds::files::{
    PathPattern, RepoBranch, glob_matches, list_files, list_folders,
};
use port_github_core::github::kinds::organization::{
    RepoSource, RepositorySelector, get_organization, get_repository, include_files,
    list_repositories,
};
use port_github_core::github::kinds::people::{
    TeamSelector, get_collaborator, get_team, list_collaborators, list_teams, list_users,
};
use port_github_core::github::kinds::pulls::{
    IssueSelector, PullRequestSelector, get_issue, get_pull_request, list_issues,
    list_pull_requests,
};
use port_github_core::github::kinds::refs::{
    BranchSelector, get_branch, get_release, get_tag, list_branches, list_releases, list_tags,
};
use port_github_core::github::kinds::security::{
    DependabotSelector, ScanningSelector, get_dependabot_alert, list_code_scanning_alerts,
    list_dependabot_alerts, list_secret_scanning_alerts,
};
use port_github_core::github::kinds::{AvailabilityTally, Listed, Repo, selector};
use port_github_core::github::{Feature, GitHubClient};
use port_github_simulators::github_sim::{OrgSpec, SimHarness};
use serde_json::{Value, json};

/// The `__` keys of an Ocean example object, which our raw objects must carry too.
fn example_keys(kind: &str) -> anyhow::Result<Vec<String>> {
    let path = format!(
        "{}/fixtures/ocean/examples/{kind}/a.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path)
        .map_err(|err| anyhow::anyhow!("{path}: {err} (tests/fixtures is tracked in git)"))?;
    let example: Value = serde_json::from_str(&text)?;
    Ok(example
        .as_object()
        .map(|o| o.keys().filter(|k| k.starts_with("__")).cloned().collect())
        .unwrap_or_default())
}

fn assert_example_keys(kind: &str, item: &Value) -> anyhow::Result<()> {
    for key in example_keys(kind)? {
        assert!(
            item.get(&key).is_some(),
            "{kind}: missing {key} in {}",
            item.to_string().chars().take(200).collect::<String>()
        );
    }
    Ok(())
}

async fn repo(client: &GitHubClient, name: &str) -> anyhow::Result<Repo> {
    Ok(Repo::from_object(
        client
            .get(&format!("/repos/sim-org/{name}"), Feature::Required)
            .await?,
    )?)
}

#[tokio::test]
async fn organization_and_repositories_of_an_installation_on_selected_repositories()
-> anyhow::Result<()> {
    let harness = SimHarness::start(OrgSpec {
        repos: 120,
        installation_repos: Some(105),
        ..OrgSpec::default()
    })
    .await?;
    let app = harness.app(harness.client_config())?;
    let client = app.installation_client(harness.sim.installation_id())?;
    let org = get_organization(&client, "sim-org").await?;
    assert_eq!(org["login"], "sim-org");

    let all = RepositorySelector::default();
    let granted = list_repositories(&client, &RepoSource::Installation, &all)?
        .collect_repos()
        .await?;
    assert_eq!(
        granted.len(),
        105,
        "only the repositories the App was given"
    );
    assert_eq!(harness.sim.count("GET /installation/repositories").total, 2);
    assert_eq!(harness.sim.count("GET /orgs/{org}/repos").total, 0);

    let private_only = RepositorySelector {
        repository_type: Some("private".to_owned()),
        ..RepositorySelector::default()
    };
    let private = list_repositories(&client, &RepoSource::Installation, &private_only)?
        .collect_repos()
        .await?;
    assert_eq!(private.len(), 35);
    assert!(private.iter().all(|repo| repo.object["private"] == true));

    let org_wide = list_repositories(
        &client,
        &RepoSource::Organization("sim-org".to_owned()),
        &all,
    )?
    .collect_repos()
    .await?;
    assert_eq!(org_wide.len(), 120);
    Ok(())
}

#[tokio::test]
async fn repository_with_included_files() -> anyhow::Result<()> {
    let harness = SimHarness::start(OrgSpec::default()).await?;
    let client = harness.pat_client(harness.client_config())?;
    let selected: RepositorySelector = selector(Some(
        &json!({"query": "true", "includedFiles": ["README.md", "CODEOWNERS", "missing.txt"]}),
    ))?;
    let mut object = get_repository(&client, "sim-org", "repo-0001")
        .await?
        .ok_or_else(|| anyhow::anyhow!("repo-0001"))?;
    include_files(&client, &mut object, &selected).await?;
    assert_eq!(
        object["__includedFiles"]["README.md"],
        "# repo-0001\n\nA simulated repository.\n"
    );
    assert_eq!(
        object["__includedFiles"]["CODEOWNERS"],
        "* @sim-org/team-0\n"
    );
    assert_eq!(object["__includedFiles"]["missing.txt"], Value::Null);
    assert!(get_repository(&client, "sim-org", "nope").await?.is_none());
    Ok(())
}

#[tokio::test]
async fn pull_requests_open_across_pages_and_closed_within_the_selector_limits()
-> anyhow::Result<()> {
    let harness = SimHarness::start(OrgSpec {
        repos: 1,
        open_prs: 150,
        closed_prs: 20,
        ..OrgSpec::default()
    })
    .await?;
    let client = harness.pat_client(harness.client_config())?;
    let repo = repo(&client, "repo-0000").await?;
    let open = list_pull_requests(&client, &repo, &PullRequestSelector::default())?
        .collect()
        .await?;
    assert_eq!(open.len(), 150);
    assert_eq!(harness.sim.count("GET /repos/{o}/{r}/pulls").total, 2);
    assert_example_keys("pull-request", &open[0])?;
    assert_eq!(open[0]["__repository"], "repo-0000");

    // Closed PRs are updated 7 days apart: 9 of them fall within 60 days.
    let both: PullRequestSelector = selector(Some(&json!({"states": ["open", "closed"]})))?;
    let all = list_pull_requests(&client, &repo, &both)?.collect().await?;
    assert_eq!(all.len(), 150 + 9);
    let capped: PullRequestSelector = selector(Some(
        &json!({"states": ["closed"], "maxResults": 4, "since": 365}),
    ))?;
    assert_eq!(
        list_pull_requests(&client, &repo, &capped)?
            .collect()
            .await?
            .len(),
        4
    );

    let one = get_pull_request(&client, &repo, 3)
        .await?
        .ok_or_else(|| anyhow::anyhow!("PR 3"))?;
    assert_eq!(
        (one["number"].as_u64(), one["__organization"].as_str()),
        (Some(3), Some("sim-org"))
    );
    assert!(get_pull_request(&client, &repo, 9_999).await?.is_none());
    Ok(())
}

#[tokio::test]
async fn issues_by_state() -> anyhow::Result<()> {
    let harness = SimHarness::start(OrgSpec {
        repos: 1,
        issues: 130,
        ..OrgSpec::default()
    })
    .await?;
    let client = harness.pat_client(harness.client_config())?;
    let repo = repo(&client, "repo-0000").await?;
    let open = list_issues(&client, &repo, &IssueSelector::default())?
        .collect()
        .await?
        .unwrap_or_default();
    assert_eq!(open.len(), 130);
    assert_example_keys("issue", &open[0])?;
    let closed: IssueSelector = selector(Some(&json!({"state": "closed"})))?;
    assert_eq!(
        list_issues(&client, &repo, &closed)?
            .collect()
            .await?
            .map(|items| items.len()),
        Some(0)
    );
    let number = open[0]["number"].as_u64().unwrap_or_default();
    assert!(get_issue(&client, &repo, number).await?.is_some());
    Ok(())
}

#[tokio::test]
async fn releases_tags_and_branches_with_details_and_protection() -> anyhow::Result<()> {
    let harness = SimHarness::start(OrgSpec {
        repos: 1,
        releases: 101,
        tags: 3,
        branches: 3,
        ..OrgSpec::default()
    })
    .await?;
    let client = harness.pat_client(harness.client_config())?;
    let repo = repo(&client, "repo-0000").await?;
    let releases = list_releases(&client, &repo)?
        .collect()
        .await?
        .unwrap_or_default();
    assert_eq!(releases.len(), 101);
    assert_eq!(releases[0]["__repository"], "repo-0000");
    let id = releases[0]["id"].as_u64().unwrap_or_default();
    assert!(get_release(&client, &repo, id).await?.is_some());

    let tags = list_tags(&client, &repo)?
        .collect()
        .await?
        .unwrap_or_default();
    assert_eq!(tags.len(), 3);
    let tag = get_tag(&client, &repo, "v1.1.0")
        .await?
        .ok_or_else(|| anyhow::anyhow!("tag"))?;
    assert_eq!(tag["commit"]["sha"], tags[1]["commit"]["sha"]);
    assert_eq!(tag["__repository"], "repo-0000");

    let plain = list_branches(&client, &repo, &BranchSelector::default())?
        .collect()
        .await?;
    assert_eq!(plain.len(), 3);
    assert_example_keys("branch", &plain[0])?;
    assert_eq!(
        (
            plain[0]["__is_default_branch"].as_bool(),
            plain[1]["__is_default_branch"].as_bool()
        ),
        (Some(true), Some(false))
    );
    assert_eq!(
        harness.sim.count("GET /repos/{o}/{r}/branches/{b}").total,
        0
    );

    let detailed: BranchSelector =
        selector(Some(&json!({"detailed": true, "protectionRules": true})))?;
    let rich = list_branches(&client, &repo, &detailed)?.collect().await?;
    assert_eq!(
        harness.sim.count("GET /repos/{o}/{r}/branches/{b}").total,
        3
    );
    assert_eq!(
        rich[0]["__protection_rules"]["enforce_admins"]["enabled"],
        true
    );
    assert_eq!(
        rich[1]["__protection_rules"],
        Value::Null,
        "an unprotected branch has no rules"
    );
    let main = get_branch(&client, &repo, "main", &detailed)
        .await?
        .ok_or_else(|| anyhow::anyhow!("main"))?;
    assert_eq!(main["__is_default_branch"], true);
    Ok(())
}

#[tokio::test]
async fn environments_deployments_and_statuses() -> anyhow::Result<()> {
    let harness = SimHarness::start(OrgSpec {
        repos: 2,
        features_off_every: 2,
        deployments: 3,
        statuses_per_deployment: 2,
        ..OrgSpec::default()
    })
    .await?;
    let client = harness.pat_client(harness.client_config())?;
    let off = repo(&client, "repo-0000").await?;
    let on = repo(&client, "repo-0001").await?;
    assert!(matches!(
        list_environments(&client, &off)?.next().await?,
        Listed::NotAvailable { status: 404, .. }
    ));
    let environments = list_environments(&client, &on)?
        .collect()
        .await?
        .unwrap_or_default();
    assert_eq!(environments.len(), 2);
    assert_example_keys("environment", &environments[0])?;

    let deployments = list_deployments(&client, &on)?
        .collect()
        .await?
        .unwrap_or_default();
    assert_eq!(deployments.len(), 3);
    let mut statuses = Vec::new();
    for id in deployment_ids(&deployments) {
        statuses.extend(
            list_deployment_statuses(&client, &on, id)?
                .collect()
                .await?
                .unwrap_or_default(),
        );
    }
    assert_eq!(statuses.len(), 6);
    assert_eq!(
        statuses[0]["__deployment_id"],
        deployments[0]["id"].to_string()
    );
    assert_eq!(statuses[0]["__repository"], "repo-0001");
    let (deployment, status) = (
        deployment_ids(&deployments)[0],
        statuses[0]["id"].as_u64().unwrap_or_default(),
    );
    let one = get_deployment_status(&client, &on, deployment, status)
        .await?
        .ok_or_else(|| anyhow::anyhow!("status"))?;
    assert_eq!(one["__deployment_id"], deployment.to_string());
    Ok(())
}

#[tokio::test]
async fn workflows_and_their_runs_capped_per_workflow() -> anyhow::Result<()> {
    let harness = SimHarness::start(OrgSpec {
        repos: 1,
        workflows: 2,
        runs_per_workflow: 130,
        ..OrgSpec::default()
    })
    .await?;
    let client = harness.pat_client(harness.client_config())?;
    let repo = repo(&client, "repo-0000").await?;
    let workflows = list_workflows(&client, &repo)?
        .collect()
        .await?
        .unwrap_or_default();
    assert_eq!(workflows.len(), 2);
    assert_example_keys("workflow", &workflows[0])?;
    let id = workflows[0]["id"].as_u64().unwrap_or_default();
    let runs = list_workflow_runs(&client, &repo, id, &WorkflowRunSelector::default())
        .await?
        .unwrap_or_default();
    assert_eq!(runs.len(), 100, "one page: the newest 100 runs");
    assert_eq!(runs[0]["__repository"], "repo-0000");
    let all = list_workflow_runs(&client, &repo, id, &WorkflowRunSelector { max_runs: 500 })
        .await?
        .unwrap_or_default();
    assert_eq!(all.len(), 130);
    let run_id = runs[0]["id"].as_u64().unwrap_or_default();
    assert!(get_workflow_run(&client, &repo, run_id).await?.is_some());
    Ok(())
}

#[tokio::test]
async fn alerts_with_states_and_repositories_where_they_are_off() -> anyhow::Result<()> {
    let harness = SimHarness::start(OrgSpec {
        repos: 2,
        features_off_every: 2,
        dependabot_alerts: 3,
        secret_scanning_alerts: 2,
        ..OrgSpec::default()
    })
    .await?;
    let client = harness.pat_client(harness.client_config())?;
    let off = repo(&client, "repo-0000").await?;
    let on = repo(&client, "repo-0001").await?;
    let dependabot = list_dependabot_alerts(&client, &on, &DependabotSelector::default())?
        .collect()
        .await?
        .unwrap_or_default();
    assert_eq!(dependabot.len(), 3);
    assert_example_keys("dependabot-alert", &dependabot[0])?;
    let fixed_only: DependabotSelector = selector(Some(&json!({"states": ["fixed"]})))?;
    assert_eq!(
        list_dependabot_alerts(&client, &on, &fixed_only)?
            .collect()
            .await?
            .map(|a| a.len()),
        Some(0)
    );
    assert_eq!(
        list_dependabot_alerts(&client, &off, &DependabotSelector::default())?
            .collect()
            .await?,
        None
    );
    assert!(get_dependabot_alert(&client, &on, 1).await?.is_some());
    assert!(get_dependabot_alert(&client, &off, 1).await?.is_none());

    let secrets = list_secret_scanning_alerts(&client, &on, &ScanningSelector::default())?
        .collect()
        .await?
        .unwrap_or_default();
    assert_eq!(secrets.len(), 2);
    assert!(
        secrets[0].get("secret").is_none(),
        "hide_secret=true by default"
    );
    let shown: ScanningSelector = selector(Some(&json!({"hideSecret": false})))?;
    let revealed = list_secret_scanning_alerts(&client, &on, &shown)?
        .collect()
        .await?
        .unwrap_or_default();
    assert!(revealed[0].get("secret").is_some());
    assert_eq!(
        list_secret_scanning_alerts(&client, &off, &ScanningSelector::default())?
            .collect()
            .await?,
        None
    );

    // Off on one repository of two is normal; off everywhere is a warning sign.
    let mut tally = AvailabilityTally::default();
    for repo in [&off, &on] {
        let listed = list_code_scanning_alerts(&client, repo, &ScanningSelector::default())?;
        tally.record(listed.collect().await?.is_some());
    }
    assert_eq!((tally.available, tally.not_available), (1, 1));
    assert!(!tally.looks_like_an_outage(2));
    let mut everywhere = AvailabilityTally::default();
    everywhere.record(false);
    everywhere.record(false);
    assert!(everywhere.looks_like_an_outage(2));
    Ok(())
}

#[tokio::test]
async fn teams_users_and_collaborators() -> anyhow::Result<()> {
    let harness = SimHarness::start(OrgSpec {
        repos: 1,
        teams: 3,
        members: 120,
        members_per_team: 2,
        collaborators: 3,
        ..OrgSpec::default()
    })
    .await?;
    let client = harness.pat_client(harness.client_config())?;
    let without: TeamSelector = selector(Some(&json!({"members": false})))?;
    let teams = list_teams(&client, "sim-org", &without)?.collect().await?;
    assert_eq!(teams.len(), 3);
    assert!(teams[0].get("members").is_none());
    assert_eq!(
        harness
            .sim
            .count("GET /orgs/{org}/teams/{slug}/members")
            .total,
        0
    );
    let with_members = list_teams(&client, "sim-org", &TeamSelector::default())?
        .collect()
        .await?;
    assert_eq!(
        with_members[1]["members"]["nodes"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(with_members[1]["members"]["nodes"][0]["login"], "user-1");
    // Name and email as in Port's GraphQL members, each member read once for all teams.
    assert_eq!(with_members[1]["members"]["nodes"][0]["name"], "User 1");
    assert_eq!(
        with_members[1]["members"]["nodes"][0]["email"],
        "user-1@example.com"
    );
    let distinct: std::collections::BTreeSet<String> = with_members
        .iter()
        .flat_map(|t| {
            t["members"]["nodes"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|m| m["login"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        harness.sim.count("GET /users/{login}").total,
        distinct.len() as u64
    );
    assert!(
        get_team(&client, "sim-org", "team-2", &TeamSelector::default())
            .await?
            .is_some()
    );

    let users = list_users(&client, "sim-org")?.collect().await?;
    assert_eq!(users.len(), 120);
    assert_eq!(users[7]["email"], "user-7@example.com");
    assert_eq!(users[7]["databaseId"], users[7]["id"]);
    assert_eq!(harness.sim.count("GET /orgs/{org}/members").total, 2);

    let repo = repo(&client, "repo-0000").await?;
    let collaborators = list_collaborators(&client, &repo)?
        .collect()
        .await?
        .unwrap_or_default();
    assert_eq!(collaborators.len(), 3);
    assert_example_keys("collaborator", &collaborators[0])?;
    let one = get_collaborator(&client, &repo, "user-1")
        .await?
        .ok_or_else(|| anyhow::anyhow!("user-1"))?;
    assert_eq!(
        (one["login"].as_str(), one["__repository"].as_str()),
        (Some("user-1"), Some("repo-0000"))
    );
    assert!(
        get_collaborator(&client, &repo, "stranger")
            .await?
            .is_none()
    );
    Ok(())
}

#[tokio::test]
async fn folders_and_files_by_glob() -> anyhow::Result<()> {
    assert!(glob_matches("apps/*", "apps/app-1"));
    assert!(!glob_matches("apps/*", "apps/app-1/package.json"));
    assert!(glob_matches("**/package.json", "apps/app-1/package.json"));
    assert!(glob_matches("**/README.md", "README.md"));

    let harness = SimHarness::start(OrgSpec {
        repos: 2,
        apps: 3,
        ..OrgSpec::default()
    })
    .await?;
    let client = harness.pat_client(harness.client_config())?;
    let repo = repo(&client, "repo-0001").await?;
    let folders = list_folders(
        &client,
        &repo,
        &[PathPattern {
            path: "apps/*".to_owned(),
            ..PathPattern::default()
        }],
    )
    .await?;
    assert_eq!(folders.len(), 3);
    assert_example_keys("folder", &folders[0])?;
    assert_eq!(folders[0]["folder"]["path"], "apps/app-0");

    let elsewhere = PathPattern {
        path: "apps/*".to_owned(),
        repos: vec![RepoBranch {
            name: "repo-0000".to_owned(),
            branch: None,
        }],
        ..PathPattern::default()
    };
    assert!(list_folders(&client, &repo, &[elsewhere]).await?.is_empty());

    let files = list_files(
        &client,
        &repo,
        &[PathPattern {
            path: "**/package.json".to_owned(),
            ..PathPattern::default()
        }],
    )
    .await?;
    assert_eq!(files.len(), 3);
    assert_example_keys("file", &files[0])?;
    assert_eq!(
        files[0]["content"]["name"], "app-0",
        "JSON content is parsed"
    );
    assert_eq!(files[0]["repository"]["name"], "repo-0001");
    let raw = list_files(
        &client,
        &repo,
        &[PathPattern {
            path: "README.md".to_owned(),
            skip_parsing: true,
            ..PathPattern::default()
        }],
    )
    .await?;
    assert_eq!(
        raw[0]["content"],
        "# repo-0001\n\nA simulated repository.\n"
    );
    assert_eq!(
        harness
            .sim
            .count("GET /repos/{o}/{r}/git/trees/{branch}")
            .total,
        3,
        "none for a pattern scoped to another repository"
    );
    Ok(())
}

#[tokio::test]
async fn single_objects_for_live_events_and_none_once_gone() -> anyhow::Result<()> {
    use port_github_core::github::kinds::actions::get_workflow;
    use port_github_core::github::kinds::deployments::{get_deployment, get_environment};
    use port_github_core::github::kinds::security::{
        get_code_scanning_alert, get_secret_scanning_alert,
    };

    let harness = SimHarness::start(OrgSpec {
        repos: 2,
        ..OrgSpec::default()
    })
    .await?;
    let client = harness.pat_client(harness.client_config())?;
    let repo = repo(&client, "repo-0001").await?;
    let environment = get_environment(&client, &repo, "env-1")
        .await?
        .ok_or_else(|| anyhow::anyhow!("env-1"))?;
    assert_eq!(
        (
            environment["name"].as_str(),
            environment["__repository"].as_str()
        ),
        (Some("env-1"), Some("repo-0001"))
    );
    assert!(get_environment(&client, &repo, "nowhere").await?.is_none());
    assert!(get_deployment(&client, &repo, 1_002).await?.is_some());
    assert!(get_deployment(&client, &repo, 1).await?.is_none());
    let by_file = get_workflow(&client, &repo, "w1.yml")
        .await?
        .ok_or_else(|| anyhow::anyhow!("w1.yml"))?;
    let by_id = get_workflow(&client, &repo, &by_file["id"].to_string()).await?;
    assert_eq!(
        by_id.map(|w| w["path"].clone()),
        Some(by_file["path"].clone())
    );
    assert!(get_code_scanning_alert(&client, &repo, 2).await?.is_some());
    assert!(get_code_scanning_alert(&client, &repo, 99).await?.is_none());
    let secret = get_secret_scanning_alert(&client, &repo, 1, &ScanningSelector::default()).await?;
    assert!(
        secret.is_some_and(
            |alert| alert.get("secret").is_none() && alert["__organization"] == "sim-org"
        )
    );
    Ok(())
}

#[tokio::test]
async fn a_kind_cursor_survives_a_queue_message_and_resumes_with_its_enrichment()
-> anyhow::Result<()> {
    use port_github_core::github::kinds::{KindCursor, KindPages};

    let harness = SimHarness::start(OrgSpec {
        repos: 1,
        releases: 250,
        ..OrgSpec::default()
    })
    .await?;
    let client = harness.pat_client(harness.client_config())?;
    let repo = repo(&client, "repo-0000").await?;
    let mut pages = list_releases(&client, &repo)?;
    let Listed::Page(first) = pages.next().await? else {
        anyhow::bail!("a first page");
    };
    assert_eq!(first.items.len(), 100);
    let message =
        serde_json::to_string(&pages.cursor().ok_or_else(|| anyhow::anyhow!("a cursor"))?)?;
    drop(pages);

    let cursor: KindCursor = serde_json::from_str(&message)?;
    let rest = KindPages::resume(&client, &cursor)?
        .collect()
        .await?
        .unwrap_or_default();
    assert_eq!(rest.len(), 150);
    assert!(
        rest.iter()
            .all(|release| release["__repository"] == "repo-0000")
    );
    assert_eq!(harness.sim.count("GET /repos/{o}/{r}/releases").total, 3);
    Ok(())
}

#[tokio::test]
async fn pull_requests_resume_from_a_cursor_across_the_open_and_closed_lists() -> anyhow::Result<()>
{
    use port_github_core::github::kinds::pulls::{PullRequestCursor, PullRequestPages};

    let harness = SimHarness::start(OrgSpec {
        repos: 1,
        open_prs: 120,
        closed_prs: 5,
        ..OrgSpec::default()
    })
    .await?;
    let client = harness.pat_client(harness.client_config())?;
    let repo = repo(&client, "repo-0000").await?;
    let both: PullRequestSelector = selector(Some(&json!({"states": ["open", "closed"]})))?;
    let mut pages = list_pull_requests(&client, &repo, &both)?;
    let Listed::Page(first) = pages.next().await? else {
        anyhow::bail!("a first page");
    };
    let message =
        serde_json::to_string(&pages.cursor().ok_or_else(|| anyhow::anyhow!("a cursor"))?)?;
    drop(pages);
    let cursor: PullRequestCursor = serde_json::from_str(&message)?;
    let rest = PullRequestPages::resume(&client, &cursor)?
        .collect()
        .await?;
    assert_eq!(first.items.len() + rest.len(), 120 + 5);
    assert!(rest.iter().any(|pr| pr["state"] == "closed"));
    Ok(())
}
