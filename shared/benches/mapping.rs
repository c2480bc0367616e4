//! Benchmark: entities per second on one core, for Port's default mapping (organization,
//! repository, pull-request) and for the built-in mapping of every kind, over the fixture
//! objects; in the same run, the jq Python package (libjq, what Port's integration uses) does the
//! same work with every expression compiled once. Prints figures; asserts nothing.
//! Run: `PORT_GITHUB_TEST_PYTHON=.venv/bin/python cargo bench -p port-github-core --bench mapping`.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use port_github_core::mapping::defaults::DEFAULT_PORT_APP_CONFIG;
use port_github_core::mapping::{CompiledMapping, CompiledResource, JqOptions, PortAppConfig};
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures");
const MEASURE: Duration = Duration::from_secs(2);

fn fixture(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{path}"))
        .unwrap_or_else(|e| panic!("fixture {path} missing under {FIXTURES}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// The fixture objects of a kind: the examples, or objects from the peer fixture's responses.
fn objects_of(kind: &str) -> Vec<Value> {
    let examples = std::path::Path::new(FIXTURES)
        .join("ocean/examples")
        .join(kind);
    let mut objects: Vec<Value> = std::fs::read_dir(&examples)
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|f| {
                    fixture(&format!(
                        "ocean/examples/{kind}/{}",
                        f.file_name().to_string_lossy()
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    if objects.is_empty() {
        objects.push(match kind {
            "organization" => json!({"login": "port-labs-testing", "id": 187526413, "node_id": "O_test", "html_url": "https://github.com/port-labs-testing", "avatar_url": "https://avatars.githubusercontent.com/u/187526413", "description": "Test organization"}),
            "release" => json!({"id": 3001, "tag_name": "v1.1.0", "name": "Release 1", "html_url": "https://github.com/o/r/releases/tag/v1.1.0", "draft": false, "prerelease": false, "author": {"login": "octocat"}, "published_at": "2025-01-01T00:00:00Z", "__repository": "test-repo-1"}),
            "tag" => json!({"name": "v1.1.0", "commit": {"sha": "sha1"}, "__repository": "test-repo-1"}),
            "deployment" => json!({"id": 6001, "task": "deploy", "environment": "production", "ref": "main", "sha": "deploy-sha-1", "creator": {"login": "octocat"}, "created_at": "2025-01-01T00:00:00Z", "__repository": "test-repo-1"}),
            "deployment-status" => json!({"id": 8001, "state": "success", "description": "ok", "environment": "production", "created_at": "2025-01-01T00:00:00Z", "__deployment_id": 6001, "__repository": "test-repo-1"}),
            "secret-scanning-alerts" => json!({"number": 1, "state": "open", "html_url": "https://github.com/o/r/security/secret-scanning/1", "secret_type": "custom_pattern", "created_at": "2025-01-01T00:00:00Z", "__repository": "test-repo-1"}),
            _ => json!({}),
        });
    }
    objects
}

fn expressions(resource: &CompiledResource) -> Vec<String> {
    let config = resource.config();
    let mut exprs = vec![config.selector.query.clone()];
    exprs.extend(config.mappings.expressions());
    exprs
}

fn ours(resource: &CompiledResource, objects: &[Value]) -> f64 {
    let start = Instant::now();
    let mut items = 0u64;
    while start.elapsed() < MEASURE {
        for object in objects {
            std::hint::black_box(resource.map_item(object));
            items += 1;
        }
    }
    items as f64 / start.elapsed().as_secs_f64()
}

fn theirs(python: &str, exprs: &[String], objects: &[Value]) -> Option<f64> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/jq_reference_bench.py");
    let request = json!({"resources": [{"exprs": exprs, "objects": objects}], "seconds": MEASURE.as_secs_f64()});
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()?
        .write_all(request.to_string().as_bytes())
        .ok()?;
    let output = child.wait_with_output().ok()?;
    serde_json::from_slice::<Value>(&output.stdout).ok()?["entities_per_second"].as_f64()
}

fn report(title: &str, mapping: &CompiledMapping, python: Option<&str>) {
    println!(
        "\n{title} (items mapped per second, one core, {} s each)",
        MEASURE.as_secs()
    );
    println!(
        "  {:<24} {:>12} {:>12} {:>8}",
        "kind", "ours", "libjq", "ratio"
    );
    for resource in mapping.resources() {
        let kind = resource.config().kind.as_str();
        let objects = objects_of(kind);
        let ours = ours(resource, &objects);
        match python.and_then(|p| theirs(p, &expressions(resource), &objects)) {
            Some(theirs) => println!(
                "  {kind:<24} {ours:>12.0} {theirs:>12.0} {:>7.1}x",
                ours / theirs
            ),
            None => println!("  {kind:<24} {ours:>12.0} {:>12} {:>8}", "-", "-"),
        }
    }
}

fn main() {
    let python = std::env::var("PORT_GITHUB_TEST_PYTHON").ok();
    if python.is_none() {
        println!(
            "no libjq comparison: set PORT_GITHUB_TEST_PYTHON to a python with jq==1.8.0 (`bash tests/run` creates .venv)"
        );
    }
    let port_text = std::fs::read_to_string(format!("{FIXTURES}/ocean/port-app-config.yml"))
        .expect("Port's default mapping");
    let port = PortAppConfig::from_yaml_or_json(&port_text).expect("loads");
    let started = Instant::now();
    let port = CompiledMapping::compile(&port, &JqOptions::default()).expect("compiles");
    println!(
        "compiling Port's default mapping: {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    report("Port's default mapping", &port, python.as_deref());
    let builtin =
        PortAppConfig::from_yaml_or_json(DEFAULT_PORT_APP_CONFIG).expect("built-in loads");
    let started = Instant::now();
    let builtin =
        CompiledMapping::compile(&builtin, &JqOptions::default()).expect("built-in compiles");
    println!(
        "\ncompiling the built-in mapping ({} expressions): {:.1} ms",
        builtin
            .resources()
            .iter()
            .map(|r| 1 + r.config().mappings.expressions().len())
            .sum::<usize>(),
        started.elapsed().as_secs_f64() * 1e3
    );
    report("Built-in mapping", &builtin, python.as_deref());
}
