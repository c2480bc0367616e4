//! Runs Port asks for, on the manual clock with the schedule ticking every minute: a press of the
//! integration's "Resync" button starts a run at the next tick, once per press; a press during a
//! run starts one run after it, never two at once; a mapping edited in Port starts a run within a
//! tick; a `last-start` from before fingerprints starts no run storm; and when Port's
//! resync-request route fails (500, 404, 401) the schedule still decides alone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::{DateTime, Utc};
use port_github_core::mapping::PortAppConfig;
use port_github_core::port::PortClient;
use port_github_core::resync::driver::{DriveSettings, drain};
use port_github_core::resync::schedule::TICK;
use port_github_core::resync::{
    Resync, ResyncError, RunSummary, StartOutcome, TickOutcome, Trigger,
};
use port_github_core::state::{Expect, Key};
use port_github_simulators::github_sim::OrgSpec;
use port_github_simulators::port_sim::harness::{INTEGRATION_ID, client_config};
use port_github_simulators::port_sim::{Endpoint, Fault};
use port_github_simulators::resync_world::{ResyncWorld, SMALL_MAPPING};

async fn world() -> ResyncWorld {
    let mut world = ResyncWorld::with_spec(OrgSpec::default(), None)
        .await
        .unwrap();
    world.settings.interval = Duration::from_secs(6 * 3_600);
    world
}

async fn tick(resync: &Resync) -> TickOutcome {
    resync.tick().await.unwrap()
}

