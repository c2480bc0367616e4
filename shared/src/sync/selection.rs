//! What a mapping resource selects, in the terms the GitHub kind functions take: the selector
//! options as JSON, the file and folder patterns, and the states an object must be in. Shared by
//! the live processor (one object) and the resync (whole lists).

use serde_json::Value;

use crate::github::kinds::Kind;
use crate::github::kinds::files::{PathPattern, RepoBranch};
use crate::mapping::CompiledResource;

/// The selector options the GitHub kind functions take, in Port's JSON spelling.
pub fn selector_json(resource: &CompiledResource) -> Value {
    let mut selector = resource.config().selector.other.clone();
    let options = &resource.config().selector.options;
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            selector.insert(key.to_owned(), value);
        }
    };
    let strings = |list: &Option<Vec<String>>| {
        list.as_ref()
            .map(|l| Value::Array(l.iter().cloned().map(Value::String).collect()))
    };
    put("members", options.members.map(Value::Bool));
    put("detailed", options.detailed.map(Value::Bool));
    put("protectionRules", options.protection_rules.map(Value::Bool));
    put("hideSecret", options.hide_secret.map(Value::Bool));
    put("includeBots", options.include_bots.map(Value::Bool));
    put("state", options.state.clone().map(Value::String));
    put("states", strings(&options.states));
    put("since", options.since.map(Value::from));
    put("maxResults", options.max_results.map(Value::from));
    // The issue list takes GitHub's comma-separated form.
    put(
        "labels",
        options.labels.as_ref().map(|l| Value::from(l.join(","))),
    );
    put("severity", strings(&options.severity));
    put("ecosystems", strings(&options.ecosystems));
    put(
        "affiliation",
        options.affiliation.clone().map(Value::String),
    );
    put("includedFiles", strings(&options.included_files));
    Value::Object(selector)
}

/// The file (kind `file`) or folder (kind `folder`) patterns of a resource's selector.
pub fn path_patterns(resource: &CompiledResource) -> Vec<PathPattern> {
    let options = &resource.config().selector.options;
    let configured = if resource.config().kind == Kind::File {
        &options.files
    } else {
        &options.folders
    };
    configured
        .iter()
        .flatten()
        .map(|p| PathPattern {
            path: p.path.clone(),
            repos: p
                .repos
                .iter()
                .map(|r| RepoBranch {
                    name: r.name.clone(),
                    branch: r.branch.clone(),
                })
                .collect(),
            skip_parsing: p.skip_parsing,
        })
        .collect()
}

/// The selector options a single object can be checked against: the states a resource syncs.
pub fn passes_selector_options(resource: &CompiledResource, raw: &Value) -> bool {
    let options = &resource.config().selector.options;
    let state = raw.get("state").and_then(Value::as_str);
    let kind = resource.config().kind;
    match kind {
        Kind::PullRequest | Kind::DependabotAlert => match &options.states {
            Some(wanted) => state.is_none_or(|s| wanted.iter().any(|w| w.eq_ignore_ascii_case(s))),
            None => state.is_none_or(|s| {
                kind.default_states()
                    .iter()
                    .any(|w| w.eq_ignore_ascii_case(s))
            }),
        },
        Kind::Issue | Kind::CodeScanningAlerts | Kind::SecretScanningAlerts => {
            match options.state.as_deref() {
                Some("all") => true,
                // Port's integration syncs open issues unless told otherwise; alerts of any state.
                None => kind != Kind::Issue || state.is_none_or(|s| s == "open"),
                Some(wanted) => state.is_none_or(|s| s.eq_ignore_ascii_case(wanted)),
            }
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::{CompiledMapping, JqOptions, PortAppConfig};
    use serde_json::json;

    #[test]
    fn every_fetch_option_reaches_the_kind_functions() {
        let yaml = "resources:\n- kind: pull-request\n  selector: {query: 'true', states: [open, closed], since: 30, maxResults: 50, labels: [bug, ui], includedFiles: [README.md], maxRuns: 7}\n  port: {entity: {mappings: {identifier: .id, blueprint: '\"b\"'}}}";
        let config = PortAppConfig::from_yaml_or_json(yaml).unwrap();
        let mapping = CompiledMapping::compile(&config, &JqOptions::default()).unwrap();
        let selector = selector_json(&mapping.resources()[0]);
        assert_eq!(selector["states"], json!(["open", "closed"]));
        assert_eq!(selector["since"], 30);
        assert_eq!(selector["maxResults"], 50);
        assert_eq!(selector["labels"], "bug,ui");
        assert_eq!(selector["includedFiles"], json!(["README.md"]));
        assert_eq!(selector["maxRuns"], 7, "unknown options pass through");
        let pulls: crate::github::kinds::pulls::PullRequestSelector =
            crate::github::kinds::selector(Some(&selector)).unwrap();
        assert_eq!(
            (pulls.states.len(), pulls.since, pulls.max_results),
            (2, 30, 50)
        );
        let repos: crate::github::kinds::organization::RepositorySelector =
            crate::github::kinds::selector(Some(&selector)).unwrap();
        assert_eq!(repos.included_files, ["README.md"]);
        let issues: crate::github::kinds::pulls::IssueSelector =
            crate::github::kinds::selector(Some(&selector)).unwrap();
        assert_eq!(issues.labels.as_deref(), Some("bug,ui"));
    }

    fn resource_passes(kind: &str, selector: &str, raw: Value) -> bool {
        let yaml = format!(
            "resources:\n- kind: {kind}\n  selector: {{query: 'true'{selector}}}\n  port: {{entity: {{mappings: {{identifier: .id, blueprint: '\"b\"'}}}}}}"
        );
        let config = PortAppConfig::from_yaml_or_json(&yaml).unwrap();
        let mapping = CompiledMapping::compile(&config, &JqOptions::default()).unwrap();
        let resource = mapping.resources_for_kind(kind).next().unwrap();
        passes_selector_options(resource, &raw)
    }

    #[test]
    fn selector_states_decide_what_a_live_event_keeps() {
        let closed = json!({"id": 1, "state": "closed"});
        let open = json!({"id": 1, "state": "open"});
        assert!(
            !resource_passes("pull-request", "", closed.clone()),
            "pull requests: open by default"
        );
        assert!(resource_passes(
            "pull-request",
            ", states: [open, closed]",
            closed.clone()
        ));
        assert!(
            !resource_passes("issue", "", closed.clone()),
            "issues: open by default"
        );
        assert!(
            resource_passes("issue", ", state: all", closed.clone()),
            "state: all keeps closed issues"
        );
        assert!(resource_passes("issue", ", state: closed", closed.clone()));
        assert!(!resource_passes("issue", ", state: closed", open.clone()));
        let fixed = json!({"id": 1, "state": "fixed"});
        assert!(
            resource_passes("dependabot-alert", "", fixed.clone()),
            "alerts: the four usual states by default"
        );
        assert!(!resource_passes(
            "dependabot-alert",
            ", states: [open]",
            fixed.clone()
        ));
        assert!(resource_passes("code-scanning-alerts", "", fixed.clone()));
        assert!(!resource_passes(
            "secret-scanning-alerts",
            ", state: open",
            json!({"id": 1, "state": "resolved"})
        ));
        assert!(
            resource_passes("release", "", closed),
            "kinds without states always pass"
        );
    }
}
