//! Selector options of each kind (`states`, `since`, `maxResults`, `files`, `folders`, …): typed,
//! range-checked, and kept when unknown so newer configurations still load.

use crate::github::kinds::Kind;
use serde_json::{Map, Value};

use super::config::{
    ConfigError, boolean, invalid, optional_bool, optional_string, required_string, string, strings,
};

/// `selector`: the jq filter plus the fetch options of the kind.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Selector {
    /// jq expression that must yield `true` for an item to be mapped.
    pub query: String,
    /// The kind's typed options.
    pub options: SelectorOptions,
    /// Options this version does not know, kept for forward compatibility.
    pub other: Map<String, Value>,
}

/// Fetch options of all kinds (each kind reads the ones that apply to it).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SelectorOptions {
    /// pull-request `states` (`open`, `closed`), dependabot-alert `states`.
    pub states: Option<Vec<String>>,
    /// issue / code-scanning / secret-scanning `state`.
    pub state: Option<String>,
    /// pull-request: days back for closed pull requests (1-90).
    pub since: Option<u32>,
    /// pull-request: most closed pull requests (1-300).
    pub max_results: Option<u32>,
    /// issue labels filter.
    pub labels: Option<Vec<String>>,
    /// alert severities.
    pub severity: Option<Vec<String>>,
    /// dependabot ecosystems.
    pub ecosystems: Option<Vec<String>>,
    /// collaborator affiliation (`outside`, `direct`, `all`).
    pub affiliation: Option<String>,
    /// repository: files whose content goes into `__includedFiles`.
    pub included_files: Option<Vec<String>>,
    /// team: fetch members.
    pub members: Option<bool>,
    /// user: include bots.
    pub include_bots: Option<bool>,
    /// branch: detailed commit data.
    pub detailed: Option<bool>,
    /// branch: protection rules.
    pub protection_rules: Option<bool>,
    /// secret-scanning: hide the secret.
    pub hide_secret: Option<bool>,
    /// file: patterns of files to fetch.
    pub files: Option<Vec<PathPattern>>,
    /// folder: patterns of folders to fetch.
    pub folders: Option<Vec<PathPattern>>,
}

/// A `files[]` or `folders[]` entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PathPattern {
    /// Glob of the paths.
    pub path: String,
    /// Restrict to these repositories (and branches).
    pub repos: Vec<RepositoryBranch>,
    /// Organization, for multi-organization setups.
    pub organization: Option<String>,
    /// file: keep the raw content instead of parsing JSON/YAML.
    pub skip_parsing: bool,
}

/// A repository and optional branch of a path pattern.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RepositoryBranch {
    /// Repository name.
    pub name: String,
    /// Branch; the default branch when absent.
    pub branch: Option<String>,
}

