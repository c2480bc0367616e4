//! Settings from the environment, validated once at start with one clear line per problem.
//! This module only reads and checks values; it never fetches secrets (see `secrets`).

use std::collections::HashMap;
use std::time::Duration;

use secrecy::SecretString;

/// A problem with the environment, naming the variable so the operator can fix it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("missing setting {name}: {hint}")]
    Missing {
        name: &'static str,
        hint: &'static str,
    },
    #[error("invalid setting {name}: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// A snapshot of environment variables. Built from the process environment in production and from
/// plain pairs in tests, so tests never mutate the process environment.
#[derive(Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The trimmed value, with an empty value treated as unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &'static str, hint: &'static str) -> Result<&str, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing { name, hint })
    }

    /// A positive whole number, or `default` when unset.
    pub fn positive_u64(&self, name: &'static str, default: u64) -> Result<u64, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => match raw.parse::<u64>() {
                Ok(0) => Err(ConfigError::Invalid {
                    name,
                    reason: "must be greater than 0".into(),
                }),
                Ok(n) => Ok(n),
                Err(_) => Err(ConfigError::Invalid {
                    name,
                    reason: format!("expected a whole number, got {raw:?}"),
                }),
            },
        }
    }
}

/// Where a secret comes from: a plain value (local use) or a Secrets Manager ARN (deployed use).
pub enum SecretSetting {
    Plain(SecretString),
    SecretsManager { arn: String },
}

impl std::fmt::Debug for SecretSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Plain(_) => f.write_str("Plain([redacted])"),
            Self::SecretsManager { arn } => {
                f.debug_struct("SecretsManager").field("arn", arn).finish()
            }
        }
    }
}

/// The largest body GitHub delivers (25 MB); Lambda's own 6 MB request limit applies before this.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 25 * 1024 * 1024;
/// SQS's default maximum message size.
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 256 * 1024;
/// SQS's largest configurable message size.
const SQS_MAX_MESSAGE_BYTES: u64 = 1024 * 1024;
pub const DEFAULT_SECRET_TTL_SECONDS: u64 = 300;

/// Everything the webhook function needs, checked at start.
#[derive(Debug)]
pub struct WebhookConfig {
    /// The current secret (plain) or the ARN holding current and previous.
    pub secret: SecretSetting,
    /// A second plain secret accepted during a rotation.
    pub previous_secret: Option<SecretString>,
    pub events_queue_url: String,
    pub max_body_bytes: usize,
    pub max_message_bytes: usize,
    pub secret_ttl: Duration,
}

impl WebhookConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let secret = match (env.get("WEBHOOK_SECRET"), env.get("WEBHOOK_SECRET_ARN")) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Invalid {
                    name: "WEBHOOK_SECRET",
                    reason: "set either WEBHOOK_SECRET or WEBHOOK_SECRET_ARN, not both".into(),
                });
            }
            (Some(plain), None) => SecretSetting::Plain(SecretString::from(plain.to_owned())),
            (None, Some(arn)) => SecretSetting::SecretsManager {
                arn: arn.to_owned(),
            },
            (None, None) => {
                return Err(ConfigError::Missing {
                    name: "WEBHOOK_SECRET",
                    hint: "set WEBHOOK_SECRET or WEBHOOK_SECRET_ARN; deliveries are never accepted unsigned",
                });
            }
        };
        let previous_secret = env
            .get("WEBHOOK_SECRET_PREVIOUS")
            .map(|v| SecretString::from(v.to_owned()));
        let events_queue_url = env
            .require(
                "EVENTS_QUEUE_URL",
                "the URL of the SQS FIFO queue for live events",
            )?
            .to_owned();
        if !events_queue_url.ends_with(".fifo") {
            return Err(ConfigError::Invalid {
                name: "EVENTS_QUEUE_URL",
                reason: "must be a FIFO queue (its name ends in .fifo)".into(),
            });
        }
        let max_body_bytes = env.positive_u64("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)?;
        let max_message_bytes = env.positive_u64("MAX_MESSAGE_BYTES", DEFAULT_MAX_MESSAGE_BYTES)?;
        if !(4096..=SQS_MAX_MESSAGE_BYTES).contains(&max_message_bytes) {
            return Err(ConfigError::Invalid {
                name: "MAX_MESSAGE_BYTES",
                reason: format!("must be between 4096 and {SQS_MAX_MESSAGE_BYTES} (SQS's limits)"),
            });
        }
        let secret_ttl = Duration::from_secs(
            env.positive_u64("SECRET_TTL_SECONDS", DEFAULT_SECRET_TTL_SECONDS)?,
        );
        Ok(Self {
            secret,
            previous_secret,
            events_queue_url,
            max_body_bytes: usize::try_from(max_body_bytes).unwrap_or(usize::MAX),
            max_message_bytes: usize::try_from(max_message_bytes).unwrap_or(usize::MAX),
            secret_ttl,
        })
    }
}

