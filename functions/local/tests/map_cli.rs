//! Black-box tests of `port-github map`: Port's default mapping on the fixtures, errors on stderr,
//! exit status for an invalid configuration.

use std::process::Command;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures");

fn port_github() -> Command {
    Command::new(env!("CARGO_BIN_EXE_port-github"))
}

#[test]
fn maps_pull_requests_with_port_default_mapping() {
    let output = port_github()
        .args(["map", "--config"])
        .arg(format!("{FIXTURES}/ocean/port-app-config.yml"))
        .args(["--kind", "pull-request"])
        .arg(format!("{FIXTURES}/ocean/examples/pull-request/a.json"))
        .arg(format!("{FIXTURES}/ocean/examples/pull-request/c.json"))
        .output()
        .expect("port-github runs (are the fixtures at tests/fixtures?)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let entities: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    assert_eq!(entities.len(), 2);
    assert_eq!(entities[1]["identifier"], "small-repo3156305786");
    assert_eq!(entities[1]["properties"]["creator"], "dependabot-bot");
    assert_eq!(entities[1]["blueprint"], "githubPullRequest");
}

#[test]
fn field_errors_go_to_stderr_and_invalid_configs_fail() {
    let dir = std::env::temp_dir().join(format!("port-github-map-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        "resources: [{kind: tag, port: {entity: {mappings: {identifier: .name, blueprint: '\"t\"', properties: {n: '.name | tonumber'}}}}}]",
    )
    .expect("config written");
    let input = dir.join("tag.json");
    std::fs::write(&input, r#"[{"name": "v1"}, {"name": "2"}]"#).expect("input written");
    let output = port_github()
        .arg("map")
        .arg("--config")
        .arg(&config)
        .args(["--kind", "tag"])
        .arg(&input)
        .output()
        .expect("runs");
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("object 0: resources[0] (tag) properties.n:"),
        "{stderr}"
    );

    let mut child = port_github()
        .arg("map")
        .arg("--config")
        .arg(&config)
        .args(["--kind", "tag"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    std::io::Write::write_all(
        &mut child.stdin.take().expect("stdin"),
        br#"{"name": "from-stdin"}"#,
    )
    .expect("input written");
    let output = child.wait_with_output().expect("finishes");
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains(r#""identifier":"from-stdin""#));

    let invalid = dir.join("invalid.yml");
    std::fs::write(&invalid, "resources: [{kind: tag, port: {entity: {mappings: {identifier: '.a |', blueprint: '\"t\"'}}}}]")
        .expect("config written");
    let output = port_github()
        .arg("map")
        .arg("--config")
        .arg(&invalid)
        .args(["--kind", "tag"])
        .arg(&input)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("resources[0] (tag) port.entity.mappings.identifier")
    );
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
