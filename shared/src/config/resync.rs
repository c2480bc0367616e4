//! The resync function's settings ([`ResyncConfig`]): the worker's, plus the jobs queue, the
//! state table, time and rate-limit budgets, the schedule interval, and the webhook to reconcile.

use std::time::Duration;

use super::credentials::{SecretSetting, secret_setting};
use super::env::{ConfigError, Env, boolean, url};
use super::worker::WorkerConfig;

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
