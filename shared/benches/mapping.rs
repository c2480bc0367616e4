//! Benchmark: entities per second (one core) for Port's default mapping over the fixture
//! objects, against the jq Python package (libjq, as in Port's integration) doing the same work
//! with each expression compiled once, in the same run. Prints figures; asserts nothing.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use port_github_core::mapping::{CompiledMapping, JqOptions, PortAppConfig};
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures");
const MEASURE: Duration = Duration::from_secs(3);

fn fixture(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{path}"))
        .unwrap_or_else(|e| panic!("fixture {path} missing under {FIXTURES}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

fn objects_of(kind: &str) -> Vec<Value> {
    match kind {
        "organization" => vec![
            json!({"login": "port-labs-testing", "id": 187526413, "node_id": "O_test", "description": "Test organization"}),
        ],
        "repository" => vec![fixture("ocean/examples/repository/a.json")],
        _ => vec![
            fixture("ocean/examples/pull-request/a.json"),
            fixture("ocean/examples/pull-request/c.json"),
        ],
    }
}

fn main() {
    let config_text = std::fs::read_to_string(format!("{FIXTURES}/ocean/port-app-config.yml"))
        .expect("Port's default mapping");
    let config = PortAppConfig::from_yaml_or_json(&config_text).expect("loads");
    let mapping = CompiledMapping::compile(&config, &JqOptions::default()).expect("compiles");
    let mut reference_resources = Vec::new();
    println!(
        "Port's default mapping, one core, {} s per measurement",
        MEASURE.as_secs()
    );
    let mut total_ours = 0.0;
    for resource in mapping.resources() {
        let kind = resource.config().kind.clone();
        let objects = objects_of(&kind);
        let start = Instant::now();
        let mut entities = 0u64;
        while start.elapsed() < MEASURE {
            for object in &objects {
                entities += resource.map_item(object).entities.len() as u64;
            }
        }
        let rate = entities as f64 / start.elapsed().as_secs_f64();
        total_ours += rate;
        println!("  {kind:<14} ours: {rate:>12.0} entities/s");
        let m = &resource.config().mappings;
        let mut exprs = vec![
            resource.config().selector.query.clone(),
            m.identifier.clone(),
            m.blueprint.clone(),
        ];
        exprs.extend(m.title.clone());
        exprs.extend(m.properties.iter().map(|(_, c)| c.clone()));
        exprs.extend(m.relations.iter().map(|(_, c)| c.clone()));
        reference_resources.push((kind, json!({"exprs": exprs, "objects": objects})));
    }
    let Ok(python) = std::env::var("PORT_GITHUB_TEST_PYTHON") else {
        println!(
            "no comparison: set PORT_GITHUB_TEST_PYTHON to a python with jq==1.8.0 (bash tests/run creates .venv)"
        );
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/jq_reference_bench.py");
    for (kind, resource) in reference_resources {
        let request = json!({"resources": [resource], "seconds": MEASURE.as_secs_f64()});
        let mut child = Command::new(&python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python starts");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(request.to_string().as_bytes())
            .expect("request sent");
        let output = child.wait_with_output().expect("python finishes");
        let answer: Value = serde_json::from_slice(&output.stdout).expect("python answers JSON");
        let theirs = answer["entities_per_second"].as_f64().unwrap_or(f64::NAN);
        println!("  {kind:<14} jq (libjq via Python): {theirs:>12.0} entities/s");
    }
    println!("  (sum of per-kind rates, ours: {total_ours:.0})");
}
