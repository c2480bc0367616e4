//! The one set-up of every entry point (the worker, the resync, the local commands): secrets
//! from the environment or Secrets Manager (cached, re-read after `SECRET_TTL_SECONDS` and when
//! refused), the GitHub clients (App or token) over an ETag cache, the Port client, and the mapping
//! (`PORT_APP_CONFIG` or `PORT_APP_CONFIG_ARN`, else Port's integration config, else built-in).

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::clients::{AppClients, GitHubClients, TokenClients};
use super::mapping::MappingError;
use crate::clock::SystemClock;
use crate::config::{
    GitHubAuthSetting, MappingSetting, PortCredentialsSetting, SecretSetting, WorkerConfig,
};
use crate::github::{
    AppPrivateKey, ClientConfig, DynamoDbEtagStore, EtagStore, GitHubApp, GitHubClient,
    GitHubError, InMemoryEtagStore, TokenCacheSettings,
};
use crate::mapping::defaults::DEFAULT_PORT_APP_CONFIG;
use crate::mapping::{CompiledMapping, JqOptions, PortAppConfig};
use crate::port::{PortClient, PortClientConfig, PortError, RetrySettings};
use crate::secrets::{
    CachedSecret, ParseSecret, PlainSecret, PortCredentials, SecretError, SecretSource,
    SecretsManagerSecret,
};

/// How long a cached page stays in the DynamoDB ETag cache after its last write.
pub const ETAG_TTL: Duration = Duration::from_secs(7 * 86_400);

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("GitHub client: {0}")]
    GitHub(#[from] GitHubError),
    #[error("Port client: {0}")]
    Port(#[from] PortError),
    #[error("mapping from {source_name}: {source}")]
    Mapping {
        source_name: String,
        source: MappingError,
    },
}

/// Where the mapping came from (logged at start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingSource {
    File(String),
    /// A Secrets Manager secret (`PORT_APP_CONFIG_ARN`), by ARN.
    Secret(String),
    Port,
    BuiltIn,
}

pub async fn read_secret(
    setting: &SecretSetting,
    secrets_manager: Option<&aws_sdk_secretsmanager::Client>,
) -> Result<SecretString, SecretError> {
    let value = match setting {
        SecretSetting::Plain(value) => value.clone(),
        SecretSetting::SecretsManager { arn } => {
            let Some(client) = secrets_manager else {
                return Err(SecretError::Empty { id: arn.clone() });
            };
            SecretsManagerSecret::new(client.clone(), arn.clone())
                .fetch()
                .await?
        }
    };
    crate::log_shipping::register_secret(&value);
    Ok(value)
}

/// A secret setting as a cache: a plain value is fixed; a Secrets Manager secret is read now (a
/// missing or unreadable one stops the function at start), then again after `ttl`, and at once
/// when the credential it holds is refused (so a rotation needs no redeploy).
pub async fn cached_secret<T: ParseSecret>(
    name: &'static str,
    setting: &SecretSetting,
    secrets_manager: Option<&aws_sdk_secretsmanager::Client>,
    ttl: Duration,
) -> Result<Arc<CachedSecret<T>>, SecretError> {
    let cache = match setting {
        SecretSetting::Plain(value) => CachedSecret::fixed(name, T::parse(name, value)?),
        SecretSetting::SecretsManager { arn } => {
            let Some(client) = secrets_manager else {
                return Err(SecretError::Empty { id: arn.clone() });
            };
            let source = SecretsManagerSecret::new(client.clone(), arn.clone());
            CachedSecret::new(Box::new(source), ttl)
        }
    };
    cache.get().await?;
    Ok(Arc::new(cache))
}

/// The GitHub side: an App (per-installation clients) or one token client.
pub async fn github_clients(
    config: &WorkerConfig,
    secrets_manager: Option<&aws_sdk_secretsmanager::Client>,
    etags: Arc<dyn EtagStore>,
) -> Result<Arc<dyn GitHubClients>, SetupError> {
    let client_config = ClientConfig {
        base_url: config.github_api_url.clone(),
        ..ClientConfig::default()
    };
    github_clients_with(config, client_config, secrets_manager, etags).await
}

/// [`github_clients`] with the client's own settings (the resync waits less for rate limits).
pub async fn github_clients_with(
    config: &WorkerConfig,
    client_config: ClientConfig,
    secrets_manager: Option<&aws_sdk_secretsmanager::Client>,
    etags: Arc<dyn EtagStore>,
) -> Result<Arc<dyn GitHubClients>, SetupError> {
    let clock = Arc::new(SystemClock);
    let ttl = config.secret_ttl;
    Ok(match &config.github_auth {
        GitHubAuthSetting::App {
            app_id,
            private_key,
        } => {
            let key = cached_secret::<AppPrivateKey>(
                "GITHUB_APP_PRIVATE_KEY",
                private_key,
                secrets_manager,
                ttl,
            )
            .await?;
            let app = GitHubApp::with_key(
                client_config,
                TokenCacheSettings::default(),
                app_id,
                key,
                clock,
                etags,
            )?;
            Arc::new(AppClients::new(app))
        }
        GitHubAuthSetting::Token(token) => {
            let token =
                cached_secret::<PlainSecret>("GITHUB_TOKEN", token, secrets_manager, ttl).await?;
            Arc::new(TokenClients(GitHubClient::with_token_source(
                client_config,
                token,
                clock,
                etags,
            )?))
        }
    })
}

