//! Black-box tests of `port-github webhooks ensure|redeliver` against the GitHub simulator:
//! settings from the environment, one line per organization, missing settings named.

use std::process::{Command, Output};

use chrono::{TimeDelta, Utc};
use port_github_simulators::github_sim::{OrgSpec, SimDelivery, SimHarness};

const URL: &str = "https://hooks.example.com/github";

fn port_github(harness: &SimHarness, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_port-github"))
        .args(args)
        .env_clear()
        .env("GITHUB_API_URL", harness.sim.base_url())
        .env(
            "GITHUB_TOKEN",
            harness.sim.personal_token().unwrap_or_default(),
        )
        .env("GITHUB_ORGANIZATIONS", harness.sim.org())
        .env("WEBHOOK_SECRET", "cli-secret")
        .output()
        .expect("port-github runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensure_then_redeliver_through_the_binary() {
    let harness = SimHarness::start(OrgSpec::default())
        .await
        .expect("simulator starts");
    let created = stdout(&port_github(
        &harness,
        &["webhooks", "ensure", "--url", URL],
    ));
    assert!(created.contains("created hook"), "{created}");
    let hooks = harness.sim.hooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].secret.as_deref(), Some("cli-secret"));
    assert_eq!(hooks[0].content_type, "json");

    let hook = hooks[0].id;
    let now = Utc::now();
    harness.sim.add_delivery(
        hook,
        SimDelivery {
            guid: "cli-failed".to_owned(),
            status_code: 502,
            delivered_at: now - TimeDelta::minutes(5),
            redelivery: false,
            event: "push".to_owned(),
        },
    );
    harness.sim.add_delivery(
        hook,
        SimDelivery {
            guid: "cli-ok".to_owned(),
            status_code: 200,
            delivered_at: now - TimeDelta::minutes(4),
            redelivery: false,
            event: "push".to_owned(),
        },
    );
    let report = stdout(&port_github(
        &harness,
        &["webhooks", "redeliver", "--url", URL],
    ));
    assert!(report.contains("redelivered 1,"), "{report}");
    assert_eq!(harness.sim.redeliveries().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_setting_is_named_on_one_line() {
    let harness = SimHarness::start(OrgSpec::default())
        .await
        .expect("simulator starts");
    let output = Command::new(env!("CARGO_BIN_EXE_port-github"))
        .args(["webhooks", "ensure", "--url", URL])
        .env_clear()
        .env("GITHUB_API_URL", harness.sim.base_url())
        .env(
            "GITHUB_TOKEN",
            harness.sim.personal_token().unwrap_or_default(),
        )
        .env("GITHUB_ORGANIZATIONS", harness.sim.org())
        .output()
        .expect("port-github runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("WEBHOOK_SECRET"), "{stderr}");
    assert!(harness.sim.hooks().is_empty());
}

/// The deployed way: the token and the webhook secret are Secrets Manager ARNs (as the stack's
/// outputs name them), read with the caller's AWS credentials; a rotating webhook secret's
/// current value is the one the hook gets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_arn_forms_are_read_from_secrets_manager() {
    use port_github_tests::moto::{create_secret, moto};
    let harness = SimHarness::start(OrgSpec::default())
        .await
        .expect("simulator starts");
    let secrets = aws_sdk_secretsmanager::Client::new(&moto().sdk_config().await);
    let token = create_secret(
        &secrets,
        "github-token",
        harness.sim.personal_token().unwrap_or_default(),
    )
    .await
    .expect("token secret");
    let webhook = create_secret(
        &secrets,
        "webhook-secret",
        r#"{"current": "rotated-secret", "previous": "old-secret"}"#,
    )
    .await
    .expect("webhook secret");
    let output = Command::new(env!("CARGO_BIN_EXE_port-github"))
        .args(["webhooks", "ensure", "--url", URL])
        .env_clear()
        .envs(moto().env())
        .env("GITHUB_API_URL", harness.sim.base_url())
        .env("GITHUB_TOKEN_ARN", &token)
        .env("GITHUB_ORGANIZATIONS", harness.sim.org())
        .env("WEBHOOK_SECRET_ARN", &webhook)
        .output()
        .expect("port-github runs");
    assert!(stdout(&output).contains("created hook"));
    let hooks = harness.sim.hooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].secret.as_deref(), Some("rotated-secret"));

    // An ARN that does not exist is named, on one line, and nothing changes.
    let output = Command::new(env!("CARGO_BIN_EXE_port-github"))
        .args(["webhooks", "ensure", "--url", URL])
        .env_clear()
        .envs(moto().env())
        .env("GITHUB_API_URL", harness.sim.base_url())
        .env("GITHUB_TOKEN_ARN", &token)
        .env("GITHUB_ORGANIZATIONS", harness.sim.org())
        .env(
            "WEBHOOK_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf",
        )
        .output()
        .expect("port-github runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("missing-AbCdEf"), "{stderr}");
    assert_eq!(harness.sim.hooks().len(), 1);
}
