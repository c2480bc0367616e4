//! The resync against moto: the DynamoDB state store and the SQS jobs queue (not the in-memory
//! ones), with the GitHub and Port simulators. Jobs are driven as Lambda's event source mapping
//! would: batches received from the queue, `handle_messages`, the messages not reported failed
//! deleted. No rate-limit scenario here: a delayed SQS message takes real minutes (those are
//! tested in process, `resync_flow.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use port_github_core::port::provision::Provisioner;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use port_github_core::github::Feature;
use port_github_core::port::PortClient;
use port_github_core::queue::SqsJobQueue;
use port_github_core::resync::{JobMessage, LEASE, Resync, RunSummary, StartOutcome};
use port_github_core::state::{DynamoDbStateStore, StateStore as _};
use port_github_core::sync::TokenClients;
use port_github_simulators::github_sim::OrgSpec;
use port_github_simulators::port_sim::harness::client_config;
use port_github_simulators::resync_world::{ResyncWorld, SMALL_MAPPING};
use port_github_tests::moto::{
    create_standard_queue, create_state_table, moto, next_batch, settle_batch,
};
use serde_json::Value;

/// The simulators, and a moto queue and table of this test's own.
struct AwsWorld {
    world: ResyncWorld,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
}

impl AwsWorld {
    async fn start(spec: OrgSpec) -> Self {
        let world = ResyncWorld::with_spec(spec, Some(SMALL_MAPPING))
            .await
            .unwrap();
        let aws = moto().sdk_config().await;
        let sqs = aws_sdk_sqs::Client::new(&aws);
        let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
        let queue_url = create_standard_queue(&sqs, "resync-jobs").await.unwrap();
        let table = create_state_table(&dynamodb, "resync-state").await.unwrap();
        Self {
            world,
            sqs,
            queue_url,
            dynamodb,
            table,
        }
    }

    /// A resync as one Lambda container builds it: nothing shared but the table and the queue.
    fn resync(&self) -> Resync {
        let world = &self.world;
        let client = world.github.pat_client(world.client_config()).unwrap();
        Resync::new(
            Arc::new(TokenClients(client)),
            PortClient::new(client_config(world.port.base_url())).unwrap(),
            world.mapping.clone(),
            Arc::new(DynamoDbStateStore::new(
                self.dynamodb.clone(),
                self.table.clone(),
            )),
            Arc::new(SqsJobQueue::new(self.sqs.clone(), self.queue_url.clone())),
            world.clock.clone(),
            world.settings.clone(),
        )
        .with_provisioning(Arc::new(Provisioner::new(
            true,
            port_github_core::mapping::defaults::DEFAULT_BLUEPRINTS,
        )))
    }

    /// Runs the queued jobs until the queue is empty; returns the batches it took.
    async fn drain(&self, resync: &Resync) -> usize {
        self.drain_with(resync, Duration::from_secs(60)).await
    }

    /// [`AwsWorld::drain`] with `budget` of work time per batch.
    async fn drain_with(&self, resync: &Resync, budget: Duration) -> usize {
        let give_up = Instant::now() + Duration::from_secs(300);
        let mut batches = 0;
        while let Some(messages) = next_batch(&self.sqs, &self.queue_url, give_up)
            .await
            .expect("the jobs queue empties within 5 minutes")
        {
            let jobs = messages
                .iter()
                .map(|m| JobMessage {
                    id: m.message_id().unwrap_or_default().to_owned(),
                    body: m.body().unwrap_or_default().to_owned(),
                })
                .collect();
            let failed = resync.handle_messages(jobs, Instant::now() + budget).await;
            settle_batch(&self.sqs, &self.queue_url, &messages, &failed)
                .await
                .unwrap();
            batches += 1;
        }
        batches
    }

    /// One whole run: start, then the jobs; its summary.
    async fn run(&self) -> RunSummary {
        self.run_with(Duration::from_secs(60)).await
    }

