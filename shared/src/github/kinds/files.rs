//! The `folder` and `file` kinds: entries of a branch's git tree that match the selector's glob
//! patterns, and (for files) their content. One tree request per repository and branch, then one
//! contents request per matching file.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::organization::file_text;
use super::{Repo, segment};
use crate::github::client::{Feature, GitHubClient};
use crate::github::error::GitHubError;

/// One pattern of Port's folder or file selector.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PathPattern {
    /// Glob over the repository path (`*` within a segment, `**` across segments, `?`).
    pub path: String,
    /// Repositories (and branches) the pattern applies to; empty means every repository, on its
    /// default branch.
    pub repos: Vec<RepoBranch>,
    /// Files only: keep the content as text instead of parsing JSON.
    pub skip_parsing: bool,
}

/// Port's folder selector: `{"folders": [{"path": "apps/*", "repos": [{"name": "r", "branch": "main"}]}]}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct FolderSelector {
    pub folders: Vec<PathPattern>,
}

/// Port's file selector: `{"files": [{"path": "**/package.json", "skipParsing": false}]}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct FileSelector {
    pub files: Vec<PathPattern>,
}

/// A repository name and optional branch in a folder or file selector.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RepoBranch {
    pub name: String,
    pub branch: Option<String>,
}

impl PathPattern {
    /// The branch this pattern reads in `repo`, or `None` when it does not apply to `repo`.
    pub fn branch_for(&self, repo: &Repo) -> Option<String> {
        if self.repos.is_empty() {
            return Some(repo.default_branch.clone());
        }
        self.repos
            .iter()
            .find(|entry| entry.name == repo.name)
            .map(|entry| {
                entry
                    .branch
                    .clone()
                    .unwrap_or_else(|| repo.default_branch.clone())
            })
    }
}

/// True when `path` matches the glob `pattern`.
pub fn glob_matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let path: Vec<&str> = path.trim_matches('/').split('/').collect();
    match_segments(&pattern, &path)
}

fn match_segments(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| match_segments(rest, &path[skip..])),
        Some((first, rest)) => match path.split_first() {
            Some((segment, path_rest)) => {
                match_one(first.as_bytes(), segment.as_bytes()) && match_segments(rest, path_rest)
            }
            None => false,
        },
    }
}

fn match_one(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| match_one(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && match_one(rest, &text[1..]),
        Some((byte, rest)) => text.first() == Some(byte) && match_one(rest, &text[1..]),
    }
}

/// The recursive git tree of `branch` (empty for an empty repository).
pub async fn tree(
    client: &GitHubClient,
    repo: &Repo,
    branch: &str,
) -> Result<Vec<Value>, GitHubError> {
    let found = client
        .get(
            &repo.path(&format!("/git/trees/{}?recursive=1", segment(branch))),
            Feature::Optional,
        )
        .await;
    match found {
        Ok(mut tree) => {
            if tree
                .get("truncated")
                .and_then(Value::as_bool)
                .unwrap_or(false)
            {
                tracing::warn!(repository = %repo.name, branch, "git tree truncated by GitHub");
            }
            Ok(match tree.get_mut("tree").map(Value::take) {
                Some(Value::Array(entries)) => entries,
                _ => Vec::new(),
            })
        }
        Err(GitHubError::NotAvailable { .. }) | Err(GitHubError::Permanent { status: 409, .. }) => {
            Ok(Vec::new())
        }
        Err(err) => Err(err),
    }
}

/// The folders of `repo` matching `patterns`, each as `{folder, __repository, __organization,
/// __branch}` (`__repository` is the repository object, as in Port's integration).
pub async fn list_folders(
    client: &GitHubClient,
    repo: &Repo,
    patterns: &[PathPattern],
) -> Result<Vec<Value>, GitHubError> {
    let mut found = Vec::new();
    for (branch, entries) in trees_for(client, repo, patterns).await? {
        for (pattern, entry) in entries {
            if entry.get("type").and_then(Value::as_str) == Some("tree")
                && matches_entry(&pattern.path, &entry)
            {
                found.push(json!({
                    "folder": entry,
                    "__repository": repo.object,
                    "__organization": repo.owner,
                    "__branch": branch,
                }));
            }
        }
    }
    Ok(found)
}

