//! The objects inside one repository of the synthetic organization: pull requests, issues,
//! releases, tags, branches, environments, deployments and their statuses, workflows and their
//! runs, and Dependabot, code scanning and secret scanning alerts, each computed from its
//! index.

use serde_json::{Value, json};

use super::{OrgData, set};

impl OrgData {
    pub(crate) fn pull(&self, repo: usize, number: usize, generation: u64) -> Value {
        let open = number <= self.spec.open_prs;
        let full = format!("{}/{}", self.spec.org, self.repo_name(repo));
        // Closed ones: the higher the number, the longer ago it was updated (7 days apart).
        let updated = if open {
            self.at(-(generation as i64))
        } else {
            self.at(24 * 7 * (number - self.spec.open_prs - 1) as i64)
        };
        let mut pull = self.templates.pull.clone();
        let repo_object = self.repo(repo, 0);
        set(
            &mut pull,
            json!({
                "id": repo * 100_000 + number, "node_id": format!("PR_sim{repo}_{number}"), "number": number,
                "state": if open { "open" } else { "closed" }, "title": format!("Change {number} of {full}"),
                "url": format!("https://api.github.com/repos/{full}/pulls/{number}"),
                "html_url": format!("https://github.com/{full}/pull/{number}"),
                "user": self.user_at(number % self.spec.members.max(1)),
                "assignees": [], "requested_reviewers": [], "labels": [],
                "created_at": self.at(24 * 7 * number as i64 + 48), "updated_at": updated,
                "closed_at": if open { Value::Null } else { Value::from(updated.clone()) },
                "merged_at": if open { Value::Null } else { Value::from(updated) },
                "head": {"ref": format!("feature-{number}"), "sha": format!("{:040x}", repo * 1000 + number), "repo": repo_object.clone()},
                "base": {"ref": "main", "sha": format!("{:040x}", repo), "repo": repo_object},
            }),
        );
        pull
    }

    pub(crate) fn issue(&self, repo: usize, number: usize) -> Value {
        let full = format!("{}/{}", self.spec.org, self.repo_name(repo));
        let mut issue = self.templates.issue.clone();
        if let Value::Object(object) = &mut issue {
            object.remove("pull_request");
        }
        set(
            &mut issue,
            json!({
                "id": 900_000_000 + repo * 10_000 + number, "node_id": format!("I_sim{repo}_{number}"), "number": number,
                "title": format!("Issue {number} of {full}"), "state": "open",
                "url": format!("https://api.github.com/repos/{full}/issues/{number}"),
                "html_url": format!("https://github.com/{full}/issues/{number}"),
                "repository_url": format!("https://api.github.com/repos/{full}"),
                "user": self.user_at(number % self.spec.members.max(1)), "assignees": [], "labels": [],
                "created_at": self.at(24 * number as i64), "updated_at": self.at(number as i64), "closed_at": null,
            }),
        );
        issue
    }

    pub(crate) fn release(&self, repo: usize, k: usize) -> Value {
        let mut release = self.templates.release.clone();
        set(
            &mut release,
            json!({
                "id": repo * 1_000 + k + 1, "node_id": format!("RE_sim{repo}_{k}"), "tag_name": format!("v1.{k}.0"),
                "name": format!("Release 1.{k}"), "created_at": self.at(24 * k as i64), "published_at": self.at(24 * k as i64),
                "html_url": format!("https://github.com/{}/{}/releases/tag/v1.{k}.0", self.spec.org, self.repo_name(repo)),
            }),
        );
        release
    }

    pub(crate) fn tag(&self, repo: usize, k: usize) -> Value {
        let full = format!("{}/{}", self.spec.org, self.repo_name(repo));
        json!({
            "name": format!("v1.{k}.0"),
            "commit": {"sha": format!("{:040x}", repo * 7919 + k), "url": format!("https://api.github.com/repos/{full}/commits/{:040x}", repo * 7919 + k)},
            "zipball_url": format!("https://api.github.com/repos/{full}/zipball/v1.{k}.0"),
            "tarball_url": format!("https://api.github.com/repos/{full}/tarball/v1.{k}.0"),
            "node_id": format!("REF_sim{repo}_{k}"),
        })
    }

    pub(crate) fn branch_name(&self, k: usize) -> String {
        if k == 0 {
            "main".to_owned()
        } else {
            format!("feature-{k}")
        }
    }