    /// [`AwsWorld::run`] with `budget` of work time per batch.
    async fn run_with(&self, budget: Duration) -> RunSummary {
        let resync = self.resync();
        let StartOutcome::Started { run, .. } = resync.start().await.unwrap() else {
            panic!("the run did not start");
        };
        let batches = self.drain_with(&resync, budget).await;
        // Another container reads the summary: it lives in the table.
        let summary = self.resync().summary(&run).await.unwrap();
        let summary = summary.unwrap_or_else(|| panic!("no summary after {batches} batches"));
        println!("{summary:#?}");
        summary
    }

    /// The catalog's identifiers per blueprint.
    fn catalog(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for entity in self.world.port.catalog() {
            out.entry(entity.blueprint)
                .or_default()
                .insert(entity.identifier);
        }
        out
    }

    /// What the small mapping makes of the GitHub simulator's organization now, per blueprint,
    /// read from GitHub's REST API.
    async fn expected(&self) -> BTreeMap<String, BTreeSet<String>> {
        let github = &self.world.github;
        let client = github.pat_client(github.client_config()).unwrap();
        let org = github.sim.org();
        // Every page of a list.
        let list = |path: String| {
            let client = client.clone();
            async move {
                client
                    .pages(&path, None, Feature::Required)
                    .unwrap()
                    .collect_items()
                    .await
                    .unwrap()
            }
        };
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut add = |blueprint: &str, identifier: String| {
            out.entry(blueprint.to_owned())
                .or_default()
                .insert(identifier);
        };
        for repo in list(format!("/orgs/{org}/repos?type=all")).await {
            let name = repo["name"].as_str().unwrap().to_owned();
            add("githubRepository", name.clone());
            for pr in list(format!("/repos/{org}/{name}/pulls?state=open")).await {
                add("githubPullRequest", format!("{name}-{}", pr["number"]));
            }
            for issue in list(format!("/repos/{org}/{name}/issues?state=open")).await {
                if issue.get("pull_request").is_none_or(Value::is_null) {
                    add("githubIssue", format!("{name}-{}", issue["number"]));
                }
            }
            for release in list(format!("/repos/{org}/{name}/releases")).await {
                add("githubRelease", format!("{name}-{}", release["id"]));
            }
        }
        out
    }
}

fn total(catalog: &BTreeMap<String, BTreeSet<String>>) -> usize {
    catalog.values().map(BTreeSet::len).sum()
}

#[tokio::test]
async fn a_run_fills_the_catalog_and_the_next_one_deletes_a_removed_repository() {
    let spec = OrgSpec {
        repos: 40,
        ..OrgSpec::default()
    };
    let aws = AwsWorld::start(spec).await;

    let summary = aws.run().await;
    assert_eq!(summary.status, "completed", "{summary:?}");
    let expected = aws.expected().await;
    assert_eq!(expected["githubRepository"].len(), 40);
    for blueprint in ["githubPullRequest", "githubIssue", "githubRelease"] {
        assert!(
            !expected.get(blueprint).is_none_or(BTreeSet::is_empty),
            "the simulator has {blueprint} entities to sync"
        );
    }
    assert_eq!(aws.catalog(), expected);
    let cleanup = summary
        .cleanup
        .expect("a completed run reports its cleanup");
    assert_eq!(cleanup.deleted, 0, "{cleanup:?}");

    let removed = aws.world.github.sim.repo_name(0);
    aws.world.github.sim.remove_repo(0);
    let summary = aws.run().await;
    assert_eq!(summary.status, "completed", "{summary:?}");
    let after = aws.expected().await;
    assert_eq!(after["githubRepository"].len(), 39);
    assert!(!after["githubRepository"].contains(&removed));
    assert_eq!(aws.catalog(), after);
    let gone = total(&expected) - total(&after);
    let cleanup = summary
        .cleanup
        .expect("a completed run reports its cleanup");
    assert_eq!(cleanup.stale, gone, "{cleanup:?}");
    assert_eq!(cleanup.deleted, gone, "{cleanup:?}");
    assert_eq!(cleanup.not_deleted, 0, "{cleanup:?}");
}

