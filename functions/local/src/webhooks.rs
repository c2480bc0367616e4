//! `port-github webhooks ensure|redeliver`: the organization webhook from the command line. Reads
//! the GitHub and webhook settings from the environment as the other commands do (plain values or
//! the `*_ARN` Secrets Manager forms), runs the core's reconciliation or redelivery for each
//! organization, and prints one line per organization. No logic of its own.

use std::sync::Arc;

use anyhow::{Context as _, bail};
use port_github_core::config::{
    ConfigError, Env, GitHubAuthSetting, SecretSetting, secret_setting,
};
use port_github_core::github::{
    ClientConfig, Clock, GitHubApp, GitHubClient, NoEtagStore, SystemClock, TokenCacheSettings,
};
use port_github_core::hook_admin::redeliver_failed;
use port_github_core::hook_admin::{
    DesiredHook, HookOutcome, PERMISSION_HINT, ensure_org_webhook, find_org_webhooks,
    permission_denied,
};
use port_github_core::secrets::{ParseSecret as _, WebhookSecrets};
use port_github_core::state::{DynamoDbStateStore, InMemoryStateStore, StateStore};
use port_github_core::sync::setup::read_secret;
use port_github_core::webhook::events::handled_event_names;
use secrecy::SecretString;

/// Which webhook job to run.
#[derive(Debug, Clone, Copy)]
pub enum Job {
    Ensure,
    Redeliver,
}

struct Settings {
    api_url: String,
    orgs: Option<Vec<String>>,
    auth: Auth,
    state_table: Option<String>,
}

enum Auth {
    Token(SecretString),
    App { id: String, key: SecretString },
}

/// A Secrets Manager client, made only when a setting is an ARN (your AWS credentials).
async fn secrets_manager(settings: &[&SecretSetting]) -> Option<aws_sdk_secretsmanager::Client> {
    if !settings
        .iter()
        .any(|s| matches!(s, SecretSetting::SecretsManager { .. }))
    {
        return None;
    }
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    Some(aws_sdk_secretsmanager::Client::new(&sdk))
}

