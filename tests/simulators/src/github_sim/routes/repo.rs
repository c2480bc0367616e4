//! The routes under `/repos/{owner}/{repo}/`: what one repository of the synthetic organization
//! answers (pulls, issues, releases, tags, branches, environments, deployments and their
//! statuses, workflows and runs, the three kinds of alerts, collaborators, the git tree and file
//! contents), and what a repository with its features off answers instead.

use serde_json::{Value, json};

use super::{Answer, Needs, Request, Routed, list, numbered, routed};
use crate::github_sim::org::OrgData;

pub(super) fn repo_route(
    data: &OrgData,
    request: &Request<'_>,
    repo: usize,
    rest: &[&str],
) -> Option<Routed> {
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
                       "size": text.len(), "content": crate::github_sim::server::wire::base64_lines(text.as_bytes())})
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