#[tokio::test]
async fn two_starts_at_once_start_one_run() {
    let aws = AwsWorld::start(OrgSpec::default()).await;
    let (first, second) = (aws.resync(), aws.resync());
    let (a, b) = tokio::join!(first.start(), second.start());
    let outcomes = [a.unwrap(), b.unwrap()];
    let started: Vec<&StartOutcome> = outcomes
        .iter()
        .filter(|o| matches!(o, StartOutcome::Started { .. }))
        .collect();
    assert_eq!(started.len(), 1, "{outcomes:?}");
    let StartOutcome::Started { run, .. } = started[0] else {
        unreachable!()
    };
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, StartOutcome::Skipped { holder, .. } if holder == run)),
        "{outcomes:?}"
    );
    // The started run finishes, and releases the lease for the next.
    aws.drain(&first).await;
    let summary = first.summary(run).await.unwrap().expect("finished");
    assert_eq!(summary.status, "completed", "{summary:?}");
    assert!(matches!(
        second.start().await.unwrap(),
        StartOutcome::Started { .. }
    ));
    aws.drain(&second).await;
}

#[tokio::test]
async fn a_zero_time_budget_continues_through_sqs_and_ends_with_the_same_catalog() {
    // 130 open issues: two pages per repository, so lists continue mid-way too.
    let aws = AwsWorld::start(OrgSpec {
        repos: 12,
        issues: 130,
        ..OrgSpec::default()
    })
    .await;
    let summary = aws.run_with(Duration::ZERO).await;
    assert_eq!(summary.status, "completed", "{summary:?}");
    assert!(
        summary.counters["queued"] > 2 * 12,
        "every repository job continued: {:?}",
        summary.counters
    );
    let expected = aws.expected().await;
    assert_eq!(
        expected["githubIssue"].len(),
        12 * 130,
        "both pages of every list"
    );
    assert!(
        aws.catalog() == expected,
        "the catalog is what the mapping makes of GitHub"
    );
    // And the cleanup after a sliced run is exact as well.
    aws.world.github.sim.remove_repo(3);
    let summary = aws.run_with(Duration::ZERO).await;
    assert_eq!(summary.status, "completed", "{summary:?}");
    assert_eq!(aws.catalog(), aws.expected().await);
}

#[tokio::test]
async fn a_job_that_fails_for_good_deletes_nothing_and_the_next_run_recovers() {
    let aws = AwsWorld::start(OrgSpec {
        repos: 6,
        ..OrgSpec::default()
    })
    .await;
    assert_eq!(aws.run().await.status, "completed");
    let before = aws.catalog();
    aws.world.github.sim.remove_repo(2);
    aws.world.github.sim.faults(|f| {
        f.status_next = 2;
        f.status_of_next = 422;
    });
    let failed = aws.run().await;
    assert_eq!(failed.status, "failed", "{failed:?}");
    assert!(failed.cleanup.is_none());
    assert_eq!(aws.catalog(), before, "a failed run deletes nothing");
    aws.world.github.sim.faults(|f| f.status_next = 0);
    let recovered = aws.run().await;
    assert_eq!(recovered.status, "completed", "{recovered:?}");
    assert_eq!(aws.catalog(), aws.expected().await);
}

#[tokio::test]
async fn an_empty_repository_list_does_not_wipe_the_catalog() {
    let aws = AwsWorld::start(OrgSpec {
        repos: 5,
        ..OrgSpec::default()
    })
    .await;
    assert_eq!(aws.run().await.status, "completed");
    let before = aws.catalog();
    for index in 0..5 {
        aws.world.github.sim.remove_repo(index);
    }
    let summary = aws.run().await;
    let cleanup = summary.cleanup.expect("completed");
    assert!(cleanup.skipped.is_some(), "{cleanup:?}");
    assert_eq!(aws.catalog(), before);
}

