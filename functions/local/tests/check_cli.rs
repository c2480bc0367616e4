//! Black-box tests of `port-github check`: the real binary against the GitHub and Port
//! simulators (and moto for the AWS heading), settings from the environment; the lines that
//! matter asserted exactly, and no secret value anywhere in the output.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;

use port_github_core::clock::SystemClock;
use port_github_simulators::github_sim::{GitHubSim, SimConfig, SimHook, TEST_APP_PRIVATE_KEY};
use port_github_simulators::port_sim::harness::INTEGRATION_ID;
use port_github_simulators::port_sim::{Blueprint, CLIENT_ID, CLIENT_SECRET, PortSim};
use port_github_simulators::resync_world::default_blueprints;
use serde_json::json;

const URL: &str = "https://hooks.example.com/github";
const WEBHOOK_SECRET: &str = "check-cli-webhook-secret";

/// Repositories, their issues, and the organization's teams.
const MAPPING: &str = r#"
resources:
  - kind: repository
    selector: {query: "true"}
    port:
      entity:
        mappings:
          identifier: .name
          title: .name
          blueprint: '"githubRepository"'
          properties: {url: .html_url}
  - kind: issue
    selector: {query: "true"}
    port:
      entity:
        mappings:
          identifier: .id | tostring
          title: .title
          blueprint: '"githubIssue"'
          properties: {status: .state}
  - kind: team
    selector: {query: "true"}
    port:
      entity:
        mappings:
          identifier: .slug
          blueprint: '"githubTeam"'
"#;

/// A file of this test's own, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("port-github-check-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

struct World {
    github: GitHubSim,
    port: PortSim,
    mapping: TempFile,
}

/// The simulators on the system clock (the binary signs its JWTs with it), Port with the built-in
/// blueprints and the integration record.
async fn world(config: SimConfig, blueprints: Vec<Blueprint>, mapping: &str) -> World {
    let github = GitHubSim::start(config, Arc::new(SystemClock))
        .await
        .expect("GitHub simulator starts");
    let port = PortSim::start(blueprints)
        .await
        .expect("Port simulator starts");
    port.set_integration_config(INTEGRATION_ID, json!({"enableMergeEntity": true}));
    static FILES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let serial = FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("mapping-{serial}.yml");
    World {
        github,
        port,
        mapping: TempFile::new(&name, mapping),
    }
}

async fn default_world() -> World {
    world(SimConfig::default(), default_blueprints().unwrap(), MAPPING).await
}

