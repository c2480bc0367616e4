//! The simulator's in-memory catalog: known blueprints, stored entities with their `$datasource`,
//! and Port's rules for writing them (identifier pattern and length, known blueprint, property
//! types, relation targets, merge versus replace, dependents on delete). No HTTP here.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use serde::Serialize;
use serde_json::{Map, Value};

/// Port's identifier limit.
pub const MAX_IDENTIFIER_CHARS: usize = 1000;

/// A blueprint as far as the simulator checks it: property types and relation targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Blueprint {
    pub identifier: String,
    /// Property name → JSON schema type (`string`, `number`, `boolean`, `array`, `object`).
    pub property_types: HashMap<String, String>,
    /// Relation name → target blueprint.
    pub relations: HashMap<String, String>,
    /// The blueprint as Port returns it (`GET /v1/blueprints/{identifier}`).
    pub definition: Value,
}

impl Blueprint {
    /// Reads a blueprint in Port's JSON form (as in `fixtures/ocean/blueprints.json`).
    pub fn from_port_json(value: &Value) -> Option<Blueprint> {
        let identifier = value.get("identifier")?.as_str()?.to_owned();
        let property_types = value
            .pointer("/schema/properties")
            .and_then(Value::as_object)
            .map(|props| {
                props
                    .iter()
                    .filter_map(|(name, def)| {
                        Some((name.clone(), def.get("type")?.as_str()?.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let relations = value
            .get("relations")
            .and_then(Value::as_object)
            .map(|rels| {
                rels.iter()
                    .filter_map(|(name, def)| {
                        Some((name.clone(), def.get("target")?.as_str()?.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Blueprint {
            identifier,
            property_types,
            relations,
            definition: value.clone(),
        })
    }

    /// The system blueprints every Port organization starts with (`_user`, `_team`), as a fresh
    /// organization has them and nothing else.
    pub fn system() -> Vec<Blueprint> {
        ["_user", "_team"]
            .into_iter()
            .filter_map(|id| {
                Blueprint::from_port_json(&serde_json::json!({
                    "identifier": id,
                    "title": if id == "_user" { "User" } else { "Team" },
                    "schema": {"properties": {}, "required": []},
                    "relations": {},
                }))
            })
            .collect()
    }

    /// A blueprint with no declared properties or relations.
    pub fn bare(identifier: &str) -> Blueprint {
        Blueprint {
            identifier: identifier.to_owned(),
            property_types: HashMap::new(),
            relations: HashMap::new(),
            definition: serde_json::json!({
                "identifier": identifier,
                "title": identifier,
                "schema": {"properties": {}, "required": []},
                "relations": {},
            }),
        }
    }
}

/// One stored entity, as tests and the demo see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogEntity {
    pub blueprint: String,
    pub identifier: String,
    pub title: Option<String>,
    pub icon: Option<String>,
    pub team: Value,
    pub properties: Map<String, Value>,
    pub relations: Map<String, Value>,
    /// Which integration wrote it last: the User-Agent of that write.
    #[serde(rename = "$datasource")]
    pub datasource: Option<String>,
}

impl CatalogEntity {
    /// Port's JSON view of the entity.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// A refusal in Port's terms: status, error code, message.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl Rejection {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Rejection {
            status,
            code,
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Rejection::new(422, "invalid_request", message)
    }
}

/// Port's write flags, from the query string.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteFlags {
    pub merge: bool,
    pub create_missing_related_entities: bool,
}

/// The catalog: blueprints and entities, keyed by (blueprint, identifier).
#[derive(Debug, Default)]
pub struct Catalog {
    pub blueprints: HashMap<String, Blueprint>,
    pub entities: BTreeMap<(String, String), CatalogEntity>,
}

/// Port's identifier rule: `^(?!\.{1,2}$)[\p{L}0-9@_.+:\\/=-]+$`, at most 1,000 characters.
pub fn check_identifier(identifier: &str) -> Result<(), Rejection> {
    static PATTERN: OnceLock<Option<regex::Regex>> = OnceLock::new();
    let pattern = PATTERN.get_or_init(|| regex::Regex::new(r"^[\p{L}0-9@_.+:\\/=-]+$").ok());
    if identifier.chars().count() > MAX_IDENTIFIER_CHARS {
        return Err(Rejection::invalid(format!(
            "identifier is longer than {MAX_IDENTIFIER_CHARS} characters"
        )));
    }
    // The pattern's negative look-ahead, made explicit: "." and ".." alone are not identifiers.
    if identifier == "." || identifier == ".." {
        return Err(Rejection::invalid("identifier cannot be \".\" or \"..\""));
    }
    match pattern {
        Some(re) if re.is_match(identifier) => Ok(()),
        Some(_) => Err(Rejection::invalid(format!(
            "identifier \"{identifier}\" does not match the identifier pattern"
        ))),
        None => Err(Rejection::new(
            500,
            "internal_error",
            "identifier pattern failed to build",
        )),
    }
}

fn type_matches(expected: &str, value: &Value) -> bool {
    match expected {
        _ if value.is_null() => true,
        "string" => value.is_string(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

/// Relation targets of one relation value: an identifier, a list of them, or null.
fn relation_targets(name: &str, value: &Value) -> Result<Vec<String>, Rejection> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::String(id) => Ok(vec![id.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str().map(str::to_owned).ok_or_else(|| {
                    Rejection::invalid(format!("relation \"{name}\" holds a non-string target"))
                })
            })
            .collect(),
        _ => Err(Rejection::invalid(format!(
            "relation \"{name}\" must be an identifier or a list of them"
        ))),
    }
}

fn optional_string(body: &Map<String, Value>, key: &str) -> Result<Option<String>, Rejection> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(Rejection::invalid(format!("\"{key}\" must be a string"))),
    }
}

fn object_field(body: &Map<String, Value>, key: &str) -> Result<Map<String, Value>, Rejection> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(_) => Err(Rejection::invalid(format!("\"{key}\" must be an object"))),
    }
}

impl Catalog {
    pub fn blueprint(&self, identifier: &str) -> Result<&Blueprint, Rejection> {
        self.blueprints.get(identifier).ok_or_else(|| {
            Rejection::new(
                404,
                "not_found",
                format!("blueprint \"{identifier}\" was not found"),
            )
        })
    }

    /// Validates and stores one entity body; returns the stored entity and whether it is new.
    pub fn upsert(
        &mut self,
        blueprint: &str,
        body: &Value,
        flags: WriteFlags,
        datasource: Option<&str>,
    ) -> Result<(CatalogEntity, bool), Rejection> {
        let definition = self.blueprint(blueprint)?.clone();
        let body = body
            .as_object()
            .ok_or_else(|| Rejection::invalid("an entity must be an object"))?;
        let identifier = match body.get("identifier") {
            Some(Value::String(id)) => id.clone(),
            _ => {
                return Err(Rejection::invalid(
                    "\"identifier\" is required and must be a string",
                ));
            }
        };
        check_identifier(&identifier)?;
        if let Some(Value::String(named)) = body.get("blueprint")
            && named != blueprint
        {
            return Err(Rejection::invalid(format!(
                "body names blueprint \"{named}\", URL \"{blueprint}\""
            )));
        }
        let title = optional_string(body, "title")?;
        let icon = optional_string(body, "icon")?;
        let team = match body.get("team") {
            None => Value::Null,
            Some(team @ (Value::Null | Value::String(_))) => team.clone(),
            Some(Value::Array(teams)) if teams.iter().all(Value::is_string) => {
                Value::Array(teams.clone())
            }
            Some(_) => {
                return Err(Rejection::invalid(
                    "\"team\" must be a string or a list of strings",
                ));
            }
        };
        let properties = object_field(body, "properties")?;
        for (name, value) in &properties {
            if let Some(expected) = definition.property_types.get(name)
                && !type_matches(expected, value)
            {
                return Err(Rejection::invalid(format!(
                    "property \"{name}\" must be of type {expected}"
                )));
            }
        }
        let relations = object_field(body, "relations")?;
        let mut missing = Vec::new();
        for (name, value) in &relations {
            let target = definition.relations.get(name).ok_or_else(|| {
                Rejection::invalid(format!(
                    "relation \"{name}\" is not defined on \"{blueprint}\""
                ))
            })?;
            for id in relation_targets(name, value)? {
                if !self.entities.contains_key(&(target.clone(), id.clone())) {
                    if !flags.create_missing_related_entities {
                        return Err(Rejection::new(
                            404,
                            "not_found",
                            format!(
                                "related entity \"{id}\" of blueprint \"{target}\" was not found"
                            ),
                        ));
                    }
                    check_identifier(&id)?;
                    missing.push((target.clone(), id));
                }
            }
        }
        for (target, id) in missing {
            let placeholder = CatalogEntity {
                blueprint: target.clone(),
                identifier: id.clone(),
                title: None,
                icon: None,
                team: Value::Null,
                properties: Map::new(),
                relations: Map::new(),
                datasource: datasource.map(str::to_owned),
            };
            self.entities.insert((target, id), placeholder);
        }
        let key = (blueprint.to_owned(), identifier.clone());
        let existing = self.entities.get(&key);
        let created = existing.is_none();
        let stored = match existing {
            Some(old) if flags.merge => {
                let mut merged = old.clone();
                merged.properties.extend(properties);
                merged.relations.extend(relations);
                if body.contains_key("title") {
                    merged.title = title;
                }
                if body.contains_key("icon") {
                    merged.icon = icon;
                }
                if body.contains_key("team") {
                    merged.team = team;
                }
                merged.datasource = datasource.map(str::to_owned);
                merged
            }
            _ => CatalogEntity {
                blueprint: blueprint.to_owned(),
                identifier,
                title,
                icon,
                team,
                properties,
                relations,
                datasource: datasource.map(str::to_owned),
            },
        };
        self.entities.insert(key, stored.clone());
        Ok((stored, created))
    }

    /// Entities whose relations point at (blueprint, identifier).
    pub fn dependents_of(&self, blueprint: &str, identifier: &str) -> Vec<(String, String)> {
        self.entities
            .values()
            .filter(|entity| {
                self.blueprints.get(&entity.blueprint).is_some_and(|bp| {
                    entity.relations.iter().any(|(name, value)| {
                        bp.relations
                            .get(name)
                            .is_some_and(|target| target == blueprint)
                            && relation_targets(name, value)
                                .is_ok_and(|ids| ids.iter().any(|id| id == identifier))
                    })
                })
            })
            .map(|entity| (entity.blueprint.clone(), entity.identifier.clone()))
            .collect()
    }

    /// Deletes an entity; with `delete_dependents`, also whatever relates to it, recursively.
    pub fn delete(
        &mut self,
        blueprint: &str,
        identifier: &str,
        delete_dependents: bool,
    ) -> Result<(), Rejection> {
        self.blueprint(blueprint)?;
        let key = (blueprint.to_owned(), identifier.to_owned());
        if !self.entities.contains_key(&key) {
            return Err(Rejection::new(
                404,
                "not_found",
                format!("entity \"{identifier}\" was not found"),
            ));
        }
        let dependents = self.dependents_of(blueprint, identifier);
        if !dependents.is_empty() && !delete_dependents {
            return Err(Rejection::new(
                422,
                "has_dependents",
                format!(
                    "entity \"{identifier}\" has {} dependent entities",
                    dependents.len()
                ),
            ));
        }
        self.entities.remove(&key);
        for (dep_blueprint, dep_identifier) in dependents {
            // A dependent may already be gone through another path.
            let _ = self.delete(&dep_blueprint, &dep_identifier, true);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identifier_rule() {
        for ok in [
            "octo/hello-world",
            "a",
            "ünïcödé",
            "a.b",
            "x@y:z+1=2",
            r"back\slash",
            "...",
            "日本",
        ] {
            assert!(check_identifier(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(MAX_IDENTIFIER_CHARS + 1);
        for bad in [".", "..", "", "has space", "q?", "hash#", long.as_str()] {
            assert!(check_identifier(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn merge_keeps_properties_replace_drops_them() {
        let mut catalog = Catalog::default();
        catalog
            .blueprints
            .insert("svc".to_owned(), Blueprint::bare("svc"));
        let first = json!({"identifier": "a", "title": "A", "properties": {"x": 1, "y": 2}});
        let merge = WriteFlags {
            merge: true,
            create_missing_related_entities: false,
        };
        assert!(
            catalog
                .upsert("svc", &first, merge, None)
                .is_ok_and(|(_, created)| created)
        );
        let second = json!({"identifier": "a", "properties": {"y": 3}});
        let merged = catalog.upsert("svc", &second, merge, Some("ua"));
        assert_eq!(
            merged
                .map(|(e, created)| (e.properties, e.title, created))
                .ok(),
            Some((
                json!({"x": 1, "y": 3})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                Some("A".to_owned()),
                false
            ))
        );
        let replaced = catalog.upsert("svc", &second, WriteFlags::default(), None);
        assert_eq!(
            replaced.map(|(e, _)| (e.properties, e.title)).ok(),
            Some((
                json!({"y": 3}).as_object().cloned().unwrap_or_default(),
                None
            ))
        );
    }
}
