//! Building Port entities from raw objects with a compiled resource: selector, `itemsToParse`,
//! first output per field, per-field error reports, dropping entities without identifier or
//! blueprint. Pure: no I/O, no logging of payloads.

use jaq_json::{Map, Rc, Val};
use serde::Serialize;
use serde_json::Value;

use super::config::ResourceConfig;
use super::jq::{JqCompileError, JqOptions, JqProgram};
use super::mappings::{MappingValue, SearchQuery, SearchRule};
use super::value::{json_to_val, val_to_json};

/// An entity as Port's API takes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entity {
    /// Blueprint identifier.
    pub blueprint: String,
    /// Entity identifier (a string in practice; kept as JSON).
    pub identifier: Value,
    /// Title, when mapped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<Value>,
    /// Icon, when mapped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon: Option<Value>,
    /// Team(s), when mapped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<Value>,
    /// Properties, in mapping order.
    pub properties: serde_json::Map<String, Value>,
    /// Relations (a string, an array of strings, or null), in mapping order.
    pub relations: serde_json::Map<String, Value>,
}

/// A mapping expression that failed on an item; its field became `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Index of the resource in the configuration.
    pub resource_index: usize,
    /// Kind of the resource.
    pub kind: String,
    /// The field, e.g. `properties.creator` or `selector.query`.
    pub field: String,
    /// jq's error message.
    pub message: String,
}

/// An item that produced no entity although it passed the selector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DropReason {
    /// Index of the resource in the configuration.
    pub resource_index: usize,
    /// Kind of the resource.
    pub kind: String,
    /// Why (missing identifier or blueprint).
    pub reason: String,
}

/// Result of mapping one raw object with one resource.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MapOutcome {
    /// Entities built (several with `itemsToParse`).
    pub entities: Vec<Entity>,
    /// Fields that failed (the entity was still built).
    pub field_errors: Vec<FieldError>,
    /// Items dropped for lack of identifier or blueprint.
    pub dropped: Vec<DropReason>,
    /// Whether any item passed `selector.query`.
    pub selected: bool,
}

/// An expression of the configuration that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("resources[{resource_index}] ({kind}) {field}: {source}")]
pub struct ExpressionError {
    /// Index of the resource.
    pub resource_index: usize,
    /// Kind of the resource.
    pub kind: String,
    /// The field, e.g. `port.entity.mappings.properties.creator`.
    pub field: String,
    /// What is wrong with the expression.
    #[source]
    pub source: JqCompileError,
}

/// A compiled identifier or relation: a jq program, or a search query with compiled rule values.
#[derive(Debug)]
enum CompiledValue {
    Jq(JqProgram),
    Search(CompiledSearch),
}

#[derive(Debug)]
struct CompiledSearch {
    combinator: String,
    rules: Vec<CompiledRule>,
}

#[derive(Debug)]
enum CompiledRule {
    Match {
        property: String,
        operator: String,
        value: JqProgram,
    },
    Nested(CompiledSearch),
}

fn compile_value(
    value: &MappingValue,
    field: &str,
    compile: &mut impl FnMut(String, &str) -> Option<JqProgram>,
) -> Option<CompiledValue> {
    match value {
        MappingValue::Jq(code) => compile(field.to_owned(), code).map(CompiledValue::Jq),
        MappingValue::Search(query) => {
            compile_search(query, field, compile).map(CompiledValue::Search)
        }
    }
}

fn compile_search(
    query: &SearchQuery,
    field: &str,
    compile: &mut impl FnMut(String, &str) -> Option<JqProgram>,
) -> Option<CompiledSearch> {
    let rules: Vec<Option<CompiledRule>> = query
        .rules
        .iter()
        .enumerate()
        .map(|(index, rule)| {
            let at = format!("{field}.rules[{index}]");
            match rule {
                SearchRule::Match {
                    property,
                    operator,
                    value,
                } => compile(format!("{at}.value"), value).map(|value| CompiledRule::Match {
                    property: property.clone(),
                    operator: operator.clone(),
                    value,
                }),
                SearchRule::Nested(nested) => {
                    compile_search(nested, &at, compile).map(CompiledRule::Nested)
                }
            }
        })
        .collect();
    Some(CompiledSearch {
        combinator: query.combinator.clone(),
        rules: rules.into_iter().collect::<Option<_>>()?,
    })
}

/// One resource with every expression compiled.
#[derive(Debug)]
pub struct CompiledResource {
    index: usize,
    config: ResourceConfig,
    query: JqProgram,
    items_to_parse: Option<JqProgram>,
    identifier: CompiledValue,
    title: Option<JqProgram>,
    blueprint: JqProgram,
    icon: Option<JqProgram>,
    team: Option<JqProgram>,
    /// (name, field label for reports, program)
    properties: Vec<(String, String, JqProgram)>,
    /// (name, field label for reports, value)
    relations: Vec<(String, String, CompiledValue)>,
}

