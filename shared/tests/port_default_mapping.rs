//! Port's default mapping (`ocean/port-app-config.yml`, unchanged) over the example objects in
//! `ocean/examples/`, compared with entities written down by hand in `tests/expected/port-default/`.

mod common;

use port_github_core::mapping::{CompiledMapping, JqOptions, PortAppConfig};
use serde_json::Value;
use std::path::PathBuf;

fn port_default_mapping() -> CompiledMapping {
    let config =
        PortAppConfig::from_yaml_or_json(&common::read_fixture("ocean/port-app-config.yml"))
            .expect("Port's default port-app-config loads unchanged");
    CompiledMapping::compile(&config, &JqOptions::default()).expect("every expression compiles")
}

fn expectation_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/expected/port-default"
    ));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

fn input_of(case: &Value) -> Value {
    let mut input = match (case.get("input"), case.get("input_object")) {
        (Some(Value::String(path)), _) => common::read_fixture_json(path),
        (_, Some(object)) => object.clone(),
        _ => panic!("expectation without input"),
    };
    if let (Some(Value::Object(patch)), Value::Object(fields)) = (case.get("patch"), &mut input) {
        for (key, value) in patch {
            fields.insert(key.clone(), value.clone());
        }
    }
    input
}

#[test]
fn port_default_config_loads_with_its_options() {
    let mapping = port_default_mapping();
    let config = mapping.config();
    assert!(config.delete_dependent_entities);
    assert!(config.create_missing_related_entities);
    assert!(config.enable_merge_entity);
    assert_eq!(config.repository_type, "all");
    let kinds: Vec<_> = config.resources.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["organization", "repository", "pull-request"]);
    let repository = &config.resources[1].selector.options;
    assert_eq!(
        repository.included_files.as_deref(),
        Some(&["README.md".to_owned(), "CODEOWNERS".to_owned()][..])
    );
    assert_eq!(
        config.resources[2].selector.options.states.as_deref(),
        Some(&["open".to_owned()][..])
    );
}

#[test]
fn port_default_mapping_produces_the_hand_written_entities() {
    let mapping = port_default_mapping();
    let files = expectation_files();
    assert!(
        files.len() >= 5,
        "expected the hand-written cases, found {}",
        files.len()
    );
    for file in files {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&file).expect("readable"))
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", file.display()));
        let kind = case["kind"].as_str().expect("kind");
        let outcome = mapping.map_item(kind, &input_of(&case));
        assert!(
            outcome.field_errors.is_empty(),
            "{}: {:?}",
            file.display(),
            outcome.field_errors
        );
        assert!(
            outcome.dropped.is_empty(),
            "{}: {:?}",
            file.display(),
            outcome.dropped
        );
        let actual = serde_json::to_value(&outcome.entities).expect("serializes");
        assert_eq!(actual, case["entities"], "{}", file.display());
    }
}

#[test]
fn every_example_of_a_mapped_kind_has_an_expectation_and_others_map_to_nothing() {
    let mapping = port_default_mapping();
    let covered: Vec<String> = expectation_files()
        .iter()
        .filter_map(|f| {
            let case: Value = serde_json::from_str(&std::fs::read_to_string(f).ok()?).ok()?;
            case.get("input")?.as_str().map(str::to_owned)
        })
        .collect();
    let examples = common::fixtures_dir().join("ocean/examples");
    for kind_dir in std::fs::read_dir(&examples)
        .expect("examples listed")
        .filter_map(Result::ok)
    {
        let kind = kind_dir.file_name().to_string_lossy().into_owned();
        for example in std::fs::read_dir(kind_dir.path())
            .expect("kind listed")
            .filter_map(Result::ok)
        {
            let relative = format!(
                "ocean/examples/{kind}/{}",
                example.file_name().to_string_lossy()
            );
            let raw = common::read_fixture_json(&relative);
            let outcome = mapping.map_item(&kind, &raw);
            if mapping.resources_for_kind(&kind).next().is_some() {
                assert!(
                    covered.contains(&relative),
                    "{relative} has no hand-written expectation"
                );
            } else {
                assert!(
                    outcome.entities.is_empty() && !outcome.selected,
                    "{relative}"
                );
            }
        }
    }
}
