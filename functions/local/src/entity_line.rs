//! One entity as one line of JSON, as `map` and `resync --dry-run` print it: the fields Port's API
//! takes (`blueprint`, `identifier`, `title`, `icon`, `team`, `properties`, `relations`), with
//! the resource's `kind` first when there is one. Formatting only; no I/O.

use port_github_core::mapping::Entity;
use serde::Serialize;
use serde_json::Value;

#[derive(Serialize)]
struct Line<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
    #[serde(flatten)]
    entity: &'a Entity,
}

/// The line for `entity`, with `"kind"` first when given (no trailing newline).
pub fn entity_line(entity: &Entity, kind: Option<&str>) -> serde_json::Result<String> {
    serde_json::to_string(&Line { kind, entity })
}

/// An entity as the resync sends it to Port, in the mapping's shape (so it prints as `map` does).
pub fn from_port(entity: &port_github_core::port::Entity) -> Entity {
    Entity {
        blueprint: entity.blueprint.clone(),
        identifier: Value::String(entity.identifier.clone()),
        title: entity.title.clone().map(Value::String),
        icon: entity.icon.clone().map(Value::String),
        team: (!entity.team.is_null()).then(|| entity.team.clone()),
        properties: entity.properties.clone(),
        relations: entity.relations.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entity() -> Entity {
        Entity {
            blueprint: "githubRepository".into(),
            identifier: json!("repo-1"),
            title: Some(json!("Repo 1")),
            icon: None,
            team: None,
            properties: serde_json::from_value(json!({"url": "https://x"})).unwrap_or_default(),
            relations: serde_json::Map::new(),
        }
    }

    #[test]
    fn without_a_kind_the_line_is_the_entity() {
        let line = entity_line(&entity(), None).unwrap_or_default();
        assert_eq!(line, serde_json::to_string(&entity()).unwrap_or_default());
        assert!(line.starts_with(r#"{"blueprint":"githubRepository","identifier":"repo-1""#));
    }

    #[test]
    fn the_kind_comes_first_and_port_entities_round_trip() {
        let line = entity_line(&entity(), Some("repository")).unwrap_or_default();
        assert!(line.starts_with(r#"{"kind":"repository","blueprint":"githubRepository""#));
        let port = port_github_core::port::Entity::from_mapped(&entity());
        assert_eq!(port.as_ref().map(from_port), Some(entity()));
    }
}
