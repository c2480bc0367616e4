//! The simulator's synthetic organization: its size ([`OrgSpec`]) and a deterministic generator
//! for every object, built on GitHub's own example responses (`tests/fixtures/github/rest/` and
//! the Ocean examples) with ids, names, numbers and times filled in from indices. Nothing is
//! stored per item: item `i` of a list is computed when asked for.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

macro_rules! fixture {
    ($path:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/", $path))
    };
}

/// How big the simulated organization is. Every count is per repository unless named otherwise.
#[derive(Debug, Clone)]
pub struct OrgSpec {
    pub org: String,
    pub repos: usize,
    /// When set, the App installation covers only the first N repositories ("selected").
    pub installation_repos: Option<usize>,
    pub open_prs: usize,
    pub closed_prs: usize,
    pub issues: usize,
    pub releases: usize,
    pub tags: usize,
    pub branches: usize,
    pub environments: usize,
    pub deployments: usize,
    pub statuses_per_deployment: usize,
    pub workflows: usize,
    pub runs_per_workflow: usize,
    pub dependabot_alerts: usize,
    pub code_scanning_alerts: usize,
    pub secret_scanning_alerts: usize,
    /// Every Nth repository (index % N == 0) has alerts and environments turned off (0: none).
    pub features_off_every: usize,
    pub collaborators: usize,
    /// Organization-wide.
    pub members: usize,
    /// Organization-wide.
    pub teams: usize,
    pub members_per_team: usize,
    /// `apps/app-N/package.json` files per repository (plus `README.md` and `CODEOWNERS`).
    pub apps: usize,
    /// The time data is generated around (`created_at`, `updated_at`).
    pub epoch: DateTime<Utc>,
}

impl Default for OrgSpec {
    fn default() -> Self {
        Self {
            org: "sim-org".to_owned(),
            repos: 3,
            installation_repos: None,
            open_prs: 3,
            closed_prs: 3,
            issues: 3,
            releases: 2,
            tags: 2,
            branches: 2,
            environments: 2,
            deployments: 2,
            statuses_per_deployment: 2,
            workflows: 2,
            runs_per_workflow: 2,
            dependabot_alerts: 2,
            code_scanning_alerts: 2,
            secret_scanning_alerts: 2,
            features_off_every: 0,
            collaborators: 2,
            members: 3,
            teams: 2,
            members_per_team: 2,
            apps: 1,
            epoch: DateTime::<Utc>::from_timestamp(1_767_225_600, 0).unwrap_or_default(),
        }
    }
}

/// Parsed templates, one per object kind.
#[derive(Debug)]
pub(crate) struct Templates {
    repo: Value,
    pull: Value,
    issue: Value,
    release: Value,
    branch: Value,
    deployment: Value,
    team: Value,
    user: Value,
    dependabot: Value,
    code_scanning: Value,
    secret_scanning: Value,
    installation: Value,
    environment: Value,
    workflow: Value,
    run: Value,
    collaborator: Value,
}

fn first(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(mut items)) if !items.is_empty() => items.swap_remove(0),
        Ok(Value::Object(mut object)) => {
            object.retain(|key, _| !key.starts_with("__"));
            Value::Object(object)
        }
        _ => json!({}),
    }
}

impl Templates {
    pub(crate) fn load() -> Self {
        Self {
            repo: first(fixture!("github/rest/list-org-repos.json")),
            pull: first(fixture!("github/rest/list-pulls.octocrab-fixture.json")),
            issue: first(fixture!(
                "github/rest/list-issues.octokit-fixtures-recorded.json"
            )),
            release: first(fixture!("github/rest/list-releases.json")),
            branch: first(fixture!("github/rest/list-branches.json")),
            deployment: first(fixture!("github/rest/list-deployments.json")),
            team: first(fixture!("github/rest/list-teams.json")),
            user: first(fixture!(
                "github/rest/list-org-members.octocrab-fixture.json"
            )),
            dependabot: first(fixture!(
                "github/rest/list-dependabot-alerts-repo.octocrab-fixture.json"
            )),
            code_scanning: first(fixture!(
                "github/rest/list-code-scanning-alerts-repo.octocrab-fixture.json"
            )),
            secret_scanning: first(fixture!(
                "github/rest/list-secret-scanning-alerts-repo.octocrab-fixture.json"
            )),
            installation: first(fixture!("github/rest/list-app-installations.json")),
            environment: first(fixture!("ocean/examples/environment/a.json")),
            workflow: first(fixture!("ocean/examples/workflow/a.json")),
            run: first(fixture!("ocean/examples/workflow-run/a.json")),
            collaborator: first(fixture!("ocean/examples/collaborator/a.json")),
        }
    }
}

fn set(target: &mut Value, fields: Value) {
    if let (Value::Object(target), Value::Object(fields)) = (target, fields) {
        for (key, value) in fields {
            target.insert(key, value);
        }
    }
}

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Generates the objects of one [`OrgSpec`].
#[derive(Debug)]
pub(crate) struct OrgData {
    pub spec: OrgSpec,
    templates: Templates,
}

impl OrgData {
    pub(crate) fn new(spec: OrgSpec) -> Self {
        Self {
            spec,
            templates: Templates::load(),
        }
    }

    fn at(&self, hours_before: i64) -> String {
        stamp(self.spec.epoch - TimeDelta::hours(hours_before))
    }

    pub(crate) fn repo_name(&self, index: usize) -> String {
        format!("repo-{index:04}")
    }

    pub(crate) fn repo_index(&self, name: &str) -> Option<usize> {
        let index: usize = name.strip_prefix("repo-")?.parse().ok()?;
        (index < self.spec.repos && self.repo_name(index) == name).then_some(index)
    }

