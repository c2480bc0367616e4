//! The GitHub heading of `port-github check`: the credentials (App: the JWT on `GET /app`, then
//! each installation with its repository selection and count; token: `GET /user` with the
//! scopes GitHub lists, then each organization), the App's granted permissions against what the
//! mapping's kinds need (the core's permission model), and the webhook events the App's
//! installation subscribes to against the handled ones (the organization hook's check is
//! `hooks`). It hands the sample checks one client per organization.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use port_github_core::clock::{Clock, SystemClock};
use port_github_core::config::{GitHubAuthSetting, SecretSetting, WorkerConfig};
use port_github_core::github::kinds::organization::RepoSource;
use port_github_core::github::kinds::segment;
use port_github_core::github::permissions::{Level, missing, needed};
use port_github_core::github::{
    AppPrivateKey, ClientConfig, Feature, GitHubApp, GitHubClient, GitHubError, Installation,
    NoEtagStore, TokenCacheSettings,
};
use port_github_core::hook_admin::PERMISSION_HINT;
use port_github_core::mapping::CompiledMapping;
use port_github_core::secrets::PlainSecret;
use port_github_core::sync::setup::cached_secret;
use serde_json::Value;

use super::hooks::{handled, hook_events, missing_events};
use super::report::{Section, chain};

/// One organization the checks reached, with the client that reads it.
pub struct OrgClient {
    pub login: String,
    pub client: GitHubClient,
    pub source: RepoSource,
}

/// What the GitHub checks found: their lines, and the organizations for the samples.
pub struct GitHubFindings {
    pub section: Section,
    pub orgs: Vec<OrgClient>,
}

/// The longest a check waits for a rate limit by itself.
const MAX_WAIT: Duration = Duration::from_secs(5);

/// What the checks need besides the settings.
pub struct Inputs<'a> {
    pub config: &'a WorkerConfig,
    pub secrets_manager: Option<&'a aws_sdk_secretsmanager::Client>,
    /// The mapping, or why there is none.
    pub mapping: Result<&'a CompiledMapping, &'a str>,
    /// Our public webhook URL (`WEBHOOK_URL` or `--webhook-url`).
    pub webhook_url: Option<&'a str>,
}

pub async fn check(inputs: &Inputs<'_>) -> GitHubFindings {
    let mut section = Section::new("GitHub");
    let client_config = ClientConfig {
        base_url: inputs.config.github_api_url.clone(),
        max_wait: MAX_WAIT,
        max_retries: 2,
        request_timeout: Duration::from_secs(15),
        ..ClientConfig::default()
    };
    let orgs = match &inputs.config.github_auth {
        GitHubAuthSetting::App {
            app_id,
            private_key,
        } => app(&mut section, inputs, client_config, app_id, private_key).await,
        GitHubAuthSetting::Token(token) => {
            token_checks(&mut section, inputs, client_config, token).await
        }
    };
    GitHubFindings { section, orgs }
}

pub(super) fn unreachable_fix(error: &GitHubError) -> &'static str {
    match error {
        GitHubError::Transient { .. } | GitHubError::RateLimited { .. } => {
            "check GITHUB_API_URL (https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server) and the network, then try again"
        }
        _ => "check GITHUB_API_URL and the credentials",
    }
}

