//! The one way a raw GitHub object becomes Port entities, for a live event and a resync alike:
//! map it with a resource, check the resource's selector (its jq `query`, then its state
//! options), and convert what it builds into entities Port takes (string identifiers).

use serde_json::Value;

use super::selection::passes_selector_options;
use crate::mapping::CompiledResource;
use crate::port::Entity;

/// What one resource made of one raw object.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The object passed the resource's selector: its `query` and its state options.
    pub selected: bool,
    /// The entities to upsert when selected (none otherwise).
    pub entities: Vec<Entity>,
    /// Mapping fields that failed (an entity is still built, with `null` there).
    pub field_errors: usize,
}

/// Maps `raw` with `resource` and keeps what its selector selects.
pub fn apply(resource: &CompiledResource, raw: &Value) -> Applied {
    let outcome = resource.map_item(raw);
    let selected = outcome.selected && passes_selector_options(resource, raw);
    let entities = if selected {
        outcome
            .entities
            .iter()
            .filter_map(Entity::from_mapped)
            .collect()
    } else {
        Vec::new()
    };
    Applied {
        selected,
        entities,
        field_errors: outcome.field_errors.len(),
    }
}

/// The entities `raw` stands for, selected or not: what to delete when the object is gone or
/// no longer selected.
pub fn entities_ignoring_selector(resource: &CompiledResource, raw: &Value) -> Vec<Entity> {
    resource
        .map_item_ignoring_selector(raw)
        .entities
        .iter()
        .filter_map(Entity::from_mapped)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::{CompiledMapping, JqOptions, PortAppConfig};
    use serde_json::json;

    fn issue_resource(query: &str) -> CompiledMapping {
        let yaml = format!(
            "resources:\n- kind: issue\n  selector: {{query: '{query}'}}\n  port: {{entity: {{mappings: {{identifier: .number, blueprint: '\"githubIssue\"', properties: {{t: .title.x}}}}}}}}"
        );
        let config = PortAppConfig::from_yaml_or_json(&yaml).unwrap();
        CompiledMapping::compile(&config, &JqOptions::default()).unwrap()
    }

    #[test]
    fn selected_objects_become_entities_with_string_identifiers() {
        let mapping = issue_resource("true");
        let applied = apply(
            &mapping.resources()[0],
            &json!({"number": 7, "state": "open", "title": "t"}),
        );
        assert!(applied.selected);
        assert_eq!(applied.entities.len(), 1);
        assert_eq!(applied.entities[0].identifier, "7");
        assert_eq!(applied.entities[0].blueprint, "githubIssue");
        assert_eq!(applied.field_errors, 1, "`.title.x` of a string fails");
    }

    #[test]
    fn the_query_and_the_state_options_both_select() {
        let closed = json!({"number": 7, "state": "closed", "title": {"x": 1}});
        let by_query = issue_resource("false");
        let applied = apply(&by_query.resources()[0], &closed);
        assert!(!applied.selected && applied.entities.is_empty());
        let by_state = issue_resource("true");
        let applied = apply(&by_state.resources()[0], &closed);
        assert!(!applied.selected, "issues are open by default");
        assert!(applied.entities.is_empty());
        let gone = entities_ignoring_selector(&by_state.resources()[0], &closed);
        assert_eq!(
            gone.len(),
            1,
            "what to delete is known without the selector"
        );
        assert_eq!(gone[0].identifier, "7");
    }
}
