//! The resync Lambda: the EventBridge schedule starts a run, batches of the SQS jobs queue run
//! its jobs (`batchItemFailures` out), each invocation's metrics written at its end. All logic
//! lives in `port_github_core::resync`.

mod invocation;

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use port_github_core::config::{Env, ResyncConfig};
use port_github_core::log_shipping::INVOCATION_FLUSH_TIMEOUT;
use port_github_core::metrics::Metrics;
use port_github_core::port::logs::PortLogIngest;
use port_github_core::resync::setup::build_resync;
use port_github_core::startup::OrExit as _;
use port_github_core::sync::setup::port_client;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let logs = port_github_core::logging::init_json_shipping("resync");
    let env = Env::from_process();
    let config = ResyncConfig::from_env(&env).or_exit("resync");
    let metrics = Metrics::from_env(&env, "resync");
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let (resync, mapping) = build_resync(&config, &aws).await.or_exit("resync");
    tracing::info!(mapping = ?mapping, "resync ready");
    // The resync's Port client is its own; the log shipper gets one with the same settings.
    let secrets_manager = aws_sdk_secretsmanager::Client::new(&aws);
    match port_client(&config.worker, Some(&secrets_manager)).await {
        Ok(port) => logs.connect(Arc::new(PortLogIngest::new(port))),
        Err(error) => {
            tracing::warn!(%error, "no Port client for the integration log; not shipping logs");
            logs.disable();
        }
    }
    let (resync, budget, logs, metrics) = (&resync, config.time_budget, &logs, &metrics);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = invocation::deadline(event.context.deadline(), budget);
        let _ = port_github_core::metrics::take_noted();
        let answer = invocation::handle(resync, event.payload, deadline, metrics).await;
        logs.flush(INVOCATION_FLUSH_TIMEOUT).await;
        answer
    }))
    .await
}