/// The GitHub settings, as every command reads them: `GITHUB_TOKEN(_ARN)` (with
/// `GITHUB_ORGANIZATIONS`) or `GITHUB_APP_ID` + `GITHUB_APP_PRIVATE_KEY(_ARN)`; and the webhook
/// secret, `WEBHOOK_SECRET(_ARN)` (a string or `{"current", "previous"}`: the current one).
async fn settings(env: &Env, job: Job) -> anyhow::Result<(Settings, Option<SecretString>)> {
    let auth = GitHubAuthSetting::from_env(env)?;
    let webhook_secret = match job {
        Job::Ensure => Some(
            secret_setting(env, "WEBHOOK_SECRET", "WEBHOOK_SECRET_ARN")?.ok_or(
                ConfigError::Missing {
                    name: "WEBHOOK_SECRET",
                    hint: "set WEBHOOK_SECRET or WEBHOOK_SECRET_ARN: the secret the hook must carry",
                },
            )?,
        ),
        Job::Redeliver => None,
    };
    let orgs = env.get("GITHUB_ORGANIZATIONS").map(|list| {
        list.split(',')
            .map(str::trim)
            .filter(|org| !org.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    });
    if matches!(auth, GitHubAuthSetting::Token(_)) && orgs.as_ref().is_none_or(Vec::is_empty) {
        bail!(
            "missing setting GITHUB_ORGANIZATIONS: with GITHUB_TOKEN, name the organizations (comma-separated)"
        );
    }
    let github_secret = match &auth {
        GitHubAuthSetting::App { private_key, .. } => private_key,
        GitHubAuthSetting::Token(token) => token,
    };
    let mut all = vec![github_secret];
    all.extend(webhook_secret.iter());
    let client = secrets_manager(&all).await;
    let auth = match &auth {
        GitHubAuthSetting::App {
            app_id,
            private_key,
        } => Auth::App {
            id: app_id.clone(),
            key: read_secret(private_key, client.as_ref()).await?,
        },
        GitHubAuthSetting::Token(token) => Auth::Token(read_secret(token, client.as_ref()).await?),
    };
    let webhook_secret = match &webhook_secret {
        Some(setting) => {
            let raw = read_secret(setting, client.as_ref()).await?;
            Some(WebhookSecrets::parse("WEBHOOK_SECRET", &raw)?.current)
        }
        None => None,
    };
    Ok((
        Settings {
            api_url: env
                .get("GITHUB_API_URL")
                .unwrap_or("https://api.github.com")
                .to_owned(),
            orgs,
            auth,
            state_table: env.get("STATE_TABLE").map(str::to_owned),
        },
        webhook_secret,
    ))
}

/// One client per organization to work on.
async fn clients(
    settings: &Settings,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Vec<(String, GitHubClient)>> {
    let config = ClientConfig {
        base_url: settings.api_url.clone(),
        ..ClientConfig::default()
    };
    match &settings.auth {
        Auth::Token(token) => {
            let client =
                GitHubClient::with_token(config, token.clone(), clock, Arc::new(NoEtagStore))?;
            Ok(settings
                .orgs
                .iter()
                .flatten()
                .map(|org| (org.clone(), client.clone()))
                .collect())
        }
        Auth::App { id, key } => {
            let app = GitHubApp::new(
                config,
                TokenCacheSettings::default(),
                id,
                key,
                clock,
                Arc::new(NoEtagStore),
            )?;
            let mut clients = Vec::new();
            for installation in app.installations(settings.orgs.as_deref()).await? {
                clients.push((
                    installation.account.login.clone(),
                    app.installation_client(installation.id)?,
                ));
            }
            Ok(clients)
        }
    }
}

async fn state_store(settings: &Settings) -> Arc<dyn StateStore> {
    match &settings.state_table {
        Some(table) => {
            let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            Arc::new(DynamoDbStateStore::new(
                aws_sdk_dynamodb::Client::new(&sdk),
                table.clone(),
            ))
        }
        None => Arc::new(InMemoryStateStore::default()),
    }
}

/// Runs `job` for every organization; `url` is our public webhook URL.
pub async fn run(job: Job, url: &str, env: &Env) -> anyhow::Result<()> {
    let (settings, secret) = settings(env, job).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let state = state_store(&settings).await;
    let mut failures = 0usize;
    for (org, client) in clients(&settings, clock.clone()).await? {
        let result = match (&job, &secret) {
            (Job::Ensure, Some(secret)) => {
                ensure(&client, &org, url, secret, state.as_ref(), clock.as_ref()).await
            }
            _ => redeliver(&client, &org, url, state.as_ref(), clock.as_ref()).await,
        };
        if let Err(err) = result {
            failures += 1;
            eprintln!("{org}: {err:#}");
        }
    }
    if failures > 0 {
        bail!("{failures} organization(s) failed");
    }
    Ok(())
}

async fn ensure(
    client: &GitHubClient,
    org: &str,
    url: &str,
    secret: &SecretString,
    state: &dyn StateStore,
    clock: &dyn Clock,
) -> anyhow::Result<()> {
    let desired = DesiredHook::new(url, secret, handled_event_names());
    let outcome = ensure_org_webhook(client, org, &desired, state, clock.now()).await?;
    match outcome {
        HookOutcome::Created { hook_id } => println!("{org}: created hook {hook_id}"),
        HookOutcome::Updated { hook_id, changed } => {
            println!("{org}: updated hook {hook_id}: {changed:?}");
        }
        HookOutcome::Unchanged { hook_id } => println!("{org}: hook {hook_id} is up to date"),
        HookOutcome::NotPermitted { status } => {
            println!("{org}: not permitted (HTTP {status}); grant {PERMISSION_HINT}");
        }
    }
    Ok(())
}

async fn redeliver(
    client: &GitHubClient,
    org: &str,
    url: &str,
    state: &dyn StateStore,
    clock: &dyn Clock,
) -> anyhow::Result<()> {
    let hooks = match find_org_webhooks(client, org, url).await {
        Ok(hooks) => hooks,
        Err(err) => {
            if let Some(status) = permission_denied(&err) {
                println!("{org}: not permitted (HTTP {status}); grant {PERMISSION_HINT}");
                return Ok(());
            }
            return Err(err).context("cannot list the organization's hooks");
        }
    };
    let Some(hook) = hooks.first() else {
        println!("{org}: no hook for {url}; run `port-github webhooks ensure` first");
        return Ok(());
    };
    let report = redeliver_failed(client, org, hook.id, state, clock.now()).await?;
    println!(
        "{org}: hook {}: redelivered {}, already handled {}, succeeded since {}, refused {}, deferred {}",
        hook.id,
        report.redelivered.len(),
        report.already_handled,
        report.succeeded_since,
        report.refused.len(),
        report.deferred.len()
    );
    Ok(())
}
