//! Lower bounds of the GitHub requests a full resync of a simulated organization needs with the
//! built-in mapping (every kind): Σ⌈items/100⌉ over every list it must read, at least one request
//! per list, the fan-out lists included (a team's members, each deployment's statuses, each
//! workflow's runs, `GET /users/{login}` per member). Computed from the [`OrgSpec`] alone; it
//! must not depend on how the resync reads.

use port_github_simulators::github_sim::OrgSpec;

/// Requests needed to read a list of `items` at 100 a page: one at least.
pub fn pages(items: usize) -> u64 {
    items.div_ceil(100).max(1) as u64
}

/// The lower bound per kind of the built-in mapping, in the mapping's order. Lists read by two
/// kinds are counted once, with the first: the deployments (deployment, deployment-status), the
/// workflows (workflow, workflow-run) and the tree (file, folder). The workflow runs of one
/// workflow are capped at the selector's default `maxRuns` (100). Repositories with features
/// off still cost one request per switched-off list (it answers 403 or 404).
pub fn builtin_mapping_lower_bound(spec: &OrgSpec) -> Vec<(&'static str, u64)> {
    let repos = spec
        .installation_repos
        .unwrap_or(spec.repos)
        .min(spec.repos) as u64;
    let per_repo = |lists: u64| repos * lists;
    vec![
        ("organization", 1),
        // The repositories list, and `README.md` (the mapping's `includedFiles`) per repository.
        ("repository", pages(repos as usize) + repos),
        ("pull-request", per_repo(pages(spec.open_prs))),
        ("issue", per_repo(pages(spec.issues))),
        ("release", per_repo(pages(spec.releases))),
        ("tag", per_repo(pages(spec.tags))),
        ("branch", per_repo(pages(spec.branches))),
        ("environment", per_repo(pages(spec.environments))),
        ("deployment", per_repo(pages(spec.deployments))),
        (
            "deployment-status",
            per_repo(spec.deployments as u64 * pages(spec.statuses_per_deployment)),
        ),
        ("workflow", per_repo(pages(spec.workflows))),
        (
            "workflow-run",
            per_repo(spec.workflows as u64 * pages(spec.runs_per_workflow.min(100))),
        ),
        ("dependabot-alert", per_repo(pages(spec.dependabot_alerts))),
        (
            "code-scanning-alerts",
            per_repo(pages(spec.code_scanning_alerts)),
        ),
        (
            "secret-scanning-alerts",
            per_repo(pages(spec.secret_scanning_alerts)),
        ),
        (
            "team",
            pages(spec.teams) + spec.teams as u64 * pages(spec.members_per_team.min(spec.members)),
        ),
        ("user", pages(spec.members) + spec.members as u64),
        ("collaborator", per_repo(pages(spec.collaborators))),
        // One tree per repository serves both kinds; no file matches the built-in patterns
        // (`**/port.yml`, `services/*`) in the simulator's trees, so no contents request.
        ("file+folder", per_repo(1)),
    ]
}

/// The whole lower bound.
pub fn builtin_mapping_total(spec: &OrgSpec) -> u64 {
    builtin_mapping_lower_bound(spec)
        .iter()
        .map(|(_, n)| n)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_one_request_per_list_and_the_fan_out() {
        assert_eq!(pages(0), 1);
        assert_eq!(pages(100), 1);
        assert_eq!(pages(101), 2);
        let spec = OrgSpec {
            repos: 250,
            members: 150,
            teams: 3,
            members_per_team: 4,
            deployments: 2,
            statuses_per_deployment: 2,
            workflows: 2,
            runs_per_workflow: 150,
            ..OrgSpec::default()
        };
        let bound: std::collections::BTreeMap<_, _> =
            builtin_mapping_lower_bound(&spec).into_iter().collect();
        assert_eq!(bound["repository"], 3 + 250);
        assert_eq!(bound["deployment-status"], 250 * 2);
        assert_eq!(bound["workflow-run"], 250 * 2);
        assert_eq!(bound["team"], 1 + 3);
        assert_eq!(bound["user"], 2 + 150);
    }
}
