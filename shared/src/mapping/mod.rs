//! The mapping engine: Port's `port-app-config` (resources, selectors, jq mappings) compiled once
//! and applied to raw GitHub objects, with jq 1.7 semantics. It does no I/O.
//!
//! - `config`, `selector`, `mappings`: the configuration model, with errors naming resource and field.
//! - `jq`: compile once (jaq), run per item, sandboxed (`env`/`$ENV` are `{}` or an allow-list;
//!   no `halt`, `input`, module loading, or output to stdout/stderr).
//! - `jqval`, `natives`, `builtins`, `paths`, `regex`, `dates`, `value`, `compat.jq`: jq 1.7.1
//!   behaviour where jaq differs (checked against jq 1.7.1 by `tests/jq_differential.rs`).
//! - `recursion`: rejects recursive definitions (see below).
//! - `entity`: selector, `itemsToParse`, first output per field, per-field errors, drops.
//! - `defaults`: our built-in mapping and blueprints for every kind.
//!
//! Known limits: recursive definitions are rejected (jaq recurses on the native stack, so an
//! endless recursion would abort the process); there is no time limit (an endless loop such as
//! `until(false; .)` runs until the Lambda times out, as in jq); jaq's parser does not accept
//! `?//`; `$__loc__` always reports line 1; a few jaq builtins that jq 1.7 lacks (`trim`, `abs`,
//! …) are available.
//!
//! ```
//! use port_github_core::mapping::{CompiledMapping, JqOptions, PortAppConfig};
//! let config = PortAppConfig::from_yaml_or_json(
//!     "resources: [{kind: tag, port: {entity: {mappings: {identifier: .name, blueprint: '\"githubTag\"'}}}}]",
//! ).expect("valid configuration");
//! let mapping = CompiledMapping::compile(&config, &JqOptions::default()).expect("compiles");
//! let outcome = mapping.resources_for_kind("tag").next().expect("one resource")
//!     .map_item(&serde_json::json!({"name": "v1.0.0"}));
//! assert_eq!(outcome.entities[0].identifier, "v1.0.0");
//! ```

mod builtins;
pub mod config;
mod dates;
pub mod defaults;
pub mod entity;
pub mod jq;
mod jqval;
pub mod mappings;
mod natives;
mod paths;
mod recursion;
mod regex;
pub mod selector;
pub mod value;

pub use config::{ConfigError, PortAppConfig, ResourceConfig};
pub use entity::{CompiledResource, DropReason, Entity, ExpressionError, FieldError, MapOutcome};
pub use jq::{JqCompileError, JqOptions, JqProgram};
pub use mappings::{EntityMappings, MappingValue, SearchQuery, SearchRule};
pub use selector::{PathPattern, RepositoryBranch, Selector, SelectorOptions};

/// Expressions of a configuration that do not compile (all of them, not only the first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} invalid jq expression(s): {}", .errors.len(), .errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct CompileError {
    /// Each expression that failed, with its resource and field.
    pub errors: Vec<ExpressionError>,
}

/// A configuration with every jq expression compiled once; `Send + Sync`, so one instance
/// serves every task of a process.
#[derive(Debug)]
pub struct CompiledMapping {
    config: PortAppConfig,
    resources: Vec<CompiledResource>,
}

impl CompiledMapping {
    /// Compiles every expression of every resource.
    pub fn compile(config: &PortAppConfig, options: &JqOptions) -> Result<Self, CompileError> {
        let mut errors = Vec::new();
        let resources: Vec<_> = config
            .resources
            .iter()
            .enumerate()
            .filter_map(|(index, resource)| {
                CompiledResource::compile(index, resource, options, &mut errors)
            })
            .collect();
        if errors.is_empty() {
            Ok(Self {
                config: config.clone(),
                resources,
            })
        } else {
            Err(CompileError { errors })
        }
    }

    /// The configuration this was compiled from.
    pub fn config(&self) -> &PortAppConfig {
        &self.config
    }

    /// Every resource, in configuration order.
    pub fn resources(&self) -> &[CompiledResource] {
        &self.resources
    }

    /// The resources of one kind, in configuration order (a kind may appear several times).
    pub fn resources_for_kind<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = &'a CompiledResource> + 'a {
        self.resources
            .iter()
            .filter(move |r| r.config().kind == kind)
    }

    /// Maps one raw object with every resource of its kind, merging the outcomes.
    pub fn map_item(&self, kind: &str, raw: &serde_json::Value) -> MapOutcome {
        let mut merged = MapOutcome::default();
        let mut resources = self.resources_for_kind(kind).peekable();
        if resources.peek().is_none() {
            return merged;
        }
        // One conversion to jq values for every resource of the kind.
        let input = value::json_to_val(raw);
        for resource in resources {
            resource.map_value(input.clone(), &mut merged);
        }
        merged
    }
}

