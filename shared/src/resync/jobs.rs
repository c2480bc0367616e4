//! Resync jobs: what one SQS message asks the resync function to do. Jobs are small JSON
//! documents, versioned, and carry everything needed to continue (page cursors), so any
//! invocation can take any job.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::listing::ListCursor;
use crate::github::kinds::Repo;

/// The job format this code reads and writes.
pub const JOB_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub v: u32,
    /// The run this job belongs to; jobs of a superseded run are dropped.
    pub run: String,
    /// Unique within the run: a continuation gets a new id, a retry keeps it.
    pub id: String,
    pub org: String,
    /// The App installation that covers `org` (`None` with a personal token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation: Option<u64>,
    pub task: Task,
    /// Failed attempts so far (transient failures re-queue the job with a delay).
    #[serde(default)]
    pub attempt: u32,
    /// Epoch seconds before which the job must not run (a rate limit's reset lies further
    /// away than SQS's longest delay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Task {
    /// The organization-scoped resources (`organization`, `team`, `user`), from `resource` on.
    Org {
        resource: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cursor: Option<ListCursor>,
        #[serde(default)]
        part: u32,
    },
    /// One page of the organization's repositories after `cursor`: one [`Task::Repo`] job per
    /// repository, and a continuation for the next page.
    Repositories {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cursor: Option<String>,
        page: u32,
    },
    /// The repository's own resources (`repository`, then every repository-scoped kind), from
    /// `resource` on; `cursor` continues that resource's list.
    Repo {
        repo: RepoRef,
        resource: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cursor: Option<ListCursor>,
        /// Continuations of this repository so far (for the job id).
        #[serde(default)]
        part: u32,
    },
    /// Every job succeeded: delete what the run did not see, then report.
    Cleanup,
}

/// A repository as a job carries it (its REST object is needed for enrichment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepoRef {
    pub owner: String,
    pub name: String,
    pub default_branch: String,
    pub object: Value,
}

impl From<&Repo> for RepoRef {
    fn from(repo: &Repo) -> Self {
        Self {
            owner: repo.owner.clone(),
            name: repo.name.clone(),
            default_branch: repo.default_branch.clone(),
            object: repo.object.clone(),
        }
    }
}

impl From<RepoRef> for Repo {
    fn from(repo: RepoRef) -> Self {
        Self {
            owner: repo.owner,
            name: repo.name,
            default_branch: repo.default_branch,
            object: repo.object,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("not a resync job: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("resync job version {0} is not supported (this code reads {JOB_VERSION})")]
    Version(u32),
}

impl Job {
    pub fn parse(body: &str) -> Result<Self, JobError> {
        let job: Self = serde_json::from_str(body)?;
        if job.v != JOB_VERSION {
            return Err(JobError::Version(job.v));
        }
        Ok(job)
    }

    pub fn to_body(&self) -> String {
        // A job is plain data (strings, numbers, JSON values): serializing cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The same job, for another attempt.
    pub fn retried(&self) -> Self {
        Self {
            attempt: self.attempt + 1,
            not_before: None,
            ..self.clone()
        }
    }

    /// A new job of the same run and organization.
    pub fn child(&self, id: String, task: Task) -> Self {
        Self {
            v: JOB_VERSION,
            run: self.run.clone(),
            id,
            org: self.org.clone(),
            installation: self.installation,
            task,
            attempt: 0,
            not_before: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_and_refuse_other_versions() {
        let job = Job {
            v: JOB_VERSION,
            run: "r1".into(),
            id: "org/repos#0".into(),
            org: "org".into(),
            installation: Some(7),
            task: Task::Repositories {
                cursor: Some("https://api.github.com/x?page=2".into()),
                page: 1,
            },
            attempt: 0,
            not_before: None,
        };
        let body = job.to_body();
        assert_eq!(Job::parse(&body).unwrap(), job);
        let other = body.replace("\"v\":1", "\"v\":9");
        assert!(matches!(Job::parse(&other), Err(JobError::Version(9))));
        assert!(matches!(Job::parse("{}"), Err(JobError::Malformed(_))));
        assert!(matches!(
            Job::parse("not json"),
            Err(JobError::Malformed(_))
        ));
    }

    /// The cursor is typed, but a job carries it in the same JSON as before the type existed
    /// (`{"teams": "<url>"}`, `{"pages": {...}}`), so jobs queued by an older build still run.
    #[test]
    fn cursors_keep_their_wire_shape() {
        let body = serde_json::json!({
            "v": 1, "run": "r1", "id": "org/~#1", "org": "org", "attempt": 0,
            "task": {"type": "org", "resource": 2, "cursor": {"teams": "https://api.github.com/orgs/org/teams?page=3"}, "part": 1}
        })
        .to_string();
        let job = Job::parse(&body).unwrap();
        let Task::Org { cursor, .. } = &job.task else {
            panic!("not an org task: {job:?}");
        };
        assert_eq!(
            cursor,
            &Some(ListCursor::Teams(
                "https://api.github.com/orgs/org/teams?page=3".into()
            ))
        );
        assert_eq!(
            serde_json::from_str::<Value>(&job.to_body()).unwrap(),
            serde_json::from_str::<Value>(&body).unwrap()
        );
        let pages = serde_json::json!({"pages": {
            "next": "https://api.github.com/repos/org/a/releases?page=2",
            "items_field": null, "optional_feature": false, "enrichment": {"__repository": "a"}
        }});
        let cursor: ListCursor = serde_json::from_value(pages.clone()).unwrap();
        assert!(matches!(cursor, ListCursor::Pages(_)));
        assert_eq!(serde_json::to_value(&cursor).unwrap(), pages);
        // A cursor of no known form makes the job malformed (dropped with a warning).
        let unknown = body.replace("\"teams\"", "\"colours\"");
        assert!(matches!(Job::parse(&unknown), Err(JobError::Malformed(_))));
    }
}
