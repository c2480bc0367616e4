//! The resync end to end against the GitHub and Port simulators, with the in-process queue and
//! state store (runs through moto's SQS and DynamoDB are in `resync_aws.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use port_github_core::queue::JobQueue as _;
use port_github_core::resync::driver::DriveSettings;
use port_github_core::resync::{JobMessage, Resync, RunSummary, StartOutcome};
use port_github_core::state::Key;
use port_github_simulators::github_sim::{OrgSpec, SimConfig};
use port_github_simulators::port_sim::Endpoint;
use port_github_simulators::resync_world::ResyncWorld;

fn counts(world: &ResyncWorld) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for entity in world.port.catalog() {
        *out.entry(entity.blueprint).or_default() += 1;
    }
    out
}

fn keys(world: &ResyncWorld) -> BTreeSet<(String, String)> {
    world
        .port
        .catalog()
        .into_iter()
        .map(|e| (e.blueprint, e.identifier))
        .collect()
}

async fn completed(world: &ResyncWorld, drive: &DriveSettings) -> RunSummary {
    let report = world.run(drive).await.unwrap();
    let summary = report.summary.expect("the run finished");
    if summary.status != "completed" {
        let failures = world
            .state
            .list(
                &format!("run#{}", summary.run),
                "failure/",
                world.clock.now(),
            )
            .await
            .unwrap();
        panic!("{summary:#?}\nfailed jobs: {failures:#?}");
    }
    summary
}

