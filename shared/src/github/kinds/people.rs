//! The `team`, `user` (organization member) and `collaborator` kinds.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::{KindPages, Repo, SimpleKind, enrich, repo_keys, segment};
use crate::github::client::{Feature, GitHubClient};
use crate::github::error::GitHubError;
use crate::github::pages::{Page, Pages};

/// Port's team selector.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TeamSelector {
    /// Add each team's `members` (one list per team); on by default, as in Port's integration.
    pub members: bool,
}

impl Default for TeamSelector {
    fn default() -> Self {
        Self { members: true }
    }
}

/// The teams of `org`; with `members`, each team carries its members.
#[derive(Debug)]
pub struct TeamPages {
    client: GitHubClient,
    org: String,
    selector: TeamSelector,
    pages: Pages,
    details: MemberDetails,
}

/// The teams of `org`.
pub fn list_teams(
    client: &GitHubClient,
    org: &str,
    selector: &TeamSelector,
) -> Result<TeamPages, GitHubError> {
    Ok(TeamPages {
        client: client.clone(),
        org: org.to_owned(),
        selector: selector.clone(),
        pages: client.pages(
            &format!("/orgs/{}/teams", segment(org)),
            None,
            Feature::Required,
        )?,
        details: MemberDetails::new(),
    })
}

impl TeamPages {
    /// Where the list stands (the next page's URL; `None` when done).
    pub fn cursor(&self) -> Option<&str> {
        self.pages.cursor()
    }

    /// Continues the teams of `org` from [`TeamPages::cursor`].
    pub fn resume(
        client: &GitHubClient,
        org: &str,
        selector: &TeamSelector,
        cursor: &str,
    ) -> Result<Self, GitHubError> {
        Ok(Self {
            client: client.clone(),
            org: org.to_owned(),
            selector: selector.clone(),
            pages: client.resume_pages(cursor, None, Feature::Required)?,
            details: MemberDetails::new(),
        })
    }

    /// The next page of teams (`None` when done).
    pub async fn next_page(&mut self) -> Result<Option<Page>, GitHubError> {
        let Some(mut page) = self.pages.next_page().await? else {
            return Ok(None);
        };
        if self.selector.members {
            for team in &mut page.items {
                if let Some(slug) = team.get("slug").and_then(Value::as_str).map(str::to_owned) {
                    let members =
                        team_members(&self.client, &self.org, &slug, &mut self.details).await?;
                    enrich(
                        team,
                        &serde_json::Map::from_iter([("members".to_owned(), members)]),
                    );
                }
            }
        }
        Ok(Some(page))
    }

    /// Every team.
    pub async fn collect(mut self) -> Result<Vec<Value>, GitHubError> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            all.extend(page.items);
        }
        Ok(all)
    }
}

/// Names and emails of members already read (`GET /users/{login}`), shared by a list's teams.
type MemberDetails = HashMap<String, (Value, Value)>;

/// A team's members in the shape Port's integration gives mappings (GraphQL's
/// `{"nodes": [{login, name, email, isSiteAdmin}]}`). REST member lists carry neither name nor
/// email, so each member not in `details` yet is read once (`GET /users/{login}`); an email the
/// user keeps private is `""`, as in GraphQL.
async fn team_members(
    client: &GitHubClient,
    org: &str,
    slug: &str,
    details: &mut MemberDetails,
) -> Result<Value, GitHubError> {
    let members = client
        .pages(
            &format!("/orgs/{}/teams/{}/members", segment(org), segment(slug)),
            None,
            Feature::Required,
        )?
        .collect_items()
        .await?;
    let mut nodes = Vec::with_capacity(members.len());
    for member in &members {
        let login = member
            .get("login")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !login.is_empty() && !details.contains_key(login) {
            let (name, email) = match get_user(client, login).await? {
                Some(user) => (
                    user.get("name").cloned().unwrap_or(Value::Null),
                    match user.get("email") {
                        Some(Value::String(email)) => Value::from(email.clone()),
                        _ => Value::from(""),
                    },
                ),
                None => (Value::Null, Value::from("")),
            };
            details.insert(login.to_owned(), (name, email));
        }
        let (name, email) = details
            .get(login)
            .cloned()
            .unwrap_or((Value::Null, Value::from("")));
        nodes.push(serde_json::json!({
            "login": login,
            "name": name,
            "email": email,
            "isSiteAdmin": member.get("site_admin").cloned().unwrap_or(Value::Bool(false)),
        }));
    }
    Ok(serde_json::json!({ "nodes": nodes }))
}

