//! The Sample heading of `port-github check`: for each resource of the mapping, one object
//! fetched from GitHub as the resync lists it (the first page of its listing, its first item;
//! repository kinds from the organization's first repository) and mapped with the resource,
//! showing the entity's identifier and each field error. The listing is the resync's
//! (`resync::listing`), the mapping the core's; nothing is written anywhere.

use port_github_core::github::GitHubError;
use port_github_core::github::kinds::Repo;
use port_github_core::github::kinds::organization::{RepositorySelector, list_repositories};
use port_github_core::mapping::{CompiledMapping, CompiledResource, MapOutcome};
use port_github_core::resync::listing::{Lister, Scope, Step};
use serde_json::Value;

use super::github::OrgClient;
use super::report::{Section, chain};

/// Steps of a listing read at most for one object (a pull request list may start with an empty
/// page of open ones before the closed ones).
const MAX_STEPS: usize = 3;

const FIX_EXPRESSION: &str = "correct the expression in the mapping (`port-github map --config FILE --kind KIND` tries it on saved objects)";

/// Samples every resource of `mapping` in the first organization of `orgs`.
pub async fn check(orgs: &[OrgClient], mapping: Result<&CompiledMapping, &str>) -> Section {
    let mut section = Section::new("Sample");
    let mapping = match mapping {
        Ok(mapping) => mapping,
        Err(_) => {
            section.not_run("samples", "the mapping could not be loaded (see Port)");
            return section;
        }
    };
    let Some(org) = orgs.first() else {
        section.not_run("samples", "no organization could be read (see GitHub)");
        return section;
    };
    let needs_repo = mapping
        .resources()
        .iter()
        .any(|r| r.config().kind.scope() == Some(Scope::Repository));
    let repo = if needs_repo {
        first_repository(&mut section, org, mapping).await
    } else {
        Ok(None)
    };
    for resource in mapping.resources() {
        sample(&mut section, org, repo.as_ref(), resource).await;
    }
    section
}

/// The organization's first repository as the resync lists them; `Err(why)` when the list
/// failed (reported here).
async fn first_repository(
    section: &mut Section,
    org: &OrgClient,
    mapping: &CompiledMapping,
) -> Result<Option<Repo>, String> {
    let selector = RepositorySelector {
        included_files: Vec::new(),
        repository_type: Some(mapping.config().repository_type.clone()),
    };
    let first = async {
        let mut pages = list_repositories(&org.client, &org.source, &selector)?;
        match pages.next_page().await? {
            Some(page) => page
                .items
                .into_iter()
                .next()
                .map(Repo::from_object)
                .transpose(),
            None => Ok(None),
        }
    };
    match first.await {
        Ok(repo) => Ok(repo),
        Err(error) => {
            let reason = chain(&error);
            section.fail(
                format!("repositories of {}", org.login),
                format!("cannot be listed: {reason}"),
                "see the GitHub checks above (the App's Metadata permission, or the token's repo scope)",
            );
            Err(reason)
        }
    }
}

async fn sample(
    section: &mut Section,
    org: &OrgClient,
    repo: Result<&Option<Repo>, &String>,
    resource: &CompiledResource,
) {
    let kind = resource.config().kind.as_str();
    let what = format!("{kind} (resources[{}])", resource.index());
    let (repo, place) = match resource.config().kind.scope() {
        None => {
            section.fail(
                what,
                "not a kind this integration lists",
                "correct the kind, or remove the resource from the mapping",
            );
            return;
        }
        Some(Scope::Organization) => (None, org.login.clone()),
        Some(Scope::Repository) => match repo {
            Ok(Some(repo)) => (Some(repo), format!("{}/{}", repo.owner, repo.name)),
            Ok(None) => {
                section.pass(format!(
                    "{what}: nothing to sample ({} has no repository)",
                    org.login
                ));
                return;
            }
            Err(_) => {
                section.not_run(what, "the repositories could not be listed");
                return;
            }
        },
    };
    let raw = match first_object(org, repo, resource).await {
        Ok(Found::Object(raw)) => raw,
        Ok(Found::Nothing) => {
            section.pass(format!("{what}: nothing to sample in {place}"));
            return;
        }
        Ok(Found::NotAvailable) => {
            section.pass(format!(
                "{what}: nothing to sample: not available in {place} (switched off there, or not permitted)"
            ));
            return;
        }
        Err(error) => {
            section.fail(
                format!("{what} in {place}"),
                format!("cannot be listed: {}", chain(&error)),
                "see the GitHub checks above (a missing permission answers 403)",
            );
            return;
        }
    };
    report(section, &what, &place, &resource.map_item(&raw));
}

/// What a listing's first steps gave.
enum Found {
    Object(Value),
    Nothing,
    /// GitHub answered 403/404 for the list: the feature is off there, or not permitted.
    NotAvailable,
}

/// The first object of the resource's listing.
async fn first_object(
    org: &OrgClient,
    repo: Option<&Repo>,
    resource: &CompiledResource,
) -> Result<Found, GitHubError> {
    let mut lister = match Lister::start(&org.client, &org.login, repo, resource, None).await {
        Ok(lister) => lister,
        Err(GitHubError::NotFound { .. }) => return Ok(Found::Nothing),
        Err(error) => return Err(error),
    };
    for _ in 0..MAX_STEPS {
        match lister.next().await {
            Ok(Step::Items(items)) => {
                if let Some(first) = items.into_iter().next() {
                    return Ok(Found::Object(first));
                }
            }
            Ok(Step::NotAvailable) => return Ok(Found::NotAvailable),
            Ok(Step::Done) | Err(GitHubError::NotFound { .. }) => return Ok(Found::Nothing),
            Err(error) => return Err(error),
        }
    }
    Ok(Found::Nothing)
}

/// The mapped object's lines: the entity, or each field error and dropped entity.
fn report(section: &mut Section, what: &str, place: &str, outcome: &MapOutcome) {
    let entity = outcome.entities.first().map(|e| {
        let more = match outcome.entities.len() {
            0 | 1 => String::new(),
            n => format!(" and {} more", n - 1),
        };
        format!("{} {}{more}", e.blueprint, e.identifier)
    });
    let subject = entity.as_deref().unwrap_or("the object");
    for error in &outcome.field_errors {
        section.fail(
            format!("{what} from {place}, {subject}: {}", error.field),
            &error.message,
            FIX_EXPRESSION,
        );
    }
    for dropped in &outcome.dropped {
        section.fail(
            format!("{what} from {place}"),
            format!("entity dropped: {}", dropped.reason),
            FIX_EXPRESSION,
        );
    }
    if !outcome.field_errors.is_empty() || !outcome.dropped.is_empty() {
        return;
    }
    match entity {
        Some(entity) => section.pass(format!("{what} from {place}: {entity}")),
        None if !outcome.selected => section.pass(format!(
            "{what}: the first object of {place} is not selected by selector.query (nothing synced from it)"
        )),
        None => section.pass(format!("{what}: the first object of {place} maps to no entity")),
    }
}