impl CompiledResource {
    /// Compiles every expression of `config`, collecting every failure into `errors`.
    pub(crate) fn compile(
        index: usize,
        config: &ResourceConfig,
        options: &JqOptions,
        errors: &mut Vec<ExpressionError>,
    ) -> Option<Self> {
        let mut compile = |field: String, code: &str| match JqProgram::compile(code, options) {
            Ok(program) => Some(program),
            Err(source) => {
                errors.push(ExpressionError {
                    resource_index: index,
                    kind: config.kind.to_string(),
                    field,
                    source,
                });
                None
            }
        };
        const MAPPINGS: &str = "port.entity.mappings";
        let mappings = &config.mappings;
        let query = compile("selector.query".to_owned(), &config.selector.query);
        let items_to_parse = config
            .items_to_parse
            .as_deref()
            .map(|code| compile("port.itemsToParse".to_owned(), code));
        let identifier = compile_value(
            &mappings.identifier,
            &format!("{MAPPINGS}.identifier"),
            &mut compile,
        );
        let title = mappings
            .title
            .as_deref()
            .map(|c| compile(format!("{MAPPINGS}.title"), c));
        let blueprint = compile(format!("{MAPPINGS}.blueprint"), &mappings.blueprint);
        let icon = mappings
            .icon
            .as_deref()
            .map(|c| compile(format!("{MAPPINGS}.icon"), c));
        let team = mappings
            .team
            .as_deref()
            .map(|c| compile(format!("{MAPPINGS}.team"), c));
        let properties: Vec<_> = mappings
            .properties
            .iter()
            .map(|(name, code)| {
                (
                    name.clone(),
                    compile(format!("{MAPPINGS}.properties.{name}"), code),
                )
            })
            .collect();
        let relations: Vec<_> = mappings
            .relations
            .iter()
            .map(|(name, value)| {
                let field = format!("{MAPPINGS}.relations.{name}");
                (name.clone(), compile_value(value, &field, &mut compile))
            })
            .collect();
        Some(Self {
            index,
            config: config.clone(),
            query: query?,
            items_to_parse: items_to_parse.map(|p| p.ok_or(())).transpose().ok()?,
            identifier: identifier?,
            title: title.map(|p| p.ok_or(())).transpose().ok()?,
            blueprint: blueprint?,
            icon: icon.map(|p| p.ok_or(())).transpose().ok()?,
            team: team.map(|p| p.ok_or(())).transpose().ok()?,
            properties: properties
                .into_iter()
                .map(|(name, p)| p.map(|p| (name.clone(), format!("properties.{name}"), p)))
                .collect::<Option<_>>()?,
            relations: relations
                .into_iter()
                .map(|(name, p)| p.map(|p| (name.clone(), format!("relations.{name}"), p)))
                .collect::<Option<_>>()?,
        })
    }

    /// The resource's configuration (kind, selector options, mappings).
    pub fn config(&self) -> &ResourceConfig {
        &self.config
    }

    /// The blueprint this resource writes to, when its `blueprint` expression is a string
    /// literal (the usual `'"githubRepository"'`); `None` when it is computed per item.
    pub fn blueprint_constant(&self) -> Option<&str> {
        self.blueprint.constant().and_then(Value::as_str)
    }

    /// The resource's position in the configuration.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Maps one raw object: expands `itemsToParse`, applies the selector, builds the entities.
    pub fn map_item(&self, raw: &Value) -> MapOutcome {
        let mut outcome = MapOutcome::default();
        self.map_value(json_to_val(raw), &mut outcome);
        outcome
    }

    /// Maps one raw object as if it passed `selector.query`: what entities it stands for, so that
    /// a live event can delete them when the object is gone or no longer selected.
    pub fn map_item_ignoring_selector(&self, raw: &Value) -> MapOutcome {
        let mut outcome = MapOutcome::default();
        self.map_value_with(json_to_val(raw), &mut outcome, false);
        outcome
    }

    /// Maps an object already converted to jq's value type, adding to `outcome`.
    pub(crate) fn map_value(&self, input: Val, outcome: &mut MapOutcome) {
        self.map_value_with(input, outcome, true);
    }

    fn map_value_with(&self, input: Val, outcome: &mut MapOutcome, apply_selector: bool) {
        match &self.items_to_parse {
            None => self.map_one(input, outcome, apply_selector),
            Some(program) => {
                let items = match program.first(input.clone()) {
                    Ok(Some(Val::Arr(items))) => items,
                    Ok(Some(Val::Null) | None) => Rc::new(Vec::new()),
                    Ok(Some(other)) => {
                        self.field_error(
                            outcome,
                            "port.itemsToParse",
                            format!("must yield an array, got {}", val_to_json(&other)),
                        );
                        return;
                    }
                    Err(message) => {
                        self.field_error(outcome, "port.itemsToParse", message);
                        return;
                    }
                };
                let name = Val::utf8_str(self.config.items_to_parse_name.clone().into_bytes());
                for element in items.iter() {
                    let mut parent = match &input {
                        Val::Obj(fields) => (**fields).clone(),
                        _ => Map::default(),
                    };
                    parent.insert(name.clone(), element.clone());
                    self.map_one(Val::obj(parent), outcome, apply_selector);
                }
            }
        }
    }

