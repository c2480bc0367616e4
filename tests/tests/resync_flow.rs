//! The resync end to end against the GitHub and Port simulators, with the in-process queue and
//! state store (the moto-backed runs are in `resync_aws.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use port_github_core::resync::StartOutcome;
use port_github_core::resync::driver::DriveSettings;
use port_github_tests::github_sim::OrgSpec;
use port_github_tests::resync_world::ResyncWorld;

fn counts(world: &ResyncWorld) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for entity in world.port.catalog() {
        *out.entry(entity.blueprint).or_default() += 1;
    }
    out
}

#[tokio::test]
async fn small_org_in_one_go_then_a_deleted_repository() {
    let world = ResyncWorld::with_spec(OrgSpec::default(), None)
        .await
        .unwrap();
    let report = world.run(&DriveSettings::default()).await.unwrap();
    let summary = report.summary.expect("finished");
    println!("{summary:#?}");
    println!("{:#?}", counts(&world));
    assert_eq!(summary.status, "completed", "{summary:?}");
    assert!(matches!(report.start, StartOutcome::Started { .. }));
}
