//! The simulator's routing table: which REST endpoint a request is, and what the synthetic
//! organization answers. An explicit `match` over path segments; no auth, faults or paging here.

use serde_json::{Value, json};

use super::hooks::HookCall;
use super::org::OrgData;

/// What an endpoint answers before paging, ETags and rate-limit headers are applied.
#[derive(Debug)]
pub(crate) enum Answer {
    Object(Value),
    /// A list; `wrapper` names the field of an object-shaped list (`{"total_count", wrapper: [...]}`).
    List {
        items: Vec<Value>,
        wrapper: Option<&'static str>,
    },
    NotFound(&'static str),
    Forbidden(&'static str),
    /// Any status with a body (201, 202, 204, 400, 422…); never paged or cached.
    Status(u16, Value),
    /// A hooks call, answered by the mutable hook store once auth and faults have passed.
    Hooks(HookCall),
}

/// Whose credentials an endpoint needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Needs {
    AppJwt,
    Token,
}

/// One matched endpoint: its template (for counters), its auth, and its answer.
#[derive(Debug)]
pub(crate) struct Routed {
    pub endpoint: String,
    pub needs: Needs,
    pub answer: Answer,
    /// POST /app/installations/{id}/access_tokens: mint a token for this installation.
    pub mint_for: Option<u64>,
}

pub(crate) struct Request<'a> {
    pub method: &'a str,
    pub segments: Vec<String>,
    pub query: &'a [(String, String)],
    pub generation: &'a dyn Fn(usize) -> u64,
    /// Repositories deleted since the simulator started.
    pub removed: &'a std::collections::HashSet<usize>,
    pub installation_id: u64,
    /// The App ID (or client ID) the simulator's App has.
    pub app_id: &'a str,
    /// What the installation is granted now (reported by the installation endpoints).
    pub permissions: &'a std::collections::BTreeMap<String, String>,
    /// The webhook events the installation subscribes to now.
    pub events: &'a [String],
}