/// How the worker and the resync authenticate to GitHub.
#[derive(Debug)]
pub enum GitHubAuthSetting {
    /// A GitHub App: its ID (or client ID) and private key (PEM or base64 of the PEM).
    App {
        app_id: String,
        private_key: SecretSetting,
    },
    /// A personal or fine-grained token.
    Token(SecretSetting),
}

/// Port credentials: plain values, or a Secrets Manager secret `{"clientId","clientSecret"}`.
pub enum PortCredentialsSetting {
    Plain {
        client_id: String,
        client_secret: SecretString,
    },
    SecretsManager {
        arn: String,
    },
}

impl std::fmt::Debug for PortCredentialsSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Plain { client_id, .. } => f
                .debug_struct("Plain")
                .field("client_id", client_id)
                .finish_non_exhaustive(),
            Self::SecretsManager { arn } => {
                f.debug_struct("SecretsManager").field("arn", arn).finish()
            }
        }
    }
}

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

/// A `true`/`false` setting (also `1`/`0`, `yes`/`no`), `default` when unset.
fn boolean(env: &Env, name: &'static str, default: bool) -> Result<bool, ConfigError> {
    match env.get(name) {
        None => Ok(default),
        Some(text) => match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            _ => Err(ConfigError::Invalid {
                name,
                reason: format!("{text:?} is not true or false"),
            }),
        },
    }
}

/// A secret given as a plain value (`plain`) or a Secrets Manager ARN (`arn`), not both.
pub fn secret_setting(
    env: &Env,
    plain: &'static str,
    arn: &'static str,
) -> Result<Option<SecretSetting>, ConfigError> {
    match (env.get(plain), env.get(arn)) {
        (Some(_), Some(_)) => Err(ConfigError::Invalid {
            name: plain,
            reason: format!("set either {plain} or {arn}, not both"),
        }),
        (Some(value), None) => Ok(Some(SecretSetting::Plain(SecretString::from(
            value.to_owned(),
        )))),
        (None, Some(value)) => Ok(Some(SecretSetting::SecretsManager {
            arn: value.to_owned(),
        })),
        (None, None) => Ok(None),
    }
}

fn url(env: &Env, name: &'static str, default: &str) -> Result<String, ConfigError> {
    let value = env
        .get(name)
        .unwrap_or(default)
        .trim_end_matches('/')
        .to_owned();
    if value.starts_with("https://") || value.starts_with("http://") {
        Ok(value)
    } else {
        Err(ConfigError::Invalid {
            name,
            reason: format!("expected an http(s) URL, got {value:?}"),
        })
    }
}

