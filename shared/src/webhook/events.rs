//! Which deliveries the integration handles, and which resource each one is about (the FIFO
//! message group, so that events for one resource are processed in order). Pure routing tables.

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The events and actions handled live (`ARCHITECTURE.md`, "What the integration relies on from GitHub"). `None` = every action (events without an
/// `action`, or whose action does not change what is done).
pub const HANDLED_EVENTS: &[(&str, Option<&[&str]>)] = &[
    (
        "repository",
        Some(&[
            "created",
            "edited",
            "renamed",
            "transferred",
            "unarchived",
            "publicized",
            "privatized",
            "archived",
            "deleted",
        ]),
    ),
    (
        "pull_request",
        Some(&[
            "opened",
            "edited",
            "ready_for_review",
            "reopened",
            "synchronize",
            "unassigned",
            "review_request_removed",
            "closed",
        ]),
    ),
    (
        "issues",
        Some(&[
            "assigned",
            "closed",
            "demilestoned",
            "edited",
            "labeled",
            "locked",
            "milestoned",
            "opened",
            "pinned",
            "reopened",
            "transferred",
            "typed",
            "unassigned",
            "unlabeled",
            "unlocked",
            "unpinned",
            "untyped",
            "deleted",
        ]),
    ),
    ("release", Some(&["created", "edited", "deleted"])),
    ("create", None),
    ("delete", None),
    ("push", None),
    ("deployment", None),
    ("deployment_status", None),
    (
        "workflow_run",
        Some(&["in_progress", "requested", "completed"]),
    ),
    (
        "dependabot_alert",
        Some(&[
            "created",
            "reopened",
            "auto_reopened",
            "reintroduced",
            "dismissed",
            "auto_dismissed",
            "fixed",
        ]),
    ),
    (
        "code_scanning_alert",
        Some(&[
            "appeared_in_branch",
            "reopened",
            "created",
            "fixed",
            "closed_by_user",
        ]),
    ),
    ("organization", Some(&["member_added", "member_removed"])),
    (
        "team",
        Some(&["created", "edited", "deleted", "added_to_repository"]),
    ),
    ("membership", Some(&["added", "removed"])),
    ("member", Some(&["added", "edited", "removed"])),
    (
        "secret_scanning_alert",
        Some(&[
            "created",
            "publicly_leaked",
            "reopened",
            "validated",
            "resolved",
        ]),
    ),
];

/// Every event name the integration subscribes to (the webhook's event list).
pub fn handled_event_names() -> impl Iterator<Item = &'static str> {
    HANDLED_EVENTS.iter().map(|(event, _)| *event)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    Handled,
    Ping,
    Ignored(IgnoredReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgnoredReason {
    Event,
    Action,
}

impl IgnoredReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Event => "event not handled",
            Self::Action => "action not handled",
        }
    }
}

pub fn route(event: &str, action: Option<&str>) -> Routing {
    if event == "ping" {
        return Routing::Ping;
    }
    match HANDLED_EVENTS.iter().find(|(name, _)| *name == event) {
        None => Routing::Ignored(IgnoredReason::Event),
        Some((_, None)) => Routing::Handled,
        Some((_, Some(actions))) => match action {
            Some(action) if actions.contains(&action) => Routing::Handled,
            _ => Routing::Ignored(IgnoredReason::Action),
        },
    }
}

