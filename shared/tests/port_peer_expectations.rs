//! Port's own integration tests (`ocean/peer-tests/all_kinds_fixture.json`): for each
//! repository-scoped kind, the mapping it uses, the GitHub responses it mocks, and the entities it
//! expects. The raw objects are the mocked list responses with `__repository` added, as Port's
//! integration adds it; the expected entities are checked on the keys the fixture lists.

mod common;

use port_github_core::mapping::{CompiledMapping, JqOptions, PortAppConfig};
use serde_json::Value;

/// Kinds whose raw objects are list responses under `/repos/{org}/{repo}/...`, with the key
/// holding the list when the response is an object.
const REPOSITORY_KINDS: &[(&str, &str, Option<&str>)] = &[
    ("issue", "issues", None),
    ("release", "releases", None),
    ("tag", "tags", None),
    ("environment", "environments", Some("environments")),
    ("workflow", "actions/workflows", Some("workflows")),
    ("branch", "branches", None),
    ("dependabot-alert", "dependabot/alerts", None),
    ("code-scanning-alerts", "code-scanning/alerts", None),
    ("secret-scanning-alerts", "secret-scanning/alerts", None),
    ("deployment", "deployments", None),
    ("collaborator", "collaborators", None),
];

fn raw_objects(
    case: &Value,
    organization: &str,
    suffix: &str,
    list_key: Option<&str>,
) -> Vec<Value> {
    let mut objects = Vec::new();
    for route in case["github_routes"].as_array().expect("routes") {
        let path = route["path"].as_str().expect("path");
        let Some(rest) = path.strip_prefix(&format!("/repos/{organization}/")) else {
            continue;
        };
        let Some((repository, tail)) = rest.split_once('/') else {
            continue;
        };
        if tail != suffix {
            continue;
        }
        let list = match list_key {
            Some(key) => route["json"][key].clone(),
            None => route["json"].clone(),
        };
        for mut object in list.as_array().cloned().unwrap_or_default() {
            if let Value::Object(fields) = &mut object {
                fields.insert("__repository".to_owned(), Value::from(repository));
                fields.insert("__organization".to_owned(), Value::from(organization));
            }
            objects.push(object);
        }
    }
    objects
}

/// `expected` holds only the keys Port's test asserts.
fn assert_contains(actual: &Value, expected: &Value, context: &str) {
    match expected {
        Value::Object(fields) => {
            for (key, value) in fields {
                assert_contains(&actual[key], value, &format!("{context}.{key}"));
            }
        }
        other => assert_eq!(&actual, &other, "{context}"),
    }
}

#[test]
fn maps_like_ports_integration_tests() {
    let fixture = common::read_fixture_json("ocean/peer-tests/all_kinds_fixture.json");
    let organization = fixture["organization"].as_str().expect("organization");
    for (kind, suffix, list_key) in REPOSITORY_KINDS {
        let case = &fixture["kinds"][*kind];
        let config =
            PortAppConfig::from_value(&case["port_app_config"]).expect("Port's test mapping loads");
        let mapping = CompiledMapping::compile(&config, &JqOptions::default()).expect("compiles");
        let mut entities = Vec::new();
        for raw in raw_objects(case, organization, suffix, *list_key) {
            let outcome = mapping.map_item(kind, &raw);
            assert!(
                outcome.field_errors.is_empty(),
                "{kind}: {:?}",
                outcome.field_errors
            );
            entities.extend(
                outcome
                    .entities
                    .iter()
                    .map(|e| serde_json::to_value(e).expect("serializes")),
            );
        }
        let expected = &case["expected_upserts"];
        assert_eq!(
            Some(entities.len() as u64),
            expected["count"].as_u64(),
            "{kind}: number of entities"
        );
        for (actual, wanted) in entities
            .iter()
            .zip(expected["entities"].as_array().expect("entities"))
        {
            assert_eq!(actual["blueprint"], case["blueprint"], "{kind}");
            assert_contains(actual, wanted, kind);
        }
    }
}
