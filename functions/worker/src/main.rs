//! The worker Lambda: a batch of queued GitHub events in, the catalog updated, the messages to
//! retry out (`batchItemFailures`). The batch runs within the invocation's deadline (Lambda's
//! less a margin); events that fail for good go to the dead-letter queue (`EVENTS_DLQ_URL`);
//! handed-back messages whose wait is known come back after it (`EVENTS_QUEUE_URL`); the
//! batch's metrics are one line per event kind (`port_github_core::metrics`). All logic lives in
//! `port_github_core::live`.

use std::collections::HashMap;

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use port_github_core::config::{Env, WorkerConfig, WorkerQueuesConfig};
use port_github_core::deadline::Deadline;
use port_github_core::live::batch::INVOCATION_MARGIN;
use port_github_core::live::requeue::{Requeue, set_visibility};
use port_github_core::live::setup::build_processor;
use port_github_core::live::{
    BatchSettings, DeadLetters, LiveProcessor, QueuedEvent, SqsDeadLetters, process_batch,
};
use port_github_core::log_shipping::INVOCATION_FLUSH_TIMEOUT;
use port_github_core::metrics::{self, Metrics};
use port_github_core::port::logs::PortLogIngest;
use port_github_core::startup::OrExit as _;
use tracing::Instrument as _;

/// What every invocation of this container uses.
struct Worker {
    processor: LiveProcessor,
    dead_letters: Option<SqsDeadLetters>,
    queues: WorkerQueuesConfig,
    sqs: aws_sdk_sqs::Client,
    /// Warnings and errors for Port's integration log, flushed at the end of each invocation.
    logs: port_github_core::log_shipping::LogShipper,
    metrics: Metrics,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let logs = port_github_core::logging::init_json_shipping("worker");
    let env = Env::from_process();
    let config = WorkerConfig::from_env(&env).or_exit("worker");
    let queues = WorkerQueuesConfig::from_env(&env).or_exit("worker");
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let (processor, mapping) = build_processor(&config, &aws).await.or_exit("worker");
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let metrics = Metrics::from_env(&env, "worker");
    let dead_letters = queues
        .dead_letter_queue_url
        .clone()
        .map(|url| SqsDeadLetters::new(sqs.clone(), url));
    tracing::info!(mapping = ?mapping, dead_letter_queue = dead_letters.is_some(), "worker ready");
    logs.connect(Arc::new(PortLogIngest::new(processor.port().clone())));
    let worker = &Worker {
        processor,
        dead_letters,
        queues,
        sqs,
        logs,
        metrics,
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let span = tracing::info_span!("invocation", request_id = %event.context.request_id);
        worker.handle(event).instrument(span)
    }))
    .await
}

impl Worker {
    async fn handle(&self, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
        let deadline = Deadline::from_epoch_millis(event.context.deadline, INVOCATION_MARGIN);
        let started = metrics::now();
        // What an earlier invocation's late work noted is not this one's.
        let _ = metrics::take_noted();
        let mut receipts = HashMap::new();
        let messages: Vec<QueuedEvent> = event
            .payload
            .records
            .into_iter()
            .map(|record| {
                let message_id = record.message_id.unwrap_or_default();
                if let Some(handle) = record.receipt_handle {
                    receipts.insert(message_id.clone(), handle);
                }
                QueuedEvent {
                    message_id,
                    group_id: record.attributes.get("MessageGroupId").cloned(),
                    body: record.body.unwrap_or_default(),
                }
            })
            .collect();
        let settings = BatchSettings {
            dead_letters: self.dead_letters.as_ref().map(|d| d as &dyn DeadLetters),
            deadline: Some(deadline),
        };
        let outcome = process_batch(&self.processor, &messages, settings).await;
        if let Some(queue_url) = &self.queues.events_queue_url {
            let requeues: Vec<Requeue> = outcome
                .known_waits()
                .into_iter()
                .filter_map(|(id, after)| {
                    Some(Requeue {
                        receipt_handle: receipts.get(id)?.clone(),
                        after,
                    })
                })
                .collect();
            set_visibility(&self.sqs, queue_url, &requeues).await;
        }
        let (applied, dead_lettered, handed_back) = outcome.counts();
        tracing::info!(
            messages = messages.len(),
            applied,
            dead_lettered,
            handed_back,
            out_of_time = outcome.out_of_time,
            time_left_ms = deadline.remaining().as_millis() as u64,
            "batch done"
        );
        let noted = metrics::take_noted();
        self.metrics.emit(&metrics::functions::worker(
            &self.metrics,
            started,
            &messages,
            &outcome,
            &noted,
        ));
        let mut response = SqsBatchResponse::default();
        for id in outcome.handed_back() {
            response.add_failure(id);
        }
        self.logs.flush(INVOCATION_FLUSH_TIMEOUT).await;
        Ok(response)
    }
}
