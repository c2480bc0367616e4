//! The GitHub App permissions (each kind names the ones listing it needs: `Kind::permissions`),
//! what a mapping needs as a whole, and which of those an
//! installation was not granted. Pure data and comparison: reading the installation's grant is
//! `GitHubApp::installation`, acting on the result is the resync's `permission_check`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::github::kinds::Kind;
use crate::mapping::selector::SelectorOptions;

/// A permission level, in GitHub's order (`write` includes `read`, `admin` both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Read,
    Write,
    Admin,
}

impl Level {
    /// GitHub's word for it (`read`, `write`, `admin`); anything else grants nothing.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read" => Some(Self::Read),
            "write" => Some(Self::Write),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }
}

/// One permission: its REST key (`pull_requests`), as the App settings page names it, and
/// whether it is a repository or an organization permission there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    pub key: &'static str,
    pub title: &'static str,
    pub organization: bool,
}

const fn repo(key: &'static str, title: &'static str) -> Permission {
    Permission {
        key,
        title,
        organization: false,
    }
}

const fn org(key: &'static str, title: &'static str) -> Permission {
    Permission {
        key,
        title,
        organization: true,
    }
}

pub const METADATA: Permission = repo("metadata", "Metadata");
pub const CONTENTS: Permission = repo("contents", "Contents");
pub const PULL_REQUESTS: Permission = repo("pull_requests", "Pull requests");
pub const ISSUES: Permission = repo("issues", "Issues");
pub const ACTIONS: Permission = repo("actions", "Actions");
pub const DEPLOYMENTS: Permission = repo("deployments", "Deployments");
pub const ADMINISTRATION: Permission = repo("administration", "Administration");
pub const DEPENDABOT_ALERTS: Permission = repo("vulnerability_alerts", "Dependabot alerts");
pub const CODE_SCANNING_ALERTS: Permission = repo("security_events", "Code scanning alerts");
pub const SECRET_SCANNING_ALERTS: Permission =
    repo("secret_scanning_alerts", "Secret scanning alerts");
pub const MEMBERS: Permission = org("members", "Members");
pub const ORGANIZATION_HOOKS: Permission = org("organization_hooks", "Webhooks");

/// A permission a mapping needs, at what level, and for which of its kinds (or `webhooks`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Need {
    pub permission: String,
    /// How the App settings page names it, with its section: `Repository: Issues`.
    pub title: String,
    pub level: Level,
    pub kinds: Vec<String>,
}

/// Everything a run with these resources needs: each kind's permissions, a repository's
/// `includedFiles` (Contents), a branch's `protectionRules` (Administration), and the
/// organization webhook when the run manages it (Webhooks, write).
pub fn needed<'a>(
    resources: impl IntoIterator<Item = (Kind, &'a SelectorOptions)>,
    manages_webhooks: bool,
) -> Vec<Need> {
    let mut needs: BTreeMap<&'static str, Need> = BTreeMap::new();
    let mut add = |permission: Permission, level: Level, why: &str| {
        let need = needs.entry(permission.key).or_insert_with(|| Need {
            permission: permission.key.to_owned(),
            title: format!(
                "{}: {}",
                if permission.organization {
                    "Organization"
                } else {
                    "Repository"
                },
                permission.title
            ),
            level,
            kinds: Vec::new(),
        });
        need.level = need.level.max(level);
        if !need.kinds.iter().any(|k| k == why) {
            need.kinds.push(why.to_owned());
        }
    };
    for (kind, options) in resources {
        let why = kind.as_str();
        for permission in kind.permissions().unwrap_or(&[]) {
            add(*permission, Level::Read, why);
        }
        if kind == Kind::Repository
            && options
                .included_files
                .as_ref()
                .is_some_and(|f| !f.is_empty())
        {
            add(CONTENTS, Level::Read, why);
        }
        if kind == Kind::Branch && options.protection_rules == Some(true) {
            add(ADMINISTRATION, Level::Read, why);
        }
    }
    if manages_webhooks {
        add(ORGANIZATION_HOOKS, Level::Write, "webhooks");
    }
    needs.into_values().collect()
}

/// The needs `granted` (an installation's `permissions`: key → level) does not cover.
pub fn missing(needs: &[Need], granted: &BTreeMap<String, String>) -> Vec<Need> {
    needs
        .iter()
        .filter(|need| {
            granted
                .get(&need.permission)
                .and_then(|level| Level::parse(level))
                .is_none_or(|level| level < need.level)
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_kind_of_the_built_in_mapping_has_its_permissions() {
        let mapping = crate::mapping::PortAppConfig::from_yaml_or_json(
            crate::mapping::defaults::DEFAULT_PORT_APP_CONFIG,
        )
        .unwrap();
        for resource in &mapping.resources {
            assert!(resource.kind.permissions().is_some(), "{}", resource.kind);
        }
    }

    #[test]
    fn needs_are_merged_per_permission_and_selectors_add_theirs() {
        let none = SelectorOptions::default();
        let files = SelectorOptions {
            included_files: Some(vec!["README.md".into()]),
            ..SelectorOptions::default()
        };
        let rules = SelectorOptions {
            protection_rules: Some(true),
            ..SelectorOptions::default()
        };
        let needs = needed(
            [
                (Kind::Repository, &files),
                (Kind::Issue, &none),
                (Kind::Workflow, &none),
                (Kind::Environment, &none),
                (Kind::Branch, &rules),
                (Kind::Team, &none),
                (Kind::User, &none),
            ],
            true,
        );
        let by_key: BTreeMap<&str, &Need> =
            needs.iter().map(|n| (n.permission.as_str(), n)).collect();
        assert_eq!(by_key["actions"].kinds, ["workflow", "environment"]);
        assert_eq!(by_key["contents"].kinds, ["repository", "branch"]);
        assert_eq!(by_key["administration"].title, "Repository: Administration");
        assert_eq!(by_key["members"].title, "Organization: Members");
        assert_eq!(by_key["organization_hooks"].level, Level::Write);
        assert!(!by_key.contains_key("pull_requests"));
    }

    #[test]
    fn missing_compares_levels() {
        let none = SelectorOptions::default();
        let needs = needed([(Kind::Issue, &none), (Kind::Repository, &none)], true);
        let granted: BTreeMap<String, String> = [
            ("metadata", "read"),
            ("issues", "write"),
            ("organization_hooks", "read"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let missing: Vec<String> = missing(&needs, &granted)
            .into_iter()
            .map(|n| n.permission)
            .collect();
        assert_eq!(missing, ["organization_hooks"]);
    }
}