    fn field_error(&self, outcome: &mut MapOutcome, field: &str, message: String) {
        outcome.field_errors.push(FieldError {
            resource_index: self.index,
            kind: self.config.kind.to_string(),
            field: field.to_owned(),
            message,
        });
    }

    fn evaluate(
        &self,
        program: &JqProgram,
        input: &Val,
        field: &str,
        outcome: &mut MapOutcome,
    ) -> Value {
        if let Some(constant) = program.constant() {
            return constant.clone();
        }
        match program.first(input.clone()) {
            Ok(Some(value)) => val_to_json(&value),
            Ok(None) => Value::Null,
            Err(message) => {
                self.field_error(outcome, field, message);
                Value::Null
            }
        }
    }

    fn evaluate_value(
        &self,
        value: &CompiledValue,
        input: &Val,
        field: &str,
        outcome: &mut MapOutcome,
    ) -> Value {
        match value {
            CompiledValue::Jq(program) => self.evaluate(program, input, field, outcome),
            CompiledValue::Search(search) => self.evaluate_search(search, input, field, outcome),
        }
    }

    fn evaluate_search(
        &self,
        search: &CompiledSearch,
        input: &Val,
        field: &str,
        outcome: &mut MapOutcome,
    ) -> Value {
        let rules = search
            .rules
            .iter()
            .enumerate()
            .map(|(index, rule)| {
                let at = format!("{field}.rules[{index}]");
                match rule {
                    CompiledRule::Match {
                        property,
                        operator,
                        value,
                    } => serde_json::json!({
                        "property": property,
                        "operator": operator,
                        "value": self.evaluate(value, input, &format!("{at}.value"), outcome),
                    }),
                    CompiledRule::Nested(nested) => {
                        self.evaluate_search(nested, input, &at, outcome)
                    }
                }
            })
            .collect::<Vec<_>>();
        serde_json::json!({"combinator": search.combinator, "rules": rules})
    }

    fn map_one(&self, item: Val, outcome: &mut MapOutcome, apply_selector: bool) {
        let selected = match self.query.constant() {
            _ if !apply_selector => Ok(Some(Val::Bool(true))),
            Some(Value::Bool(constant)) => Ok(Some(Val::Bool(*constant))),
            _ => self.query.first(item.clone()),
        };
        match selected {
            Ok(Some(Val::Bool(true))) => {}
            Ok(Some(Val::Bool(false))) => return,
            Ok(other) => {
                let got = other.as_ref().map_or(Value::Null, val_to_json);
                self.field_error(
                    outcome,
                    "selector.query",
                    format!("must yield a boolean, got {got}"),
                );
                return;
            }
            Err(message) => {
                self.field_error(outcome, "selector.query", message);
                return;
            }
        }
        outcome.selected = true;
        let identifier = self.evaluate_value(&self.identifier, &item, "identifier", outcome);
        let blueprint = self.evaluate(&self.blueprint, &item, "blueprint", outcome);
        let mut optional = |program: &Option<JqProgram>, field: &str| {
            program
                .as_ref()
                .map(|p| self.evaluate(p, &item, field, outcome))
        };
        let title = optional(&self.title, "title");
        let icon = optional(&self.icon, "icon");
        let team = optional(&self.team, "team");
        let properties = self
            .properties
            .iter()
            .map(|(name, field, p)| (name.clone(), self.evaluate(p, &item, field, outcome)))
            .collect();
        let relations = self
            .relations
            .iter()
            .map(|(name, field, value)| {
                (
                    name.clone(),
                    self.evaluate_value(value, &item, field, outcome),
                )
            })
            .collect();
        let identifier_missing = match &identifier {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            _ => false,
        };
        let blueprint = match blueprint {
            Value::String(s) if !s.is_empty() => Some(s),
            _ => None,
        };
        match (identifier_missing, blueprint) {
            (false, Some(blueprint)) => outcome.entities.push(Entity {
                blueprint,
                identifier,
                title,
                icon,
                team,
                properties,
                relations,
            }),
            (missing_identifier, blueprint) => outcome.dropped.push(DropReason {
                resource_index: self.index,
                kind: self.config.kind.to_string(),
                reason: match (missing_identifier, blueprint.is_none()) {
                    (true, true) => "no identifier and no blueprint".to_owned(),
                    (true, false) => format!("no identifier (got {identifier})"),
                    _ => "no blueprint".to_owned(),
                },
            }),
        }
    }
}
