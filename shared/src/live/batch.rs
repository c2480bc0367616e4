//! A batch of queued events, as SQS hands them to the worker: each message processed in order,
//! transient failures handed back for redelivery, permanent ones logged and acknowledged. In a
//! FIFO queue, once a message of a group fails, the later messages of that group are handed back
//! unprocessed too, so the group's order holds; other groups go on.

use std::collections::HashSet;

use tracing::Instrument;

use super::processor::{LiveError, LiveProcessor, LiveReport};
use crate::webhook::envelope::{ENVELOPE_VERSION, Envelope};

/// One message of the batch.
#[derive(Debug, Clone)]
pub struct QueuedEvent {
    pub message_id: String,
    /// The FIFO message group, when the queue has them.
    pub group_id: Option<String>,
    pub body: String,
}

/// The message ids to hand back to the queue.
pub async fn process_batch(processor: &LiveProcessor, messages: &[QueuedEvent]) -> Vec<String> {
    process_batch_reporting(processor, messages).await.0
}

/// [`process_batch`], also returning what each applied message did (the local host shows it).
pub async fn process_batch_reporting(
    processor: &LiveProcessor,
    messages: &[QueuedEvent],
) -> (Vec<String>, Vec<(String, LiveReport)>) {
    let mut failed = Vec::new();
    let mut reports = Vec::new();
    let mut blocked_groups: HashSet<&str> = HashSet::new();
    for message in messages {
        if let Some(group) = message.group_id.as_deref()
            && blocked_groups.contains(group)
        {
            failed.push(message.message_id.clone());
            continue;
        }
        let envelope: Envelope = match serde_json::from_str(&message.body) {
            Ok(envelope) => envelope,
            Err(error) => {
                tracing::error!(message_id = %message.message_id, line = error.line(), column = error.column(),
                    "dropped: not an event envelope");
                continue;
            }
        };
        if envelope.version != ENVELOPE_VERSION {
            tracing::error!(message_id = %message.message_id, delivery_id = %envelope.delivery_id,
                version = envelope.version, "dropped: unknown envelope version");
            continue;
        }
        let span = tracing::info_span!("event", delivery_id = %envelope.delivery_id, event = %envelope.event);
        match processor.process(&envelope).instrument(span.clone()).await {
            Ok(report) => {
                tracing::info!(
                parent: &span,
                action = envelope.action.as_deref().unwrap_or("-"),
                upserted = report.upserted.len(),
                deleted = report.deleted.len(),
                not_owned = report.not_owned.len(),
                field_errors = report.field_errors,
                "applied"
                );
                reports.push((message.message_id.clone(), report));
            }
            Err(LiveError::Transient(reason)) => {
                tracing::warn!(parent: &span, reason = %reason, "will retry");
                failed.push(message.message_id.clone());
                if let Some(group) = message.group_id.as_deref() {
                    blocked_groups.insert(group);
                }
            }
            Err(LiveError::Permanent(reason)) => {
                tracing::error!(parent: &span, reason = %reason, "dropped: permanent failure")
            }
        }
    }
    (failed, reports)
}