/// Runs the queued jobs of `run` to the end and returns its summary.
async fn drain_to_summary(world: &ResyncWorld, resync: &Resync, run: &str) -> RunSummary {
    port_github_core::resync::driver::drain(
        resync,
        &world.queue,
        world.clock.clone(),
        &DriveSettings::default(),
        |_| {},
        run,
    )
    .await
    .unwrap();
    resync.summary(run).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_small_org_then_an_unchanged_one_then_a_deleted_repository() {
    let spec = OrgSpec::default();
    let world = ResyncWorld::with_spec(spec.clone(), None).await.unwrap();
    let first = completed(&world, &DriveSettings::default()).await;
    let by_blueprint = counts(&world);
    let expect = |blueprint: &str, n: usize| {
        assert_eq!(
            by_blueprint.get(blueprint).copied().unwrap_or(0),
            n,
            "{blueprint}: {by_blueprint:#?}"
        );
    };
    let repos = spec.repos;
    expect("githubOrganization", 1);
    expect("githubRepository", repos);
    expect("githubPullRequest", repos * spec.open_prs);
    expect("githubRelease", repos * spec.releases);
    expect("githubTag", repos * spec.tags);
    expect("githubBranch", repos * spec.branches);
    expect("githubWorkflow", repos * spec.workflows);
    expect(
        "githubWorkflowRun",
        repos * spec.workflows * spec.runs_per_workflow,
    );
    expect(
        "githubDeploymentStatus",
        repos * spec.deployments * spec.statuses_per_deployment,
    );
    expect("githubTeam", spec.teams);
    expect("githubUser", spec.members);
    let total: usize = by_blueprint.values().sum();
    assert_eq!(first.counters["upserted"] as usize, total);
    let cleanup = first.cleanup.clone().unwrap();
    assert_eq!((cleanup.stale, cleanup.deleted), (0, 0));
    let states = world.port.resync_states();
    assert!(states.len() >= 2, "running then completed: {states:?}");
    let mut examples: BTreeMap<String, usize> = BTreeMap::new();
    for upload in world.port.examples() {
        *examples.entry(upload.kind).or_default() += upload.examples.len();
    }
    assert!(
        examples.len() >= 15,
        "raw data examples per kind: {examples:?}"
    );
    assert!(
        examples.values().all(|n| (1..=5).contains(n)),
        "at most 5 per kind and run: {examples:?}"
    );

    // Unchanged: nothing is sent again, and GitHub answers from its ETags.
    world.github.sim.reset_counts();
    let upserts_before = world.port.requests().len();
    let second = completed(&world, &DriveSettings::default()).await;
    assert_eq!(second.counters.get("upserted"), None, "{second:#?}");
    assert_eq!(second.counters["unchanged"] as usize, total);
    let github = world.github.sim.total();
    assert!(
        github.not_modified * 100 >= github.total * 90,
        "an unchanged organization is re-read with 304s: {github:?}"
    );
    let port_requests: Vec<_> = world.port.requests()[upserts_before..]
        .iter()
        .filter(|r| matches!(r.endpoint, Endpoint::BulkUpsert | Endpoint::Upsert))
        .cloned()
        .collect();
    assert!(port_requests.is_empty(), "no upserts: {port_requests:?}");

    // A repository deleted on GitHub: exactly its entities go.
    let before = keys(&world);
    let gone_name = world.github.sim.repo_name(0);
    world.github.sim.remove_repo(0);
    let third = completed(&world, &DriveSettings::default()).await;
    let after = keys(&world);
    let deleted: Vec<_> = before.difference(&after).collect();
    assert!(after.is_subset(&before));
    let cleanup = third.cleanup.unwrap();
    assert_eq!(
        cleanup.deleted,
        deleted.len(),
        "its dependents first, then the repository: {cleanup:?}"
    );
    assert_eq!(counts(&world)["githubRepository"], repos - 1);
    assert_eq!(
        counts(&world)["githubPullRequest"],
        (repos - 1) * spec.open_prs
    );
    assert_eq!(counts(&world)["githubTeam"], spec.teams);
    for (blueprint, identifier) in &deleted {
        let entity = world.port.requests().iter().any(|r| {
            r.body.as_ref().is_some_and(|body| {
                body["entities"].as_array().is_some_and(|entities| {
                    entities.iter().any(|e| {
                        e["identifier"] == identifier.as_str() && e.to_string().contains(&gone_name)
                    })
                })
            })
        });
        assert!(
            entity || identifier.contains(&gone_name),
            "{blueprint}/{identifier} was not an entity of {gone_name}"
        );
    }
}

#[tokio::test]
async fn hundreds_of_repositories_with_a_tiny_time_budget_end_like_a_single_pass() {
    let spec = OrgSpec {
        repos: 240,
        open_prs: 2,
        closed_prs: 0,
        issues: 2,
        ..OrgSpec::default()
    };
    let mapping = port_github_core::mapping::defaults::DEFAULT_PORT_APP_CONFIG;
    let single = ResyncWorld::with_spec(spec.clone(), Some(mapping))
        .await
        .unwrap();
    let one = completed(
        &single,
        &DriveSettings {
            batch: 10,
            budget: Duration::from_secs(600),
            parallel: 4,
        },
    )
    .await;
    let sliced = ResyncWorld::with_spec(spec, Some(mapping)).await.unwrap();
    let many = completed(
        &sliced,
        &DriveSettings {
            batch: 3,
            budget: Duration::ZERO,
            parallel: 2,
        },
    )
    .await;
    assert!(
        many.counters["queued"] > one.counters["queued"] * 3,
        "a zero budget makes every job continue: {} vs {} jobs",
        many.counters["queued"],
        one.counters["queued"]
    );
    let catalog = |world: &ResyncWorld| {
        let mut entities: Vec<_> = world
            .port
            .catalog()
            .into_iter()
            .map(|e| (e.blueprint, e.identifier, e.properties, e.relations))
            .collect();
        entities.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        entities
    };
    assert_eq!(catalog(&single).len(), catalog(&sliced).len());
    assert!(catalog(&single) == catalog(&sliced), "same final catalog");

    // And the cleanup is right after a sliced run too.
    sliced.github.sim.remove_repo(7);
    let again = completed(
        &sliced,
        &DriveSettings {
            batch: 3,
            budget: Duration::ZERO,
            parallel: 2,
        },
    )
    .await;
    assert!(again.cleanup.unwrap().deleted > 0);
    assert_eq!(counts(&sliced)["githubRepository"], 239);
}

#[tokio::test]
async fn a_job_that_fails_for_good_fails_the_run_and_deletes_nothing_then_the_next_run_recovers() {
    let world = ResyncWorld::with_spec(OrgSpec::default(), None)
        .await
        .unwrap();
    completed(&world, &DriveSettings::default()).await;
    let before = keys(&world);
    world.github.sim.remove_repo(1);
    // GitHub refuses (422) every request for a while: jobs fail permanently.
    world.github.sim.faults(|f| {
        f.status_next = 3;
        f.status_of_next = 422;
    });
    let report = world.run(&DriveSettings::default()).await.unwrap();
    let summary = report.summary.unwrap();
    assert_eq!(summary.status, "failed", "{summary:#?}");
    assert!(summary.counters["failed"] >= 1);
    assert!(summary.cleanup.is_none());
    assert_eq!(keys(&world), before, "a failed run deletes nothing");
    world.github.sim.faults(|f| f.status_next = 0);
    let states = world.port.resync_states();
    assert!(
        format!("{:?}", states.last()).contains("failed"),
        "Port is told: {states:?}"
    );
    // The next run completes, and the deleted repository's entities go.
    let recovered = completed(&world, &DriveSettings::default()).await;
    assert!(recovered.cleanup.unwrap().deleted > 0);
    assert_eq!(counts(&world)["githubRepository"], 2);
}

#[tokio::test]
async fn two_schedules_at_once_make_one_run_and_a_crashed_run_blocks_only_until_its_lease_expires()
{
    let world = ResyncWorld::with_spec(OrgSpec::default(), None)
        .await
        .unwrap();
    let (a, b) = (world.resync().unwrap(), world.resync().unwrap());
    let (first, second) = tokio::join!(a.start(), b.start());
    let outcomes = [first.unwrap(), second.unwrap()];
    let started = outcomes
        .iter()
        .filter(|o| matches!(o, StartOutcome::Started { .. }))
        .count();
    assert_eq!(started, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, StartOutcome::Skipped { .. }))
    );
    // The run "crashes": its jobs are never run. The next schedule within its lease skips…
    let crashed = world.queue.take_ready(1_000);
    assert!(!crashed.is_empty());
    assert!(matches!(
        a.start().await.unwrap(),
        StartOutcome::Skipped { .. }
    ));
    // … and the one after the lease expired proceeds; the crashed run's jobs are dropped.
    world.github.clock.advance(Duration::from_secs(3_601));
    let resync = world.resync().unwrap();
    let StartOutcome::Started { run, .. } = resync.start().await.unwrap() else {
        panic!("the expired lease is taken");
    };
    world.queue.send(crashed, Duration::ZERO).await.unwrap();
    let summary = drain_to_summary(&world, &resync, &run).await;
    assert_eq!(summary.status, "completed", "{summary:#?}");
    assert_eq!(counts(&world)["githubRepository"], 3);
}