fn port_settings(world: &World) -> Vec<(&'static str, String)> {
    vec![
        ("PORT_API_URL", world.port.base_url().to_owned()),
        ("PORT_CLIENT_ID", CLIENT_ID.to_owned()),
        ("PORT_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("PORT_INTEGRATION_ID", INTEGRATION_ID.to_owned()),
        ("PORT_APP_CONFIG", world.mapping.0.display().to_string()),
    ]
}

fn app_settings(world: &World) -> Vec<(&'static str, String)> {
    let mut settings = vec![
        ("GITHUB_API_URL", world.github.base_url().to_owned()),
        ("GITHUB_APP_ID", world.github.app_id().to_owned()),
        ("GITHUB_APP_PRIVATE_KEY", TEST_APP_PRIVATE_KEY.to_owned()),
    ];
    settings.extend(port_settings(world));
    settings
}

fn token_settings(world: &World) -> Vec<(&'static str, String)> {
    let mut settings = vec![
        ("GITHUB_API_URL", world.github.base_url().to_owned()),
        (
            "GITHUB_TOKEN",
            world.github.personal_token().unwrap_or_default().to_owned(),
        ),
        ("GITHUB_ORGANIZATIONS", world.github.org().to_owned()),
    ];
    settings.extend(port_settings(world));
    settings
}

fn without(settings: Vec<(&'static str, String)>, names: &[&str]) -> Vec<(&'static str, String)> {
    settings
        .into_iter()
        .filter(|(name, _)| !names.contains(name))
        .collect()
}

fn check(settings: &[(&'static str, String)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_port-github"))
        .arg("check")
        .args(args)
        .env_clear()
        .envs(settings.iter().map(|(n, v)| (*n, v.as_str())))
        .output()
        .expect("port-github runs")
}

/// The check lines (✓, ✗ or not run), trimmed, after asserting that no secret of `settings`
/// (nor any line of the App's private key) appears anywhere in the output.
fn check_lines(output: &Output, settings: &[(&'static str, String)]) -> Vec<String> {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let everything = format!("{stdout}{stderr}");
    for (name, value) in settings {
        let secret = name.contains("SECRET") || name.contains("TOKEN") || name.contains("KEY");
        // An ARN names a secret: printing it is fine (and useful).
        if secret && !name.ends_with("_ARN") {
            for part in value
                .lines()
                .filter(|l| l.len() > 8 && !l.starts_with("-----"))
            {
                assert!(
                    !everything.contains(part),
                    "{name} appears in the output:\n{everything}"
                );
            }
        }
    }
    stdout
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('✓') || l.starts_with('✗') || l.starts_with("- "))
        .map(str::to_owned)
        .collect()
}

fn has(lines: &[String], expected: &str) {
    assert!(
        lines.iter().any(|l| l == expected),
        "no line {expected:?} in:\n{}",
        lines.join("\n")
    );
}

fn failures(lines: &[String]) -> Vec<&String> {
    lines.iter().filter(|l| l.starts_with('✗')).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_good_with_an_app_passes_every_check() {
    let world = default_world().await;
    let settings = app_settings(&world);
    let output = check(&settings, &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines = check_lines(&output, &settings);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(lines.iter().all(|l| l.starts_with('✓')), "{stdout}");
    let handled = port_github_simulators::fixtures::handled_events_from_spec().len();
    for expected in [
        "✓ App 4242: GitHub accepts its JWT (GET /app: \"Port GitHub (simulated)\")".to_owned(),
        "✓ installation 77 on sim-org: repository selection all, 3 repositories".to_owned(),
        "✓ sim-org: App permissions cover what the mapping needs (3 permissions)".to_owned(),
        format!("✓ sim-org: the App's webhook events include the {handled} handled ones"),
        "✓ credentials: Port issued an access token to client id \"sim-client-id\"".to_owned(),
        "✓ integration \"test-github\" exists".to_owned(),
        "✓ blueprints: the 3 the mapping targets exist".to_owned(),
        "✓ repository (resources[0]) from sim-org/repo-0000: githubRepository \"repo-0000\""
            .to_owned(),
        "✓ issue (resources[1]) from sim-org/repo-0000: githubIssue \"900000007\"".to_owned(),
        "✓ team (resources[2]) from sim-org: githubTeam \"team-0\"".to_owned(),
    ] {
        has(&lines, &expected);
    }
    let headings: Vec<&str> = stdout
        .lines()
        .filter(|l| ["GitHub", "Port", "Sample"].contains(l) || l.starts_with("AWS"))
        .collect();
    assert_eq!(
        headings,
        [
            "GitHub",
            "Port",
            "Sample",
            "AWS: not checked: set STATE_TABLE and the *_ARN settings as the functions have them (the stack's outputs) to check its secrets and last resync",
        ]
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert_eq!(last, format!("{} passed, 0 failed, 0 not run", lines.len()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_app_permission_is_named_with_the_level_needed() {
    let world = default_world().await;
    world.github.revoke_permission("issues");
    let settings = app_settings(&world);
    let output = check(&settings, &[]);
    let lines = check_lines(&output, &settings);
    assert_eq!(output.status.code(), Some(1), "{lines:#?}");
    has(
        &lines,
        "✗ sim-org: App permission \"Repository: Issues\" (issues): read needed for issue, granted: none — fix: add it in the App's settings (Permissions & events); an organization owner then accepts the new permission",
    );
    // The issue sample meets the same refusal, which GitHub also gives where issues are off.
    has(
        &lines,
        "✓ issue (resources[1]): nothing to sample: not available in sim-org/repo-0000 (switched off there, or not permitted)",
    );
    assert_eq!(failures(&lines).len(), 1, "{lines:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_blueprint_fails_unless_the_first_run_creates_it() {
    let blueprints = default_blueprints()
        .unwrap()
        .into_iter()
        .filter(|b| b.identifier != "githubIssue")
        .collect();
    let world = world(SimConfig::default(), blueprints, MAPPING).await;
    let mut settings = app_settings(&world);
    settings.push(("PORT_CREATE_RESOURCES", "false".to_owned()));
    let output = check(&settings, &[]);
    let lines = check_lines(&output, &settings);
    assert_eq!(output.status.code(), Some(1), "{lines:#?}");
    has(&lines, "✓ blueprints: 2 of the 3 the mapping targets exist");
    has(
        &lines,
        "✗ blueprint githubIssue: not in Port — fix: create it in Port, or set PORT_CREATE_RESOURCES=true to create it on the first run",
    );
    assert_eq!(failures(&lines).len(), 1, "{lines:#?}");

    // With provisioning on (the default), the first run creates it: a pass with that note.
    let settings = without(settings, &["PORT_CREATE_RESOURCES"]);
    let output = check(&settings, &[]);
    let lines = check_lines(&output, &settings);
    assert_eq!(output.status.code(), Some(0), "{lines:#?}");
    has(
        &lines,
        "✓ blueprint githubIssue: not in Port yet; will be created on first run (PORT_CREATE_RESOURCES)",
    );
    assert!(
        world.port.blueprint("githubIssue").is_none(),
        "the check creates nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_port_secret_fails_the_credentials_and_reports_what_depends_on_them_as_not_run() {
    let world = default_world().await;
    let mut settings = without(
        app_settings(&world),
        &["PORT_CLIENT_SECRET", "PORT_APP_CONFIG"],
    );
    settings.push(("PORT_CLIENT_SECRET", "not-the-port-secret".to_owned()));
    let output = check(&settings, &[]);
    let lines = check_lines(&output, &settings);
    assert_eq!(output.status.code(), Some(1), "{lines:#?}");
    has(
        &lines,
        "✗ credentials: Port refused client id \"sim-client-id\" and its secret (HTTP 401) — fix: check PORT_CLIENT_ID and PORT_CLIENT_SECRET (or the secret PORT_CREDENTIALS_ARN, {\"clientId\", \"clientSecret\"}) against Port: Settings → Credentials",
    );
    for expected in [
        "- integration \"test-github\": not run: the Port credentials failed",
        "- mapping: not run: it is read from Port, and the Port credentials failed",
        "- blueprints: not run: the Port credentials failed",
        "- sim-org: App permissions: not run: the mapping could not be loaded (see Port)",
        "- samples: not run: the mapping could not be loaded (see Port)",
    ] {
        has(&lines, expected);
    }
    assert_eq!(failures(&lines).len(), 1, "{lines:#?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.ends_with(" passed, 1 failed, 5 not run\n"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_webhook_events_are_named_for_the_app_and_the_organization_hook() {
    let handled: Vec<String> = port_github_simulators::fixtures::handled_events_from_spec()
        .into_iter()
        .map(|(event, _)| event)
        .collect();
    let world = world(
        SimConfig {
            events: handled
                .iter()
                .filter(|e| *e != "push" && *e != "release")
                .cloned()
                .collect(),
            ..SimConfig::default()
        },
        default_blueprints().unwrap(),
        MAPPING,
    )
    .await;
    let settings = app_settings(&world);
    let output = check(&settings, &[]);
    let lines = check_lines(&output, &settings);
    assert_eq!(output.status.code(), Some(1), "{lines:#?}");
    has(
        &lines,
        "✗ sim-org: App webhook events: missing push, release — fix: subscribe to them in the App's settings (Permissions & events → Subscribe to events; an event is offered once its permission is granted)",
    );
    assert_eq!(failures(&lines).len(), 1, "{lines:#?}");

    // A token and the organization hook: complete, then ours by URL lacking one event.
    let hook = |url: &str, events: Vec<String>| SimHook {
        id: 0,
        active: true,
        events,
        url: url.to_owned(),
        content_type: "json".to_owned(),
        insecure_ssl: "0".to_owned(),
        secret: Some(WEBHOOK_SECRET.to_owned()),
        created_at: chrono::Utc::now(),
    };
    let complete = world
        .github
        .add_hook(hook("https://other.example/hook", handled.clone()));
    let mut settings = token_settings(&world);
    settings.push(("WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()));
    let output = check(&settings, &[]);
    let lines = check_lines(&output, &settings);
    assert_eq!(output.status.code(), Some(0), "{lines:#?}");
    has(
        &lines,
        "✓ token: authenticates as user-0; scopes: admin:org_hook, read:org, repo",
    );
    has(&lines, "✓ organization sim-org: readable with the token");
    has(
        &lines,
        &format!(
            "✓ sim-org: organization webhook {complete} (https://other.example/hook): subscribes to the {} handled events",
            handled.len()
        ),
    );
    let ours = world.github.add_hook(hook(
        URL,
        handled.iter().filter(|e| *e != "issues").cloned().collect(),
    ));
    let output = check(&settings, &["--webhook-url", URL]);
    let lines = check_lines(&output, &settings);
    assert_eq!(output.status.code(), Some(1), "{lines:#?}");
    has(
        &lines,
        &format!(
            "✗ sim-org: organization webhook {ours} ({URL}) events: missing issues — fix: `port-github webhooks ensure --url {URL}` creates or corrects it"
        ),
    );
    assert_eq!(failures(&lines).len(), 1, "{lines:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_error_in_the_sample_names_the_field_and_a_compile_error_stops_the_samples() {
    let broken = MAPPING.replace(
        "properties: {url: .html_url}",
        "properties: {url: .html_url, size: .name | tonumber}",
    );
    let world = world(SimConfig::default(), default_blueprints().unwrap(), &broken).await;
    let settings = app_settings(&world);
    let output = check(&settings, &[]);
    let lines = check_lines(&output, &settings);
    assert_eq!(output.status.code(), Some(1), "{lines:#?}");
    let failed = failures(&lines);
    assert_eq!(failed.len(), 1, "{failed:#?}");
    let prefix = "✗ repository (resources[0]) from sim-org/repo-0000, githubRepository \"repo-0000\": properties.size: ";
    let suffix = " — fix: correct the expression in the mapping (`port-github map --config FILE --kind KIND` tries it on saved objects)";
    assert!(
        failed[0].starts_with(prefix) && failed[0].ends_with(suffix),
        "{failed:#?}"
    );
    assert!(
        failed[0].len() > prefix.len() + suffix.len(),
        "jq's message is shown"
    );

    let invalid = MAPPING.replace("identifier: .slug", "identifier: .slug |");
    let world = self::world(
        SimConfig::default(),
        default_blueprints().unwrap(),
        &invalid,
    )
    .await;
    let settings = app_settings(&world);
    let output = check(&settings, &[]);
    let lines = check_lines(&output, &settings);
    assert_eq!(output.status.code(), Some(1), "{lines:#?}");
    let failed = failures(&lines);
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert!(
        failed[0].starts_with("✗ mapping from the file /")
            && failed[0].contains(
                "1 invalid jq expression(s): resources[2] (team) port.entity.mappings.identifier"
            ),
        "{failed:#?}"
    );
    has(
        &lines,
        "- samples: not run: the mapping could not be loaded (see Port)",
    );
    has(
        &lines,
        "- blueprints: not run: the mapping could not be loaded",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_settings_exit_2_naming_the_variable() {
    let world = default_world().await;
    let settings = without(
        app_settings(&world),
        &["PORT_CLIENT_ID", "PORT_CLIENT_SECRET"],
    );
    let output = check(&settings, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("PORT_CREDENTIALS_ARN"), "{stderr}");
    assert!(output.stdout.is_empty());
}

/// The deployed names: secrets by ARN, the state table with the schedule's marks. An empty
/// secret (the stack creates them without a value) is a failure naming the command to fill it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_aws_an_empty_secret_fails_and_the_last_resync_is_shown() {
    use port_github_core::resync::schedule::{record_completed, record_start};
    use port_github_core::state::DynamoDbStateStore;
    use port_github_tests::moto::{create_secret, create_state_table, moto, unique_name};

    let world = default_world().await;
    let sdk = moto().sdk_config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let key = create_secret(&secrets, "check-app-key", TEST_APP_PRIVATE_KEY)
        .await
        .unwrap();
    let empty = secrets
        .create_secret()
        .name(unique_name("check-port-credentials"))
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let table = create_state_table(&dynamodb, "check-state").await.unwrap();
    let store = DynamoDbStateStore::new(dynamodb, table.clone());
    let at = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() - 600, 0).unwrap();
    record_start(&store, "run-7", at, None).await.unwrap();
    record_completed(&store, "run-7", at, at).await.unwrap();

    let mut settings = without(
        app_settings(&world),
        &[
            "GITHUB_APP_PRIVATE_KEY",
            "PORT_CLIENT_ID",
            "PORT_CLIENT_SECRET",
        ],
    );
    settings.extend(moto().env());
    settings.push(("GITHUB_APP_PRIVATE_KEY_ARN", key.clone()));
    settings.push(("PORT_CREDENTIALS_ARN", empty.clone()));
    settings.push(("STATE_TABLE", table));
    let output = check(&settings, &[]);
    let lines = check_lines(&output, &settings);
    assert_eq!(output.status.code(), Some(1), "{lines:#?}");
    has(
        &lines,
        &format!("✓ secret GITHUB_APP_PRIVATE_KEY_ARN ({key}): readable, an RSA private key"),
    );
    has(
        &lines,
        &format!(
            "✗ secret PORT_CREDENTIALS_ARN ({empty}): empty: it has no value yet — fix: aws secretsmanager put-secret-value --secret-id {empty} --secret-string '{{\"clientId\":\"...\",\"clientSecret\":\"...\"}}'"
        ),
    );
    has(
        &lines,
        &format!(
            "✓ last resync: run run-7 started {}, completed",
            at.to_rfc3339()
        ),
    );
    has(
        &lines,
        "✓ App 4242: GitHub accepts its JWT (GET /app: \"Port GitHub (simulated)\")",
    );
    // Port cannot be reached without its credentials: that one failure, and what depends on it.
    let failed = failures(&lines);
    assert_eq!(failed.len(), 2, "{failed:#?}");
    assert!(failed[0].starts_with("✗ credentials: "), "{failed:#?}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("BEGIN"));
}
