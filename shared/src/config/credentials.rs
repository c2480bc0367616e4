//! Where secrets and credentials come from: a plain value or a Secrets Manager ARN
//! ([`SecretSetting`], [`secret_setting`]), how long a secret read is used, GitHub's
//! authentication (an App or a token: [`GitHubAuthSetting`]) and Port's credentials
//! ([`PortCredentialsSetting`]). Only the settings: the values are fetched in `secrets`.

use secrecy::SecretString;

use super::env::{ConfigError, Env};

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

pub const DEFAULT_SECRET_TTL_SECONDS: u64 = 300;

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