/// The files of `repo` matching `patterns`, each with its content (JSON parsed unless
/// `skipParsing`), in the shape Port's integration gives file mappings.
pub async fn list_files(
    client: &GitHubClient,
    repo: &Repo,
    patterns: &[PathPattern],
) -> Result<Vec<Value>, GitHubError> {
    let mut found = Vec::new();
    for (branch, entries) in trees_for(client, repo, patterns).await? {
        for (pattern, entry) in entries {
            if entry.get("type").and_then(Value::as_str) != Some("blob")
                || !matches_entry(&pattern.path, &entry)
            {
                continue;
            }
            let Some(path) = entry.get("path").and_then(Value::as_str).map(str::to_owned) else {
                continue;
            };
            let Some(text) = file_text(client, repo, &path, &branch).await? else {
                continue;
            };
            let content = file_content(&path, text, pattern.skip_parsing);
            let name = path.rsplit('/').next().unwrap_or(&path).to_owned();
            let mut metadata = Map::new();
            metadata.insert("path".to_owned(), Value::from(path.clone()));
            metadata.insert(
                "size".to_owned(),
                entry.get("size").cloned().unwrap_or(Value::Null),
            );
            metadata.insert(
                "sha".to_owned(),
                entry.get("sha").cloned().unwrap_or(Value::Null),
            );
            found.push(json!({
                "organization": repo.owner,
                "content": content,
                "repository": repo.object,
                "branch": branch,
                "path": path,
                "name": name,
                "metadata": metadata,
                "__base_jq": ".content",
            }));
        }
    }
    Ok(found)
}

/// A file's content as Port's integration gives it to mappings: YAML (`.yaml`, `.yml`) and JSON
/// parsed into values, anything else (or what does not parse, or `skipParsing`) as text.
pub fn file_content(path: &str, text: String, skip_parsing: bool) -> Value {
    if skip_parsing {
        return Value::from(text);
    }
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        return match serde_norway::from_str::<Value>(&text) {
            Ok(value) => value,
            Err(_) => Value::from(text),
        };
    }
    serde_json::from_str(&text).unwrap_or(Value::from(text))
}

fn matches_entry(pattern: &str, entry: &Value) -> bool {
    entry
        .get("path")
        .and_then(Value::as_str)
        .is_some_and(|path| glob_matches(pattern, path))
}

/// One tree per distinct branch the patterns read in `repo`, paired with the patterns.
async fn trees_for<'p>(
    client: &GitHubClient,
    repo: &Repo,
    patterns: &'p [PathPattern],
) -> Result<Vec<(String, Vec<(&'p PathPattern, Value)>)>, GitHubError> {
    let mut by_branch: Vec<(String, Vec<&'p PathPattern>)> = Vec::new();
    for pattern in patterns {
        if let Some(branch) = pattern.branch_for(repo) {
            match by_branch.iter_mut().find(|(b, _)| *b == branch) {
                Some((_, list)) => list.push(pattern),
                None => by_branch.push((branch, vec![pattern])),
            }
        }
    }
    let mut out = Vec::new();
    for (branch, patterns) in by_branch {
        let entries = tree(client, repo, &branch).await?;
        let mut pairs = Vec::new();
        for entry in &entries {
            for pattern in &patterns {
                pairs.push((*pattern, entry.clone()));
            }
        }
        out.push((branch, pairs));
    }
    Ok(out)
}

#[cfg(test)]
mod content_tests {
    use super::file_content;
    use serde_json::json;

    #[test]
    fn yaml_and_json_files_are_parsed_like_ports_integration_does() {
        assert_eq!(
            file_content("port.yml", "item: name\nlist: [1, 2]\n".into(), false),
            json!({"item": "name", "list": [1, 2]})
        );
        assert_eq!(
            file_content("a/B.YAML", "- x\n".into(), false),
            json!(["x"])
        );
        assert_eq!(
            file_content("package.json", r#"{"name": "app"}"#.into(), false),
            json!({"name": "app"})
        );
        assert_eq!(
            file_content("README.md", "# Title".into(), false),
            json!("# Title")
        );
        assert_eq!(
            file_content("bad.yaml", "a: [unclosed".into(), false),
            json!("a: [unclosed"),
            "unparsable stays text"
        );
        assert_eq!(
            file_content("port.yml", "item: name".into(), true),
            json!("item: name"),
            "skipParsing"
        );
    }
}
