//! The worker Lambda: a batch of queued GitHub events in, the catalog updated, the messages to
//! retry out (`batchItemFailures`). All logic lives in `port_github_core::live`.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use port_github_core::config::{Env, WorkerConfig};
use port_github_core::live::setup::build_processor;
use port_github_core::live::{QueuedEvent, process_batch};
use port_github_core::log_shipping::INVOCATION_FLUSH_TIMEOUT;
use port_github_core::port::logs::PortLogIngest;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let logs = port_github_core::logging::init_json_shipping("worker");
    let config =
        WorkerConfig::from_env(&Env::from_process()).unwrap_or_else(|error| fail_start(&error));
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let (processor, mapping) = build_processor(&config, &aws)
        .await
        .unwrap_or_else(|error| fail_start(&error));
    tracing::info!(mapping = ?mapping, "worker ready");
    logs.connect(Arc::new(PortLogIngest::new(processor.port().clone())));
    let (processor, logs) = (&processor, &logs);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let messages: Vec<QueuedEvent> = event
            .payload
            .records
            .into_iter()
            .map(|record| QueuedEvent {
                message_id: record.message_id.unwrap_or_default(),
                group_id: record.attributes.get("MessageGroupId").cloned(),
                body: record.body.unwrap_or_default(),
            })
            .collect();
        let mut response = SqsBatchResponse::default();
        for id in process_batch(processor, &messages).await {
            response.add_failure(id);
        }
        logs.flush(INVOCATION_FLUSH_TIMEOUT).await;
        Ok::<_, Error>(response)
    }))
    .await
}

/// One clear line, then a non-zero exit: the function must not run without its settings.
fn fail_start(error: &dyn std::error::Error) -> ! {
    tracing::error!(error = %error, "worker cannot start");
    eprintln!("worker: cannot start: {error}");
    std::process::exit(2)
}
