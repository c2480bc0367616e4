//! Locating the repository's test fixtures (`tests/fixtures/`, provenance in its README) and
//! reading the handled events and actions (`github/handled-events.json`) from them.

use std::path::PathBuf;

/// The fixtures folder inside the repository; fails with a clear message when it is missing.
pub fn fixtures_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures"));
    assert!(
        dir.is_dir(),
        "fixtures not found at {}: the checkout is incomplete (tests/fixtures is tracked in git)",
        dir.display()
    );
    dir
}

/// The handled events and actions (`github/handled-events.json`): event → `None` for every
/// action, or the listed actions, in the file's order.
pub fn handled_events_from_spec() -> Vec<(String, Option<Vec<String>>)> {
    let path = fixtures_dir().join("github/handled-events.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let doc: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let events = doc
        .get("events")
        .and_then(serde_json::Value::as_object)
        .unwrap_or_else(|| panic!("{} has no \"events\" object", path.display()));
    events
        .iter()
        .map(|(event, actions)| {
            let actions = actions.as_array().map(|list| {
                list.iter()
                    .filter_map(|a| a.as_str().map(str::to_owned))
                    .collect()
            });
            (event.clone(), actions)
        })
        .collect()
}
