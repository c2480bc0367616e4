//! The README's first command, `cargo run -p port-github-local -- demo`: the same binary with the
//! same arguments, checked for what it promises.

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
    assert_eq!(of("githubPullRequest"), 2);
    assert_eq!(of("githubRelease"), 0, "created, then deleted");
    assert_eq!(of("githubRepository"), 3, "four created, one archived");
}
