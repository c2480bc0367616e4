//! A push, live: the paths it changed decide which workflows (on the default branch) and which
//! files and folders (on the pushed branch, matching a resource's patterns) are read again, and
//! which removed files are deleted.

use serde_json::Value;

use super::{LiveError, LiveProcessor, LiveReport};
use crate::github::GitHubClient;
use crate::github::kinds::{self, Kind, Repo};
use crate::mapping::CompiledResource;
use crate::sync::selection::path_patterns;

impl LiveProcessor {
    /// A push changed these paths: workflows defined by them are re-read and upserted (GitHub
    /// only knows workflows on the default branch); files and folders matching a resource's
    /// patterns on the pushed branch are re-read, and removed files deleted.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn refresh_paths(
        &self,
        client: &GitHubClient,
        repo: &Repo,
        kind: Kind,
        branch: &str,
        paths: &[String],
        truncated: bool,
        report: &mut LiveReport,
    ) -> Result<(), LiveError> {
        if kind == Kind::File || kind == Kind::Folder {
            return self
                .refresh_files(client, repo, kind, branch, paths, truncated, report)
                .await;
        }
        if branch != repo.default_branch {
            return Ok(());
        }
        if truncated {
            tracing::info!("the push's path list was cut: workflows are left to the next resync");
        }
        for path in paths {
            let Some(file) = workflow_file(path) else {
                continue;
            };
            if let Some(raw) = kinds::actions::get_workflow(client, repo, file).await? {
                self.apply(kind, &raw, report).await?;
            }
        }
        Ok(())
    }

    /// Files and folders of each resource whose patterns read `branch` and match a changed path.
    #[allow(clippy::too_many_arguments)]
    async fn refresh_files(
        &self,
        client: &GitHubClient,
        repo: &Repo,
        kind: Kind,
        branch: &str,
        paths: &[String],
        truncated: bool,
        report: &mut LiveReport,
    ) -> Result<(), LiveError> {
        use kinds::files::{self, glob_matches};
        let mapping = self.mapping();
        let resources: Vec<&CompiledResource> = mapping.resources_for_kind(kind.as_str()).collect();
        for resource in resources {
            let patterns: Vec<files::PathPattern> = path_patterns(resource)
                .into_iter()
                .filter(|p| p.branch_for(repo).as_deref() == Some(branch))
                .collect();
            // A folder is touched when a changed path lies under it.
            let touched = |pattern: &files::PathPattern| {
                truncated
                    || paths.iter().any(|path| {
                        if kind == Kind::File {
                            glob_matches(&pattern.path, path)
                        } else {
                            ancestors(path).any(|folder| glob_matches(&pattern.path, folder))
                        }
                    })
            };
            let relevant: Vec<files::PathPattern> =
                patterns.into_iter().filter(|p| touched(p)).collect();
            if relevant.is_empty() {
                continue;
            }
            let current = if kind == Kind::File {
                files::list_files(client, repo, &relevant).await?
            } else {
                files::list_folders(client, repo, &relevant).await?
            };
            let present: Vec<&str> = current
                .iter()
                .filter_map(|raw| {
                    raw.get("path")
                        .or_else(|| raw.pointer("/folder/path"))
                        .and_then(Value::as_str)
                })
                .collect();
            for raw in &current {
                let touched_now = raw
                    .get("path")
                    .or_else(|| raw.pointer("/folder/path"))
                    .and_then(Value::as_str)
                    .is_some_and(|p| {
                        truncated
                            || paths
                                .iter()
                                .any(|c| c == p || c.starts_with(&format!("{p}/")))
                    });
                if touched_now {
                    self.apply(kind, raw, report).await?;
                }
            }
            if kind == Kind::File {
                for gone in paths.iter().filter(|p| !present.contains(&p.as_str())) {
                    if !relevant
                        .iter()
                        .any(|pattern| glob_matches(&pattern.path, gone))
                    {
                        continue;
                    }
                    let name = gone.rsplit('/').next().unwrap_or(gone);
                    let raw = serde_json::json!({
                        "organization": repo.owner, "repository": repo.object, "branch": branch,
                        "path": gone, "name": name, "content": null, "metadata": {"path": gone},
                    });
                    self.delete_mapped(kind, &raw, &[], report).await?;
                }
            }
        }
        Ok(())
    }
}

/// The folders above `path`: `a/b/c.txt` → `a/b`, `a`.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .map(move |(at, _)| &path[..at])
        .rev()
}

/// `.github/workflows/ci.yml` → `ci.yml` (a workflow definition directly in that folder).
fn workflow_file(path: &str) -> Option<&str> {
    let file = path.strip_prefix(".github/workflows/")?;
    (!file.contains('/') && (file.ends_with(".yml") || file.ends_with(".yaml"))).then_some(file)
}
