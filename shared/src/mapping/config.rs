//! The `port-app-config` model (Port's GitHub integration format): parsing from YAML or JSON and
//! validating kinds and selector options, with errors that name the resource and field. It does
//! not compile jq; `CompiledMapping` does.

use serde_json::{Map, Value};

/// Kinds the integration knows (Port's GitHub integration's kinds).
pub const KNOWN_KINDS: &[&str] = &[
    "organization",
    "repository",
    "folder",
    "user",
    "team",
    "workflow",
    "workflow-run",
    "pull-request",
    "issue",
    "release",
    "tag",
    "branch",
    "environment",
    "deployment",
    "deployment-status",
    "dependabot-alert",
    "code-scanning-alerts",
    "secret-scanning-alerts",
    "file",
    "skill",
    "plugin",
    "collaborator",
];

/// Why a configuration is rejected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Neither valid YAML nor valid JSON.
    #[error("port-app-config is not valid YAML or JSON: {0}")]
    Syntax(#[source] serde_norway::Error),
    /// A field has the wrong shape.
    #[error("{path}: {message}")]
    Invalid {
        /// Where, e.g. `resources[2].selector.states`.
        path: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}

/// The whole mapping configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct PortAppConfig {
    /// Delete dependents with an entity (`delete_dependents`).
    pub delete_dependent_entities: bool,
    /// Let Port create related entities that do not exist yet.
    pub create_missing_related_entities: bool,
    /// Merge upserts into existing entities (default true).
    pub enable_merge_entity: bool,
    /// Largest share of owned entities a resync may delete (default 0.9).
    pub entity_deletion_threshold: f64,
    /// Which repositories to sync (`all`, `public`, `private`, …; default `all`).
    pub repository_type: String,
    /// Organizations to sync (classic tokens); empty means all.
    pub organizations: Vec<String>,
    /// The resources, in order.
    pub resources: Vec<ResourceConfig>,
}

/// One `resources[]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceConfig {
    /// The GitHub kind.
    pub kind: String,
    /// Which items, and how to fetch them.
    pub selector: Selector,
    /// How items become entities.
    pub mappings: EntityMappings,
    /// jq expression yielding an array whose elements become the items.
    pub items_to_parse: Option<String>,
    /// Name under which each element is placed (default `item`).
    pub items_to_parse_name: String,
}

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

/// `port.entity.mappings`: one jq expression per entity field.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityMappings {
    /// Entity identifier: a jq expression, or a search query (Port resolves it to an entity).
    pub identifier: MappingValue,
    /// Title.
    pub title: Option<String>,
    /// Blueprint.
    pub blueprint: String,
    /// Icon.
    pub icon: Option<String>,
    /// Team(s).
    pub team: Option<String>,
    /// Properties, in order.
    pub properties: Vec<(String, String)>,
    /// Relations, in order: jq expressions or search queries.
    pub relations: Vec<(String, MappingValue)>,
}

/// A mapping field: a jq expression, or a Port search query whose rule values are jq.
#[derive(Debug, Clone, PartialEq)]
pub enum MappingValue {
    /// A jq expression.
    Jq(String),
    /// A search query (`{combinator, rules}`), sent to Port with each rule's value evaluated.
    Search(SearchQuery),
}

/// `{combinator, rules}` of a search-query identifier or relation.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    /// `and` or `or`.
    pub combinator: String,
    /// The rules, in order.
    pub rules: Vec<SearchRule>,
}

/// One rule of a search query.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchRule {
    /// `{property, operator, value}` where `value` is a jq expression.
    Match {
        /// Property compared (e.g. `$identifier`).
        property: String,
        /// Operator (e.g. `=`).
        operator: String,
        /// jq expression giving the value.
        value: String,
    },
    /// A nested query.
    Nested(SearchQuery),
}

impl MappingValue {
    /// Every jq expression in this value, in order.
    pub fn expressions(&self) -> Vec<String> {
        match self {
            Self::Jq(code) => vec![code.clone()],
            Self::Search(query) => query.expressions(),
        }
    }

    fn from_value(value: &Value, path: &str) -> Result<Self, ConfigError> {
        match value {
            Value::String(code) => Ok(Self::Jq(code.clone())),
            Value::Null => Ok(Self::Jq("null".to_owned())),
            Value::Object(_) => SearchQuery::from_value(value, path).map(Self::Search),
            other => Ok(Self::Jq(other.to_string())),
        }
    }
}

