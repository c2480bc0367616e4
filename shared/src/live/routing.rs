//! Which kinds a live event touches and what to do for each: re-fetch the current object from
//! GitHub (then upsert it, or delete it when it is gone or no longer selected), or delete the
//! entity built from the payload's own object (the object no longer exists on GitHub). Pure: it
//! reads the envelope and nothing else. Kind names are Port's (`pull-request`, `workflow-run`, …).

use serde_json::{Value, json};

use crate::github::kinds::Kind;
use crate::webhook::envelope::Envelope;

/// The object to re-fetch, by the ids GitHub's single-object endpoints take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Repository,
    PullRequest {
        number: u64,
    },
    Issue {
        number: u64,
    },
    Release {
        id: u64,
    },
    Tag {
        name: String,
    },
    Branch {
        name: String,
    },
    Environment {
        name: String,
    },
    Deployment {
        id: u64,
    },
    DeploymentStatus {
        deployment_id: u64,
        id: u64,
    },
    Workflow {
        id: u64,
    },
    WorkflowRun {
        id: u64,
    },
    DependabotAlert {
        number: u64,
    },
    CodeScanningAlert {
        number: u64,
    },
    SecretScanningAlert {
        number: u64,
    },
    Team {
        slug: String,
    },
    User {
        login: String,
    },
    Collaborator {
        login: String,
    },
    /// Files, folders and workflows whose paths a push changed (`truncated`: the list is partial,
    /// re-read the repository's tree instead).
    Paths {
        branch: String,
        paths: Vec<String>,
        truncated: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// Fetch the current object; upsert what it maps to, or delete it if it is gone or fails the
    /// resource's selector.
    Refetch(Target),
    /// The object is gone: map this raw object (from the payload, with the enrichment keys the
    /// resync adds) and delete the resulting entities this integration owns.
    Delete { raw: Value },
    /// After a rename: delete the entity the object had under its old name, unless the mapping
    /// gives it the same identifier as the re-fetched object.
    DeleteRenamed { raw: Value },
}

#[derive(Debug, Clone, PartialEq)]
pub struct WorkItem {
    pub kind: Kind,
    pub operation: Operation,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    #[error("{event} payload lacks {field}")]
    MissingField { event: String, field: &'static str },
    #[error("event {0} is not handled")]
    NotHandled(String),
}

/// The work for one event, in order (deletions of renamed objects after the re-fetch).
pub fn route(envelope: &Envelope) -> Result<Vec<WorkItem>, RoutingError> {
    let p = &envelope.payload;
    let event = envelope.event.as_str();
    let action = envelope.action.as_deref().unwrap_or("");
    let missing = |field| RoutingError::MissingField {
        event: event.to_owned(),
        field,
    };
    let number = |pointer: &str, field| {
        p.pointer(pointer)
            .and_then(Value::as_u64)
            .ok_or_else(|| missing(field))
    };
    let text = |pointer: &str, field| {
        p.pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| missing(field))
    };
    let refetch = |kind, target| WorkItem {
        kind,
        operation: Operation::Refetch(target),
    };
    let delete = |kind, raw: Value| WorkItem {
        kind,
        operation: Operation::Delete {
            raw: enriched(p, raw),
        },
    };
    let object = |pointer: &str, field| p.pointer(pointer).cloned().ok_or_else(|| missing(field));