#[tokio::test]
async fn a_crashed_runs_lease_expires_and_the_next_schedule_proceeds() {
    let aws = AwsWorld::start(OrgSpec::default()).await;
    let crashed = aws.resync();
    assert!(matches!(
        crashed.start().await.unwrap(),
        StartOutcome::Started { .. }
    ));
    // Its jobs are never run; within its lease (a heartbeat) the schedule skips.
    assert!(matches!(
        aws.resync().start().await.unwrap(),
        StartOutcome::Skipped { .. }
    ));
    aws.world.github.clock.advance(Duration::from_secs(3_601));
    let next = aws.resync();
    let StartOutcome::Started { run, .. } = next.start().await.unwrap() else {
        panic!("the expired lease is taken");
    };
    // The crashed run's jobs are still in the queue: they are dropped as superseded.
    aws.drain(&next).await;
    let summary = next.summary(&run).await.unwrap().expect("finished");
    assert_eq!(summary.status, "completed", "{summary:?}");
    assert_eq!(aws.catalog(), aws.expected().await);
}

#[tokio::test]
async fn jobs_renew_the_lease_in_dynamodb_and_a_superseded_run_never_takes_it_back() {
    let aws = AwsWorld::start(OrgSpec::default()).await;
    let minutes = |m: u64| Duration::from_secs(m * 60);
    let at = |m: i64| aws.world.clock.now() + chrono::TimeDelta::minutes(m);
    let old = aws.resync();
    let StartOutcome::Started { run: old_run, .. } = old.start().await.unwrap() else {
        panic!("the first run starts");
    };
    let old_start = aws.world.clock.now();
    // Twenty minutes in, a batch of its jobs runs: the lease now lasts a heartbeat from then.
    aws.world.github.clock.advance(minutes(20));
    let renewed_until = at(30);
    let give_up = Instant::now() + Duration::from_secs(60);
    let messages = next_batch(&aws.sqs, &aws.queue_url, give_up)
        .await
        .unwrap()
        .expect("the run's first jobs");
    let jobs = messages
        .iter()
        .map(|m| JobMessage {
            id: m.message_id().unwrap_or_default().to_owned(),
            body: m.body().unwrap_or_default().to_owned(),
        })
        .collect();
    let failed = old
        .handle_messages(jobs, Instant::now() + Duration::from_secs(60))
        .await;
    settle_batch(&aws.sqs, &aws.queue_url, &messages, &failed)
        .await
        .unwrap();
    // Past the first lease (30 minutes from the start), another container is refused.
    aws.world.github.clock.advance(minutes(25));
    match aws.resync().start().await.unwrap() {
        StartOutcome::Skipped {
            holder,
            until,
            started_at,
        } => {
            assert_eq!(holder, old_run);
            assert_eq!(until, renewed_until);
            assert_eq!(started_at, Some(old_start));
        }
        other => panic!("the renewed lease holds: {other:?}"),
    }
    // Then its jobs stop; once the renewed lease lapsed, a new run takes it.
    aws.world.github.clock.advance(minutes(6));
    let new = aws.resync();
    let StartOutcome::Started { run: new_run, .. } = new.start().await.unwrap() else {
        panic!("the lapsed lease is taken");
    };
    let new_until = at(30);
    // The old run's renewal (a late batch of its container) is a conditional write on the
    // holder: it neither takes the lease back nor extends the new run's.
    let store = DynamoDbStateStore::new(aws.dynamodb.clone(), aws.table.clone());
    let renewal = store.renew_lease(LEASE, &old_run, at(120)).await.unwrap();
    assert_eq!(renewal, None);
    match aws.resync().start().await.unwrap() {
        StartOutcome::Skipped { holder, until, .. } => {
            assert_eq!((holder.as_str(), until), (new_run.as_str(), new_until));
        }
        other => panic!("the new run holds the lease: {other:?}"),
    }
    let superseded = new.summary(&old_run).await.unwrap().expect("recorded");
    assert_eq!(superseded.status, "failed", "{superseded:?}");
    // The old run's remaining jobs are dropped; the new run completes.
    aws.drain(&new).await;
    let summary = new.summary(&new_run).await.unwrap().expect("finished");
    assert_eq!(summary.status, "completed", "{summary:?}");
    assert_eq!(aws.catalog(), aws.expected().await);
}