#[tokio::test]
async fn a_job_delivered_twice_is_counted_once() {
    let world = ResyncWorld::with_spec(OrgSpec::default(), None)
        .await
        .unwrap();
    let resync = world.resync().unwrap();
    let StartOutcome::Started { run, .. } = resync.start().await.unwrap() else {
        panic!("started");
    };
    // Deliver every message of the first round twice, as SQS may.
    let bodies = world.queue.take_ready(10);
    let messages = JobMessage::numbered(&bodies);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    assert!(
        resync
            .handle_messages(messages.clone(), deadline)
            .await
            .is_empty()
    );
    assert!(resync.handle_messages(messages, deadline).await.is_empty());
    let summary = drain_to_summary(&world, &resync, &run).await;
    assert_eq!(summary.status, "completed", "{summary:#?}");
    let c = &summary.counters;
    assert_eq!(c["done"], c["queued"], "{c:#?}");
    assert_eq!(counts(&world)["githubRepository"], 3);
}

#[tokio::test]
async fn malformed_and_foreign_messages_are_dropped_without_harm() {
    let world = ResyncWorld::with_spec(OrgSpec::default(), None)
        .await
        .unwrap();
    let resync = world.resync().unwrap();
    let StartOutcome::Started { run, .. } = resync.start().await.unwrap() else {
        panic!("started");
    };
    let junk = vec![
        JobMessage {
            id: "a".into(),
            body: "not json".into(),
        },
        JobMessage {
            id: "b".into(),
            body: r#"{"v": 99, "run": "x"}"#.into(),
        },
        JobMessage {
            id: "c".into(),
            body: r#"{"v":1,"run":"another-run","id":"o/~#0","org":"o","task":{"type":"org","resource":0}}"#.into(),
        },
        JobMessage {
            id: "d".into(),
            body: "x".repeat(300_000),
        },
    ];
    let failed = resync
        .handle_messages(junk, std::time::Instant::now() + Duration::from_secs(5))
        .await;
    assert!(failed.is_empty(), "acknowledged, not retried: {failed:?}");
    assert_eq!(
        drain_to_summary(&world, &resync, &run).await.status,
        "completed"
    );
}