impl Request<'_> {
    /// The App installation as GitHub reports it, with its current permissions and events.
    fn installation(&self, data: &OrgData) -> Value {
        let mut installation = data.installation(self.installation_id);
        if let Some(object) = installation.as_object_mut() {
            object.insert("permissions".to_owned(), json!(self.permissions));
            object.insert("events".to_owned(), json!(self.events));
        }
        installation
    }

    /// The App as `GET /app` shows it: its ID (a number when it is one), owner, and the
    /// permissions and events it asks for (those the installation has).
    fn app(&self, data: &OrgData) -> Value {
        let id = self
            .app_id
            .parse::<u64>()
            .map_or_else(|_| json!(self.app_id), |id| json!(id));
        json!({
            "id": id,
            "slug": "port-github-sim",
            "client_id": format!("Iv1.sim{}", self.app_id),
            "name": "Port GitHub (simulated)",
            "owner": data.owner(),
            "permissions": self.permissions,
            "events": self.events,
            "installations_count": 1,
        })
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

fn routed(endpoint: &str, needs: Needs, answer: Answer) -> Option<Routed> {
    Some(Routed {
        endpoint: endpoint.to_owned(),
        needs,
        answer,
        mint_for: None,
    })
}

fn list(items: Vec<Value>) -> Answer {
    Answer::List {
        items,
        wrapper: None,
    }
}

fn numbered<F: Fn(usize) -> Value>(count: usize, make: F) -> Vec<Value> {
    (0..count).map(make).collect()
}

/// Matches a request; `None` for an unknown endpoint (answered 404, counted as `unknown`).
pub(crate) fn route(data: &OrgData, request: &Request<'_>) -> Option<Routed> {
    let spec = &data.spec;
    let segments: Vec<&str> = request.segments.iter().map(String::as_str).collect();
    let org_matches = |org: &str| org.eq_ignore_ascii_case(&spec.org);
    match (request.method, segments.as_slice()) {
        ("GET", ["app"]) => routed("GET /app", Needs::AppJwt, Answer::Object(request.app(data))),
        ("GET", ["user"]) => routed(
            "GET /user",
            Needs::Token,
            Answer::Object(data.user_detail(0)),
        ),
        ("GET", ["app", "installations"]) => routed(
            "GET /app/installations",
            Needs::AppJwt,
            list(vec![request.installation(data)]),
        ),
        ("GET", ["app", "installations", id]) => {
            let id: u64 = id.parse().ok()?;
            routed(
                "GET /app/installations/{id}",
                Needs::AppJwt,
                if id == request.installation_id {
                    Answer::Object(request.installation(data))
                } else {
                    Answer::NotFound("Not Found")
                },
            )
        }
        ("POST", ["app", "installations", id, "access_tokens"]) => {
            let id: u64 = id.parse().ok()?;
            let mut found = routed(
                "POST /app/installations/{id}/access_tokens",
                Needs::AppJwt,
                if id == request.installation_id {
                    Answer::Object(json!({}))
                } else {
                    Answer::NotFound("Not Found")
                },
            )?;
            found.mint_for = (id == request.installation_id).then_some(id);
            Some(found)
        }
        ("GET", ["installation", "repositories"]) => {
            let count = spec
                .installation_repos
                .unwrap_or(spec.repos)
                .min(spec.repos);
            let items = (0..count)
                .filter(|i| !request.removed.contains(i))
                .map(|i| data.repo(i, (request.generation)(i)))
                .collect();
            routed(
                "GET /installation/repositories",
                Needs::Token,
                Answer::List {
                    items,
                    wrapper: Some("repositories"),
                },
            )
        }
        ("GET", ["orgs", org]) if org_matches(org) => routed(
            "GET /orgs/{org}",
            Needs::Token,
            Answer::Object(data.organization()),
        ),
        ("GET", ["users", login]) => {
            let index = login
                .strip_prefix("user-")
                .and_then(|i| i.parse::<usize>().ok())
                .filter(|i| *i < spec.members);
            let answer = match index {
                Some(index) => Answer::Object(data.user_detail(index)),
                None if org_matches(login) => Answer::Object(data.organization()),
                None => Answer::NotFound("Not Found"),
            };
            routed("GET /users/{login}", Needs::Token, answer)
        }
        ("GET", ["orgs", org, "repos"]) if org_matches(org) => {
            let items = (0..spec.repos)
                .filter(|i| !request.removed.contains(i))
                .map(|i| data.repo(i, (request.generation)(i)))
                .collect();
            routed("GET /orgs/{org}/repos", Needs::Token, list(items))
        }
        (method, ["orgs", org, "hooks", rest @ ..]) if org_matches(org) => {
            let id = |text: &str| text.parse::<u64>().ok();
            let (endpoint, call) = match (method, rest) {
                ("GET", []) => ("GET /orgs/{org}/hooks", HookCall::List),
                ("POST", []) => ("POST /orgs/{org}/hooks", HookCall::Create),
                ("GET", [hook]) => ("GET /orgs/{org}/hooks/{id}", HookCall::Get(id(hook)?)),
                ("PATCH", [hook]) => ("PATCH /orgs/{org}/hooks/{id}", HookCall::Patch(id(hook)?)),
                ("DELETE", [hook]) => {
                    ("DELETE /orgs/{org}/hooks/{id}", HookCall::Delete(id(hook)?))
                }
                ("GET", [hook, "deliveries"]) => (
                    "GET /orgs/{org}/hooks/{id}/deliveries",
                    HookCall::Deliveries(id(hook)?),
                ),
                ("POST", [hook, "deliveries", delivery, "attempts"]) => (
                    "POST /orgs/{org}/hooks/{id}/deliveries/{id}/attempts",
                    HookCall::Redeliver {
                        hook: id(hook)?,
                        delivery: id(delivery)?,
                    },
                ),
                _ => return None,
            };
            routed(endpoint, Needs::Token, Answer::Hooks(call))
        }
        ("GET", ["orgs", org, "members"]) if org_matches(org) => routed(
            "GET /orgs/{org}/members",
            Needs::Token,
            list(numbered(spec.members, |i| data.member(i))),
        ),
        ("GET", ["orgs", org, "teams"]) if org_matches(org) => routed(
            "GET /orgs/{org}/teams",
            Needs::Token,
            list(numbered(spec.teams, |i| data.team(i))),
        ),
        ("GET", ["orgs", org, "teams", slug]) if org_matches(org) => {
            let answer = match (0..spec.teams).find(|k| data.team_slug(*k) == *slug) {
                Some(k) => Answer::Object(data.team(k)),
                None => Answer::NotFound("Not Found"),
            };
            routed("GET /orgs/{org}/teams/{slug}", Needs::Token, answer)
        }
        ("GET", ["orgs", org, "teams", slug, "members"]) if org_matches(org) => {
            let answer = match (0..spec.teams).find(|k| data.team_slug(*k) == *slug) {
                Some(k) => list(numbered(spec.members_per_team.min(spec.members), |i| {
                    data.member((k + i) % spec.members.max(1))
                })),
                None => Answer::NotFound("Not Found"),
            };
            routed("GET /orgs/{org}/teams/{slug}/members", Needs::Token, answer)
        }
        ("GET", ["repos", owner, name, rest @ ..]) if org_matches(owner) => {
            let Some(repo) = data
                .repo_index(name)
                .filter(|i| !request.removed.contains(i))
            else {
                return routed(
                    "GET /repos/{o}/{r}/*",
                    Needs::Token,
                    Answer::NotFound("Not Found"),
                );
            };
            repo_route(data, request, repo, rest)
        }
        _ => None,
    }
}

fn repo_route(data: &OrgData, request: &Request<'_>, repo: usize, rest: &[&str]) -> Option<Routed> {
    let spec = &data.spec;
    let off = data.features_off(repo);
    let number = |text: &str| text.parse::<usize>().ok();
    let one = |endpoint: &str, found: Option<Value>| {
        routed(
            endpoint,
            Needs::Token,
            found
                .map(Answer::Object)
                .unwrap_or(Answer::NotFound("Not Found")),
        )
    };
    let generation = (request.generation)(repo);
    match rest {
        [] => one("GET /repos/{o}/{r}", Some(data.repo(repo, generation))),
        ["pulls"] => {
            let state = request.param("state").unwrap_or("open");
            let open = (1..=spec.open_prs).map(|n| data.pull(repo, n, generation));
            let closed = (spec.open_prs + 1..=spec.open_prs + spec.closed_prs)
                .map(|n| data.pull(repo, n, generation));
            let items: Vec<Value> = match state {
                "closed" => closed.collect(),
                "all" => open.chain(closed).collect(),
                _ => open.collect(),
            };
            routed("GET /repos/{o}/{r}/pulls", Needs::Token, list(items))
        }
        ["pulls", n] => one(
            "GET /repos/{o}/{r}/pulls/{n}",
            number(n)
                .filter(|n| (1..=spec.open_prs + spec.closed_prs).contains(n))
                .map(|n| data.pull(repo, n, generation)),
        ),
        ["issues"] => {
            let first = spec.open_prs + spec.closed_prs + 1;
            let items = match request.param("state").unwrap_or("open") {
                "closed" => Vec::new(),
                _ => (first..first + spec.issues)
                    .map(|n| data.issue(repo, n))
                    .collect(),
            };
            routed("GET /repos/{o}/{r}/issues", Needs::Token, list(items))
        }
        ["issues", n] => {
            let first = spec.open_prs + spec.closed_prs + 1;
            one(
                "GET /repos/{o}/{r}/issues/{n}",
                number(n)
                    .filter(|n| (first..first + spec.issues).contains(n))
                    .map(|n| data.issue(repo, n)),
            )
        }
        ["releases"] => routed(
            "GET /repos/{o}/{r}/releases",
            Needs::Token,
            list(numbered(spec.releases, |k| data.release(repo, k))),
        ),
        ["releases", id] => one(
            "GET /repos/{o}/{r}/releases/{id}",
            number(id)
                .and_then(|id| (0..spec.releases).find(|k| repo * 1_000 + k + 1 == id))
                .map(|k| data.release(repo, k)),
        ),
        ["tags"] => routed(
            "GET /repos/{o}/{r}/tags",
            Needs::Token,
            list(numbered(spec.tags, |k| data.tag(repo, k))),
        ),
        ["git", "refs", "tags", tag] => {
            let found = (0..spec.tags).map(|k| data.tag(repo, k)).find(|t| t["name"] == *tag).map(|t| {
                json!({"ref": format!("refs/tags/{tag}"), "node_id": t["node_id"], "object": {"sha": t["commit"]["sha"], "type": "commit", "url": t["commit"]["url"]}})
            });
            one("GET /repos/{o}/{r}/git/refs/tags/{tag}", found)
        }
        ["branches"] => routed(
            "GET /repos/{o}/{r}/branches",
            Needs::Token,
            list(numbered(spec.branches, |k| data.branch(repo, k))),
        ),
        ["branches", branch] => one(
            "GET /repos/{o}/{r}/branches/{b}",
            (0..spec.branches)
                .find(|k| data.branch_name(*k) == *branch)
                .map(|k| data.branch(repo, k)),
        ),
        ["branches", branch, "protection"] => {
            let answer = if *branch == "main" && spec.branches > 0 {
                Answer::Object(
                    json!({"required_pull_request_reviews": {"required_approving_review_count": 1}, "enforce_admins": {"enabled": true}}),
                )
            } else {
                Answer::NotFound("Branch not protected")
            };
            routed(
                "GET /repos/{o}/{r}/branches/{b}/protection",
                Needs::Token,
                answer,
            )
        }
        ["environments"] if off => routed(
            "GET /repos/{o}/{r}/environments",
            Needs::Token,
            Answer::NotFound("Not Found"),
        ),
        ["environments"] => routed(
            "GET /repos/{o}/{r}/environments",
            Needs::Token,
            Answer::List {
                items: numbered(spec.environments, |k| data.environment(repo, k)),
                wrapper: Some("environments"),
            },
        ),
        ["environments", name] => one(
            "GET /repos/{o}/{r}/environments/{name}",
            (0..spec.environments)
                .map(|k| data.environment(repo, k))
                .find(|e| e["name"] == *name),
        ),
        ["deployments"] => routed(
            "GET /repos/{o}/{r}/deployments",
            Needs::Token,
            list(numbered(spec.deployments, |k| data.deployment(repo, k))),
        ),
        ["deployments", id] => one(
            "GET /repos/{o}/{r}/deployments/{id}",
            number(id)
                .and_then(|id| (0..spec.deployments).find(|k| data.deployment_id(repo, *k) == id))
                .map(|k| data.deployment(repo, k)),
        ),
        ["deployments", id, "statuses"] => {
            let answer = match number(id)
                .filter(|id| (0..spec.deployments).any(|k| data.deployment_id(repo, k) == *id))
            {
                Some(id) => list(numbered(spec.statuses_per_deployment, |k| {
                    data.deployment_status(id, k)
                })),
                None => Answer::NotFound("Not Found"),
            };
            routed(
                "GET /repos/{o}/{r}/deployments/{id}/statuses",
                Needs::Token,
                answer,
            )
        }
        ["deployments", id, "statuses", status] => {
            let found = number(id)
                .filter(|id| (0..spec.deployments).any(|k| data.deployment_id(repo, k) == *id))
                .and_then(|id| {
                    (0..spec.statuses_per_deployment)
                        .map(|k| data.deployment_status(id, k))
                        .find(|s| s["id"].as_u64().is_some_and(|id| id.to_string() == *status))
                });
            one(
                "GET /repos/{o}/{r}/deployments/{id}/statuses/{status_id}",
                found,
            )
        }
        ["actions", "workflows"] => routed(
            "GET /repos/{o}/{r}/actions/workflows",
            Needs::Token,
            Answer::List {
                items: numbered(spec.workflows, |k| data.workflow(repo, k)),
                wrapper: Some("workflows"),
            },
        ),
        ["actions", "workflows", id] => one(
            "GET /repos/{o}/{r}/actions/workflows/{id}",
            (0..spec.workflows)
                .find(|k| {
                    data.workflow_id(repo, *k).to_string() == *id || format!("w{k}.yml") == *id
                })
                .map(|k| data.workflow(repo, k)),
        ),
        ["actions", "workflows", id, "runs"] => {
            let answer = match number(id)
                .filter(|id| (0..spec.workflows).any(|k| data.workflow_id(repo, k) == *id))
            {
                Some(id) => Answer::List {
                    items: numbered(spec.runs_per_workflow, |k| data.run(repo, id, k)),
                    wrapper: Some("workflow_runs"),
                },
                None => Answer::NotFound("Not Found"),
            };
            routed(
                "GET /repos/{o}/{r}/actions/workflows/{id}/runs",
                Needs::Token,
                answer,
            )
        }
        ["actions", "runs", id] => {
            let found = number(id).and_then(|id| {
                let workflow = id / 1_000;
                let k = (id % 1_000).checked_sub(1)?;
                ((0..spec.workflows).any(|w| data.workflow_id(repo, w) == workflow)
                    && k < spec.runs_per_workflow)
                    .then(|| data.run(repo, workflow, k))
            });
            one("GET /repos/{o}/{r}/actions/runs/{id}", found)
        }
        ["dependabot", "alerts", ..] if off => routed(
            "GET /repos/{o}/{r}/dependabot/alerts",
            Needs::Token,
            Answer::Forbidden("Dependabot alerts are disabled for this repository."),
        ),
        ["dependabot", "alerts"] => {
            let wanted = request
                .param("state")
                .unwrap_or("auto_dismissed,dismissed,fixed,open");
            let items = if wanted.split(',').any(|s| s == "open") {
                numbered(spec.dependabot_alerts, |k| data.dependabot(repo, k + 1))
            } else {
                Vec::new()
            };
            routed(
                "GET /repos/{o}/{r}/dependabot/alerts",
                Needs::Token,
                list(items),
            )
        }
        ["dependabot", "alerts", n] => one(
            "GET /repos/{o}/{r}/dependabot/alerts/{n}",
            number(n)
                .filter(|n| (1..=spec.dependabot_alerts).contains(n))
                .map(|n| data.dependabot(repo, n)),
        ),
        ["code-scanning", "alerts", ..] if off => routed(
            "GET /repos/{o}/{r}/code-scanning/alerts",
            Needs::Token,
            Answer::Forbidden(
                "Advanced Security must be enabled for this repository to use code scanning.",
            ),
        ),
        ["code-scanning", "alerts"] => {
            let items = if request.param("state").unwrap_or("open") == "open" {
                numbered(spec.code_scanning_alerts, |k| {
                    data.code_scanning(repo, k + 1)
                })
            } else {
                Vec::new()
            };
            routed(
                "GET /repos/{o}/{r}/code-scanning/alerts",
                Needs::Token,
                list(items),
            )
        }
        ["code-scanning", "alerts", n] => one(
            "GET /repos/{o}/{r}/code-scanning/alerts/{n}",
            number(n)
                .filter(|n| (1..=spec.code_scanning_alerts).contains(n))
                .map(|n| data.code_scanning(repo, n)),
        ),
        ["secret-scanning", "alerts", ..] if off => routed(
            "GET /repos/{o}/{r}/secret-scanning/alerts",
            Needs::Token,
            Answer::NotFound("Secret scanning is disabled on this repository."),
        ),
        ["secret-scanning", "alerts"] => {
            let hide = request.param("hide_secret") == Some("true");
            let items = if request.param("state").unwrap_or("open") == "open" {
                numbered(spec.secret_scanning_alerts, |k| {
                    data.secret_scanning(repo, k + 1, hide)
                })
            } else {
                Vec::new()
            };
            routed(
                "GET /repos/{o}/{r}/secret-scanning/alerts",
                Needs::Token,
                list(items),
            )
        }
        ["secret-scanning", "alerts", n] => {
            let hide = request.param("hide_secret") == Some("true");
            one(
                "GET /repos/{o}/{r}/secret-scanning/alerts/{n}",
                number(n)
                    .filter(|n| (1..=spec.secret_scanning_alerts).contains(n))
                    .map(|n| data.secret_scanning(repo, n, hide)),
            )
        }
        ["collaborators"] => routed(
            "GET /repos/{o}/{r}/collaborators",
            Needs::Token,
            list(numbered(spec.collaborators, |k| data.collaborator(k))),
        ),
        ["collaborators", login, "permission"] => {
            let found = (0..spec.collaborators).map(|k| data.collaborator(k)).find(|c| c["login"] == *login).map(|user| {
                json!({"permission": "write", "role_name": user["role_name"], "user": user})
            });
            one("GET /repos/{o}/{r}/collaborators/{u}/permission", found)
        }
        ["git", "trees", branch] => {
            let found = (0..spec.branches)
                .any(|k| data.branch_name(k) == *branch)
                .then(|| tree(data, repo));
            one("GET /repos/{o}/{r}/git/trees/{branch}", found)
        }
        ["contents", path @ ..] => {
            let path = path.join("/");
            let found = data.file_content(repo, &path).map(|text| {
                json!({"type": "file", "encoding": "base64", "name": path.rsplit('/').next().unwrap_or(&path), "path": path,
                       "size": text.len(), "content": super::server::base64_lines(text.as_bytes())})
            });
            one("GET /repos/{o}/{r}/contents/{path}", found)
        }
        _ => None,
    }
}

fn tree(data: &OrgData, repo: usize) -> Value {
    let mut entries = Vec::new();
    let mut dirs: Vec<String> = Vec::new();
    for path in data.file_paths() {
        let mut prefix = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            if !dirs.contains(&prefix) {
                dirs.push(prefix.clone());
                entries.push(json!({"path": prefix, "mode": "040000", "type": "tree", "sha": format!("{:040x}", dirs.len())}));
            }
        }
        let size = data
            .file_content(repo, &path)
            .map(|text| text.len())
            .unwrap_or(0);
        entries.push(json!({"path": path, "mode": "100644", "type": "blob", "size": size, "sha": format!("{:040x}", repo * 97 + entries.len())}));
    }
    json!({"sha": format!("{:040x}", repo), "tree": entries, "truncated": false})
}