impl SearchQuery {
    fn expressions(&self) -> Vec<String> {
        self.rules
            .iter()
            .flat_map(|rule| match rule {
                SearchRule::Match { value, .. } => vec![value.clone()],
                SearchRule::Nested(query) => query.expressions(),
            })
            .collect()
    }

    fn from_value(value: &Value, path: &str) -> Result<Self, ConfigError> {
        let fields = value
            .as_object()
            .ok_or_else(|| invalid(path, "must be a search query {combinator, rules}"))?;
        let combinator = required_string(fields, "combinator", &format!("{path}.combinator"))?;
        let rules = fields
            .get("rules")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid(format!("{path}.rules"), "must be a list of rules"))?
            .iter()
            .enumerate()
            .map(|(index, rule)| {
                let at = format!("{path}.rules[{index}]");
                let rule_fields = rule
                    .as_object()
                    .ok_or_else(|| invalid(&at, "must be an object"))?;
                if rule_fields.contains_key("combinator") {
                    return SearchQuery::from_value(rule, &at).map(SearchRule::Nested);
                }
                Ok(SearchRule::Match {
                    property: required_string(rule_fields, "property", &format!("{at}.property"))?,
                    operator: required_string(rule_fields, "operator", &format!("{at}.operator"))?,
                    value: required_string(rule_fields, "value", &format!("{at}.value"))?,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { combinator, rules })
    }
}

impl PortAppConfig {
    /// Parses a configuration written in YAML or JSON (JSON is YAML).
    pub fn from_yaml_or_json(text: &str) -> Result<Self, ConfigError> {
        let document: Value = serde_norway::from_str(text).map_err(ConfigError::Syntax)?;
        Self::from_value(&document)
    }

    /// Builds the configuration from an already-parsed document (e.g. Port's integration `config`).
    pub fn from_value(document: &Value) -> Result<Self, ConfigError> {
        let top = document
            .as_object()
            .ok_or_else(|| invalid("port-app-config", "must be an object"))?;
        let resources = match top.get("resources") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| ResourceConfig::from_value(index, item))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid("resources", "must be a list")),
        };
        let threshold = optional_number(top, "entityDeletionThreshold", "entityDeletionThreshold")?
            .unwrap_or(0.9);
        if !(0.0..=1.0).contains(&threshold) {
            return Err(invalid(
                "entityDeletionThreshold",
                "must be between 0 and 1",
            ));
        }
        Ok(Self {
            delete_dependent_entities: optional_bool(
                top,
                "deleteDependentEntities",
                "deleteDependentEntities",
            )?
            .unwrap_or(false),
            create_missing_related_entities: optional_bool(
                top,
                "createMissingRelatedEntities",
                "createMissingRelatedEntities",
            )?
            .unwrap_or(false),
            enable_merge_entity: optional_bool(top, "enableMergeEntity", "enableMergeEntity")?
                .unwrap_or(true),
            entity_deletion_threshold: threshold,
            repository_type: optional_string(top, "repositoryType", "repositoryType")?
                .unwrap_or_else(|| "all".to_owned()),
            organizations: optional_strings(top, "organizations", "organizations")?
                .unwrap_or_default(),
            resources,
        })
    }
}

impl ResourceConfig {
    fn from_value(index: usize, value: &Value) -> Result<Self, ConfigError> {
        let at = |field: &str| format!("resources[{index}].{field}");
        let resource = value
            .as_object()
            .ok_or_else(|| invalid(format!("resources[{index}]"), "must be an object"))?;
        let kind = required_string(resource, "kind", &at("kind"))?;
        if !KNOWN_KINDS.contains(&kind.as_str()) {
            return Err(invalid(
                at("kind"),
                format!(
                    "unknown kind {kind:?} (known kinds: {})",
                    KNOWN_KINDS.join(", ")
                ),
            ));
        }
        let selector = match resource.get("selector") {
            None | Some(Value::Null) => Selector {
                query: "true".to_owned(),
                ..Selector::default()
            },
            Some(Value::Object(fields)) => Selector::from_fields(index, &kind, fields)?,
            Some(_) => return Err(invalid(at("selector"), "must be an object")),
        };
        let port = resource
            .get("port")
            .and_then(Value::as_object)
            .ok_or_else(|| invalid(at("port"), "is required (port.entity.mappings)"))?;
        let entity = port
            .get("entity")
            .and_then(Value::as_object)
            .ok_or_else(|| invalid(at("port.entity"), "is required"))?;
        let mappings = entity
            .get("mappings")
            .ok_or_else(|| invalid(at("port.entity.mappings"), "is required"))?;
        let mappings = EntityMappings::from_value(mappings, &at("port.entity.mappings"))?;
        Ok(Self {
            kind,
            selector,
            mappings,
            items_to_parse: optional_string(port, "itemsToParse", &at("port.itemsToParse"))?,
            items_to_parse_name: optional_string(
                port,
                "itemsToParseName",
                &at("port.itemsToParseName"),
            )?
            .unwrap_or_else(|| "item".to_owned()),
        })
    }
}