#[tokio::test]
async fn an_exhausted_rate_limit_delays_jobs_until_the_reset_and_the_reserve_is_kept() {
    let spec = OrgSpec {
        repos: 12,
        ..OrgSpec::default()
    };
    let world = ResyncWorld::start(
        SimConfig {
            spec,
            hourly_limit: 200,
            ..SimConfig::default()
        },
        None,
    )
    .await
    .unwrap();
    let started_at = world.clock.now();
    let summary = completed(&world, &DriveSettings::default()).await;
    let waited = world.clock.now() - started_at;
    assert!(
        waited >= chrono::TimeDelta::minutes(50),
        "the run needed more than one hourly budget, so it waited for a reset: {waited}"
    );
    assert_eq!(counts(&world)["githubRepository"], 12);
    assert!(summary.counters["upserted"] > 200);
    let lowest = world.github.sim.lowest_remaining();
    // RATE_LIMIT_RESERVE 0.05 keeps 10 of 200 for live events. Jobs check the budget between
    // pages, so jobs already in flight may overshoot by a few requests, never to exhaustion.
    assert!(
        (5..u64::MAX).contains(&lowest),
        "the reserve is kept (give or take the requests in flight); lowest left: {lowest}"
    );
}

#[tokio::test]
async fn a_github_outage_that_empties_the_lists_does_not_wipe_the_catalog() {
    let world = ResyncWorld::with_spec(
        OrgSpec {
            repos: 6,
            ..OrgSpec::default()
        },
        None,
    )
    .await
    .unwrap();
    completed(&world, &DriveSettings::default()).await;
    let before = keys(&world);
    // The repository list comes back empty.
    for index in 0..6 {
        world.github.sim.remove_repo(index);
    }
    let summary = completed(&world, &DriveSettings::default()).await;
    let cleanup = summary.cleanup.unwrap();
    assert!(
        cleanup
            .skipped
            .as_deref()
            .is_some_and(|why| why.contains("entityDeletionThreshold")),
        "{cleanup:?}"
    );
    assert_eq!(cleanup.deleted, 0);
    assert_eq!(keys(&world), before);
}

