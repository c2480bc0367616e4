//! `port.entity.mappings`: the jq expressions of each entity field, and Port's search-query form
//! for identifiers and relations.

use serde_json::Value;

use super::config::{ConfigError, invalid, required_string};

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

impl EntityMappings {
    pub(super) fn from_value(value: &Value, path: &str) -> Result<Self, ConfigError> {
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
