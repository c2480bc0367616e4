//! The permission check at the start of a resync, as a GitHub App against the simulator: each
//! permission the mapping's kinds need and the installation lacks is named once in the log (a
//! warning) and in the run's summary; the run goes on, and the kinds it cannot read keep their
//! entities. With everything granted, nothing is reported.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use port_github_core::resync::driver::{DriveSettings, drain};
use port_github_core::resync::{Resync, RunSummary, StartOutcome, WebhookTarget};
use port_github_simulators::github_sim::permissions::all_granted;
use port_github_simulators::github_sim::{OrgSpec, SimConfig};
use port_github_simulators::resync_world::ResyncWorld;
use secrecy::SecretString;
use serde_json::Value;

/// The JSON log lines written while it is installed (the test's thread only).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<Value> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

async fn world(permissions: BTreeMap<String, String>) -> ResyncWorld {
    ResyncWorld::start(
        SimConfig {
            spec: OrgSpec::default(),
            permissions,
            ..SimConfig::default()
        },
        None,
    )
    .await
    .unwrap()
}

async fn run(world: &ResyncWorld, resync: &Resync) -> RunSummary {
    let StartOutcome::Started { run, .. } = resync.start().await.unwrap() else {
        panic!("the run starts");
    };
    drain(
        resync,
        &world.queue,
        world.clock.clone(),
        &DriveSettings::default(),
        |_| {},
        &run,
    )
    .await
    .unwrap();
    resync.summary(&run).await.unwrap().expect("the run ended")
}

#[tokio::test]
async fn each_missing_permission_is_named_once_in_the_log_and_the_summary() {
    let mut granted = all_granted();
    granted.remove("issues");
    granted.remove("secret_scanning_alerts");
    let world = world(granted).await;
    let resync = world.app_resync().unwrap();
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::WARN)
        .finish();
    let summary = {
        let _guard = tracing::subscriber::set_default(subscriber);
        run(&world, &resync).await
    };

    // The summary names both, with the kinds of the built-in mapping that need them.
    let named: Vec<(String, String, Vec<String>)> = summary
        .missing_permissions
        .iter()
        .map(|m| (m.permission.clone(), m.title.clone(), m.kinds.clone()))
        .collect();
    assert_eq!(
        named,
        [
            (
                "issues".to_owned(),
                "Repository: Issues".to_owned(),
                vec!["issue".to_owned()]
            ),
            (
                "secret_scanning_alerts".to_owned(),
                "Repository: Secret scanning alerts".to_owned(),
                vec!["secret-scanning-alerts".to_owned()]
            ),
        ]
    );
    assert!(
        summary
            .missing_permissions
            .iter()
            .all(|m| m.organization == world.github.sim.org())
    );
    // One warning each, naming the permission as the App's settings page does.
    let warnings: Vec<Value> = logs
        .lines()
        .into_iter()
        .filter(|line| line["fields"]["permission"].is_string())
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    for (line, title) in warnings
        .iter()
        .zip(["Repository: Issues", "Repository: Secret scanning alerts"])
    {
        assert_eq!(line["level"], "WARN");
        let message = line["fields"]["message"].as_str().unwrap();
        assert!(
            message.contains(title) && message.contains("sim-org"),
            "{message}"
        );
    }
    // The run goes on: everything it may read is synced, the rest is "not available".
    assert_eq!(summary.status, "completed", "{summary:#?}");
    assert_eq!(world.port.entities_of("githubRepository").len(), 3);
    assert!(!world.port.entities_of("githubPullRequest").is_empty());
    assert!(world.port.entities_of("githubIssue").is_empty());
    assert!(
        world
            .port
            .entities_of("githubSecretScanningAlert")
            .is_empty()
    );
    // The summary as stored says the same.
    let stored: Value = serde_json::to_value(&summary).unwrap();
    assert_eq!(stored["missing_permissions"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_next_run_reads_the_grant_afresh_and_managing_webhooks_needs_write() {
    let mut granted = all_granted();
    granted.insert("organization_hooks".into(), "read".into());
    let mut world = world(granted).await;
    world.settings.webhook = Some(WebhookTarget {
        url: "https://hooks.example/webhook".into(),
        secret: SecretString::from("webhook-secret".to_owned()),
    });
    let summary = run(&world, &world.app_resync().unwrap()).await;
    let missing: Vec<(&str, &str)> = summary
        .missing_permissions
        .iter()
        .map(|m| (m.permission.as_str(), m.level.as_str()))
        .collect();
    assert_eq!(missing, [("organization_hooks", "write")]);
    assert_eq!(summary.missing_permissions[0].kinds, ["webhooks"]);

    // The owner accepts the permission; a later run (another container) finds nothing missing.
    world.github.sim.set_permissions(all_granted());
    world
        .github
        .clock
        .advance(std::time::Duration::from_secs(3_601));
    let summary = run(&world, &world.app_resync().unwrap()).await;
    assert!(
        summary.missing_permissions.is_empty(),
        "{:?}",
        summary.missing_permissions
    );
    assert_eq!(summary.status, "completed");
}

#[tokio::test]
async fn a_personal_token_is_not_checked() {
    let world = world(all_granted()).await;
    let summary = run(&world, &world.resync().unwrap()).await;
    assert!(summary.missing_permissions.is_empty());
    assert_eq!(summary.status, "completed");
}