impl GitHubAuthSetting {
    /// `GITHUB_APP_ID` + `GITHUB_APP_PRIVATE_KEY(_ARN)`, or `GITHUB_TOKEN(_ARN)`: exactly one.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let app_key = secret_setting(env, "GITHUB_APP_PRIVATE_KEY", "GITHUB_APP_PRIVATE_KEY_ARN")?;
        let token = secret_setting(env, "GITHUB_TOKEN", "GITHUB_TOKEN_ARN")?;
        let github_auth = match (env.get("GITHUB_APP_ID"), app_key, token) {
            (Some(app_id), Some(private_key), None) => GitHubAuthSetting::App {
                app_id: app_id.to_owned(),
                private_key,
            },
            (None, None, Some(token)) => GitHubAuthSetting::Token(token),
            (Some(_), None, _) => {
                return Err(ConfigError::Missing {
                    name: "GITHUB_APP_PRIVATE_KEY",
                    hint: "GITHUB_APP_ID is set: also set GITHUB_APP_PRIVATE_KEY or GITHUB_APP_PRIVATE_KEY_ARN",
                });
            }
            (None, Some(_), _) => {
                return Err(ConfigError::Missing {
                    name: "GITHUB_APP_ID",
                    hint: "the App's ID or client ID, to go with its private key",
                });
            }
            (Some(_), Some(_), Some(_)) => {
                return Err(ConfigError::Invalid {
                    name: "GITHUB_TOKEN",
                    reason:
                        "set either a GitHub App (GITHUB_APP_ID + key) or GITHUB_TOKEN, not both"
                            .into(),
                });
            }
            (None, None, None) => {
                return Err(ConfigError::Missing {
                    name: "GITHUB_APP_ID",
                    hint: "set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY(_ARN), or GITHUB_TOKEN(_ARN)",
                });
            }
        };
        Ok(github_auth)
    }
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

/// The resync function's settings: the worker's, plus the jobs queue, state table and budgets.
#[derive(Debug)]
pub struct ResyncConfig {
    pub worker: WorkerConfig,
    /// The DynamoDB table for the lease, run state and records (required).
    pub state_table: String,
    /// The SQS queue of resync jobs.
    pub resync_queue_url: String,
    /// Work time per invocation; `None`: Lambda's remaining time minus a margin.
    pub time_budget: Option<Duration>,
    /// Share of GitHub's hourly budget left for live events.
    pub rate_limit_reserve: f64,
    pub send_raw_examples: bool,
    /// The schedule interval, `RESYNC_INTERVAL_MINUTES`: a run is due this long after the last
    /// one started.
    pub interval: Duration,
    /// The public webhook URL: when set, each organization's hook is reconciled and its failed
    /// deliveries redelivered at the start of every run (needs the webhook secret).
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<SecretSetting>,
}