#[tokio::test]
async fn an_entity_deleted_behind_the_integrations_back_is_sent_again_by_the_next_run() {
    let world = ResyncWorld::with_spec(OrgSpec::default(), None)
        .await
        .unwrap();
    completed(&world, &DriveSettings::default()).await;
    let repo = world.port.entities_of("githubTag")[0].clone();
    let port = port_github_core::port::PortClient::new(
        port_github_simulators::port_sim::harness::client_config(world.port.base_url()),
    )
    .unwrap();
    port.delete_entity("githubTag", &repo.identifier, true)
        .await
        .unwrap();
    let second = completed(&world, &DriveSettings::default()).await;
    assert!(second.cleanup.unwrap().missing >= 1);
    completed(&world, &DriveSettings::default()).await;
    assert!(
        world.port.entity("githubTag", &repo.identifier).is_some(),
        "healed by the run after the one that noticed"
    );
}

#[tokio::test]
async fn progress_is_tracked_in_the_state_table() {
    let world = ResyncWorld::with_spec(OrgSpec::default(), None)
        .await
        .unwrap();
    let summary = completed(&world, &DriveSettings::default()).await;
    let stored = world
        .state
        .get(
            Key::new("resync", &format!("run/{}", summary.run)),
            world.clock.now(),
        )
        .await
        .unwrap()
        .expect("the summary is stored");
    assert!(stored.value.contains("\"completed\""));
    for name in [
        "queued",
        "done",
        "items-pull-request",
        "entities-pull-request",
    ] {
        assert!(summary.counters.contains_key(name), "{name}");
    }
}

#[tokio::test]
async fn without_delete_dependent_entities_stale_entities_go_dependents_first() {
    let mapping = port_github_core::mapping::defaults::DEFAULT_PORT_APP_CONFIG.replace(
        "deleteDependentEntities: true",
        "deleteDependentEntities: false",
    );
    assert!(mapping.contains("deleteDependentEntities: false"));
    let world = ResyncWorld::with_spec(OrgSpec::default(), Some(&mapping))
        .await
        .unwrap();
    completed(&world, &DriveSettings::default()).await;
    let before = keys(&world);
    world.github.sim.remove_repo(2);
    let summary = completed(&world, &DriveSettings::default()).await;
    let cleanup = summary.cleanup.unwrap();
    let after = keys(&world);
    assert_eq!(cleanup.not_deleted, 0, "{cleanup:?}");
    assert_eq!(cleanup.deleted, before.len() - after.len(), "{cleanup:?}");
    assert_eq!(counts(&world)["githubRepository"], 2);
    let deletes = world.port.requests_to(Endpoint::BulkDelete);
    assert!(
        deletes.iter().all(|r| r
            .query
            .iter()
            .any(|(k, v)| k == "delete_dependents" && v == "false")),
        "dependents are never deleted on the integration's behalf"
    );
}

#[tokio::test]
async fn each_run_tends_the_organization_webhook_and_goes_on_without_the_permission() {
    let mut world = ResyncWorld::with_spec(OrgSpec::default(), None)
        .await
        .unwrap();
    world.settings.webhook = Some(port_github_core::resync::WebhookTarget {
        url: "https://hooks.example/github".into(),
        secret: secrecy::SecretString::from("hook-secret"),
    });
    completed(&world, &DriveSettings::default()).await;
    let hooks = world.github.sim.hooks();
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(hooks[0].url, "https://hooks.example/github");
    assert!(hooks[0].active);
    assert_eq!(hooks[0].secret.as_deref(), Some("hook-secret"));
    // Drift is put right by the next run; a second hook is never made.
    world
        .github
        .sim
        .set_hooks_access(port_github_simulators::github_sim::HooksAccess::Forbidden);
    let summary = completed(&world, &DriveSettings::default()).await;
    assert_eq!(
        summary.status, "completed",
        "the resync goes on without the permission"
    );
    world
        .github
        .sim
        .set_hooks_access(port_github_simulators::github_sim::HooksAccess::Granted);
    completed(&world, &DriveSettings::default()).await;
    assert_eq!(world.github.sim.hooks().len(), 1);
}