impl Selector {
    fn from_fields(
        index: usize,
        kind: &str,
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

fn validate_states(kind: &str, options: &SelectorOptions, index: usize) -> Result<(), ConfigError> {
    let allowed_states: &[&str] = match kind {
        "pull-request" => &["open", "closed"],
        "dependabot-alert" => &["auto_dismissed", "dismissed", "fixed", "open"],
        _ => &[],
    };
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
    let allowed_state: &[&str] = match kind {
        "issue" => &["open", "closed", "all"],
        "code-scanning-alerts" => &["open", "closed", "dismissed", "fixed"],
        "secret-scanning-alerts" => &["open", "resolved", "all"],
        _ => &[],
    };
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

impl EntityMappings {
    fn from_value(value: &Value, path: &str) -> Result<Self, ConfigError> {
        let fields = value
            .as_object()
            .ok_or_else(|| invalid(path, "must be an object"))?;
        let expression = |name: &str| -> Result<Option<String>, ConfigError> {
            match fields.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(code)) => Ok(Some(code.clone())),
                Some(Value::Object(_) | Value::Array(_)) => Err(invalid(
                    format!("{path}.{name}"),
                    "must be a jq expression (a string)",
                )),
                Some(other) => Ok(Some(other.to_string())),
            }
        };
        let named = |name: &str| -> Result<Vec<(String, String)>, ConfigError> {
            match fields.get(name) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Object(entries)) => entries
                    .iter()
                    .map(|(key, code)| match code {
                        Value::String(code) => Ok((key.clone(), code.clone())),
                        Value::Null => Ok((key.clone(), "null".to_owned())),
                        Value::Object(_) | Value::Array(_) => Err(invalid(
                            format!("{path}.{name}.{key}"),
                            "must be a jq expression (a string)",
                        )),
                        other => Ok((key.clone(), other.to_string())),
                    })
                    .collect(),
                Some(_) => Err(invalid(
                    format!("{path}.{name}"),
                    "must be an object of jq expressions",
                )),
            }
        };
        let identifier = fields
            .get("identifier")
            .filter(|v| !v.is_null())
            .ok_or_else(|| invalid(format!("{path}.identifier"), "is required"))?;
        let relations = match fields.get("relations") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(entries)) => entries
                .iter()
                .map(|(key, value)| {
                    MappingValue::from_value(value, &format!("{path}.relations.{key}"))
                        .map(|v| (key.clone(), v))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(invalid(
                    format!("{path}.relations"),
                    "must be an object of jq expressions or search queries",
                ));
            }
        };
        Ok(Self {
            identifier: MappingValue::from_value(identifier, &format!("{path}.identifier"))?,
            title: expression("title")?,
            blueprint: expression("blueprint")?
                .ok_or_else(|| invalid(format!("{path}.blueprint"), "is required"))?,
            icon: expression("icon")?,
            team: expression("team")?,
            properties: named("properties")?,
            relations,
        })
    }

    /// Every jq expression of the mapping (identifier, title, blueprint, icon, team,
    /// properties, relations), in that order.
    pub fn expressions(&self) -> Vec<String> {
        let mut all = self.identifier.expressions();
        all.extend(self.title.clone());
        all.push(self.blueprint.clone());
        all.extend(self.icon.clone());
        all.extend(self.team.clone());
        all.extend(self.properties.iter().map(|(_, code)| code.clone()));
        all.extend(
            self.relations
                .iter()
                .flat_map(|(_, value)| value.expressions()),
        );
        all
    }
}

