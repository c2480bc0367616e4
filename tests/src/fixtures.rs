//! Locating the shared fixtures (`../shared/fixtures` beside the repository).

use std::path::PathBuf;

/// The fixtures folder; fails with a clear message when the shared folder is not beside the repo.
pub fn fixtures_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures"
    ));
    assert!(
        dir.is_dir(),
        "fixtures not found at {}: the shared/ folder must sit beside the repository checkout",
        dir.display()
    );
    dir
}

/// Every GitHub example webhook payload: (event, file name, bytes), sorted.
pub fn webhook_examples() -> Vec<(String, String, Vec<u8>)> {
    let root = fixtures_dir().join("github/webhooks");
    let mut out = Vec::new();
    let mut events: Vec<_> = std::fs::read_dir(&root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .collect();
    events.sort_by_key(|e| e.file_name());
    for event in events {
        let mut files: Vec<_> = std::fs::read_dir(event.path())
            .into_iter()
            .flatten()
            .flatten()
            .collect();
        files.sort_by_key(|e| e.file_name());
        for file in files {
            let path = file.path();
            if path.extension().is_some_and(|e| e == "json")
                && let Ok(bytes) = std::fs::read(&path)
            {
                out.push((
                    event.file_name().to_string_lossy().into_owned(),
                    file.file_name().to_string_lossy().into_owned(),
                    bytes,
                ));
            }
        }
    }
    out
}

/// The handled events and actions as `GITHUB.md` lists them ("Events and actions the integration
/// must handle"), read from the design page itself so the tests check the code against the spec:
/// event → `None` for every action, or the listed actions.
pub fn handled_events_from_spec() -> Vec<(String, Option<Vec<String>>)> {
    let path = fixtures_dir().join("../design/GITHUB.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let section = text
        .split("## Events and actions the integration must handle")
        .nth(1)
        .and_then(|rest| rest.split_once('\n'))
        .and_then(|(_, rest)| rest.split("\n\n").find(|p| !p.trim().is_empty()))
        .unwrap_or_else(|| panic!("{} has no handled-events section", path.display()));
    let flat = section.replace('\n', " ");
    flat.trim()
        .trim_end_matches('.')
        .split('·')
        .map(|item| {
            let item = item.trim();
            match item.split_once(':') {
                Some((event, actions)) => (
                    event.trim().to_owned(),
                    Some(
                        actions
                            .split(',')
                            .map(|a| a.trim().to_owned())
                            .filter(|a| !a.is_empty())
                            .collect(),
                    ),
                ),
                None => (item.to_owned(), None),
            }
        })
        .collect()
}
