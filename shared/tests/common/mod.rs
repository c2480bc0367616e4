//! Helpers shared by the mapping integration tests: locating the fixtures.

use std::path::PathBuf;

/// The workspace's fixtures (`tests/fixtures`), or a panic saying where they were expected.
pub fn fixtures_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures"));
    assert!(
        dir.join("ocean/port-app-config.yml").is_file(),
        "fixtures missing: expected Port's fixtures at {} (tests/fixtures, tracked in git)",
        dir.display()
    );
    dir
}

/// Reads a fixture file as text.
pub fn read_fixture(relative: &str) -> String {
    let path = fixtures_dir().join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

/// Reads a fixture file as JSON.
pub fn read_fixture_json(relative: &str) -> serde_json::Value {
    serde_json::from_str(&read_fixture(relative))
        .unwrap_or_else(|e| panic!("fixture {relative} is not JSON: {e}"))
}
