//! Building the resync from its settings, once per container: the worker's GitHub and Port
//! clients (GitHub waiting at most a few seconds for a rate limit: longer waits become delayed
//! jobs) and the mapping, over the Lambda's DynamoDB state store and ETag cache and SQS jobs
//! queue, or the local host's in-memory parts.

use std::sync::Arc;
use std::time::Duration;

use super::{Resync, ResyncSettings, WebhookTarget};
use crate::clock::{Clock, SystemClock};
use crate::config::{ConfigError, GitHubAuthSetting, ResyncConfig, WorkerConfig};
use crate::github::{ClientConfig, DynamoDbEtagStore, EtagStore};
use crate::queue::{JobQueue, SqsJobQueue};
use crate::secrets::{ParseSecret as _, WebhookSecrets};
use crate::state::{DynamoDbStateStore, StateStore};
use crate::sync::setup::{
    ETAG_TTL, MappingSource, SetupError, github_clients_with, load_mapping, port_client,
    read_secret,
};

/// The longest a resync invocation waits for GitHub by itself.
pub const RESYNC_MAX_WAIT: Duration = Duration::from_secs(5);

/// What a resync runs on besides its clients: the Lambda's DynamoDB and SQS parts, or the local
/// host's in-memory ones.
pub struct ResyncParts {
    pub secrets_manager: Option<aws_sdk_secretsmanager::Client>,
    pub etags: Arc<dyn EtagStore>,
    pub state: Arc<dyn StateStore>,
    pub queue: Arc<dyn JobQueue>,
    pub clock: Arc<dyn Clock>,
}

/// Builds a resync from the worker's settings (the Lambda and the local host alike): the GitHub
/// clients (waiting at most [`RESYNC_MAX_WAIT`] for a rate limit), the Port client and the
/// mapping. A personal token with no organization named (neither `GITHUB_ORGANIZATIONS` nor the
/// mapping's) is refused here, at start, not at each scheduled run.
pub async fn assemble_resync(
    worker: &WorkerConfig,
    settings: ResyncSettings,
    parts: ResyncParts,
) -> Result<(Resync, MappingSource), SetupError> {
    let client_config = ClientConfig {
        base_url: worker.github_api_url.clone(),
        max_wait: RESYNC_MAX_WAIT,
        ..ClientConfig::default()
    };
    let secrets_manager = parts.secrets_manager.as_ref();
    let clients = github_clients_with(worker, client_config, secrets_manager, parts.etags).await?;
    let port = port_client(worker, secrets_manager).await?;
    let (mapping, source) =
        load_mapping(worker.port_app_config.as_ref(), secrets_manager, &port).await?;
    let named = worker.organizations.as_ref().is_some_and(|o| !o.is_empty())
        || !mapping.config().organizations.is_empty();
    if matches!(worker.github_auth, GitHubAuthSetting::Token(_)) && !named {
        return Err(ConfigError::Missing {
            name: "GITHUB_ORGANIZATIONS",
            hint: "with GITHUB_TOKEN, name the organizations to sync (comma-separated)",
        }
        .into());
    }
    let resync = Resync::new(
        clients,
        port,
        Arc::new(mapping),
        parts.state,
        parts.queue,
        parts.clock,
        settings,
    )
    .with_provisioning(crate::sync::setup::provisioner(worker));
    Ok((resync, source))
}

/// The Lambda's resync: DynamoDB state and ETags, the SQS jobs queue, secrets from Secrets
/// Manager, and the mapping read afresh from Port at each run unless `PORT_APP_CONFIG` or
/// `PORT_APP_CONFIG_ARN` is set.
pub async fn build_resync(
    config: &ResyncConfig,
    aws: &aws_config::SdkConfig,
) -> Result<(Resync, MappingSource), SetupError> {
    let secrets_manager = aws_sdk_secretsmanager::Client::new(aws);
    let dynamodb = aws_sdk_dynamodb::Client::new(aws);
    let webhook = match (&config.webhook_url, &config.webhook_secret) {
        (Some(url), Some(secret)) => {
            let raw = read_secret(secret, Some(&secrets_manager)).await?;
            // The same forms the webhook accepts: a string, or {"current", "previous"}.
            let secrets = WebhookSecrets::parse("WEBHOOK_SECRET", &raw)?;
            Some(WebhookTarget {
                url: url.clone(),
                secret: secrets.current,
            })
        }
        _ => None,
    };
    let settings = ResyncSettings {
        interval: config.interval,
        rate_limit_reserve: config.rate_limit_reserve,
        send_raw_examples: config.send_raw_examples,
        organizations: config.worker.organizations.clone(),
        webhook,
        ..ResyncSettings::default()
    };
    let parts = ResyncParts {
        secrets_manager: Some(secrets_manager),
        etags: Arc::new(DynamoDbEtagStore::new(
            dynamodb.clone(),
            config.state_table.clone(),
            ETAG_TTL,
        )),
        state: Arc::new(DynamoDbStateStore::new(
            dynamodb,
            config.state_table.clone(),
        )),
        queue: Arc::new(SqsJobQueue::new(
            aws_sdk_sqs::Client::new(aws),
            config.resync_queue_url.clone(),
        )),
        clock: Arc::new(SystemClock),
    };
    let (resync, source) = assemble_resync(&config.worker, settings, parts).await?;
    let resync = if config.worker.port_app_config.is_none() {
        resync.with_mapping_from_port()
    } else {
        resync
    };
    Ok((resync, source))
}
