//! The `port-app-config` model (Port's GitHub integration format): parsing from YAML or JSON and
//! validating kinds, with errors that name the resource and field. Selector options live in
//! `selector.rs`, entity mappings in `mappings.rs`; compiling jq is `CompiledMapping`'s job.

use serde_json::{Map, Value};

use super::mappings::EntityMappings;
use super::selector::Selector;
use crate::github::kinds::Kind;

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

pub(super) fn invalid(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
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
    /// The document it was read from, as JSON (what provisioning stores in Port's integration).
    pub document: Value,
}

/// One `resources[]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceConfig {
    /// The GitHub kind.
    pub kind: Kind,
    /// Which items, and how to fetch them.
    pub selector: Selector,
    /// How items become entities.
    pub mappings: EntityMappings,
    /// jq expression yielding an array whose elements become the items.
    pub items_to_parse: Option<String>,
    /// Name under which each element is placed (default `item`).
    pub items_to_parse_name: String,
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
            document: document.clone(),
        })
    }
}

impl ResourceConfig {
    fn from_value(index: usize, value: &Value) -> Result<Self, ConfigError> {
        let at = |field: &str| format!("resources[{index}].{field}");
        let resource = value
            .as_object()
            .ok_or_else(|| invalid(format!("resources[{index}]"), "must be an object"))?;
        let name = required_string(resource, "kind", &at("kind"))?;
        let Some(kind) = Kind::parse(&name) else {
            let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            return Err(invalid(
                at("kind"),
                format!("unknown kind {name:?} (known kinds: {})", known.join(", ")),
            ));
        };
        let selector = match resource.get("selector") {
            None | Some(Value::Null) => Selector {
                query: "true".to_owned(),
                ..Selector::default()
            },
            Some(Value::Object(fields)) => Selector::from_fields(index, kind, fields)?,
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

pub(super) fn optional_bool(
    fields: &Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<Option<bool>, ConfigError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => boolean(value, path).map(Some),
    }
}

pub(super) fn optional_number(
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

pub(super) fn optional_string(
    fields: &Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<Option<String>, ConfigError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => string(value, path).map(Some),
    }
}

pub(super) fn optional_strings(
    fields: &Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<Option<Vec<String>>, ConfigError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => strings(value, path).map(Some),
    }
}

pub(super) fn required_string(
    fields: &Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<String, ConfigError> {
    optional_string(fields, name, path)?.ok_or_else(|| invalid(path, "is required"))
}

pub(super) fn boolean(value: &Value, path: &str) -> Result<bool, ConfigError> {
    value
        .as_bool()
        .ok_or_else(|| invalid(path, "must be true or false"))
}

pub(super) fn string(value: &Value, path: &str) -> Result<String, ConfigError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| invalid(path, "must be a string"))
}

pub(super) fn strings(value: &Value, path: &str) -> Result<Vec<String>, ConfigError> {
    value
        .as_array()
        .ok_or_else(|| invalid(path, "must be a list of strings"))?
        .iter()
        .enumerate()
        .map(|(i, item)| string(item, &format!("{path}[{i}]")))
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