/// One team (with members when selected), `None` when deleted.
pub async fn get_team(
    client: &GitHubClient,
    org: &str,
    slug: &str,
    selector: &TeamSelector,
) -> Result<Option<Value>, GitHubError> {
    let Some(mut team) = client
        .get_if_exists(&format!("/orgs/{}/teams/{}", segment(org), segment(slug)))
        .await?
    else {
        return Ok(None);
    };
    if selector.members {
        let members = team_members(client, org, slug, &mut MemberDetails::new()).await?;
        enrich(
            &mut team,
            &serde_json::Map::from_iter([("members".to_owned(), members)]),
        );
    }
    Ok(Some(team))
}

/// The members of `org`, each completed with `GET /users/{login}` (for `name` and `email`).
#[derive(Debug)]
pub struct UserPages {
    client: GitHubClient,
    pages: Pages,
}

/// The members of `org`.
pub fn list_users(client: &GitHubClient, org: &str) -> Result<UserPages, GitHubError> {
    Ok(UserPages {
        client: client.clone(),
        pages: client.pages(
            &format!("/orgs/{}/members", segment(org)),
            None,
            Feature::Required,
        )?,
    })
}

impl UserPages {
    /// Where the list stands (the next page's URL; `None` when done).
    pub fn cursor(&self) -> Option<&str> {
        self.pages.cursor()
    }

    /// Continues the members from [`UserPages::cursor`].
    pub fn resume(client: &GitHubClient, cursor: &str) -> Result<Self, GitHubError> {
        Ok(Self {
            client: client.clone(),
            pages: client.resume_pages(cursor, None, Feature::Required)?,
        })
    }

    /// The next page of users (`None` when done).
    pub async fn next_page(&mut self) -> Result<Option<Page>, GitHubError> {
        let Some(mut page) = self.pages.next_page().await? else {
            return Ok(None);
        };
        for member in &mut page.items {
            if let Some(login) = member
                .get("login")
                .and_then(Value::as_str)
                .map(str::to_owned)
                && let Some(user) = get_user(&self.client, &login).await?
            {
                *member = user;
            }
        }
        Ok(Some(page))
    }

    /// Every member.
    pub async fn collect(mut self) -> Result<Vec<Value>, GitHubError> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            all.extend(page.items);
        }
        Ok(all)
    }
}

/// One user, `None` when the account is gone. Carries `databaseId` (the numeric id) as well,
/// as the users of Port's integration do.
pub async fn get_user(client: &GitHubClient, login: &str) -> Result<Option<Value>, GitHubError> {
    let found = client
        .get_if_exists(&format!("/users/{}", segment(login)))
        .await?;
    Ok(found.map(|mut user| {
        let id = user.get("id").cloned().unwrap_or(Value::Null);
        enrich(
            &mut user,
            &serde_json::Map::from_iter([("databaseId".to_owned(), id)]),
        );
        user
    }))
}

/// The collaborators of `repo` (direct, outside and through the organization).
pub fn list_collaborators(client: &GitHubClient, repo: &Repo) -> Result<KindPages, GitHubError> {
    SimpleKind::Collaborator.list(client, repo)
}

/// One collaborator (the `.user` of `GET /collaborators/{u}/permission`), `None` when not one.
pub async fn get_collaborator(
    client: &GitHubClient,
    repo: &Repo,
    login: &str,
) -> Result<Option<Value>, GitHubError> {
    let found = client
        .get_if_exists(&repo.path(&format!("/collaborators/{}/permission", segment(login))))
        .await?;
    Ok(found.and_then(|mut permission| {
        let mut user = permission.get_mut("user")?.take();
        if let Some(role) = permission.get("role_name") {
            enrich(
                &mut user,
                &serde_json::Map::from_iter([("role_name".to_owned(), role.clone())]),
            );
        }
        enrich(&mut user, &repo_keys(repo));
        Some(user)
    }))
}