impl ResyncConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let worker = WorkerConfig::from_env(env)?;
        let state_table = env
            .require(
                "STATE_TABLE",
                "the DynamoDB table for the resync lease, run state and records",
            )?
            .to_owned();
        let resync_queue_url = env
            .require(
                "RESYNC_QUEUE_URL",
                "the URL of the SQS queue for resync jobs",
            )?
            .to_owned();
        let time_budget = match env.get("RESYNC_TIME_BUDGET_SECONDS") {
            None => None,
            Some(_) => Some(Duration::from_secs(
                env.positive_u64("RESYNC_TIME_BUDGET_SECONDS", 1)?,
            )),
        };
        let rate_limit_reserve = match env.get("RATE_LIMIT_RESERVE") {
            None => 0.05,
            Some(text) => match text.parse::<f64>() {
                Ok(value) if (0.0..1.0).contains(&value) => value,
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "RATE_LIMIT_RESERVE",
                        reason: format!("{text:?} is not a share between 0 and 1 (e.g. 0.05)"),
                    });
                }
            },
        };
        let send_raw_examples = boolean(env, "SEND_RAW_DATA_EXAMPLES", true)?;
        let minutes = env.positive_u64("RESYNC_INTERVAL_MINUTES", 60)?;
        if !(60..=1440).contains(&minutes) {
            return Err(ConfigError::Invalid {
                name: "RESYNC_INTERVAL_MINUTES",
                reason: "must be between 60 (1 hour) and 1440 (1 day)".into(),
            });
        }
        let webhook_url = match env.get("WEBHOOK_URL") {
            None => None,
            Some(_) => Some(url(env, "WEBHOOK_URL", "")?),
        };
        let webhook_secret = secret_setting(env, "WEBHOOK_SECRET", "WEBHOOK_SECRET_ARN")?;
        if webhook_url.is_some() && webhook_secret.is_none() {
            return Err(ConfigError::Missing {
                name: "WEBHOOK_SECRET_ARN",
                hint: "WEBHOOK_URL is set: the hook needs the webhook secret (WEBHOOK_SECRET or WEBHOOK_SECRET_ARN)",
            });
        }
        Ok(Self {
            worker,
            state_table,
            resync_queue_url,
            time_budget,
            rate_limit_reserve,
            send_raw_examples,
            interval: Duration::from_secs(minutes * 60),
            webhook_url,
            webhook_secret,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    const QUEUE: &str = "http://localhost/123/events.fifo";

    #[test]
    fn refuses_to_start_without_a_secret() {
        let err =
            WebhookConfig::from_env(&Env::from_pairs([("EVENTS_QUEUE_URL", QUEUE)])).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Missing {
                name: "WEBHOOK_SECRET",
                ..
            }
        ));
        let blank = Env::from_pairs([("EVENTS_QUEUE_URL", QUEUE), ("WEBHOOK_SECRET", "   ")]);
        assert!(WebhookConfig::from_env(&blank).is_err());
    }

    #[test]
    fn plain_and_arn_secrets() {
        let env = Env::from_pairs([("EVENTS_QUEUE_URL", QUEUE), ("WEBHOOK_SECRET", "s3cret")]);
        let cfg = WebhookConfig::from_env(&env).unwrap();
        assert!(matches!(cfg.secret, SecretSetting::Plain(_)));
        assert!(
            !format!("{cfg:?}").contains("s3cret"),
            "secrets must not show in Debug output"
        );
        assert_eq!(cfg.max_message_bytes, 262_144);
        assert_eq!(cfg.secret_ttl, Duration::from_secs(300));

        let env = Env::from_pairs([
            ("EVENTS_QUEUE_URL", QUEUE),
            ("WEBHOOK_SECRET_ARN", "arn:aws:secretsmanager:x"),
        ]);
        assert!(matches!(
            WebhookConfig::from_env(&env).unwrap().secret,
            SecretSetting::SecretsManager { .. }
        ));

        let both = Env::from_pairs([
            ("EVENTS_QUEUE_URL", QUEUE),
            ("WEBHOOK_SECRET", "a"),
            ("WEBHOOK_SECRET_ARN", "b"),
        ]);
        assert!(WebhookConfig::from_env(&both).is_err());
    }

    #[test]
    fn malformed_numbers_and_queues_name_the_variable() {
        let env = Env::from_pairs([
            ("EVENTS_QUEUE_URL", QUEUE),
            ("WEBHOOK_SECRET", "s"),
            ("MAX_BODY_BYTES", "lots"),
        ]);
        let err = WebhookConfig::from_env(&env).unwrap_err();
        assert!(err.to_string().contains("MAX_BODY_BYTES"), "{err}");
        let env = Env::from_pairs([
            ("EVENTS_QUEUE_URL", QUEUE),
            ("WEBHOOK_SECRET", "s"),
            ("MAX_MESSAGE_BYTES", "10"),
        ]);
        assert!(
            WebhookConfig::from_env(&env)
                .unwrap_err()
                .to_string()
                .contains("MAX_MESSAGE_BYTES")
        );
        let env = Env::from_pairs([
            ("EVENTS_QUEUE_URL", "http://localhost/123/events"),
            ("WEBHOOK_SECRET", "s"),
        ]);
        assert!(
            WebhookConfig::from_env(&env)
                .unwrap_err()
                .to_string()
                .contains("FIFO")
        );
        let env = Env::from_pairs([("WEBHOOK_SECRET", "s")]);
        assert!(
            WebhookConfig::from_env(&env)
                .unwrap_err()
                .to_string()
                .contains("EVENTS_QUEUE_URL")
        );
    }

    #[test]
    fn the_worker_queues_are_optional_and_fifo() {
        let none = WorkerQueuesConfig::from_env(&Env::from_pairs([("X", "y")])).unwrap();
        assert_eq!(none, WorkerQueuesConfig::default());
        let both = WorkerQueuesConfig::from_env(&Env::from_pairs([
            ("EVENTS_DLQ_URL", "https://sqs/1/events-dlq.fifo"),
            ("EVENTS_QUEUE_URL", QUEUE),
        ]))
        .unwrap();
        assert_eq!(
            both.dead_letter_queue_url.as_deref(),
            Some("https://sqs/1/events-dlq.fifo")
        );
        assert_eq!(both.events_queue_url.as_deref(), Some(QUEUE));
        let standard = WorkerQueuesConfig::from_env(&Env::from_pairs([(
            "EVENTS_DLQ_URL",
            "https://sqs/1/dlq",
        )]))
        .unwrap_err();
        assert!(
            standard.to_string().contains("EVENTS_DLQ_URL"),
            "{standard}"
        );
    }

    fn worker_env(extra: &[(&str, &str)]) -> Env {
        let mut pairs = vec![
            ("PORT_INTEGRATION_ID", "gh"),
            ("PORT_CLIENT_ID", "id"),
            ("PORT_CLIENT_SECRET", "s3cret"),
        ];
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    }

    #[test]
    fn worker_settings_are_checked_with_one_clear_line() {
        let app = WorkerConfig::from_env(&worker_env(&[
            ("GITHUB_APP_ID", "12"),
            ("GITHUB_APP_PRIVATE_KEY", "pem"),
        ]))
        .unwrap();
        assert!(matches!(app.github_auth, GitHubAuthSetting::App { .. }));
        assert_eq!(app.github_api_url, "https://api.github.com");
        assert_eq!(app.port_integration_type, DEFAULT_INTEGRATION_TYPE);
        assert_eq!(app.secret_ttl, Duration::from_secs(300));
        assert!(!format!("{app:?}").contains("s3cret") && !format!("{app:?}").contains("pem"));
        let token = WorkerConfig::from_env(&worker_env(&[
            ("GITHUB_TOKEN_ARN", "arn:x"),
            ("GITHUB_ORGANIZATIONS", "a, b,"),
        ]))
        .unwrap();
        assert!(matches!(
            token.github_auth,
            GitHubAuthSetting::Token(SecretSetting::SecretsManager { .. })
        ));
        assert_eq!(
            token.organizations,
            Some(vec!["a".to_owned(), "b".to_owned()])
        );

        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "GITHUB_APP_ID"),
            (&[("GITHUB_APP_ID", "12")], "GITHUB_APP_PRIVATE_KEY"),
            (&[("GITHUB_APP_PRIVATE_KEY", "pem")], "GITHUB_APP_ID"),
            (
                &[("GITHUB_TOKEN", "t"), ("SECRET_TTL_SECONDS", "0")],
                "SECRET_TTL_SECONDS",
            ),
            (
                &[("GITHUB_TOKEN", "t"), ("GITHUB_API_URL", "api.github.com")],
                "GITHUB_API_URL",
            ),
            (
                &[("GITHUB_TOKEN", "t"), ("GITHUB_TOKEN_ARN", "arn")],
                "GITHUB_TOKEN",
            ),
        ];
        for (extra, named) in cases {
            let error = WorkerConfig::from_env(&worker_env(extra))
                .unwrap_err()
                .to_string();
            assert!(error.contains(named), "{extra:?}: {error}");
        }
        let no_port = Env::from_pairs([("GITHUB_TOKEN", "t"), ("PORT_INTEGRATION_ID", "gh")]);
        assert!(
            WorkerConfig::from_env(&no_port)
                .unwrap_err()
                .to_string()
                .contains("PORT_CREDENTIALS_ARN")
        );
        let no_id = Env::from_pairs([("GITHUB_TOKEN", "t"), ("PORT_CREDENTIALS_ARN", "arn")]);
        assert!(
            WorkerConfig::from_env(&no_id)
                .unwrap_err()
                .to_string()
                .contains("PORT_INTEGRATION_ID")
        );
    }

    #[test]
    fn the_mapping_is_a_file_or_a_secrets_manager_secret() {
        let base = [("GITHUB_TOKEN", "t")];
        let mapping = |extra: &[(&str, &str)]| {
            let mut pairs = base.to_vec();
            pairs.extend_from_slice(extra);
            WorkerConfig::from_env(&worker_env(&pairs)).map(|c| c.port_app_config)
        };
        assert_eq!(mapping(&[]).unwrap(), None);
        assert_eq!(
            mapping(&[("PORT_APP_CONFIG", "m.yml")]).unwrap(),
            Some(MappingSetting::File("m.yml".into()))
        );
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mapping-AbCdEf";
        assert_eq!(
            mapping(&[("PORT_APP_CONFIG_ARN", arn)]).unwrap(),
            Some(MappingSetting::SecretsManager { arn: arn.into() })
        );
        let both = mapping(&[("PORT_APP_CONFIG", "m.yml"), ("PORT_APP_CONFIG_ARN", arn)]);
        assert!(both.unwrap_err().to_string().contains("not both"));
        let ssm = mapping(&[("PORT_APP_CONFIG_ARN", "arn:aws:ssm:eu-west-1:1:parameter/m")]);
        assert!(ssm.unwrap_err().to_string().contains("PORT_APP_CONFIG_ARN"));
    }

    #[test]
    fn resync_settings_are_checked_with_one_clear_line() {
        let base = [
            ("GITHUB_TOKEN", "t"),
            ("STATE_TABLE", "state"),
            ("RESYNC_QUEUE_URL", "https://sqs/jobs"),
        ];
        let config = ResyncConfig::from_env(&worker_env(&base)).unwrap();
        assert_eq!(config.rate_limit_reserve, 0.05);
        assert!(config.send_raw_examples);
        assert_eq!(config.interval, Duration::from_secs(3_600));
        assert_eq!(config.time_budget, None);
        assert_eq!(config.webhook_url, None);
        let error = |extra: &[(&str, &str)]| {
            let mut pairs = base.to_vec();
            pairs.extend_from_slice(extra);
            ResyncConfig::from_env(&worker_env(&pairs))
                .unwrap_err()
                .to_string()
        };
        assert!(error(&[("RATE_LIMIT_RESERVE", "5%")]).contains("RATE_LIMIT_RESERVE"));
        assert!(error(&[("RATE_LIMIT_RESERVE", "1.5")]).contains("RATE_LIMIT_RESERVE"));
        assert!(error(&[("SEND_RAW_DATA_EXAMPLES", "maybe")]).contains("SEND_RAW_DATA_EXAMPLES"));
        assert!(error(&[("PORT_CREATE_RESOURCES", "perhaps")]).contains("PORT_CREATE_RESOURCES"));
        assert!(error(&[("RESYNC_INTERVAL_MINUTES", "5")]).contains("RESYNC_INTERVAL_MINUTES"));
        assert!(
            error(&[("RESYNC_TIME_BUDGET_SECONDS", "-3")]).contains("RESYNC_TIME_BUDGET_SECONDS")
        );
        assert!(error(&[("WEBHOOK_URL", "https://hook")]).contains("WEBHOOK_SECRET"));
        let missing = ResyncConfig::from_env(&worker_env(&base[..2]))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("RESYNC_QUEUE_URL"));
        let missing = ResyncConfig::from_env(&worker_env(&[base[0], base[2]]))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("STATE_TABLE"));
        let mut full = base.to_vec();
        full.extend_from_slice(&[
            ("WEBHOOK_URL", "https://hook.example/"),
            ("WEBHOOK_SECRET", "w"),
            ("SEND_RAW_DATA_EXAMPLES", "false"),
            ("RESYNC_TIME_BUDGET_SECONDS", "30"),
            ("RESYNC_INTERVAL_MINUTES", "1440"),
        ]);
        let config = ResyncConfig::from_env(&worker_env(&full)).unwrap();
        assert_eq!(config.webhook_url.as_deref(), Some("https://hook.example"));
        assert!(!config.send_raw_examples);
        assert_eq!(config.time_budget, Some(Duration::from_secs(30)));
        assert_eq!(config.interval, Duration::from_secs(86_400));
    }
}
