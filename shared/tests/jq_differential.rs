//! Differential test: the mapping engine against jq 1.7.1 (the `jq` Python package 1.8.0, which
//! Port's integration uses) on the corpus in `tests/jq-corpus/` and on every expression of Port's
//! default mapping, over real fixture objects. The reference runs in ONE Python process.

mod common;

use port_github_core::mapping::value::{json_to_val, val_to_json};
use port_github_core::mapping::{JqOptions, JqProgram, PortAppConfig};
use serde_json::{Value, json};
use std::io::Write as _;
use std::process::{Command, Stdio};

fn reference_python() -> String {
    std::env::var("PORT_GITHUB_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "the jq reference is missing: run `bash tests/run` (or set PORT_GITHUB_TEST_PYTHON to a python with jq==1.8.0)"
        )
    })
}

fn resolve_input(input: &Value) -> Value {
    match input.as_str().and_then(|s| s.strip_prefix("fixture:")) {
        Some(path) => common::read_fixture_json(path),
        None => input.clone(),
    }
}

struct Case {
    expr: String,
    input: Value,
    origin: String,
}

fn corpus_cases() -> Vec<Case> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/jq-corpus/corpus.json");
    let corpus: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("corpus readable"))
            .expect("corpus is JSON");
    let mut cases = Vec::new();
    for group in corpus["groups"].as_array().expect("groups") {
        let name = group["name"].as_str().unwrap_or("group");
        let inputs: Vec<Value> = group["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .map(resolve_input)
            .collect();
        for expr in group["exprs"].as_array().expect("exprs") {
            for input in &inputs {
                cases.push(Case {
                    expr: expr.as_str().expect("expression text").to_owned(),
                    input: input.clone(),
                    origin: name.to_owned(),
                });
            }
        }
    }
    cases
}

fn port_default_cases() -> Vec<Case> {
    let config =
        PortAppConfig::from_yaml_or_json(&common::read_fixture("ocean/port-app-config.yml"))
            .expect("loads");
    let organization = json!({"login": "port-labs-testing", "id": 187526413, "description": null});
    let mut cases = Vec::new();
    for resource in &config.resources {
        let inputs: Vec<Value> = match resource.kind.as_str() {
            "organization" => vec![organization.clone()],
            "repository" => vec![common::read_fixture_json(
                "ocean/examples/repository/a.json",
            )],
            _ => {
                let merged = {
                    let mut pr = common::read_fixture_json("ocean/examples/pull-request/c.json");
                    pr["merged_at"] = json!("2026-01-09T16:44:27Z");
                    pr["created_at"] = json!("2026-01-08T14:14:27.123Z");
                    pr["assignees"] = json!([{"login": "a[x]b"}, {"login": "ops[bot]"}]);
                    pr
                };
                vec![
                    common::read_fixture_json("ocean/examples/pull-request/a.json"),
                    common::read_fixture_json("ocean/examples/pull-request/c.json"),
                    merged,
                ]
            }
        };
        let mut exprs = vec![resource.selector.query.clone()];
        exprs.extend(resource.mappings.expressions());
        for expr in exprs {
            for input in &inputs {
                cases.push(Case {
                    expr: expr.clone(),
                    input: input.clone(),
                    origin: format!("Port default ({})", resource.kind),
                });
            }
        }
    }
    cases
}

fn run_reference(cases: &[Case]) -> Vec<Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/jq_reference.py");
    let request = json!({"cases": cases.iter().map(|c| json!({"expr": c.expr, "input": c.input})).collect::<Vec<_>>()});
    let mut child = Command::new(reference_python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the reference python starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let body = serde_json::to_vec(&request).expect("request serializes");
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let output = child.wait_with_output().expect("reference finishes");
    writer
        .join()
        .expect("writer thread")
        .expect("request written");
    assert!(
        output.status.success(),
        "jq reference failed: is jq==1.8.0 installed in PORT_GITHUB_TEST_PYTHON?"
    );
    let response: Value = serde_json::from_slice(&output.stdout).expect("reference answers JSON");
    response["results"].as_array().expect("results").clone()
}

fn numbers_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y || ((x - y).abs() <= f64::EPSILON * x.abs().max(y.abs())),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| numbers_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| numbers_equal(v, w)))
        }
        _ => a == b,
    }
}

fn ours(case: &Case) -> Result<Vec<Value>, String> {
    let program =
        JqProgram::compile(&case.expr, &JqOptions::default()).map_err(|e| e.to_string())?;
    program
        .all(json_to_val(&case.input))
        .map(|values| values.iter().map(val_to_json).collect())
}

fn ours_first(case: &Case) -> Result<Option<Value>, String> {
    let program =
        JqProgram::compile(&case.expr, &JqOptions::default()).map_err(|e| e.to_string())?;
    program
        .first(json_to_val(&case.input))
        .map(|value| value.as_ref().map(val_to_json))
}

#[test]
fn mapping_engine_matches_jq_1_7() {
    let python = reference_python();
    let mut cases = corpus_cases();
    cases.extend(port_default_cases());
    assert!(cases.len() >= 300, "corpus too small: {}", cases.len());
    let reference = run_reference(&cases);
    assert_eq!(
        reference.len(),
        cases.len(),
        "reference ({python}) answered a different number of cases"
    );
    let mut mismatches = Vec::new();
    for (case, expected) in cases.iter().zip(&reference) {
        let actual = ours(case);
        let same = match (&actual, expected.get("outputs")) {
            (Ok(values), Some(Value::Array(outputs))) => numbers_equal(
                &Value::Array(values.clone()),
                &Value::Array(outputs.clone()),
            ),
            (Err(_), None) => true,
            _ => false,
        };
        // Mappings take the first output (`first`, with its shortcuts for plain paths and string
        // additions): it must be jq's first output too.
        let first_same = match expected.get("outputs") {
            Some(Value::Array(outputs)) => match (ours_first(case), outputs.first()) {
                (Ok(Some(value)), Some(wanted)) => numbers_equal(&value, wanted),
                (Ok(None), None) => true,
                _ => false,
            },
            _ => true,
        };
        let same = same && first_same;
        if same {
            continue;
        }
        let input_text = case.input.to_string();
        mismatches.push(format!(
            "[{}] {}\n    input: {}\n    jq:    {}\n    ours:  {:?}",
            case.origin,
            case.expr,
            input_text.chars().take(120).collect::<String>(),
            expected,
            actual
        ));
    }
    eprintln!("{} cases compared with jq 1.7.1", cases.len());
    assert!(
        mismatches.is_empty(),
        "{} differences from jq 1.7.1:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
