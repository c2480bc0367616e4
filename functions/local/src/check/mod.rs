//! `port-github check`: a setup check with the settings `port-github resync` reads (the
//! environment), one line per check under GitHub, Port, Sample and AWS, then the counts. Port is
//! checked first (the mapping may come from Port, and the GitHub permissions and the samples
//! depend on it), the report printed in heading order. A check that depends on a failed one is
//! reported as not run. Every client, setting and rule is the core's; this module only orders
//! the checks and says what to fix. No secret value is ever printed.

mod aws;
mod github;
mod hooks;
mod port;
pub mod report;
mod sample;

use std::collections::HashMap;

use port_github_core::config::{ConfigError, Env, SecretSetting, WorkerConfig};

use self::report::{Report, Section};

/// The check's own options (besides the environment).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Our public webhook URL (overrides `WEBHOOK_URL`): which organization hook is ours.
    pub webhook_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A missing or malformed setting: exit status 2.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// Runs every check with the settings in `vars` (the environment).
pub async fn run(vars: HashMap<String, String>, options: Options) -> Result<Report, CheckError> {
    let env = Env::from_pairs(vars);
    let config = WorkerConfig::from_env(&env)?;
    let webhook_url = webhook_url(&env, options.webhook_url)?;
    let stack = aws::StackNames::from_env(&env);
    let sdk = if stack.is_empty() && !uses_secrets_manager(&config) {
        None
    } else {
        Some(aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)
    };
    let secrets_manager = sdk.as_ref().map(aws_sdk_secretsmanager::Client::new);

    let port = port::check(&config, secrets_manager.as_ref()).await;
    let mapping = match &port.mapping {
        Ok((mapping, _)) => Ok(mapping),
        Err(why) => Err(why.as_str()),
    };
    let github = github::check(&github::Inputs {
        config: &config,
        secrets_manager: secrets_manager.as_ref(),
        mapping,
        webhook_url: webhook_url.as_deref(),
    })
    .await;
    let sample = sample::check(&github.orgs, mapping).await;
    let aws = match &sdk {
        Some(sdk) if !stack.is_empty() => aws::check(&stack, sdk).await,
        _ => Section::not_checked("AWS", aws::HOW_TO_ENABLE),
    };
    Ok(Report {
        sections: vec![github.section, port.section, sample, aws],
    })
}

/// `--webhook-url`, else `WEBHOOK_URL`; an http(s) URL.
fn webhook_url(env: &Env, flag: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(url) = flag.or_else(|| env.get("WEBHOOK_URL").map(str::to_owned)) else {
        return Ok(None);
    };
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(Some(url.trim_end_matches('/').to_owned()))
    } else {
        Err(ConfigError::Invalid {
            name: "WEBHOOK_URL",
            reason: format!("expected an http(s) URL, got {url:?}"),
        })
    }
}

/// Whether a secret of the worker's settings is a Secrets Manager ARN.
fn uses_secrets_manager(config: &WorkerConfig) -> bool {
    use port_github_core::config::{GitHubAuthSetting, MappingSetting, PortCredentialsSetting};
    let github = match &config.github_auth {
        GitHubAuthSetting::App { private_key, .. } => private_key,
        GitHubAuthSetting::Token(token) => token,
    };
    matches!(github, SecretSetting::SecretsManager { .. })
        || matches!(
            config.port_credentials,
            PortCredentialsSetting::SecretsManager { .. }
        )
        || matches!(
            config.port_app_config,
            Some(MappingSetting::SecretsManager { .. })
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_webhook_url_flag_wins_and_must_be_a_url() {
        let env = Env::from_pairs([("WEBHOOK_URL", "https://from-env.example/")]);
        assert_eq!(
            webhook_url(&env, None).ok().flatten().as_deref(),
            Some("https://from-env.example")
        );
        let flag = Some("https://flag.example".to_owned());
        assert_eq!(
            webhook_url(&env, flag).ok().flatten().as_deref(),
            Some("https://flag.example")
        );
        let bad = webhook_url(&env, Some("hooks.example".to_owned()));
        assert!(matches!(
            bad,
            Err(ConfigError::Invalid {
                name: "WEBHOOK_URL",
                ..
            })
        ));
    }
}
