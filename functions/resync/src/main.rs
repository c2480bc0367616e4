//! The resync Lambda: the EventBridge schedule starts a run, batches of the SQS jobs queue run
//! its jobs (`batchItemFailures` out). All logic lives in `port_github_core::resync`.

mod invocation;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use port_github_core::config::{Env, ResyncConfig};
use port_github_core::resync::setup::build_resync;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    port_github_core::logging::init_json();
    let config =
        ResyncConfig::from_env(&Env::from_process()).unwrap_or_else(|error| fail_start(&error));
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let (resync, mapping) = build_resync(&config, &aws)
        .await
        .unwrap_or_else(|error| fail_start(&error));
    tracing::info!(mapping = ?mapping, "resync ready");
    let (resync, budget) = (&resync, config.time_budget);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = invocation::deadline(event.context.deadline(), budget);
        invocation::handle(resync, event.payload, deadline).await
    }))
    .await
}

/// One clear line, then a non-zero exit: the function must not run without its settings.
fn fail_start(error: &dyn std::error::Error) -> ! {
    tracing::error!(error = %error, "resync cannot start");
    eprintln!("resync: cannot start: {error}");
    std::process::exit(2)
}