/// A fingerprint of a `port-app-config` document, to tell whether a mapping read again from
/// Port changed.
pub fn config_fingerprint(config: &serde_json::Value) -> u64 {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(serde_json::to_vec(config).unwrap_or_default());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compile(yaml: &str) -> CompiledMapping {
        let config = PortAppConfig::from_yaml_or_json(yaml).expect("valid configuration");
        CompiledMapping::compile(&config, &JqOptions::default()).expect("compiles")
    }

    #[test]
    fn compiled_mapping_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<CompiledMapping>();
    }

    #[test]
    fn a_syntax_error_names_the_resource_and_field() {
        let config = PortAppConfig::from_yaml_or_json(
            "resources:\n- kind: tag\n  port: {entity: {mappings: {identifier: .name, blueprint: '\"t\"'}}}\n- kind: release\n  port: {entity: {mappings: {identifier: .id, blueprint: '\"r\"', properties: {bad: '.a | | .b'}}}}",
        )
        .expect("valid configuration");
        let error =
            CompiledMapping::compile(&config, &JqOptions::default()).expect_err("invalid jq");
        assert_eq!(error.errors.len(), 1);
        let message = error.to_string();
        assert!(
            message.contains(
                "resources[1] (release) port.entity.mappings.properties.bad: syntax error"
            ),
            "{message}"
        );
    }

    #[test]
    fn a_runtime_error_keeps_the_entity() {
        let mapping = compile(
            "resources: [{kind: tag, port: {entity: {mappings: {identifier: .name, blueprint: '\"t\"', properties: {n: '.name | tonumber', ok: .name}}}}}]",
        );
        let outcome = mapping.map_item("tag", &json!({"name": "v1"}));
        assert_eq!(outcome.entities.len(), 1);
        assert_eq!(outcome.entities[0].properties["n"], json!(null));
        assert_eq!(outcome.entities[0].properties["ok"], json!("v1"));
        assert_eq!(outcome.field_errors.len(), 1);
        assert_eq!(outcome.field_errors[0].field, "properties.n");
    }

    #[test]
    fn selector_must_be_true_and_boolean() {
        let mapping = compile(
            "resources: [{kind: tag, selector: {query: .keep}, port: {entity: {mappings: {identifier: .name, blueprint: '\"t\"'}}}}]",
        );
        assert!(
            mapping
                .map_item("tag", &json!({"name": "a", "keep": true}))
                .selected
        );
        let skipped = mapping.map_item("tag", &json!({"name": "a", "keep": false}));
        assert!(
            !skipped.selected && skipped.entities.is_empty() && skipped.field_errors.is_empty()
        );
        let not_boolean = mapping.map_item("tag", &json!({"name": "a", "keep": "yes"}));
        assert!(!not_boolean.selected);
        assert_eq!(not_boolean.field_errors[0].field, "selector.query");
    }

    #[test]
    fn entities_without_identifier_or_blueprint_are_dropped() {
        let mapping = compile(
            "resources: [{kind: tag, port: {entity: {mappings: {identifier: .name, blueprint: .bp}}}}]",
        );
        let outcome = mapping.map_item("tag", &json!({"bp": "t"}));
        assert!(outcome.entities.is_empty());
        assert_eq!(outcome.dropped.len(), 1);
        let outcome = mapping.map_item("tag", &json!({"name": "x"}));
        assert_eq!(outcome.dropped[0].reason, "no blueprint");
    }

    #[test]
    fn relations_may_be_strings_arrays_or_null() {
        let mapping = compile(
            "resources: [{kind: team, port: {entity: {mappings: {identifier: .slug, blueprint: '\"team\"', relations: {one: .slug, many: '[.members[].login]', none: .nothing}}}}}]",
        );
        let outcome = mapping.map_item(
            "team",
            &json!({"slug": "core", "members": [{"login": "a"}, {"login": "b"}]}),
        );
        let relations = &outcome.entities[0].relations;
        assert_eq!(relations["one"], json!("core"));
        assert_eq!(relations["many"], json!(["a", "b"]));
        assert_eq!(relations["none"], json!(null));
    }

    #[test]
    fn search_query_relations_evaluate_their_rule_values() {
        let mapping = compile(
            "resources: [{kind: pull-request, port: {entity: {mappings: {identifier: .id, blueprint: '\"pr\"', relations: {author: {combinator: and, rules: [{property: login, operator: '=', value: .user.login}, {combinator: or, rules: [{property: team, operator: '=', value: '.team // \"none\"'}]}]}}}}}}]",
        );
        let outcome = mapping.map_item(
            "pull-request",
            &json!({"id": "1", "user": {"login": "octo"}}),
        );
        assert_eq!(
            outcome.entities[0].relations["author"],
            json!({"combinator": "and", "rules": [
                {"property": "login", "operator": "=", "value": "octo"},
                {"combinator": "or", "rules": [{"property": "team", "operator": "=", "value": "none"}]}
            ]})
        );
    }

    #[test]
    fn items_to_parse_expands_under_the_configured_name() {
        let mapping = compile(
            "resources: [{kind: file, selector: {query: '.member.active', files: [{path: teams.json}]}, port: {itemsToParse: .content.members, itemsToParseName: member, entity: {mappings: {identifier: .member.login, blueprint: '\"user\"', properties: {repo: .repository}}}}}]",
        );
        let outcome = mapping.map_item(
            "file",
            &json!({"repository": "r", "content": {"members": [{"login": "a", "active": true}, {"login": "b", "active": false}, {"login": "c", "active": true}]}}),
        );
        let identifiers: Vec<_> = outcome
            .entities
            .iter()
            .map(|e| e.identifier.clone())
            .collect();
        assert_eq!(identifiers, vec![json!("a"), json!("c")]);
        assert_eq!(outcome.entities[0].properties["repo"], json!("r"));
    }
}