pub async fn port_client(
    config: &WorkerConfig,
    secrets_manager: Option<&aws_sdk_secretsmanager::Client>,
) -> Result<PortClient, SetupError> {
    port_client_with(config, secrets_manager, None).await
}

/// [`port_client`] with its own retry settings (`None`: the client's defaults).
pub async fn port_client_with(
    config: &WorkerConfig,
    secrets_manager: Option<&aws_sdk_secretsmanager::Client>,
    retry: Option<RetrySettings>,
) -> Result<PortClient, SetupError> {
    let new = |client_id: &str, client_secret: &SecretString| {
        PortClientConfig::new(
            config.port_api_url.clone(),
            client_id,
            client_secret.clone(),
            config.port_integration_id.clone(),
            config.port_integration_type.clone(),
        )
    };
    let mut settings = match &config.port_credentials {
        PortCredentialsSetting::Plain {
            client_id,
            client_secret,
        } => {
            crate::log_shipping::register_secret(client_secret);
            new(client_id, client_secret)
        }
        PortCredentialsSetting::SecretsManager { arn } => {
            let setting = SecretSetting::SecretsManager { arn: arn.clone() };
            let credentials = cached_secret::<PortCredentials>(
                "PORT_CREDENTIALS",
                &setting,
                secrets_manager,
                config.secret_ttl,
            )
            .await?;
            // The first value names the client in messages; the cache is what is used.
            let first = credentials.get().await?;
            new(&first.client_id, &first.client_secret).with_credentials(credentials)
        }
    };
    if let Some(retry) = retry {
        settings.retry = retry;
    }
    Ok(PortClient::new(settings)?)
}

/// The mapping: the deployer's own (a file, or a Secrets Manager secret) when given, else the one
/// users edit in Port, else the built-in default.
pub async fn load_mapping(
    setting: Option<&MappingSetting>,
    secrets_manager: Option<&aws_sdk_secretsmanager::Client>,
    port: &PortClient,
) -> Result<(CompiledMapping, MappingSource), SetupError> {
    let parse = |text: &str, source_name: &str| {
        PortAppConfig::from_yaml_or_json(text).map_err(|e| SetupError::Mapping {
            source_name: source_name.to_owned(),
            source: MappingError::Parse(e),
        })
    };
    let (config, source) = match setting {
        Some(MappingSetting::File(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| SetupError::Mapping {
                source_name: path.to_owned(),
                source: MappingError::Read(e),
            })?;
            (parse(&text, path)?, MappingSource::File(path.to_owned()))
        }
        Some(MappingSetting::SecretsManager { arn }) => {
            let text = read_secret(
                &SecretSetting::SecretsManager { arn: arn.clone() },
                secrets_manager,
            )
            .await?;
            (
                parse(text.expose_secret(), arn)?,
                MappingSource::Secret(arn.clone()),
            )
        }
        None => match port.integration_config().await? {
            Some(value) if value.get("resources").is_some() => {
                let config =
                    PortAppConfig::from_value(&value).map_err(|e| SetupError::Mapping {
                        source_name: "Port".into(),
                        source: MappingError::Parse(e),
                    })?;
                (config, MappingSource::Port)
            }
            _ => (
                parse(DEFAULT_PORT_APP_CONFIG, "built-in")?,
                MappingSource::BuiltIn,
            ),
        },
    };
    let name = format!("{source:?}");
    let compiled = CompiledMapping::compile(&config, &JqOptions::default()).map_err(|e| {
        SetupError::Mapping {
            source_name: name,
            source: MappingError::Compile(e),
        }
    })?;
    Ok((compiled, source))
}

/// Provisioning as the settings ask (`PORT_CREATE_RESOURCES`), from the built-in blueprints.
pub fn provisioner(config: &WorkerConfig) -> Arc<crate::port::provision::Provisioner> {
    Arc::new(crate::port::provision::Provisioner::new(
        config.create_port_resources,
        crate::mapping::defaults::DEFAULT_BLUEPRINTS,
    ))
}

/// The ETag cache: the state table's (DynamoDB) when there is one, else in memory.
pub fn etag_store(state_table: Option<&str>, aws: &aws_config::SdkConfig) -> Arc<dyn EtagStore> {
    match state_table {
        Some(table) => Arc::new(DynamoDbEtagStore::new(
            aws_sdk_dynamodb::Client::new(aws),
            table.to_owned(),
            ETAG_TTL,
        )),
        None => Arc::new(InMemoryEtagStore::new()),
    }
}
