//! Building the resync from its settings, once per container: the worker's GitHub and Port
//! clients (GitHub waiting at most a few seconds for a rate limit: longer waits become delayed
//! jobs), the mapping, the DynamoDB state store and ETag cache, and the SQS jobs queue.

use std::sync::Arc;
use std::time::Duration;

use super::{Resync, ResyncSettings, WebhookTarget};
use crate::clock::SystemClock;
use crate::config::ResyncConfig;
use crate::github::{ClientConfig, DynamoDbEtagStore};
use crate::live::setup::{
    ETAG_TTL, MappingSource, SetupError, github_clients_with, load_mapping, port_client,
    read_secret,
};
use crate::queue::SqsJobQueue;
use crate::secrets::{ParseSecret as _, WebhookSecrets};
use crate::state::DynamoDbStateStore;

/// The longest a resync invocation waits for GitHub by itself.
pub const RESYNC_MAX_WAIT: Duration = Duration::from_secs(5);

pub async fn build_resync(
    config: &ResyncConfig,
    aws: &aws_config::SdkConfig,
) -> Result<(Resync, MappingSource), SetupError> {
    let secrets_manager = aws_sdk_secretsmanager::Client::new(aws);
    let dynamodb = aws_sdk_dynamodb::Client::new(aws);
    let etags = Arc::new(DynamoDbEtagStore::new(
        dynamodb.clone(),
        config.state_table.clone(),
        ETAG_TTL,
    ));
    let client_config = ClientConfig {
        base_url: config.worker.github_api_url.clone(),
        max_wait: RESYNC_MAX_WAIT,
        ..ClientConfig::default()
    };
    let clients =
        github_clients_with(&config.worker, client_config, Some(&secrets_manager), etags).await?;
    let port = port_client(&config.worker, Some(&secrets_manager)).await?;
    let (mapping, source) = load_mapping(config.worker.port_app_config.as_deref(), &port).await?;
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
    let from_port = source == MappingSource::Port || config.worker.port_app_config.is_none();
    let resync = Resync::new(
        clients,
        port,
        Arc::new(mapping),
        Arc::new(DynamoDbStateStore::new(
            dynamodb,
            config.state_table.clone(),
        )),
        Arc::new(SqsJobQueue::new(
            aws_sdk_sqs::Client::new(aws),
            config.resync_queue_url.clone(),
        )),
        Arc::new(SystemClock),
        settings,
    );
    let resync = if from_port {
        resync.with_mapping_from_port()
    } else {
        resync
    };
    Ok((resync, source))
}
