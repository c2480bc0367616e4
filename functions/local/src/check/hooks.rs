//! The webhook events of `port-github check`: the handled events (the product's own table,
//! `webhook::events`) against what a subscription lists, and the organization hook's check (ours
//! by URL when one is given, else the organization's hook that lacks the fewest), read with the
//! core's hooks API.

use std::collections::BTreeSet;

use port_github_core::github::GitHubClient;
use port_github_core::hook_admin::{list_org_hooks, permission_denied, same_url};
use port_github_core::webhook::events::handled_event_names;

use super::github::unreachable_fix;
use super::report::{Section, chain};

pub(super) fn handled() -> BTreeSet<String> {
    handled_event_names().map(str::to_owned).collect()
}

/// The handled events `subscribed` lacks (`*` subscribes to every event).
pub(super) fn missing_events(subscribed: &BTreeSet<String>) -> Vec<String> {
    if subscribed.contains("*") {
        return Vec::new();
    }
    handled().difference(subscribed).cloned().collect()
}

/// The organization hook's events against the handled ones: ours by URL when it is given,
/// else the hook of the organization that lacks the fewest.
pub(super) async fn hook_events(
    section: &mut Section,
    client: &GitHubClient,
    org: &str,
    url: Option<&str>,
    permission: &str,
) {
    let what = format!("{org}: organization webhook");
    let ensure = format!(
        "`port-github webhooks ensure --url {}` creates or corrects it",
        url.unwrap_or("URL")
    );
    let hooks = match list_org_hooks(client, org).await {
        Ok(hooks) => hooks,
        Err(error) => {
            let fix = match permission_denied(&error) {
                Some(_) => format!("grant {permission}"),
                None => unreachable_fix(&error).to_owned(),
            };
            section.fail(what, format!("hooks not readable: {}", chain(&error)), fix);
            return;
        }
    };
    let candidates: Vec<_> = hooks
        .iter()
        .filter(|hook| {
            url.is_none_or(|url| hook.config.url.as_deref().is_some_and(|u| same_url(u, url)))
        })
        .collect();
    let best = candidates
        .iter()
        .min_by_key(|hook| (missing_events(&hook.events).len(), !hook.active, hook.id));
    let Some(hook) = best else {
        let wrong = match url {
            Some(url) => format!("none for {url}"),
            None => "the organization has none".to_owned(),
        };
        section.fail(what, wrong, ensure);
        return;
    };
    let hook_what = format!(
        "{org}: organization webhook {} ({})",
        hook.id,
        hook.config.url.as_deref().unwrap_or("no URL")
    );
    let absent = missing_events(&hook.events);
    if !hook.active {
        section.fail(
            &hook_what,
            "inactive: GitHub delivers nothing to it",
            &ensure,
        );
    }
    if absent.is_empty() {
        section.pass(format!(
            "{hook_what}: subscribes to the {} handled events",
            handled().len()
        ));
    } else {
        section.fail(
            format!("{hook_what} events"),
            format!("missing {}", absent.join(", ")),
            ensure,
        );
    }
}
