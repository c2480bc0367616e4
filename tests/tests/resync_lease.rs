//! The resync lease on a controlled clock, with the schedule ticking every minute as deployed:
//! a run whose jobs keep working (here, waiting for GitHub's hourly budget) keeps its lease past
//! the interval and completes with its cleanup; a run whose jobs stopped lapses one heartbeat
//! after its last activity and the next due tick takes over; a run still going 24 hours after
//! its start is superseded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use port_github_core::resync::lease::{HEARTBEAT, MAX_RUN};
use port_github_core::resync::schedule::TICK;
use port_github_core::resync::{JobMessage, Resync, RunSummary, StartOutcome, TickOutcome};
use port_github_simulators::github_sim::{OrgSpec, SimConfig};
use port_github_simulators::resync_world::ResyncWorld;

fn minutes(m: i64) -> TimeDelta {
    TimeDelta::minutes(m)
}

/// Runs every job visible now, batch after batch, as the jobs queue's invocations would.
async fn run_ready_jobs(world: &ResyncWorld, resync: &Resync) -> usize {
    let mut handled = 0;
    loop {
        let bodies = world.queue.take_ready(10);
        if bodies.is_empty() {
            return handled;
        }
        handled += bodies.len();
        let failed = resync
            .handle_messages(
                JobMessage::numbered(&bodies),
                Instant::now() + Duration::from_secs(60),
            )
            .await;
        assert!(failed.is_empty(), "no bookkeeping failure expected");
    }
}

/// A world whose GitHub grants `hourly_limit` requests an hour, with `repos` repositories.
async fn world(repos: usize, hourly_limit: u64) -> ResyncWorld {
    ResyncWorld::start(
        SimConfig {
            spec: OrgSpec {
                repos,
                ..OrgSpec::default()
            },
            hourly_limit,
            ..SimConfig::default()
        },
        None,
    )
    .await
    .unwrap()
}

async fn started(resync: &Resync) -> String {
    match resync.tick().await.unwrap() {
        TickOutcome::Start(StartOutcome::Started { run, .. }) => run,
        other => panic!("the first tick starts a run: {other:?}"),
    }
}

/// A skipped tick's holder, lease end and holder's start.
type Skip<'a> = (&'a str, DateTime<Utc>, Option<DateTime<Utc>>);

fn skipped(outcome: &TickOutcome) -> Option<Skip<'_>> {
    match outcome {
        TickOutcome::Start(StartOutcome::Skipped {
            holder,
            until,
            started_at,
        }) => Some((holder, *until, *started_at)),
        _ => None,
    }
}

async fn summary(resync: &Resync, run: &str) -> Option<RunSummary> {
    resync.summary(run).await.unwrap()
}

#[tokio::test]
async fn a_run_still_working_past_the_interval_keeps_its_lease_and_completes_with_its_cleanup() {
    // 100 requests an hour for 12 repositories: the run needs hours, mostly waiting for resets.
    let world = world(12, 100).await;
    assert_eq!(world.settings.interval, Duration::from_secs(3_600));
    let resync = world.resync().unwrap();
    let run = started(&resync).await;
    let start = world.clock.now();
    let mut late_skips = 0;
    let ended = loop {
        run_ready_jobs(&world, &resync).await;
        if let Some(summary) = summary(&resync, &run).await {
            break summary;
        }
        world.github.clock.advance(TICK);
        let now = world.clock.now();
        assert!(now - start < minutes(24 * 60), "the run never ended");
        let outcome = resync.tick().await.unwrap();
        match &outcome {
            TickOutcome::NotDue { .. } => assert!(now - start < minutes(60), "{outcome:?}"),
            _ => {
                let (holder, until, started_at) = skipped(&outcome)
                    .unwrap_or_else(|| panic!("superseded at {}: {outcome:?}", now - start));
                assert_eq!(holder, run);
                assert_eq!(started_at, Some(start));
                assert!(until > now, "{until} {now}");
                if now - start >= minutes(61) {
                    late_skips += 1;
                }
            }
        }
    };
    let took = world.clock.now() - start;
    println!(
        "the run took {took} on the manual clock, {late_skips} ticks skipped past the interval"
    );
    assert!(late_skips > 0, "the run ended within the interval ({took})");
    assert_eq!(ended.status, "completed", "{ended:#?}");
    assert!(ended.cleanup.is_some(), "the cleanup ran: {ended:#?}");
    assert_eq!(world.port.entities_of("githubRepository").len(), 12);
    // Done: the lease is released and the next run is due an interval after this one started.
    let next = resync.tick().await.unwrap();
    assert!(
        matches!(next, TickOutcome::Start(StartOutcome::Started { .. })),
        "{next:?}"
    );
}