/// A mapping as Port's UI holds it: repositories, and tags unless `tags` is false.
fn port_mapping(tags: bool) -> serde_json::Value {
    let repository = serde_json::json!({
        "kind": "repository",
        "selector": {"query": "true"},
        "port": {"entity": {"mappings": {
            "identifier": ".name", "title": ".name", "blueprint": "\"githubRepository\"",
            "properties": {"url": ".html_url"}
        }}}
    });
    let tag = serde_json::json!({
        "kind": "tag",
        "selector": {"query": "true"},
        "port": {"entity": {"mappings": {
            "identifier": ".__repository + \"-\" + .name", "title": ".name",
            "blueprint": "\"githubTag\"",
            "properties": {"commitSha": ".commit.sha"},
            "relations": {"repository": ".__repository"}
        }}}
    });
    let resources = if tags {
        vec![repository, tag]
    } else {
        vec![repository]
    };
    serde_json::json!({"deleteDependentEntities": true, "resources": resources})
}

#[tokio::test]
async fn each_run_uses_the_mapping_as_it_is_in_port_when_it_starts() {
    use port_github_simulators::port_sim::harness::INTEGRATION_ID;
    let world = ResyncWorld::with_spec(OrgSpec::default(), None)
        .await
        .unwrap();
    let run = |world: &ResyncWorld| {
        let resync = world.resync().unwrap().with_mapping_from_port();
        let queue = world.queue.clone();
        let clock = world.clock.clone();
        async move {
            port_github_core::resync::driver::run_to_end(
                &resync,
                &queue,
                clock,
                &DriveSettings::default(),
                |_| {},
            )
            .await
            .unwrap()
            .summary
            .unwrap()
        }
    };
    world
        .port
        .set_integration_config(INTEGRATION_ID, port_mapping(true));
    assert_eq!(run(&world).await.status, "completed");
    assert_eq!(counts(&world).get("githubTag"), Some(&6));
    assert_eq!(
        counts(&world).get("githubPullRequest"),
        None,
        "only what Port's mapping asks"
    );
    // Someone removes the tag resource in Port's UI: the next run drops the tags.
    world
        .port
        .set_integration_config(INTEGRATION_ID, port_mapping(false));
    let summary = run(&world).await;
    assert_eq!(summary.status, "completed", "{summary:#?}");
    assert_eq!(counts(&world).get("githubTag"), None);
    assert_eq!(counts(&world)["githubRepository"], 3);
    // A mapping that does not compile fails the run, loudly, and deletes nothing.
    let mut broken = port_mapping(true);
    broken["resources"][0]["port"]["entity"]["mappings"]["identifier"] = ".name | (".into();
    world.port.set_integration_config(INTEGRATION_ID, broken);
    let resync = world.resync().unwrap().with_mapping_from_port();
    let error = resync.start().await.unwrap_err().to_string();
    assert!(error.contains("mapping"), "{error}");
    assert_eq!(counts(&world)["githubRepository"], 3);
}

#[tokio::test]
async fn long_organization_and_branch_lists_continue_page_by_page() {
    let spec = OrgSpec {
        repos: 2,
        members: 230,
        teams: 150,
        members_per_team: 1,
        branches: 130,
        ..OrgSpec::default()
    };
    let world = ResyncWorld::with_spec(spec.clone(), None).await.unwrap();
    let summary = completed(
        &world,
        &DriveSettings {
            batch: 2,
            budget: Duration::ZERO,
            parallel: 1,
        },
    )
    .await;
    let by_blueprint = counts(&world);
    assert_eq!(by_blueprint["githubUser"], 230);
    assert_eq!(by_blueprint["githubTeam"], 150);
    assert_eq!(by_blueprint["githubBranch"], 2 * 130);
    // The entities of continued lists waited in the run's partial records, now merged and gone.
    let partials = world
        .state
        .list(
            &format!("run#{}", summary.run),
            "partial/",
            world.clock.now(),
        )
        .await
        .unwrap();
    assert!(partials.is_empty(), "{partials:?}");
    // Users (3 pages), teams (2) and each repository's branches (2) were continued.
    assert!(
        summary.counters["queued"] >= 12,
        "continuations: {:#?}",
        summary.counters
    );
}