impl Selector {
    pub(super) fn from_fields(
        index: usize,
        kind: Kind,
        fields: &Map<String, Value>,
    ) -> Result<Self, ConfigError> {
        let at = |field: &str| format!("resources[{index}].selector.{field}");
        let query = match fields.get("query") {
            None | Some(Value::Null) => "true".to_owned(),
            Some(Value::String(query)) => query.clone(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(_) => return Err(invalid(at("query"), "must be a jq expression (a string)")),
        };
        let mut options = SelectorOptions::default();
        let mut other = Map::new();
        for (name, value) in fields {
            let path = at(name);
            match name.as_str() {
                "query" => {}
                "states" => options.states = Some(strings(value, &path)?),
                "state" => options.state = Some(string(value, &path)?),
                "since" => options.since = Some(bounded(value, &path, 1, 90)?),
                "maxResults" => options.max_results = Some(bounded(value, &path, 1, 300)?),
                "labels" => options.labels = Some(strings_or_csv(value, &path)?),
                "severity" => options.severity = Some(strings_or_csv(value, &path)?),
                "ecosystems" => options.ecosystems = Some(strings_or_csv(value, &path)?),
                "affiliation" => options.affiliation = Some(string(value, &path)?),
                "includedFiles" => options.included_files = Some(strings(value, &path)?),
                "members" => options.members = Some(boolean(value, &path)?),
                "includeBots" => options.include_bots = Some(boolean(value, &path)?),
                "detailed" => options.detailed = Some(boolean(value, &path)?),
                "protectionRules" => options.protection_rules = Some(boolean(value, &path)?),
                "hideSecret" => options.hide_secret = Some(boolean(value, &path)?),
                "files" => options.files = Some(path_patterns(value, &path, true)?),
                "folders" => options.folders = Some(path_patterns(value, &path, false)?),
                _ => {
                    other.insert(name.clone(), value.clone());
                }
            }
        }
        validate_states(kind, &options, index)?;
        Ok(Self {
            query,
            options,
            other,
        })
    }
}

fn validate_states(kind: Kind, options: &SelectorOptions, index: usize) -> Result<(), ConfigError> {
    let allowed_states = kind.selector_states();
    if let Some(states) = &options.states
        && !allowed_states.is_empty()
        && let Some(bad) = states
            .iter()
            .find(|s| !allowed_states.contains(&s.as_str()))
    {
        return Err(invalid(
            format!("resources[{index}].selector.states"),
            format!(
                "unknown state {bad:?} for {kind} (allowed: {})",
                allowed_states.join(", ")
            ),
        ));
    }
    let allowed_state = kind.selector_state();
    if let Some(state) = &options.state
        && !allowed_state.is_empty()
        && !allowed_state.contains(&state.as_str())
    {
        return Err(invalid(
            format!("resources[{index}].selector.state"),
            format!(
                "unknown state {state:?} for {kind} (allowed: {})",
                allowed_state.join(", ")
            ),
        ));
    }
    Ok(())
}

fn strings_or_csv(value: &Value, path: &str) -> Result<Vec<String>, ConfigError> {
    match value {
        Value::String(csv) => Ok(csv
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()),
        other => strings(other, path),
    }
}

fn bounded(value: &Value, path: &str, min: u32, max: u32) -> Result<u32, ConfigError> {
    value
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| invalid(path, format!("must be a whole number from {min} to {max}")))
}

fn path_patterns(value: &Value, path: &str, files: bool) -> Result<Vec<PathPattern>, ConfigError> {
    let items = value
        .as_array()
        .ok_or_else(|| invalid(path, "must be a list of {path, repos} objects"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let at = format!("{path}[{i}]");
            let fields = item
                .as_object()
                .ok_or_else(|| invalid(&at, "must be an object"))?;
            let repos = match fields.get("repos") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(repos)) => repos
                    .iter()
                    .enumerate()
                    .map(|(j, repo)| {
                        let repo_at = format!("{at}.repos[{j}]");
                        match repo {
                            Value::String(name) => Ok(RepositoryBranch {
                                name: name.clone(),
                                branch: None,
                            }),
                            Value::Object(repo) => Ok(RepositoryBranch {
                                name: required_string(repo, "name", &format!("{repo_at}.name"))?,
                                branch: optional_string(
                                    repo,
                                    "branch",
                                    &format!("{repo_at}.branch"),
                                )?,
                            }),
                            _ => Err(invalid(
                                repo_at,
                                "must be a repository name or {name, branch}",
                            )),
                        }
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err(invalid(format!("{at}.repos"), "must be a list")),
            };
            let default_path = if files { None } else { Some("*".to_owned()) };
            Ok(PathPattern {
                path: match optional_string(fields, "path", &format!("{at}.path"))? {
                    Some(p) => p,
                    None => {
                        default_path.ok_or_else(|| invalid(format!("{at}.path"), "is required"))?
                    }
                },
                repos,
                organization: optional_string(
                    fields,
                    "organization",
                    &format!("{at}.organization"),
                )?,
                skip_parsing: optional_bool(fields, "skipParsing", &format!("{at}.skipParsing"))?
                    .unwrap_or(false),
            })
        })
        .collect()
}
