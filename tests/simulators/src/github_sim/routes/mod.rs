//! The simulator's routing table: which REST endpoint a request is, and what the synthetic
//! organization answers. An explicit `match` over path segments; no auth, faults or paging here.
//! The organization-level and App routes are here, one repository's routes in `repo`.

mod repo;

use serde_json::{Value, json};

use super::hooks::HookCall;
use super::org::OrgData;
use repo::repo_route;

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
