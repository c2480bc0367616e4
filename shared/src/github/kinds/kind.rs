//! The one description of each kind a mapping can name (Port's GitHub integration's kinds): its
//! name in a `port-app-config`, where its data lives (organization or repository), the App
//! permissions listing it needs, and the states its selector accepts. Config validation, the
//! permission check, live selection and the resync's listing ask a [`Kind`] instead of matching
//! kind names; how each kind is listed and fetched lives in the sibling modules.

use std::fmt;

use crate::github::permissions::{
    ACTIONS, CODE_SCANNING_ALERTS, CONTENTS, DEPENDABOT_ALERTS, DEPLOYMENTS, ISSUES, MEMBERS,
    METADATA, PULL_REQUESTS, Permission, SECRET_SCANNING_ALERTS,
};

/// Where a kind's data lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Organization,
    Repository,
}

/// A kind of GitHub object a mapping resource syncs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Organization,
    Repository,
    Folder,
    User,
    Team,
    Workflow,
    WorkflowRun,
    PullRequest,
    Issue,
    Release,
    Tag,
    Branch,
    Environment,
    Deployment,
    DeploymentStatus,
    DependabotAlert,
    CodeScanningAlerts,
    SecretScanningAlerts,
    File,
    /// Known to Port's integration, not listed by this one.
    Skill,
    /// Known to Port's integration, not listed by this one.
    Plugin,
    Collaborator,
}

const PULL_REQUEST_STATES: &[&str] = &["open", "closed"];
const ALERT_STATES: &[&str] = &["auto_dismissed", "dismissed", "fixed", "open"];

impl Kind {
    /// Every kind, in the order Port's integration documents them.
    pub const ALL: [Self; 22] = [
        Self::Organization,
        Self::Repository,
        Self::Folder,
        Self::User,
        Self::Team,
        Self::Workflow,
        Self::WorkflowRun,
        Self::PullRequest,
        Self::Issue,
        Self::Release,
        Self::Tag,
        Self::Branch,
        Self::Environment,
        Self::Deployment,
        Self::DeploymentStatus,
        Self::DependabotAlert,
        Self::CodeScanningAlerts,
        Self::SecretScanningAlerts,
        Self::File,
        Self::Skill,
        Self::Plugin,
        Self::Collaborator,
    ];

    /// The kind a mapping names `name`, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// Its name in a `port-app-config` (`pull-request`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Organization => "organization",
            Self::Repository => "repository",
            Self::Folder => "folder",
            Self::User => "user",
            Self::Team => "team",
            Self::Workflow => "workflow",
            Self::WorkflowRun => "workflow-run",
            Self::PullRequest => "pull-request",
            Self::Issue => "issue",
            Self::Release => "release",
            Self::Tag => "tag",
            Self::Branch => "branch",
            Self::Environment => "environment",
            Self::Deployment => "deployment",
            Self::DeploymentStatus => "deployment-status",
            Self::DependabotAlert => "dependabot-alert",
            Self::CodeScanningAlerts => "code-scanning-alerts",
            Self::SecretScanningAlerts => "secret-scanning-alerts",
            Self::File => "file",
            Self::Skill => "skill",
            Self::Plugin => "plugin",
            Self::Collaborator => "collaborator",
        }
    }

    /// Where its data lives; `None` for the kinds this integration does not list.
    pub const fn scope(self) -> Option<Scope> {
        match self {
            Self::Organization | Self::Team | Self::User => Some(Scope::Organization),
            Self::Skill | Self::Plugin => None,
            _ => Some(Scope::Repository),
        }
    }

    /// What listing it needs, all read (GitHub's "permissions required for GitHub Apps" of the
    /// endpoints in ARCHITECTURE.md's table); `None` for a kind this integration does not list.
    pub const fn permissions(self) -> Option<&'static [Permission]> {
        Some(match self {
            // GET /orgs/{org}: public, no permission.
            Self::Organization => &[],
            Self::Repository | Self::Collaborator => &[METADATA],
            Self::PullRequest => &[PULL_REQUESTS],
            Self::Issue => &[ISSUES],
            Self::Release | Self::Tag | Self::Branch | Self::File | Self::Folder => &[CONTENTS],
            // GitHub lists environments under the Actions permission.
            Self::Environment | Self::Workflow | Self::WorkflowRun => &[ACTIONS],
            Self::Deployment | Self::DeploymentStatus => &[DEPLOYMENTS],
            Self::DependabotAlert => &[DEPENDABOT_ALERTS],
            Self::CodeScanningAlerts => &[CODE_SCANNING_ALERTS],
            Self::SecretScanningAlerts => &[SECRET_SCANNING_ALERTS],
            Self::Team | Self::User => &[MEMBERS],
            Self::Skill | Self::Plugin => return None,
        })
    }

    /// The values its selector's `states` list may hold (empty: the kind has no `states`).
    pub const fn selector_states(self) -> &'static [&'static str] {
        match self {
            Self::PullRequest => PULL_REQUEST_STATES,
            Self::DependabotAlert => ALERT_STATES,
            _ => &[],
        }
    }

    /// The values its selector's single `state` may hold (empty: the kind has no `state`).
    pub const fn selector_state(self) -> &'static [&'static str] {
        match self {
            Self::Issue => &["open", "closed", "all"],
            Self::CodeScanningAlerts => &["open", "closed", "dismissed", "fixed"],
            Self::SecretScanningAlerts => &["open", "resolved", "all"],
            _ => &[],
        }
    }

    /// The states synced when the selector names none (Port's integration: open pull requests,
    /// alerts of every state).
    pub const fn default_states(self) -> &'static [&'static str] {
        match self {
            Self::PullRequest => &["open"],
            _ => self.selector_states(),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Kind names still arrive as text (a live event's routing, a CLI argument): compare directly.
impl PartialEq<str> for Kind {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Kind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_its_kind() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(Kind::parse("gist"), None);
        assert_eq!(Kind::parse("Pull-Request"), None);
    }

    #[test]
    fn a_kind_is_listed_exactly_when_its_permissions_are_known() {
        for kind in Kind::ALL {
            assert_eq!(
                kind.scope().is_some(),
                kind.permissions().is_some(),
                "{kind}"
            );
        }
        assert_eq!(Kind::Team.scope(), Some(Scope::Organization));
        assert_eq!(Kind::WorkflowRun.scope(), Some(Scope::Repository));
        assert_eq!(Kind::Plugin.scope(), None);
    }

    #[test]
    fn default_states_are_among_the_allowed_ones() {
        for kind in Kind::ALL {
            for state in kind.default_states() {
                assert!(kind.selector_states().contains(state), "{kind}: {state}");
            }
        }
        assert_eq!(Kind::PullRequest.default_states(), ["open"]);
        assert_eq!(Kind::DependabotAlert.default_states().len(), 4);
        assert!(Kind::Issue.selector_states().is_empty());
    }
}
