//! Port's search language as far as the simulator needs it: `{"combinator", "rules"}` with
//! nested groups and the operators `=`, `!=`, `contains`, `doesNotContains`, `beginsWith`,
//! `endsWith`, `in`, `notIn`, over `$identifier`, `$blueprint`, `$title`, `$team`, `$datasource`
//! and properties; plus the `include` projection. Pure functions.

use serde_json::{Map, Value};

use super::catalog::{CatalogEntity, Rejection};

const OPERATORS: &[&str] = &[
    "=",
    "!=",
    "contains",
    "doesNotContains",
    "beginsWith",
    "endsWith",
    "in",
    "notIn",
];

/// Checks a query's shape before any entity is looked at, so an empty catalog still refuses a
/// bad query as Port does.
pub fn validate(query: &Value) -> Result<(), Rejection> {
    let bad = |why: String| Rejection::new(422, "invalid_request", why);
    let group = query
        .as_object()
        .ok_or_else(|| bad("a query must be an object".to_owned()))?;
    if let Some(combinator) = group.get("combinator")
        && !matches!(combinator.as_str(), Some("and" | "or"))
    {
        return Err(bad(format!("unknown combinator {combinator}")));
    }
    let rules = group
        .get("rules")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("a query needs \"rules\"".to_owned()))?;
    for rule in rules {
        if rule.get("combinator").is_some() {
            validate(rule)?;
            continue;
        }
        if !rule.get("property").is_some_and(Value::is_string) {
            return Err(bad("a rule needs \"property\"".to_owned()));
        }
        let operator = rule
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !OPERATORS.contains(&operator) {
            return Err(bad(format!("unknown operator \"{operator}\"")));
        }
    }
    Ok(())
}

/// Whether an entity matches a query (a rule group).
pub fn matches(query: &Value, entity: &CatalogEntity) -> Result<bool, Rejection> {
    let group = query
        .as_object()
        .ok_or_else(|| Rejection::new(422, "invalid_request", "a query must be an object"))?;
    let rules = group
        .get("rules")
        .and_then(Value::as_array)
        .ok_or_else(|| Rejection::new(422, "invalid_request", "a query needs \"rules\""))?;
    let any = match group.get("combinator").and_then(Value::as_str) {
        Some("and") | None => false,
        Some("or") => true,
        Some(other) => {
            return Err(Rejection::new(
                422,
                "invalid_request",
                format!("unknown combinator \"{other}\""),
            ));
        }
    };
    let mut results = Vec::with_capacity(rules.len());
    for rule in rules {
        results.push(if rule.get("combinator").is_some() {
            matches(rule, entity)?
        } else {
            rule_matches(rule, entity)?
        });
    }
    Ok(if any {
        results.iter().any(|r| *r)
    } else {
        results.iter().all(|r| *r)
    })
}

fn field(entity: &CatalogEntity, property: &str) -> Value {
    match property {
        "$identifier" => Value::String(entity.identifier.clone()),
        "$blueprint" => Value::String(entity.blueprint.clone()),
        "$title" => entity.title.clone().map_or(Value::Null, Value::String),
        "$team" => entity.team.clone(),
        "$datasource" => entity.datasource.clone().map_or(Value::Null, Value::String),
        name => entity.properties.get(name).cloned().unwrap_or(Value::Null),
    }
}

fn rule_matches(rule: &Value, entity: &CatalogEntity) -> Result<bool, Rejection> {
    let bad = |why: &str| Rejection::new(422, "invalid_request", why.to_owned());
    let property = rule
        .get("property")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("a rule needs \"property\""))?;
    let operator = rule
        .get("operator")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("a rule needs \"operator\""))?;
    let expected = rule.get("value").cloned().unwrap_or(Value::Null);
    let actual = field(entity, property);
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let in_list = || {
        expected
            .as_array()
            .is_some_and(|items| items.contains(&actual))
    };
    Ok(match operator {
        "=" => actual == expected,
        "!=" => actual != expected,
        "contains" | "doesNotContains" => {
            let found = match (&actual, text(&expected)) {
                (Value::String(s), Some(needle)) => s.contains(&needle),
                (Value::Array(items), _) => items.contains(&expected),
                _ => false,
            };
            found == (operator == "contains")
        }
        "beginsWith" => text(&actual)
            .zip(text(&expected))
            .is_some_and(|(a, e)| a.starts_with(&e)),
        "endsWith" => text(&actual)
            .zip(text(&expected))
            .is_some_and(|(a, e)| a.ends_with(&e)),
        "in" => in_list(),
        "notIn" => !in_list(),
        other => return Err(bad(&format!("unknown operator \"{other}\""))),
    })
}

/// The entity's JSON restricted to `include` (all of it when empty).
pub fn project(entity: &CatalogEntity, include: &[String]) -> Value {
    let full = entity.to_json();
    if include.is_empty() {
        return full;
    }
    let mut out = Map::new();
    for key in include {
        if let Some(value) = full.get(key.as_str()) {
            out.insert(key.clone(), value.clone());
        }
    }
    Value::Object(out)
}
