//! GitHub's example webhook payloads from the repository's fixtures (`tests/fixtures/github/webhooks/`);
//! the folder itself is located by [`port_github_simulators::fixtures::fixtures_dir`].

use port_github_simulators::fixtures::fixtures_dir;

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