/// The run a tick started, and why.
fn started(outcome: &TickOutcome) -> Option<(String, Trigger)> {
    match outcome {
        TickOutcome::Start(StartOutcome::Started { run, trigger, .. }) => {
            Some((run.clone(), trigger.clone()))
        }
        _ => None,
    }
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

/// The first (scheduled) run, to its end: afterwards nothing is due for six hours and the
/// integration's record exists in Port (provisioned by that run).
async fn first_run(world: &ResyncWorld, resync: &Resync) {
    let outcome = tick(resync).await;
    let (run, trigger) = started(&outcome).unwrap_or_else(|| panic!("{outcome:?}"));
    assert_eq!(trigger, Trigger::Scheduled);
    let summary = finish(world, resync, &run).await;
    assert_eq!(summary.status, "completed", "{summary:#?}");
    assert_eq!(summary.trigger.as_deref(), Some("scheduled"));
    assert!(world.port.integration(INTEGRATION_ID).is_some());
}

fn advance(world: &ResyncWorld) -> DateTime<Utc> {
    world.github.clock.advance(TICK);
    world.clock.now()
}

#[tokio::test]
async fn a_press_of_the_button_starts_one_run_at_the_next_tick() {
    let world = world().await;
    let resync = world.resync().unwrap();
    first_run(&world, &resync).await;
    assert!(matches!(tick(&resync).await, TickOutcome::NotDue { .. }));

    let pressed = advance(&world);
    world
        .port
        .press_resync(INTEGRATION_ID, Some(pressed))
        .unwrap();
    let before = world.port.count(Endpoint::ResyncRequest);
    let tokens = world.port.count(Endpoint::AccessToken);
    let outcome = tick(&resync).await;
    let (run, trigger) = started(&outcome).unwrap_or_else(|| panic!("{outcome:?}"));
    assert_eq!(trigger, Trigger::Requested { at: pressed });
    assert_eq!(world.port.count(Endpoint::ResyncRequest), before + 1);
    assert_eq!(
        world.port.count(Endpoint::AccessToken),
        tokens,
        "the cached token"
    );
    let summary = finish(&world, &resync, &run).await;
    assert_eq!(summary.status, "completed");
    let reason = summary.trigger.unwrap_or_default();
    assert!(reason.starts_with("requested in Port at "), "{reason}");

    // The same request, seen at every later tick (and by a new container): no other run.
    let other = world.resync().unwrap();
    for resync in [&resync, &other, &resync] {
        advance(&world);
        let outcome = tick(resync).await;
        assert!(matches!(outcome, TickOutcome::NotDue { .. }), "{outcome:?}");
    }
    // A second press is another request.
    let again = advance(&world);
    world
        .port
        .press_resync(INTEGRATION_ID, Some(again))
        .unwrap();
    let outcome = tick(&other).await;
    assert_eq!(
        started(&outcome).map(|(_, t)| t),
        Some(Trigger::Requested { at: again })
    );
}

#[tokio::test]
async fn a_press_during_a_run_starts_one_run_after_it_never_two_at_once() {
    let world = world().await;
    let resync = world.resync().unwrap();
    first_run(&world, &resync).await;
    let pressed = advance(&world);
    world
        .port
        .press_resync(INTEGRATION_ID, Some(pressed))
        .unwrap();
    let (running, _) = started(&tick(&resync).await).unwrap();

    // Pressed again while that run is in progress: every tick meanwhile is skipped.
    let during = advance(&world);
    world
        .port
        .press_resync(INTEGRATION_ID, Some(during))
        .unwrap();
    for _ in 0..3 {
        let outcome = tick(&resync).await;
        let TickOutcome::Start(StartOutcome::Skipped { holder, .. }) = &outcome else {
            panic!("a run in progress is never doubled: {outcome:?}");
        };
        assert_eq!(holder, &running);
        advance(&world);
    }
    finish(&world, &resync, &running).await;

    // After it: exactly one run for the press made during it, then quiet.
    let outcome = tick(&resync).await;
    let (after, trigger) = started(&outcome).unwrap_or_else(|| panic!("{outcome:?}"));
    assert_eq!(trigger, Trigger::Requested { at: during });
    assert_ne!(after, running);
    finish(&world, &resync, &after).await;
    for _ in 0..3 {
        advance(&world);
        let outcome = tick(&resync).await;
        assert!(matches!(outcome, TickOutcome::NotDue { .. }), "{outcome:?}");
    }
}

#[tokio::test]
async fn a_mapping_edited_in_port_starts_a_run_within_a_tick() {
    let world = world().await;
    let resync = world.resync().unwrap().with_mapping_from_port();
    first_run(&world, &resync).await;
    // The provisioned record holds the mapping the first run used: unchanged, nothing to do.
    // A quiet tick costs one GET of each, with the cached token.
    for _ in 0..2 {
        advance(&world);
        let counts = [
            Endpoint::GetIntegration,
            Endpoint::ResyncRequest,
            Endpoint::AccessToken,
        ]
        .map(|e| world.port.count(e));
        let outcome = tick(&resync).await;
        assert!(matches!(outcome, TickOutcome::NotDue { .. }), "{outcome:?}");
        let after = [
            Endpoint::GetIntegration,
            Endpoint::ResyncRequest,
            Endpoint::AccessToken,
        ]
        .map(|e| world.port.count(e));
        assert_eq!(after, [counts[0] + 1, counts[1] + 1, counts[2]]);
    }

    let edited = PortAppConfig::from_yaml_or_json(SMALL_MAPPING)
        .unwrap()
        .document;
    let user = PortClient::new(client_config(world.port.base_url())).unwrap();
    user.patch_integration_config(&edited).await.unwrap();
    advance(&world);
    let reads = world.port.count(Endpoint::GetIntegration);
    let outcome = tick(&resync).await;
    let (run, trigger) = started(&outcome).unwrap_or_else(|| panic!("{outcome:?}"));
    assert_eq!(trigger, Trigger::MappingChanged);
    // The tick's read, reused by the run for its mapping, and provisioning's look at the
    // record for the new mapping (once per container and mapping).
    assert_eq!(world.port.count(Endpoint::GetIntegration), reads + 2);
    let summary = finish(&world, &resync, &run).await;
    assert_eq!(summary.trigger.as_deref(), Some("mapping changed"));
    // The run used the edited mapping, and that one is now the last started with.
    assert_eq!(resync.mapping().config().document, edited);
    assert!(!world.port.entities_of("githubRelease").is_empty());
    for _ in 0..3 {
        advance(&world);
        let outcome = tick(&resync).await;
        assert!(matches!(outcome, TickOutcome::NotDue { .. }), "{outcome:?}");
    }

    // Edited during a run: one run after it.
    let pressed = advance(&world);
    world
        .port
        .press_resync(INTEGRATION_ID, Some(pressed))
        .unwrap();
    let (running, _) = started(&tick(&resync).await).unwrap();
    let mut changed = edited.clone();
    changed["entityDeletionThreshold"] = serde_json::json!(0.5);
    user.patch_integration_config(&changed).await.unwrap();
    advance(&world);
    assert!(matches!(
        tick(&resync).await,
        TickOutcome::Start(StartOutcome::Skipped { .. })
    ));
    finish(&world, &resync, &running).await;
    let outcome = tick(&resync).await;
    assert_eq!(
        started(&outcome).map(|(_, t)| t),
        Some(Trigger::MappingChanged),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_last_start_without_fingerprint_starts_no_run_storm() {
    let world = world().await;
    let resync = world.resync().unwrap().with_mapping_from_port();
    first_run(&world, &resync).await;
    // As an older version wrote it: no `mapping`.
    let now = world.clock.now();
    let old = serde_json::json!({"run": "old-run", "started_at": now.to_rfc3339()});
    world
        .state
        .put(
            Key::new("resync", "last-start"),
            &old.to_string(),
            Expect::Anything,
            None,
            now,
        )
        .await
        .unwrap();
    let edited = PortAppConfig::from_yaml_or_json(SMALL_MAPPING)
        .unwrap()
        .document;
    world.port.set_integration_config(INTEGRATION_ID, edited);
    for _ in 0..5 {
        advance(&world);
        let outcome = tick(&resync).await;
        assert!(
            matches!(outcome, TickOutcome::NotDue { .. }),
            "unknown counts as unchanged: {outcome:?}"
        );
    }
}

#[tokio::test]
async fn when_ports_resync_request_fails_the_schedule_still_decides() {
    let mut world = world().await;
    // No integration record and no provisioning: the route answers 404 until a record exists.
    world.provisioning = false;
    let resync = world.resync().unwrap();
    let outcome = tick(&resync).await;
    let (run, trigger) = started(&outcome).unwrap_or_else(|| panic!("{outcome:?}"));
    assert_eq!(trigger, Trigger::Scheduled, "the first run despite the 404");
    assert!(world.port.count(Endpoint::ResyncRequest) >= 1);
    finish(&world, &resync, &run).await;

    // The record exists, the button was pressed, but the route fails: only the schedule counts.
    world
        .port
        .set_integration_config(INTEGRATION_ID, serde_json::json!({}));
    let pressed = advance(&world);
    world
        .port
        .press_resync(INTEGRATION_ID, Some(pressed))
        .unwrap();
    world
        .port
        .fail_next(Some(Endpoint::ResyncRequest), Fault::Internal, 1);
    assert!(matches!(tick(&resync).await, TickOutcome::NotDue { .. }));
    world
        .port
        .fail_next(Some(Endpoint::ResyncRequest), Fault::Unauthorized, 2);
    advance(&world);
    assert!(matches!(tick(&resync).await, TickOutcome::NotDue { .. }));
    // Port answers again: the press is seen.
    advance(&world);
    let outcome = tick(&resync).await;
    let (run, trigger) = started(&outcome).unwrap_or_else(|| panic!("{outcome:?}"));
    assert_eq!(trigger, Trigger::Requested { at: pressed });
    finish(&world, &resync, &run).await;

    // Six hours on, with the route failing, the scheduled run still comes.
    world
        .port
        .fail_next(Some(Endpoint::ResyncRequest), Fault::Internal, 1);
    world
        .github
        .clock
        .advance(Duration::from_secs(6 * 3_600) + TICK);
    let outcome = tick(&resync).await;
    assert_eq!(
        started(&outcome).map(|(_, t)| t),
        Some(Trigger::Scheduled),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_run_that_fails_for_a_press_or_a_broken_mapping_is_not_started_again_at_every_tick() {
    let world = world().await;
    let resync = world.resync().unwrap().with_mapping_from_port();
    first_run(&world, &resync).await;

    // A press whose run fails (GitHub refuses its first requests): handled all the same.
    let pressed = advance(&world);
    world
        .port
        .press_resync(INTEGRATION_ID, Some(pressed))
        .unwrap();
    world.github.sim.faults(|f| {
        f.status_next = 3;
        f.status_of_next = 422;
    });
    let outcome = tick(&resync).await;
    let (run, _) = started(&outcome).unwrap_or_else(|| panic!("{outcome:?}"));
    assert_eq!(finish(&world, &resync, &run).await.status, "failed");
    world.github.sim.faults(|f| f.status_next = 0);
    advance(&world);
    assert!(matches!(tick(&resync).await, TickOutcome::NotDue { .. }));

    // A mapping edited into one that does not compile: one failed run, then quiet; its fix
    // starts a run.
    let mut broken = PortAppConfig::from_yaml_or_json(SMALL_MAPPING)
        .unwrap()
        .document;
    broken["resources"][0]["port"]["entity"]["mappings"]["identifier"] =
        serde_json::json!(".name | ");
    world
        .port
        .set_integration_config(INTEGRATION_ID, broken.clone());
    advance(&world);
    let failed = resync.tick().await;
    assert!(
        matches!(failed, Err(ResyncError::Mapping(_))),
        "the run for it fails: {failed:?}"
    );
    for _ in 0..3 {
        advance(&world);
        let outcome = tick(&resync).await;
        assert!(matches!(outcome, TickOutcome::NotDue { .. }), "{outcome:?}");
    }
    let fixed = PortAppConfig::from_yaml_or_json(SMALL_MAPPING)
        .unwrap()
        .document;
    world.port.set_integration_config(INTEGRATION_ID, fixed);
    advance(&world);
    let outcome = tick(&resync).await;
    assert_eq!(
        started(&outcome).map(|(_, t)| t),
        Some(Trigger::MappingChanged),
        "{outcome:?}"
    );
}