    pub(crate) fn features_off(&self, repo: usize) -> bool {
        self.spec.features_off_every > 0 && repo.is_multiple_of(self.spec.features_off_every)
    }

    pub(crate) fn owner(&self) -> Value {
        json!({"login": self.spec.org, "id": 9000, "node_id": "O_sim", "type": "Organization",
               "url": format!("https://api.github.com/users/{}", self.spec.org)})
    }

    pub(crate) fn organization(&self) -> Value {
        let org = &self.spec.org;
        json!({
            "login": org, "id": 9000, "node_id": "O_sim",
            "url": format!("https://api.github.com/orgs/{org}"),
            "repos_url": format!("https://api.github.com/orgs/{org}/repos"),
            "events_url": format!("https://api.github.com/orgs/{org}/events"),
            "hooks_url": format!("https://api.github.com/orgs/{org}/hooks"),
            "issues_url": format!("https://api.github.com/orgs/{org}/issues"),
            "members_url": format!("https://api.github.com/orgs/{org}/members{{/member}}"),
            "public_members_url": format!("https://api.github.com/orgs/{org}/public_members{{/member}}"),
            "avatar_url": "https://avatars.githubusercontent.com/u/9000?v=4",
            "description": "A simulated organization", "type": "Organization",
            "public_repos": self.spec.repos,
        })
    }

    /// `generation` changes `updated_at` so a touched repository gets new ETags.
    pub(crate) fn repo(&self, index: usize, generation: u64) -> Value {
        let name = self.repo_name(index);
        let full = format!("{}/{name}", self.spec.org);
        let mut repo = self.templates.repo.clone();
        set(
            &mut repo,
            json!({
                "id": 100_000 + index, "node_id": format!("R_sim{index}"), "name": name, "full_name": full,
                "owner": self.owner(), "private": index.is_multiple_of(3), "fork": index % 10 == 9,
                "visibility": if index.is_multiple_of(3) { "private" } else { "public" },
                "html_url": format!("https://github.com/{full}"), "url": format!("https://api.github.com/repos/{full}"),
                "description": format!("Simulated repository {index}"), "default_branch": "main",
                "language": if index.is_multiple_of(2) { "Rust" } else { "Python" },
                "created_at": self.at(24 * 365), "updated_at": self.at(index as i64 - generation as i64),
                "pushed_at": self.at(index as i64), "archived": false, "topics": ["simulated"],
            }),
        );
        repo
    }

    fn user_at(&self, index: usize) -> Value {
        let login = format!("user-{index}");
        let mut user = self.templates.user.clone();
        set(
            &mut user,
            json!({
                "login": login, "id": 500_000 + index, "node_id": format!("U_sim{index}"),
                "url": format!("https://api.github.com/users/{login}"), "html_url": format!("https://github.com/{login}"),
                "type": "User", "site_admin": false,
            }),
        );
        user
    }

    pub(crate) fn member(&self, index: usize) -> Value {
        self.user_at(index)
    }

    pub(crate) fn user_detail(&self, index: usize) -> Value {
        let mut user = self.user_at(index);
        set(
            &mut user,
            json!({"name": format!("User {index}"), "email": format!("user-{index}@example.com")}),
        );
        user
    }

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

    pub(crate) fn collaborator(&self, k: usize) -> Value {
        let mut collaborator = self.templates.collaborator.clone();
        let user = self.user_at(k);
        set(&mut collaborator, user);
        set(
            &mut collaborator,
            json!({"role_name": if k == 0 { "admin" } else { "write" }}),
        );
        collaborator
    }

    pub(crate) fn team_slug(&self, k: usize) -> String {
        format!("team-{k}")
    }

    pub(crate) fn team(&self, k: usize) -> Value {
        let mut team = self.templates.team.clone();
        let slug = self.team_slug(k);
        set(
            &mut team,
            json!({"id": 70_000 + k, "node_id": format!("T_sim{k}"), "name": format!("Team {k}"), "slug": slug,
            "html_url": format!("https://github.com/orgs/{}/teams/{slug}", self.spec.org)}),
        );
        team
    }

    pub(crate) fn installation(&self, id: u64) -> Value {
        let mut installation = self.templates.installation.clone();
        set(
            &mut installation,
            json!({
                "id": id, "account": self.owner(), "target_type": "Organization",
                "repository_selection": if self.spec.installation_repos.is_some() { "selected" } else { "all" },
            }),
        );
        installation
    }

    /// Paths of the files in every repository's tree.
    pub(crate) fn file_paths(&self) -> Vec<String> {
        let mut paths = vec!["README.md".to_owned(), "CODEOWNERS".to_owned()];
        paths.extend((0..self.spec.apps).map(|k| format!("apps/app-{k}/package.json")));
        paths.extend((0..self.spec.workflows).map(|k| format!(".github/workflows/w{k}.yml")));
        paths
    }

    pub(crate) fn file_content(&self, repo: usize, path: &str) -> Option<String> {
        let name = self.repo_name(repo);
        if path == "README.md" {
            return Some(format!("# {name}\n\nA simulated repository.\n"));
        }
        if path == "CODEOWNERS" {
            return Some("* @sim-org/team-0\n".to_owned());
        }
        if let Some(app) = path
            .strip_prefix("apps/")
            .and_then(|rest| rest.strip_suffix("/package.json"))
        {
            return self
                .file_paths()
                .iter()
                .any(|p| p == path)
                .then(|| format!("{{\"name\": \"{app}\", \"version\": \"1.0.{repo}\"}}"));
        }
        self.file_paths()
            .iter()
            .any(|p| p == path)
            .then(|| "on: push\njobs: {}\n".to_owned())
    }
}