    pub(crate) fn branch(&self, repo: usize, k: usize) -> Value {
        let mut branch = self.templates.branch.clone();
        set(
            &mut branch,
            json!({
                "name": self.branch_name(k), "protected": k == 0,
                "commit": {"sha": format!("{:040x}", repo * 31 + k), "url": "https://api.github.com/commits"},
            }),
        );
        branch
    }

    pub(crate) fn environment(&self, repo: usize, k: usize) -> Value {
        let mut environment = self.templates.environment.clone();
        let name = format!("env-{k}");
        set(
            &mut environment,
            json!({
                "id": repo * 100 + k, "node_id": format!("EN_sim{repo}_{k}"), "name": name,
                "html_url": format!("https://github.com/{}/{}/deployments/activity_log?environments_filter={name}", self.spec.org, self.repo_name(repo)),
            }),
        );
        environment
    }

    pub(crate) fn deployment_id(&self, repo: usize, k: usize) -> usize {
        repo * 1_000 + k + 1
    }

    pub(crate) fn deployment(&self, repo: usize, k: usize) -> Value {
        let mut deployment = self.templates.deployment.clone();
        set(
            &mut deployment,
            json!({
                "id": self.deployment_id(repo, k), "node_id": format!("DE_sim{repo}_{k}"),
                "environment": format!("env-{}", k % self.spec.environments.max(1)), "created_at": self.at(k as i64),
            }),
        );
        deployment
    }

    pub(crate) fn deployment_status(&self, deployment_id: usize, k: usize) -> Value {
        json!({
            "id": deployment_id * 100 + k + 1, "node_id": format!("DES_sim{deployment_id}_{k}"),
            "state": if k == 0 { "success" } else { "in_progress" }, "description": format!("Status {k}"),
            "environment": "env-0", "created_at": self.at(k as i64), "updated_at": self.at(k as i64),
            "creator": self.user_at(0),
        })
    }

    pub(crate) fn workflow_id(&self, repo: usize, k: usize) -> usize {
        repo * 100 + k + 1
    }

    pub(crate) fn workflow(&self, repo: usize, k: usize) -> Value {
        let mut workflow = self.templates.workflow.clone();
        set(
            &mut workflow,
            json!({
                "id": self.workflow_id(repo, k), "node_id": format!("W_sim{repo}_{k}"), "name": format!("Workflow {k}"),
                "path": format!(".github/workflows/w{k}.yml"), "state": "active",
            }),
        );
        workflow
    }

    pub(crate) fn run(&self, repo: usize, workflow_id: usize, k: usize) -> Value {
        let mut run = self.templates.run.clone();
        set(
            &mut run,
            json!({
                "id": workflow_id * 1_000 + k + 1, "node_id": format!("WR_sim{workflow_id}_{k}"), "run_number": k + 1,
                "workflow_id": workflow_id, "status": "completed", "conclusion": if k.is_multiple_of(2) { "success" } else { "failure" },
                "repository": self.repo(repo, 0), "head_repository": self.repo(repo, 0),
                "created_at": self.at(k as i64), "updated_at": self.at(k as i64),
            }),
        );
        run
    }

    pub(crate) fn dependabot(&self, repo: usize, number: usize) -> Value {
        let mut alert = self.templates.dependabot.clone();
        let full = format!("{}/{}", self.spec.org, self.repo_name(repo));
        set(
            &mut alert,
            json!({"number": number, "state": "open",
            "html_url": format!("https://github.com/{full}/security/dependabot/{number}")}),
        );
        alert
    }

    pub(crate) fn code_scanning(&self, repo: usize, number: usize) -> Value {
        let mut alert = self.templates.code_scanning.clone();
        let full = format!("{}/{}", self.spec.org, self.repo_name(repo));
        set(
            &mut alert,
            json!({"number": number, "state": "open",
            "html_url": format!("https://github.com/{full}/security/code-scanning/{number}")}),
        );
        alert
    }

    pub(crate) fn secret_scanning(&self, repo: usize, number: usize, hide_secret: bool) -> Value {
        let mut alert = self.templates.secret_scanning.clone();
        let full = format!("{}/{}", self.spec.org, self.repo_name(repo));
        set(
            &mut alert,
            json!({"number": number, "state": "open",
            "html_url": format!("https://github.com/{full}/security/secret-scanning/{number}")}),
        );
        if hide_secret && let Value::Object(object) = &mut alert {
            object.remove("secret");
        }
        alert
    }
}