async fn app(
    section: &mut Section,
    inputs: &Inputs<'_>,
    client_config: ClientConfig,
    app_id: &str,
    private_key: &SecretSetting,
) -> Vec<OrgClient> {
    let what = format!("App {app_id}");
    let config = inputs.config;
    let key = match cached_secret::<AppPrivateKey>(
        "GITHUB_APP_PRIVATE_KEY",
        private_key,
        inputs.secrets_manager,
        config.secret_ttl,
    )
    .await
    {
        Ok(key) => key,
        Err(error) => {
            section.fail(
                format!("{what}: private key"),
                chain(&error),
                "put the App's private key (the .pem file's text, or base64 of it) in GITHUB_APP_PRIVATE_KEY or the secret GITHUB_APP_PRIVATE_KEY_ARN",
            );
            section.not_run("installations", "the App's private key could not be read");
            return Vec::new();
        }
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let app = match GitHubApp::with_key(
        client_config,
        TokenCacheSettings::default(),
        app_id,
        key,
        clock,
        Arc::new(NoEtagStore),
    ) {
        Ok(app) => app,
        Err(error) => {
            section.fail(
                &what,
                chain(&error),
                "check GITHUB_APP_ID and GITHUB_API_URL",
            );
            section.not_run("installations", "the App client could not be built");
            return Vec::new();
        }
    };
    match app.app_info().await {
        Ok(info) => {
            let name = info.get("name").and_then(Value::as_str).unwrap_or("?");
            section.pass(format!(
                "{what}: GitHub accepts its JWT (GET /app: \"{name}\")"
            ));
        }
        Err(error) => {
            let fix = match error {
                GitHubError::Auth { .. } => {
                    "check that GITHUB_APP_ID is the App's ID (or client ID) and the private key one of its current keys (the App's settings → Private keys)"
                }
                _ => unreachable_fix(&error),
            };
            section.fail(&what, format!("GET /app: {}", chain(&error)), fix);
            section.not_run("installations", "GitHub did not accept the App's JWT");
            return Vec::new();
        }
    }
    let allow = config.organizations.as_deref();
    let installations = match app.installations(allow).await {
        Ok(installations) => installations,
        Err(error) => {
            section.fail("installations", chain(&error), unreachable_fix(&error));
            return Vec::new();
        }
    };
    for org in allow.unwrap_or_default() {
        if !installations
            .iter()
            .any(|i| i.account.login.eq_ignore_ascii_case(org))
        {
            section.fail(
                format!("organization {org}"),
                "the App is not installed there",
                "install the App on it (the App's settings → Install App), or remove it from GITHUB_ORGANIZATIONS",
            );
        }
    }
    if installations.is_empty() {
        section.fail(
            "installations",
            "the App is installed on no organization",
            "install the App on the organizations to sync (the App's settings → Install App)",
        );
        return Vec::new();
    }
    let mut orgs = Vec::new();
    for installation in installations {
        if let Some(org) = installation_checks(section, inputs, &app, &installation).await {
            orgs.push(org);
        }
    }
    orgs
}

/// One installation: its token and repositories, permissions, events and (with a webhook URL)
/// the organization hook.
async fn installation_checks(
    section: &mut Section,
    inputs: &Inputs<'_>,
    app: &GitHubApp,
    installation: &Installation,
) -> Option<OrgClient> {
    let login = installation.account.login.clone();
    let what = format!("installation {} on {login}", installation.id);
    let client = match app.installation_client(installation.id) {
        Ok(client) => client,
        Err(error) => {
            section.fail(&what, chain(&error), "check GITHUB_API_URL");
            return None;
        }
    };
    let selection = installation
        .repository_selection
        .as_deref()
        .unwrap_or("unknown");
    match client
        .get("/installation/repositories?per_page=1", Feature::Required)
        .await
    {
        Ok(body) => {
            let count = body
                .get("total_count")
                .and_then(Value::as_u64)
                .map_or_else(|| "an unknown number of".to_owned(), |n| n.to_string());
            section.pass(format!(
                "{what}: repository selection {selection}, {count} repositories"
            ));
        }
        Err(error) => {
            section.fail(
                &what,
                format!("no installation token or repositories: {}", chain(&error)),
                "check that the installation is not suspended (the organization's settings → GitHub Apps)",
            );
            return None;
        }
    }
    permissions(section, inputs, &login, installation);
    let subscribed: BTreeSet<String> = installation.events.iter().cloned().collect();
    let absent = missing_events(&subscribed);
    if absent.is_empty() {
        section.pass(format!(
            "{login}: the App's webhook events include the {} handled ones",
            handled().len()
        ));
    } else {
        section.fail(
            format!("{login}: App webhook events"),
            format!("missing {}", absent.join(", ")),
            "subscribe to them in the App's settings (Permissions & events → Subscribe to events; an event is offered once its permission is granted)",
        );
    }
    if let Some(url) = inputs.webhook_url {
        hook_events(section, &client, &login, Some(url), PERMISSION_HINT).await;
    }
    Some(OrgClient {
        login,
        client,
        source: RepoSource::Installation,
    })
}

/// The installation's grant against what the mapping needs (and the organization webhook when
/// the resync manages it: a webhook URL is given).
fn permissions(
    section: &mut Section,
    inputs: &Inputs<'_>,
    login: &str,
    installation: &Installation,
) {
    let what = format!("{login}: App permissions");
    let mapping = match inputs.mapping {
        Ok(mapping) => mapping,
        Err(_) => {
            section.not_run(what, "the mapping could not be loaded (see Port)");
            return;
        }
    };
    let needs = needed(
        mapping
            .resources()
            .iter()
            .map(|r| (r.config().kind, &r.config().selector.options)),
        inputs.webhook_url.is_some(),
    );
    let lacking = missing(&needs, &installation.permissions);
    if lacking.is_empty() {
        section.pass(format!(
            "{what} cover what the mapping needs ({} permissions)",
            needs.len()
        ));
    }
    for need in lacking {
        let has = installation
            .permissions
            .get(&need.permission)
            .and_then(|level| Level::parse(level))
            .map_or("none", Level::as_str);
        section.fail(
            format!("{login}: App permission \"{}\" ({})", need.title, need.permission),
            format!(
                "{} needed for {}, granted: {has}",
                need.level.as_str(),
                need.kinds.join(", ")
            ),
            "add it in the App's settings (Permissions & events); an organization owner then accepts the new permission",
        );
    }
}

async fn token_checks(
    section: &mut Section,
    inputs: &Inputs<'_>,
    client_config: ClientConfig,
    token: &SecretSetting,
) -> Vec<OrgClient> {
    const WHAT: &str = "token";
    let config = inputs.config;
    let token = match cached_secret::<PlainSecret>(
        "GITHUB_TOKEN",
        token,
        inputs.secrets_manager,
        config.secret_ttl,
    )
    .await
    {
        Ok(token) => token,
        Err(error) => {
            section.fail(
                WHAT,
                chain(&error),
                "put a personal or fine-grained token in GITHUB_TOKEN or the secret GITHUB_TOKEN_ARN",
            );
            section.not_run("organizations", "the token could not be read");
            return Vec::new();
        }
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let client =
        match GitHubClient::with_token_source(client_config, token, clock, Arc::new(NoEtagStore)) {
            Ok(client) => client,
            Err(error) => {
                section.fail(WHAT, chain(&error), "check GITHUB_API_URL");
                section.not_run("organizations", "the GitHub client could not be built");
                return Vec::new();
            }
        };
    match client.get_fetched("/user", Feature::Required).await {
        Ok(answer) => {
            let login = answer
                .body
                .get("login")
                .and_then(Value::as_str)
                .unwrap_or("?");
            let scopes = match answer.oauth_scopes.as_deref().map(str::trim) {
                Some("") => "no scopes".to_owned(),
                Some(scopes) => format!("scopes: {scopes}"),
                None => "GitHub lists no scopes (a fine-grained token: its permissions are set on the token)".to_owned(),
            };
            section.pass(format!("{WHAT}: authenticates as {login}; {scopes}"));
        }
        Err(error) => {
            let fix = match error {
                GitHubError::Auth { .. } => {
                    "put a valid token in GITHUB_TOKEN or the secret GITHUB_TOKEN_ARN (it may have expired or been revoked)"
                }
                _ => unreachable_fix(&error),
            };
            section.fail(WHAT, format!("GET /user: {}", chain(&error)), fix);
            section.not_run("organizations", "GitHub did not accept the token");
            return Vec::new();
        }
    }
    let named = match (&config.organizations, inputs.mapping) {
        (Some(orgs), _) if !orgs.is_empty() => orgs.clone(),
        (_, Ok(mapping)) => mapping.config().organizations.clone(),
        _ => Vec::new(),
    };
    if named.is_empty() {
        section.fail(
            "organizations",
            "none named",
            "with GITHUB_TOKEN, set GITHUB_ORGANIZATIONS (comma-separated), or `organizations` in the mapping",
        );
        return Vec::new();
    }
    let mut orgs = Vec::new();
    for login in named {
        let what = format!("organization {login}");
        match client
            .get(&format!("/orgs/{}", segment(&login)), Feature::Required)
            .await
        {
            Ok(_) => section.pass(format!("{what}: readable with the token")),
            Err(error) => {
                section.fail(
                    what,
                    chain(&error),
                    "check the name, and that the token may read the organization (a classic token may need SSO authorization)",
                );
                continue;
            }
        }
        hook_events(
            section,
            &client,
            &login,
            inputs.webhook_url,
            "the token scope admin:org_hook (or read:org_hook)",
        )
        .await;
        orgs.push(OrgClient {
            source: RepoSource::Organization(login.clone()),
            login,
            client: client.clone(),
        });
    }
    orgs
}
