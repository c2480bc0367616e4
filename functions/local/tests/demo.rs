//! The README's first command, `cargo run -p port-github-local -- demo`: the same binary with the
//! same arguments, checked for what it promises: a full resync first, then the webhook deliveries.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn the_demo_runs_offline_and_leaves_a_catalog() {
    let output = Command::new(env!("CARGO_BIN_EXE_port-github"))
        .arg("demo")
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The resync part comes first and completes.
    let resync_done = stdout
        .lines()
        .position(|l| l.starts_with("resync completed"))
        .unwrap_or_else(|| panic!("no resync summary:\n{stdout}"));
    let webhooks_start = stdout
        .lines()
        .position(|l| l.starts_with("delivery "))
        .unwrap_or_else(|| panic!("no deliveries table:\n{stdout}"));
    assert!(resync_done < webhooks_start, "{stdout}");
    // Port started empty: the resync provisioned it first.
    assert!(
        stdout.contains("a fresh organization (blueprints: _team, _user)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("provisioned in Port on first contact: the integration record test-github (holding the mapping) and 20 blueprints"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .take(resync_done)
            .any(|l| l.trim_start().starts_with("pull-request ")),
        "a progress line per kind:\n{stdout}"
    );
    for row in [
        "pull_request opened",
        "release deleted",
        "repository archived",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("no {row} row:\n{stdout}"));
        assert!(line.contains(" 202 "), "the webhook queued it: {line}");
    }
    // The final table: blueprint, after the resync, the webhooks' change, now.
    let row = |blueprint: &str| -> Vec<String> {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{blueprint} ")))
            .unwrap_or_else(|| panic!("no {blueprint} row:\n{stdout}"))
            .split_whitespace()
            .skip(1)
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        row("githubRepository"),
        ["4", "-1", "3"],
        "the resync created the four repositories, the archive removed one"
    );
    // Releases: the resync created them; one deleted, and the archived repository's went with it.
    let releases = row("githubRelease");
    let synced: usize = releases[0].parse().unwrap();
    let now: usize = releases[2].parse().unwrap();
    assert!(synced > 0 && now < synced, "{releases:?}");
    let path = stdout
        .lines()
        .find_map(|l| l.strip_prefix("the catalog is in "))
        .expect("the catalog path");
    let catalog: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path.trim()).unwrap()).unwrap();
    let of = |blueprint: &str| {
        catalog
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["blueprint"] == blueprint)
            .count()
    };
    assert_eq!(of("githubRepository"), 3, "four synced, one archived");
    assert_eq!(
        of("githubRelease").to_string(),
        releases[2],
        "the file is the catalog"
    );
}
