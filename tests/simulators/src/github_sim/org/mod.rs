//! The simulator's synthetic organization: its size ([`OrgSpec`]) and a deterministic generator
//! for every object, built on GitHub's own example responses (`tests/fixtures/github/rest/` and
//! the Ocean examples) with ids, names, numbers and times filled in from indices. Nothing is
//! stored per item: item `i` of a list is computed when asked for. The organization-wide objects
//! are made here, the objects inside a repository in `repo_objects`, from the example responses
//! loaded by `templates`.

mod repo_objects;
mod templates;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use templates::Templates;

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