fn optional_bool(
    fields: &Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<Option<bool>, ConfigError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => boolean(value, path).map(Some),
    }
}

fn optional_number(
    fields: &Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<Option<f64>, ConfigError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(invalid(path, "must be a number")),
    }
}

fn optional_string(
    fields: &Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<Option<String>, ConfigError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => string(value, path).map(Some),
    }
}

fn optional_strings(
    fields: &Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<Option<Vec<String>>, ConfigError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => strings(value, path).map(Some),
    }
}

fn required_string(
    fields: &Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<String, ConfigError> {
    optional_string(fields, name, path)?.ok_or_else(|| invalid(path, "is required"))
}

fn boolean(value: &Value, path: &str) -> Result<bool, ConfigError> {
    value
        .as_bool()
        .ok_or_else(|| invalid(path, "must be true or false"))
}

fn string(value: &Value, path: &str) -> Result<String, ConfigError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| invalid(path, "must be a string"))
}

fn strings(value: &Value, path: &str) -> Result<Vec<String>, ConfigError> {
    value
        .as_array()
        .ok_or_else(|| invalid(path, "must be a list of strings"))?
        .iter()
        .enumerate()
        .map(|(i, item)| string(item, &format!("{path}[{i}]")))
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(yaml: &str) -> String {
        match PortAppConfig::from_yaml_or_json(yaml) {
            Ok(config) => panic!("accepted: {config:?}"),
            Err(error) => error.to_string(),
        }
    }

    const MAPPING: &str = "port: {entity: {mappings: {identifier: .id, blueprint: '\"b\"'}}}";

    #[test]
    fn defaults_apply() {
        let config =
            PortAppConfig::from_yaml_or_json(&format!("resources: [{{kind: tag, {MAPPING}}}]"))
                .expect("valid");
        assert!(config.enable_merge_entity);
        assert_eq!(config.entity_deletion_threshold, 0.9);
        assert_eq!(config.repository_type, "all");
        assert_eq!(config.resources[0].selector.query, "true");
        assert_eq!(config.resources[0].items_to_parse_name, "item");
    }

    #[test]
    fn errors_name_the_resource_and_field() {
        let unknown = error_of(&format!(
            "resources: [{{kind: tag, {MAPPING}}}, {{kind: gist, {MAPPING}}}]"
        ));
        assert!(
            unknown.starts_with("resources[1].kind: unknown kind \"gist\""),
            "{unknown}"
        );
        let states = error_of(&format!(
            "resources: [{{kind: pull-request, selector: {{query: 'true', states: [merged]}}, {MAPPING}}}]"
        ));
        assert!(
            states.starts_with("resources[0].selector.states: unknown state"),
            "{states}"
        );
        let since = error_of(&format!(
            "resources: [{{kind: pull-request, selector: {{since: 365}}, {MAPPING}}}]"
        ));
        assert_eq!(
            since,
            "resources[0].selector.since: must be a whole number from 1 to 90"
        );
        let files = error_of(&format!(
            "resources: [{{kind: file, selector: {{files: [{{repos: []}}]}}, {MAPPING}}}]"
        ));
        assert_eq!(files, "resources[0].selector.files[0].path: is required");
        let blueprint =
            error_of("resources: [{kind: tag, port: {entity: {mappings: {identifier: .id}}}}]");
        let rule = error_of(
            "resources: [{kind: tag, port: {entity: {mappings: {identifier: .id, blueprint: '\"b\"', relations: {r: {combinator: and, rules: [{property: $identifier, value: .x}]}}}}}}]",
        );
        assert_eq!(
            rule,
            "resources[0].port.entity.mappings.relations.r.rules[0].operator: is required"
        );
        assert_eq!(
            blueprint,
            "resources[0].port.entity.mappings.blueprint: is required"
        );
    }

    #[test]
    fn unknown_selector_options_are_kept() {
        let config = PortAppConfig::from_yaml_or_json(&format!(
            "resources: [{{kind: pull-request, selector: {{api: graphql, states: [open, closed], maxResults: 50}}, {MAPPING}}}]"
        ))
        .expect("valid");
        let selector = &config.resources[0].selector;
        assert_eq!(selector.options.max_results, Some(50));
        assert_eq!(selector.other.get("api"), Some(&Value::from("graphql")));
    }
}