    let items = match event {
        "repository" => match action {
            "deleted" | "archived" => {
                vec![delete(
                    Kind::Repository,
                    object("/repository", "repository")?,
                )]
            }
            "renamed" => {
                let mut old = object("/repository", "repository")?;
                let old_name = text(
                    "/changes/repository/name/from",
                    "changes.repository.name.from",
                )?;
                if let Some(fields) = old.as_object_mut() {
                    if let Some(owner) =
                        p.pointer("/repository/owner/login").and_then(Value::as_str)
                    {
                        fields.insert("full_name".into(), json!(format!("{owner}/{old_name}")));
                    }
                    fields.insert("name".into(), json!(old_name));
                }
                vec![
                    refetch(Kind::Repository, Target::Repository),
                    WorkItem {
                        kind: Kind::Repository,
                        operation: Operation::DeleteRenamed {
                            raw: enriched(p, old),
                        },
                    },
                ]
            }
            _ => vec![refetch(Kind::Repository, Target::Repository)],
        },
        "pull_request" => vec![refetch(
            Kind::PullRequest,
            Target::PullRequest {
                number: number("/pull_request/number", "pull_request.number")?,
            },
        )],
        "issues" => match action {
            // A transferred issue leaves this repository; it arrives in the other one as `opened`.
            "deleted" | "transferred" => vec![delete(Kind::Issue, object("/issue", "issue")?)],
            _ => vec![refetch(
                Kind::Issue,
                Target::Issue {
                    number: number("/issue/number", "issue.number")?,
                },
            )],
        },
        "release" => match action {
            "deleted" => vec![delete(Kind::Release, object("/release", "release")?)],
            _ => vec![refetch(
                Kind::Release,
                Target::Release {
                    id: number("/release/id", "release.id")?,
                },
            )],
        },
        "create" | "delete" => {
            let name = text("/ref", "ref")?;
            let kind = if p.get("ref_type").and_then(Value::as_str) == Some("tag") {
                Kind::Tag
            } else {
                Kind::Branch
            };
            match (event, kind) {
                ("create", Kind::Tag) => vec![refetch(Kind::Tag, Target::Tag { name })],
                ("create", _) => vec![refetch(Kind::Branch, Target::Branch { name })],
                _ => vec![delete(kind, json!({ "name": name }))],
            }
        }
        "push" => push(p, &text("/ref", "ref")?, refetch, delete),
        "deployment" => {
            let mut items = vec![refetch(
                Kind::Deployment,
                Target::Deployment {
                    id: number("/deployment/id", "deployment.id")?,
                },
            )];
            if let Ok(name) = text("/deployment/environment", "deployment.environment") {
                items.push(refetch(Kind::Environment, Target::Environment { name }));
            }
            items
        }
        "deployment_status" => {
            let deployment_id = number("/deployment/id", "deployment.id")?;
            let id = number("/deployment_status/id", "deployment_status.id")?;
            let mut items = vec![
                refetch(
                    Kind::DeploymentStatus,
                    Target::DeploymentStatus { deployment_id, id },
                ),
                refetch(Kind::Deployment, Target::Deployment { id: deployment_id }),
            ];
            if let Ok(name) = text("/deployment/environment", "deployment.environment") {
                items.push(refetch(Kind::Environment, Target::Environment { name }));
            }
            items
        }
        "workflow_run" => {
            let mut items = vec![refetch(
                Kind::WorkflowRun,
                Target::WorkflowRun {
                    id: number("/workflow_run/id", "workflow_run.id")?,
                },
            )];
            if let Ok(id) = number("/workflow_run/workflow_id", "workflow_run.workflow_id") {
                items.push(refetch(Kind::Workflow, Target::Workflow { id }));
            }
            items
        }
        "dependabot_alert" => vec![refetch(
            Kind::DependabotAlert,
            Target::DependabotAlert {
                number: number("/alert/number", "alert.number")?,
            },
        )],
        "code_scanning_alert" => {
            vec![refetch(
                Kind::CodeScanningAlerts,
                Target::CodeScanningAlert {
                    number: number("/alert/number", "alert.number")?,
                },
            )]
        }
        "secret_scanning_alert" => {
            vec![refetch(
                Kind::SecretScanningAlerts,
                Target::SecretScanningAlert {
                    number: number("/alert/number", "alert.number")?,
                },
            )]
        }
        "organization" => match action {
            "member_removed" => vec![delete(
                Kind::User,
                object("/membership/user", "membership.user")?,
            )],
            _ => vec![refetch(
                Kind::User,
                Target::User {
                    login: text("/membership/user/login", "membership.user.login")?,
                },
            )],
        },
        "team" => match action {
            "deleted" => vec![delete(Kind::Team, object("/team", "team")?)],
            _ => vec![refetch(
                Kind::Team,
                Target::Team {
                    slug: text("/team/slug", "team.slug")?,
                },
            )],
        },
        // Membership changes a team's member list; a team deleted since is deleted here too.
        "membership" => {
            if p.pointer("/team/deleted").and_then(Value::as_bool) == Some(true) {
                vec![delete(Kind::Team, object("/team", "team")?)]
            } else {
                vec![refetch(
                    Kind::Team,
                    Target::Team {
                        slug: text("/team/slug", "team.slug")?,
                    },
                )]
            }
        }
        "member" => match action {
            "removed" => vec![delete(Kind::Collaborator, object("/member", "member")?)],
            _ => vec![refetch(
                Kind::Collaborator,
                Target::Collaborator {
                    login: text("/member/login", "member.login")?,
                },
            )],
        },
        other => return Err(RoutingError::NotHandled(other.to_owned())),
    };
    Ok(items)
}