/// Four repositories; 0 and 2 have alerts and environments off (their deployments still name
/// environments, which Port makes as placeholders).
async fn features_off_world() -> ResyncWorld {
    ResyncWorld::with_spec(
        OrgSpec {
            repos: 4,
            features_off_every: 2,
            ..OrgSpec::default()
        },
        None,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn placeholders_port_made_for_missing_related_entities_stay_while_live_entities_use_them() {
    // Repositories with environments off still have deployments naming environments: Port makes
    // placeholder environments for them (createMissingRelatedEntities), owned and never seen.
    let world = features_off_world().await;
    let first = completed(&world, &DriveSettings::default()).await;
    let cleanup = first.cleanup.unwrap();
    assert!(cleanup.kept_for_dependents > 0, "{cleanup:?}");
    assert_eq!(cleanup.deleted, 0, "{cleanup:?}");
    let before = keys(&world);
    let second = completed(&world, &DriveSettings::default()).await;
    assert_eq!(
        keys(&world),
        before,
        "no entity comes and goes between runs"
    );
    assert_eq!(second.cleanup.unwrap().missing, 0);
    assert_eq!(second.counters.get("upserted"), None);
}

#[tokio::test]
async fn kept_placeholders_cost_one_bulk_call_a_run_and_are_rechecked_daily() {
    let world = features_off_world().await;
    let first = completed(&world, &DriveSettings::default()).await;
    let kept = first.cleanup.unwrap().kept_for_dependents;
    assert!(kept > 0);
    let singles = |world: &ResyncWorld| world.port.count(Endpoint::Delete);
    assert!(
        singles(&world) >= kept as u64,
        "the first run tries each one"
    );

    // An unchanged run: one bulk attempt for the known ones, no request per entity.
    let before = singles(&world);
    let bulk_before = world.port.count(Endpoint::BulkDelete);
    let second = completed(&world, &DriveSettings::default()).await;
    let cleanup = second.cleanup.unwrap();
    assert_eq!(
        singles(&world),
        before,
        "known placeholders are not tried one by one again: {cleanup:?}"
    );
    assert!(world.port.count(Endpoint::BulkDelete) > bulk_before);
    assert_eq!(cleanup.kept_for_dependents, kept);

    // Repository 0 (environments off: its environments are placeholders) goes away.
    let gone = world.github.sim.repo_name(0);
    let placeholders_of = |world: &ResyncWorld, repo: &str| {
        world
            .port
            .entities_of("githubEnvironment")
            .into_iter()
            .filter(|e| e.identifier.contains(repo))
            .count()
    };
    assert!(placeholders_of(&world, &gone) > 0);
    world.github.sim.remove_repo(0);
    let third = completed(&world, &DriveSettings::default()).await;
    assert_eq!(counts(&world)["githubRepository"], 3);
    assert!(third.cleanup.unwrap().deleted > 0);
    let before = singles(&world);

    // A day later the kept ones are tried one by one again: the gone repository's placeholders
    // have no dependents left and go; the others stay.
    world.github.clock.advance(Duration::from_secs(25 * 3_600));
    let fourth = completed(&world, &DriveSettings::default()).await;
    assert!(singles(&world) > before, "rechecked one by one");
    assert_eq!(placeholders_of(&world, &gone), 0, "{:?}", fourth.cleanup);
    let kept_repo = world.github.sim.repo_name(2);
    assert!(placeholders_of(&world, &kept_repo) > 0, "still used");
    assert!(fourth.cleanup.unwrap().kept_for_dependents > 0);
}

#[tokio::test]
async fn a_feature_that_is_off_is_asked_again_only_once_a_day() {
    let world = features_off_world().await;
    let first = completed(&world, &DriveSettings::default()).await;
    assert!(
        first.counters["na-dependabot-alert"] >= 2,
        "{:#?}",
        first.counters
    );
    let alerts_before = world.port.entities_of("githubDependabotAlert").len();
    assert!(
        alerts_before > 0,
        "the repositories with the feature on have alerts"
    );
    let refused = |world: &ResyncWorld| {
        world
            .github
            .sim
            .counts()
            .iter()
            .filter(|(endpoint, _)| endpoint.contains("dependabot"))
            .map(|(_, count)| count.total - count.not_modified)
            .sum::<u64>()
    };
    world.github.sim.reset_counts();
    let second = completed(&world, &DriveSettings::default()).await;
    assert_eq!(
        refused(&world),
        0,
        "no 403 asked again, and 304s for the rest"
    );
    assert!(second.counters["not-available-skipped"] >= 2);
    assert_eq!(
        world.port.entities_of("githubDependabotAlert").len(),
        alerts_before
    );
    // A day later it is checked again.
    world.github.clock.advance(Duration::from_secs(25 * 3_600));
    world.github.sim.reset_counts();
    let third = completed(&world, &DriveSettings::default()).await;
    assert!(refused(&world) >= 2, "checked again after a day");
    assert_eq!(third.counters.get("not-available-skipped"), None);
}

#[tokio::test]
async fn stale_entities_go_even_when_a_kept_placeholder_shares_their_bulk_delete() {
    let world = features_off_world().await;
    completed(&world, &DriveSettings::default()).await;
    let before = keys(&world);
    let gone = world.github.sim.repo_name(1);
    world.github.sim.remove_repo(1);
    let summary = completed(&world, &DriveSettings::default()).await;
    let cleanup = summary.cleanup.unwrap();
    let after = keys(&world);
    assert!(
        cleanup.kept_for_dependents > 0,
        "placeholders kept: {cleanup:?}"
    );
    assert_eq!(cleanup.deleted, before.len() - after.len(), "{cleanup:?}");
    let environments_left: Vec<_> = world
        .port
        .entities_of("githubEnvironment")
        .into_iter()
        .filter(|e| e.identifier.contains(&gone))
        .collect();
    assert!(
        environments_left.is_empty(),
        "{gone}'s environments went, though a placeholder refused in the same bulk call: {environments_left:?}"
    );
    assert_eq!(counts(&world)["githubRepository"], 3);
}

#[tokio::test]
async fn a_warm_container_sends_raw_examples_at_every_run() {
    let world = ResyncWorld::with_spec(OrgSpec::default(), None)
        .await
        .unwrap();
    // One `Resync` for both runs, as one Lambda container serves hourly schedules.
    let resync = world.resync().unwrap();
    let examples = |world: &ResyncWorld| {
        let mut per_kind: BTreeMap<String, usize> = BTreeMap::new();
        for upload in world.port.examples() {
            *per_kind.entry(upload.kind).or_default() += upload.examples.len();
        }
        per_kind
    };
    let mut after = Vec::new();
    for _ in 0..2 {
        let report = port_github_core::resync::driver::run_to_end(
            &resync,
            &world.queue,
            world.clock.clone(),
            &DriveSettings::default(),
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(report.summary.unwrap().status, "completed");
        after.push(examples(&world));
    }
    // Kinds that reached the limit in the first run (their later pages found it full).
    let full: Vec<&String> = after[0]
        .iter()
        .filter(|(_, n)| **n == 5)
        .map(|(k, _)| k)
        .collect();
    assert!(!full.is_empty(), "{:?}", after[0]);
    for kind in full {
        assert_eq!(
            after[1][kind], 10,
            "{kind}: sent again by the second run: {after:?}"
        );
    }
}
