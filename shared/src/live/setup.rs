//! Building the live processor from the worker's settings, once per container, on the shared
//! set-up (`sync::setup`): the worker's Port client waits within the invocation's deadline, the
//! live-write journal over the state table, and the mapping re-read from Port every minute when
//! it comes from there.

use std::sync::Arc;
use std::time::Duration;

use super::processor::LiveProcessor;
use crate::config::WorkerConfig;
use crate::port::RetrySettings;
use crate::sync::setup::{
    MappingSource, SetupError, etag_store, github_clients, load_mapping, port_client_with,
    provisioner,
};

/// How often the worker looks for a mapping edited in Port (when the mapping comes from Port).
pub const MAPPING_REFRESH: Duration = Duration::from_secs(60);

/// The worker Lambda's Port retries: its batch runs under the invocation's deadline, which is
/// what bounds a wait; a `retry-after` of up to a minute (as long as GitHub's client waits)
/// that fits the time left is slept rather than spending one of the message's receives.
pub fn worker_port_retry() -> RetrySettings {
    RetrySettings {
        max_wait: Duration::from_secs(60),
        ..RetrySettings::default()
    }
}

/// Everything the worker Lambda needs, built from its settings (its Port client waits as long as
/// the invocation's deadline allows, up to [`worker_port_retry`]'s minute).
pub async fn build_processor(
    config: &WorkerConfig,
    aws: &aws_config::SdkConfig,
) -> Result<(LiveProcessor, MappingSource), SetupError> {
    let secrets_manager = aws_sdk_secretsmanager::Client::new(aws);
    let etags = etag_store(config.state_table.as_deref(), aws);
    let clients = github_clients(config, Some(&secrets_manager), etags).await?;
    let port = port_client_with(config, Some(&secrets_manager), Some(worker_port_retry())).await?;
    let (mapping, source) = load_mapping(
        config.port_app_config.as_ref(),
        Some(&secrets_manager),
        &port,
    )
    .await?;
    let mut processor = LiveProcessor::new(clients, port, Arc::new(mapping))
        .with_organizations(config.organizations.clone())
        .with_provisioning(provisioner(config));
    if let Some(table) = &config.state_table {
        // The live-write journal: a resync running meanwhile neither deletes what this worker
        // upserts nor re-creates what it deletes.
        let store = crate::state::DynamoDbStateStore::new(
            aws_sdk_dynamodb::Client::new(aws),
            table.clone(),
        );
        processor = processor.with_live_writes(crate::state::LiveWrites::new(
            Arc::new(store),
            Arc::new(crate::clock::SystemClock),
        ));
    }
    if config.port_app_config.is_none() {
        processor = processor.with_mapping_from_port(MAPPING_REFRESH);
    }
    Ok((processor, source))
}