fn push(
    p: &Value,
    git_ref: &str,
    refetch: impl Fn(Kind, Target) -> WorkItem,
    delete: impl Fn(Kind, Value) -> WorkItem,
) -> Vec<WorkItem> {
    let deleted = p.get("deleted").and_then(Value::as_bool) == Some(true);
    if let Some(tag) = git_ref.strip_prefix("refs/tags/") {
        let name = tag.to_owned();
        return vec![if deleted {
            delete(Kind::Tag, json!({ "name": name }))
        } else {
            refetch(Kind::Tag, Target::Tag { name })
        }];
    }
    let Some(branch) = git_ref.strip_prefix("refs/heads/") else {
        return Vec::new();
    };
    let branch = branch.to_owned();
    if deleted {
        return vec![delete(Kind::Branch, json!({ "name": branch }))];
    }
    let (paths, truncated) = changed_paths(p);
    let mut items = vec![refetch(
        Kind::Branch,
        Target::Branch {
            name: branch.clone(),
        },
    )];
    if !paths.is_empty() || truncated {
        for kind in [Kind::File, Kind::Folder, Kind::Workflow] {
            items.push(refetch(
                kind,
                Target::Paths {
                    branch: branch.clone(),
                    paths: paths.clone(),
                    truncated,
                },
            ));
        }
    }
    items
}

impl Target {
    /// Whether its object sits in a repository (all but teams and organization members).
    pub fn needs_repo(&self) -> bool {
        !matches!(self, Self::Team { .. } | Self::User { .. })
    }

    /// Where its object sits in the event's payload, enriched as the resync's objects are: what
    /// is mapped to know which entities to delete when GitHub no longer has the object.
    pub fn payload_object(&self, p: &Value) -> Option<Value> {
        let pointer = match self {
            Self::Repository => "/repository",
            Self::PullRequest { .. } => "/pull_request",
            Self::Issue { .. } => "/issue",
            Self::Release { .. } => "/release",
            Self::Deployment { .. } => "/deployment",
            Self::DeploymentStatus { .. } => "/deployment_status",
            Self::WorkflowRun { .. } => "/workflow_run",
            Self::DependabotAlert { .. }
            | Self::CodeScanningAlert { .. }
            | Self::SecretScanningAlert { .. } => "/alert",
            Self::Team { .. } => "/team",
            Self::User { .. } => "/membership/user",
            Self::Collaborator { .. } => "/member",
            Self::Tag { name } | Self::Branch { name } | Self::Environment { name } => {
                return Some(enriched(p, serde_json::json!({ "name": name })));
            }
            Self::Workflow { .. } | Self::Paths { .. } => return None,
        };
        p.pointer(pointer)
            .cloned()
            .map(|object| enriched(p, object))
    }
}

/// Every path a push added, modified or removed: from `commits` (or, in a payload the webhook
/// reduced, from `changed_paths`), each once, in order.
fn changed_paths(p: &Value) -> (Vec<String>, bool) {
    let mut paths: Vec<String> = Vec::new();
    let mut add = |list: Option<&Value>| {
        for path in list
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !paths.iter().any(|known| known == path) {
                paths.push(path.to_owned());
            }
        }
    };
    if let Some(reduced) = p.get("changed_paths") {
        for list in ["added", "modified", "removed"] {
            add(reduced.get(list));
        }
        let truncated = reduced
            .get("truncated")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        return (paths, truncated);
    }
    for commit in p
        .get("commits")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .chain(p.get("head_commit"))
    {
        for list in ["added", "modified", "removed"] {
            add(commit.get(list));
        }
    }
    (paths, false)
}

/// `raw` with the keys the resync adds to repository-scoped objects (`__repository`,
/// `__organization`), so a mapping identifies it the same way.
pub(crate) fn enriched(payload: &Value, mut raw: Value) -> Value {
    if let Some(fields) = raw.as_object_mut() {
        let mut add = |key: &str, value: Option<&Value>| {
            if let Some(value) = value.filter(|v| !v.is_null())
                && !fields.contains_key(key)
            {
                fields.insert(key.to_owned(), value.clone());
            }
        };
        add("__repository", payload.pointer("/repository/name"));
        add(
            "__organization",
            payload
                .pointer("/organization/login")
                .or_else(|| payload.pointer("/repository/owner/login")),
        );
    }
    raw
}