/// The few fields of a payload needed to route and describe it; everything else is skipped
/// while parsing (the full body is still validated as JSON).
#[derive(Debug, Default, Deserialize)]
pub struct PayloadHead {
    pub action: Option<String>,
    pub installation: Option<Id>,
    pub organization: Option<Account>,
    pub repository: Option<Repository>,
    pub pull_request: Option<Numbered>,
    pub issue: Option<Numbered>,
    pub release: Option<Id>,
    pub deployment: Option<Id>,
    pub workflow_run: Option<Id>,
    pub alert: Option<Numbered>,
    pub team: Option<Id>,
    pub member: Option<Account>,
    pub membership: Option<Membership>,
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    pub ref_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Id {
    pub id: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Numbered {
    pub id: Option<u64>,
    pub number: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Account {
    pub id: Option<u64>,
    pub login: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Repository {
    pub id: Option<u64>,
    pub full_name: Option<String>,
    pub owner: Option<Account>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Membership {
    pub user: Option<Account>,
}

impl PayloadHead {
    /// The organization (or user) login that owns what the event is about.
    pub fn organization_login(&self) -> Option<&str> {
        self.organization
            .as_ref()
            .and_then(|o| o.login.as_deref())
            .or_else(|| self.repository.as_ref()?.owner.as_ref()?.login.as_deref())
    }

    fn org_key(&self) -> Option<String> {
        let org = self.organization.as_ref();
        org.and_then(|o| o.id)
            .map(|id| format!("org-{id}"))
            .or_else(|| {
                self.organization_login()
                    .map(|login| format!("org-{login}"))
            })
    }

    fn repo_key(&self) -> Option<String> {
        let repo = self.repository.as_ref()?;
        repo.id
            .map(|id| format!("repo-{id}"))
            .or_else(|| repo.full_name.as_ref().map(|n| format!("repo-{n}")))
    }

    /// The FIFO message group: the resource the event is about. Repositories are keyed by id, so a
    /// rename does not split a repository's events across groups. `None` when the payload lacks the
    /// ids (the caller then uses the delivery id: no ordering, but nothing lost).
    pub fn message_group(&self, event: &str) -> Option<String> {
        let repo = || self.repo_key();
        let group =
            match event {
                "repository" => repo(),
                "pull_request" => Some(format!(
                    "{}-pr-{}",
                    repo()?,
                    self.pull_request.as_ref()?.number?
                )),
                "issues" => Some(format!(
                    "{}-issue-{}",
                    repo()?,
                    self.issue.as_ref()?.number?
                )),
                "release" => Some(format!(
                    "{}-release-{}",
                    repo()?,
                    self.release.as_ref()?.id?
                )),
                "push" => Some(format!("{}-ref-{}", repo()?, self.git_ref.as_deref()?)),
                "create" | "delete" => {
                    let name = self.git_ref.as_deref()?;
                    let full = match self.ref_type.as_deref() {
                        Some("tag") => format!("refs/tags/{name}"),
                        _ => format!("refs/heads/{name}"),
                    };
                    Some(format!("{}-ref-{full}", repo()?))
                }
                // A deployment and its statuses share a group.
                "deployment" | "deployment_status" => Some(format!(
                    "{}-deployment-{}",
                    repo()?,
                    self.deployment.as_ref()?.id?
                )),
                "workflow_run" => Some(format!(
                    "{}-run-{}",
                    repo()?,
                    self.workflow_run.as_ref()?.id?
                )),
                "dependabot_alert" | "code_scanning_alert" | "secret_scanning_alert" => Some(
                    format!("{}-{event}-{}", repo()?, self.alert.as_ref()?.number?),
                ),
                "organization" => {
                    let user = self.membership.as_ref()?.user.as_ref()?;
                    Some(format!("{}-member-{}", self.org_key()?, account_key(user)?))
                }
                "team" | "membership" => Some(format!(
                    "{}-team-{}",
                    self.org_key()?,
                    self.team.as_ref()?.id?
                )),
                "member" => Some(format!(
                    "{}-collaborator-{}",
                    repo()?,
                    account_key(self.member.as_ref()?)?
                )),
                _ => None,
            }?;
        Some(fifo_safe(&group))
    }
}

fn account_key(account: &Account) -> Option<String> {
    account
        .id
        .map(|id| id.to_string())
        .or_else(|| account.login.clone())
}

/// SQS allows 1–128 characters, letters, digits and ASCII punctuation in group and dedup ids.
/// Anything else (a branch name with spaces or non-ASCII, a very long ref) is replaced by a digest
/// of the whole id, so the id stays stable and distinct.
pub fn fifo_safe(id: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c.is_ascii_punctuation();
    if !id.is_empty() && id.len() <= 128 && id.chars().all(allowed) {
        return id.to_owned();
    }
    let prefix: String = id.chars().take_while(|c| allowed(*c)).take(60).collect();
    let digest = hex::encode(Sha256::digest(id.as_bytes()));
    format!("{prefix}~{}", &digest[..40])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_follows_the_handled_table() {
        assert_eq!(route("ping", None), Routing::Ping);
        assert_eq!(route("push", None), Routing::Handled);
        assert_eq!(route("deployment", Some("created")), Routing::Handled);
        assert_eq!(route("pull_request", Some("opened")), Routing::Handled);
        assert_eq!(
            route("pull_request", Some("labeled")),
            Routing::Ignored(IgnoredReason::Action)
        );
        assert_eq!(
            route("pull_request", None),
            Routing::Ignored(IgnoredReason::Action)
        );
        assert_eq!(
            route("installation", Some("created")),
            Routing::Ignored(IgnoredReason::Event)
        );
        assert_eq!(
            route("team", Some("removed_from_repository")),
            Routing::Ignored(IgnoredReason::Action)
        );
        assert_eq!(handled_event_names().count(), 17);
    }

    #[test]
    fn fifo_ids_stay_valid() {
        assert_eq!(
            fifo_safe("repo-1-ref-refs/heads/main"),
            "repo-1-ref-refs/heads/main"
        );
        let odd = fifo_safe("repo-1-ref-refs/heads/feature/ünïcode branch");
        assert!(
            odd.len() <= 128 && odd.chars().all(|c| c.is_ascii_graphic()),
            "{odd}"
        );
        let long = fifo_safe(&format!("repo-1-ref-{}", "x".repeat(300)));
        assert!(long.len() <= 128);
        assert_ne!(long, fifo_safe(&format!("repo-1-ref-{}", "x".repeat(301))));
        assert!(!fifo_safe("").is_empty());
    }

    #[test]
    fn groups_name_the_resource() {
        let head: PayloadHead = serde_json::from_str(
            r#"{"action":"opened","repository":{"id":7,"full_name":"o/r","owner":{"login":"o"}},"pull_request":{"id":99,"number":3}}"#,
        )
        .unwrap();
        assert_eq!(
            head.message_group("pull_request").as_deref(),
            Some("repo-7-pr-3")
        );
        assert_eq!(head.organization_login(), Some("o"));
        let create: PayloadHead =
            serde_json::from_str(r#"{"ref":"v1","ref_type":"tag","repository":{"id":7}}"#).unwrap();
        let delete: PayloadHead =
            serde_json::from_str(r#"{"ref":"v1","ref_type":"tag","repository":{"id":7}}"#).unwrap();
        assert_eq!(
            create.message_group("create"),
            delete.message_group("delete")
        );
        let push: PayloadHead =
            serde_json::from_str(r#"{"ref":"refs/heads/main","repository":{"id":7}}"#).unwrap();
        let branch: PayloadHead =
            serde_json::from_str(r#"{"ref":"main","ref_type":"branch","repository":{"id":7}}"#)
                .unwrap();
        assert_eq!(
            push.message_group("push"),
            branch.message_group("create"),
            "pushes and branch deletion share a group"
        );
        assert_eq!(PayloadHead::default().message_group("push"), None);
    }
}