#[tokio::test]
async fn a_run_whose_jobs_stopped_is_taken_over_one_heartbeat_after_its_last_activity() {
    let mut world = world(3, 5_000).await;
    world.settings.interval = Duration::from_secs(20 * 60);
    assert_eq!(world.settings.heartbeat, HEARTBEAT);
    let resync = world.resync().unwrap();
    let crashed = started(&resync).await;
    let start = world.clock.now();
    // Ten minutes in, one batch of its jobs runs (and renews the lease), then nothing more:
    // the queue is no longer driven.
    world.github.clock.advance(Duration::from_secs(10 * 60));
    let bodies = world.queue.take_ready(1);
    assert_eq!(bodies.len(), 1);
    let failed = resync
        .handle_messages(
            JobMessage::numbered(&bodies),
            Instant::now() + Duration::from_secs(60),
        )
        .await;
    assert!(failed.is_empty());
    let renewed_until = start + minutes(10) + TimeDelta::from_std(HEARTBEAT).unwrap();
    let taken_over = loop {
        world.github.clock.advance(TICK);
        let now = world.clock.now();
        let outcome = resync.tick().await.unwrap();
        if let TickOutcome::Start(StartOutcome::Started { run, .. }) = outcome {
            break (run, now);
        }
        assert!(
            now < renewed_until,
            "still held at {}: {outcome:?}",
            now - start
        );
        if now - start >= minutes(20) {
            // Due (the interval is 20 minutes), but the lease holds until the heartbeat is over.
            let (holder, until, started_at) =
                skipped(&outcome).unwrap_or_else(|| panic!("{outcome:?}"));
            assert_eq!(
                (holder, until, started_at),
                (crashed.as_str(), renewed_until, Some(start))
            );
        }
    };
    let (next, at) = taken_over;
    assert_eq!(
        at, renewed_until,
        "taken over at the first tick after the lapse"
    );
    let superseded = summary(&resync, &crashed)
        .await
        .expect("the crashed run is recorded");
    assert_eq!(superseded.status, "failed");
    let reason = superseded.reason.unwrap_or_default();
    assert!(
        reason.contains("superseded") && reason.contains("no job activity"),
        "{reason}"
    );
    // The new run completes; the crashed run's jobs still queued are dropped.
    run_ready_jobs(&world, &resync).await;
    loop {
        if summary(&resync, &next).await.is_some() {
            break;
        }
        world.github.clock.advance(TICK);
        run_ready_jobs(&world, &resync).await;
    }
    let ended = summary(&resync, &next).await.unwrap();
    assert_eq!(ended.status, "completed", "{ended:#?}");
    assert_eq!(world.port.entities_of("githubRepository").len(), 3);
}

#[tokio::test]
async fn a_run_still_going_24_hours_after_its_start_is_superseded() {
    // Four requests an hour for 12 repositories: far more than a day of budget.
    let world = world(12, 4).await;
    let resync = world.resync().unwrap();
    let run = started(&resync).await;
    let start = world.clock.now();
    let cap = start + TimeDelta::from_std(MAX_RUN).unwrap();
    let (next, at) = loop {
        run_ready_jobs(&world, &resync).await;
        assert!(
            summary(&resync, &run).await.is_none(),
            "the run ended: the budget was not tight enough"
        );
        world.github.clock.advance(TICK);
        let now = world.clock.now();
        let outcome = resync.tick().await.unwrap();
        if let TickOutcome::Start(StartOutcome::Started { run: next, .. }) = outcome {
            break (next, now);
        }
        if now - start >= minutes(60) {
            let (holder, until, _) = skipped(&outcome).unwrap_or_else(|| panic!("{outcome:?}"));
            assert_eq!(holder, run);
            assert!(
                until <= cap,
                "a renewal never reaches past 24 hours: {until}"
            );
        }
    };
    assert_eq!(at, cap, "superseded at the first tick at 24 hours");
    assert_ne!(next, run);
    let superseded = summary(&resync, &run)
        .await
        .expect("the old run is recorded");
    assert_eq!(superseded.status, "failed");
    let reason = superseded.reason.unwrap_or_default();
    assert!(reason.contains("24 h limit"), "{reason}");
    println!(
        "the superseded run had done {} of {} jobs",
        superseded.counters.get("done").copied().unwrap_or(0),
        superseded.counters.get("queued").copied().unwrap_or(0)
    );
}
