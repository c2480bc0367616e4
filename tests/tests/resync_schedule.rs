//! The schedule's ticks on a controlled clock: a stack that never completed a run starts one at
//! its first tick (and tries again soon after a failed first attempt), then runs come an interval
//! apart however often the schedule ticks; a run in progress still makes a due tick skip.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use port_github_core::resync::driver::{DriveSettings, drain};
use port_github_core::resync::schedule::{FIRST_RUN_RETRY, TICK};
use port_github_core::resync::{Resync, RunSummary, StartOutcome, TickOutcome};
use port_github_simulators::github_sim::OrgSpec;
use port_github_simulators::resync_world::ResyncWorld;

/// Ticks the schedule; the run it started, if any.
async fn tick(resync: &Resync) -> (TickOutcome, Option<String>) {
    let outcome = resync.tick().await.unwrap();
    let run = match &outcome {
        TickOutcome::Start(StartOutcome::Started { run, .. }) => Some(run.clone()),
        _ => None,
    };
    (outcome, run)
}

async fn finish(world: &ResyncWorld, resync: &Resync, run: &str) -> RunSummary {
    drain(
        resync,
        &world.queue,
        world.clock.clone(),
        &DriveSettings::default(),
        |_| {},
        run,
    )
    .await
    .unwrap();
    resync.summary(run).await.unwrap().expect("the run ended")
}

#[tokio::test]
async fn the_first_tick_after_deploy_syncs_then_runs_come_an_interval_apart() {
    let mut world = ResyncWorld::with_spec(OrgSpec::default(), None)
        .await
        .unwrap();
    world.settings.interval = Duration::from_secs(6 * 3_600);
    let resync = world.resync().unwrap();

    // Deployed a moment ago, nothing ever ran: the first tick starts a run.
    let (outcome, run) = tick(&resync).await;
    let run = run.unwrap_or_else(|| panic!("the first tick starts a run: {outcome:?}"));
    let first_start = world.clock.now();
    // While it runs, the next ticks are not due, and a due one (as for a failed first run) is
    // skipped: the run holds the lease.
    let (outcome, _) = tick(&resync).await;
    assert_eq!(
        outcome,
        TickOutcome::NotDue {
            due_at: first_start + chrono::TimeDelta::from_std(FIRST_RUN_RETRY).unwrap()
        }
    );
    world.github.clock.advance(FIRST_RUN_RETRY);
    let (outcome, _) = tick(&resync).await;
    assert!(
        matches!(outcome, TickOutcome::Start(StartOutcome::Skipped { .. })),
        "{outcome:?}"
    );
    let summary = finish(&world, &resync, &run).await;
    assert_eq!(summary.status, "completed", "{summary:#?}");
    assert!(world.port.entities_of("githubRepository").len() == 3);

    // Then every tick until six hours after that start does nothing.
    let per_six_hours = 6 * 3_600 / TICK.as_secs();
    let mut ticks = 0;
    loop {
        world.github.clock.advance(TICK);
        let (outcome, started) = tick(&resync).await;
        if let Some(run) = started {
            let waited = world.clock.now() - first_start;
            assert!(
                waited >= chrono::TimeDelta::hours(6)
                    && waited
                        < chrono::TimeDelta::hours(6) + chrono::TimeDelta::from_std(TICK).unwrap(),
                "the next run starts at the first tick after the interval, not after {waited}"
            );
            assert_eq!(finish(&world, &resync, &run).await.status, "completed");
            break;
        }
        let TickOutcome::NotDue { due_at } = outcome else {
            panic!("between runs a tick is not due: {outcome:?}");
        };
        assert_eq!(due_at - first_start, chrono::TimeDelta::hours(6));
        ticks += 1;
        assert!(
            ticks <= per_six_hours,
            "no run within {per_six_hours} ticks"
        );
    }
    // Quiet from the end of the first run (15 minutes in, or a little more) to six hours.
    assert!(
        ticks >= per_six_hours - 20 * 60 / TICK.as_secs(),
        "{ticks} quiet ticks in six hours"
    );
}

#[tokio::test]
async fn a_failed_first_run_is_tried_again_soon_not_an_interval_later() {
    let mut world = ResyncWorld::with_spec(OrgSpec::default(), None)
        .await
        .unwrap();
    world.settings.interval = Duration::from_secs(24 * 3_600);
    let resync = world.resync().unwrap();
    // The first attempt fails: GitHub refuses (422) its first requests.
    world.github.sim.faults(|f| {
        f.status_next = 3;
        f.status_of_next = 422;
    });
    let (_, run) = tick(&resync).await;
    let started = world.clock.now();
    let summary = finish(&world, &resync, &run.expect("the first tick starts a run")).await;
    assert_eq!(summary.status, "failed", "{summary:#?}");
    world.github.sim.faults(|f| f.status_next = 0);

    // Not at the very next tick, but FIRST_RUN_RETRY after the failed attempt began.
    let mut retried = None;
    for _ in 0..(3_600 / TICK.as_secs()) {
        world.github.clock.advance(TICK);
        if let (_, Some(run)) = tick(&resync).await {
            retried = Some(run);
            break;
        }
    }
    let waited = (world.clock.now() - started).to_std().unwrap();
    let run = retried.expect("a failed first run is retried within the hour");
    assert!(
        waited >= FIRST_RUN_RETRY && waited < FIRST_RUN_RETRY + TICK,
        "retried after {waited:?}"
    );
    assert_eq!(finish(&world, &resync, &run).await.status, "completed");

    // Once a run completed, the interval applies (a day here).
    world.github.clock.advance(TICK);
    let (outcome, _) = tick(&resync).await;
    let TickOutcome::NotDue { due_at } = outcome else {
        panic!("after a completed run the next is a day away: {outcome:?}");
    };
    assert!(due_at - world.clock.now() > chrono::TimeDelta::hours(23));
}

#[tokio::test]
async fn the_schedule_survives_a_new_container() {
    let world = ResyncWorld::with_spec(OrgSpec::default(), None)
        .await
        .unwrap();
    let first = world.resync().unwrap();
    let (_, run) = tick(&first).await;
    finish(&world, &first, &run.unwrap()).await;
    // Another container (a cold start) reads the same state table: nothing is due.
    let second = world.resync().unwrap();
    world.github.clock.advance(TICK);
    assert!(matches!(tick(&second).await.0, TickOutcome::NotDue { .. }));
}
