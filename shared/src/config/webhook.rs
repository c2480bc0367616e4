//! The webhook function's settings ([`WebhookConfig`]): the signing secret (and the previous
//! one during a rotation), the events queue, and the body and message size limits.

use std::time::Duration;

use secrecy::SecretString;

use super::credentials::{DEFAULT_SECRET_TTL_SECONDS, SecretSetting};
use super::env::{ConfigError, Env};

/// The largest body GitHub delivers (25 MB); Lambda's own 6 MB request limit applies before this.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 25 * 1024 * 1024;
/// SQS's default maximum message size.
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 256 * 1024;
/// SQS's largest configurable message size.
const SQS_MAX_MESSAGE_BYTES: u64 = 1024 * 1024;

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
