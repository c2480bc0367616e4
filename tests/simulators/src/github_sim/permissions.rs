//! The simulator's App permissions: what its installation is granted (reported by the
//! installation endpoints and the token response) and which permission each endpoint needs, so
//! that an installation token without it is refused as GitHub refuses it (403 "Resource not
//! accessible by integration"). A personal token is never refused here.

use std::collections::BTreeMap;

/// What GitHub answers an installation token that lacks an endpoint's permission.
pub const NOT_ACCESSIBLE: &str = "Resource not accessible by integration";

/// Everything the simulated endpoints need, granted: the default installation.
pub fn all_granted() -> BTreeMap<String, String> {
    [
        ("metadata", "read"),
        ("contents", "read"),
        ("pull_requests", "read"),
        ("issues", "read"),
        ("actions", "read"),
        ("deployments", "read"),
        ("administration", "read"),
        ("vulnerability_alerts", "read"),
        ("security_events", "read"),
        ("secret_scanning_alerts", "read"),
        ("members", "read"),
        ("organization_hooks", "write"),
    ]
    .into_iter()
    .map(|(key, level)| (key.to_owned(), level.to_owned()))
    .collect()
}

fn rank(level: &str) -> u8 {
    match level {
        "read" => 1,
        "write" => 2,
        "admin" => 3,
        _ => 0,
    }
}

/// The permission (and level) an endpoint template of the router needs, `None` for endpoints
/// open to any installation (`GET /orgs/{org}`, `GET /users/{login}`, the App's own).
pub(crate) fn required(endpoint: &str) -> Option<(&'static str, &'static str)> {
    let (method, path) = endpoint.split_once(' ')?;
    if path.starts_with("/orgs/{org}/hooks") {
        return Some((
            "organization_hooks",
            if method == "GET" { "read" } else { "write" },
        ));
    }
    if path.starts_with("/orgs/{org}/members") || path.starts_with("/orgs/{org}/teams") {
        return Some(("members", "read"));
    }
    if path == "/installation/repositories" || path == "/orgs/{org}/repos" {
        return Some(("metadata", "read"));
    }
    let rest = path.strip_prefix("/repos/{o}/{r}")?;
    let segment = rest.trim_start_matches('/').split('/').next().unwrap_or("");
    let permission = match segment {
        "" | "*" | "collaborators" => "metadata",
        "pulls" => "pull_requests",
        "issues" => "issues",
        "releases" | "tags" | "git" | "contents" => "contents",
        "branches" if rest.ends_with("/protection") => "administration",
        "branches" => "contents",
        "environments" | "actions" => "actions",
        "deployments" => "deployments",
        "dependabot" => "vulnerability_alerts",
        "code-scanning" => "security_events",
        "secret-scanning" => "secret_scanning_alerts",
        _ => "metadata",
    };
    Some((permission, "read"))
}

/// Whether `granted` covers what `endpoint` needs.
pub(crate) fn allows(granted: &BTreeMap<String, String>, endpoint: &str) -> bool {
    required(endpoint).is_none_or(|(permission, level)| {
        granted
            .get(permission)
            .is_some_and(|have| rank(have) >= rank(level))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_need_their_permissions() {
        let cases = [
            ("GET /repos/{o}/{r}/issues", Some(("issues", "read"))),
            (
                "GET /repos/{o}/{r}/secret-scanning/alerts/{n}",
                Some(("secret_scanning_alerts", "read")),
            ),
            (
                "GET /repos/{o}/{r}/branches/{b}/protection",
                Some(("administration", "read")),
            ),
            (
                "GET /repos/{o}/{r}/branches/{b}",
                Some(("contents", "read")),
            ),
            ("GET /repos/{o}/{r}/environments", Some(("actions", "read"))),
            ("GET /repos/{o}/{r}", Some(("metadata", "read"))),
            (
                "POST /orgs/{org}/hooks",
                Some(("organization_hooks", "write")),
            ),
            (
                "GET /orgs/{org}/teams/{slug}/members",
                Some(("members", "read")),
            ),
            ("GET /orgs/{org}", None),
            ("GET /users/{login}", None),
        ];
        for (endpoint, expected) in cases {
            assert_eq!(required(endpoint), expected, "{endpoint}");
        }
        let mut granted = all_granted();
        assert!(allows(&granted, "PATCH /orgs/{org}/hooks/{id}"));
        granted.insert("organization_hooks".into(), "read".into());
        assert!(!allows(&granted, "PATCH /orgs/{org}/hooks/{id}"));
        assert!(allows(&granted, "GET /orgs/{org}/hooks"));
        granted.remove("issues");
        assert!(!allows(&granted, "GET /repos/{o}/{r}/issues/{n}"));
    }
}
