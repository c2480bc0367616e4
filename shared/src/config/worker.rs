//! The worker's settings ([`WorkerConfig`]: GitHub, Port, the integration, the mapping source
//! [`MappingSetting`], the state table) and what it is told about its queues
//! ([`WorkerQueuesConfig`]). The resync builds on the same settings.

use std::time::Duration;

use secrecy::SecretString;

use super::credentials::{DEFAULT_SECRET_TTL_SECONDS, GitHubAuthSetting, PortCredentialsSetting};
use super::env::{ConfigError, Env, boolean, url};

/// The product's own name: the `<type>` of the ownership User-Agent unless configured.
pub const DEFAULT_INTEGRATION_TYPE: &str = "github-serverless";

/// What the worker needs, checked at start (the README's configuration tables).
#[derive(Debug)]
pub struct WorkerConfig {
    pub github_api_url: String,
    pub github_auth: GitHubAuthSetting,
    pub organizations: Option<Vec<String>>,
    pub port_api_url: String,
    pub port_credentials: PortCredentialsSetting,
    pub port_integration_id: String,
    pub port_integration_type: String,
    /// A `port-app-config` of the deployer's (`PORT_APP_CONFIG` file or `PORT_APP_CONFIG_ARN`
    /// secret); when unset the mapping comes from Port, else the built-in one.
    pub port_app_config: Option<MappingSetting>,
    /// The DynamoDB state table (ETag cache); in-memory caching without it.
    pub state_table: Option<String>,
    /// Create the integration record and the missing blueprints in Port (`PORT_CREATE_RESOURCES`,
    /// default true).
    pub create_port_resources: bool,
    /// How long a secret read from Secrets Manager is used before it is read again
    /// (`SECRET_TTL_SECONDS`); a refused credential is re-read at once.
    pub secret_ttl: Duration,
}

impl WorkerConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let github_auth = GitHubAuthSetting::from_env(env)?;
        let organizations = env.get("GITHUB_ORGANIZATIONS").map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect()
        });
        let port_credentials = match (
            env.get("PORT_CLIENT_ID"),
            env.get("PORT_CLIENT_SECRET"),
            env.get("PORT_CREDENTIALS_ARN"),
        ) {
            (Some(id), Some(secret), None) => PortCredentialsSetting::Plain {
                client_id: id.to_owned(),
                client_secret: SecretString::from(secret.to_owned()),
            },
            (None, None, Some(arn)) => PortCredentialsSetting::SecretsManager {
                arn: arn.to_owned(),
            },
            (None, None, None) => {
                return Err(ConfigError::Missing {
                    name: "PORT_CREDENTIALS_ARN",
                    hint: "set PORT_CREDENTIALS_ARN, or PORT_CLIENT_ID and PORT_CLIENT_SECRET",
                });
            }
            _ => {
                return Err(ConfigError::Invalid {
                    name: "PORT_CLIENT_ID",
                    reason: "set PORT_CLIENT_ID and PORT_CLIENT_SECRET together, or PORT_CREDENTIALS_ARN alone".into(),
                });
            }
        };
        Ok(Self {
            github_api_url: url(env, "GITHUB_API_URL", "https://api.github.com")?,
            github_auth,
            organizations,
            port_api_url: url(env, "PORT_API_URL", "https://api.port.io")?,
            port_credentials,
            port_integration_id: env
                .require(
                    "PORT_INTEGRATION_ID",
                    "the integration's identifier in Port (ownership, mapping, resync state)",
                )?
                .to_owned(),
            port_integration_type: env
                .get("PORT_INTEGRATION_TYPE")
                .unwrap_or(DEFAULT_INTEGRATION_TYPE)
                .to_owned(),
            port_app_config: MappingSetting::from_env(env)?,
            state_table: env.get("STATE_TABLE").map(str::to_owned),
            create_port_resources: boolean(env, "PORT_CREATE_RESOURCES", true)?,
            secret_ttl: Duration::from_secs(
                env.positive_u64("SECRET_TTL_SECONDS", DEFAULT_SECRET_TTL_SECONDS)?,
            ),
        })
    }
}

/// Where a deployer's own `port-app-config` comes from (instead of the mapping in Port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingSetting {
    /// A file on this machine (`PORT_APP_CONFIG`): the local host, or a container image.
    File(String),
    /// A Secrets Manager secret whose value is the YAML or JSON (`PORT_APP_CONFIG_ARN`): how a
    /// deployed function gets one, as its package holds only `bootstrap`.
    SecretsManager { arn: String },
}

impl MappingSetting {
    /// `PORT_APP_CONFIG` or `PORT_APP_CONFIG_ARN` (not both), `None` when neither is set.
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        match (env.get("PORT_APP_CONFIG"), env.get("PORT_APP_CONFIG_ARN")) {
            (Some(_), Some(_)) => Err(ConfigError::Invalid {
                name: "PORT_APP_CONFIG",
                reason: "set either PORT_APP_CONFIG (a file) or PORT_APP_CONFIG_ARN, not both"
                    .into(),
            }),
            (Some(path), None) => Ok(Some(Self::File(path.to_owned()))),
            (None, Some(arn)) if arn.starts_with("arn:") && arn.contains(":secretsmanager:") => {
                Ok(Some(Self::SecretsManager {
                    arn: arn.to_owned(),
                }))
            }
            (None, Some(arn)) => Err(ConfigError::Invalid {
                name: "PORT_APP_CONFIG_ARN",
                reason: format!(
                    "expected the ARN of a Secrets Manager secret holding the port-app-config, got {arn:?}"
                ),
            }),
            (None, None) => Ok(None),
        }
    }
}

/// What the worker Lambda is told about its queues (beyond the event source Lambda wires).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerQueuesConfig {
    /// `EVENTS_DLQ_URL`: the events queue's dead-letter queue. An event that fails for good is
    /// sent there with its reason and acknowledged; without it, it is handed back and the
    /// queue's redrive policy moves it there after `maxReceiveCount` receives.
    pub dead_letter_queue_url: Option<String>,
    /// `EVENTS_QUEUE_URL`: the events queue, so that a handed-back message whose wait is known
    /// comes back after that wait (its visibility); without it, after the queue's timeout.
    pub events_queue_url: Option<String>,
}

impl WorkerQueuesConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let fifo = |name: &'static str| -> Result<Option<String>, ConfigError> {
            match env.get(name) {
                None => Ok(None),
                Some(url) if url.ends_with(".fifo") => Ok(Some(url.to_owned())),
                Some(_) => Err(ConfigError::Invalid {
                    name,
                    reason: "must be a FIFO queue (its name ends in .fifo), like the events queue"
                        .into(),
                }),
            }
        };
        Ok(Self {
            dead_letter_queue_url: fifo("EVENTS_DLQ_URL")?,
            events_queue_url: fifo("EVENTS_QUEUE_URL")?,
        })
    }
}
