//! The queue of live events between the webhook and the worker: an SQS FIFO queue in AWS, an
//! in-process FIFO for the local host. Only moves messages; it never looks inside them.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

/// One message for a FIFO queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    /// Messages of one group are delivered in order (one resource: a PR, an issue, a team…).
    pub group_id: String,
    /// A second message with the same id within five minutes is dropped by the queue.
    pub dedup_id: String,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The queue could not be reached or refused for a reason that may pass (throttling, 5xx).
    #[error("could not send to the events queue")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The queue rejected the message itself (too large, bad attribute): retrying will not help.
    #[error("the events queue rejected the message: {0}")]
    Rejected(String),
}

/// Contract: `enqueue` returns `Ok` only once the queue has durably accepted the message (or
/// recognised it as a duplicate within the FIFO deduplication window). On `Err`, nothing may be
/// assumed sent, and the caller reports failure upstream so the sender retries.
#[async_trait]
pub trait EventQueue: Send + Sync {
    async fn enqueue(&self, message: QueuedMessage) -> Result<(), QueueError>;
}

/// An SQS FIFO queue.
pub struct SqsEventQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsEventQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl EventQueue for SqsEventQueue {
    async fn enqueue(&self, message: QueuedMessage) -> Result<(), QueueError> {
        use aws_sdk_sqs::error::ProvideErrorMetadata;
        let result = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_group_id(message.group_id)
            .message_deduplication_id(message.dedup_id)
            .message_body(message.body)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => {
                let code = error.code().unwrap_or_default().to_owned();
                // Errors about the message itself are permanent; everything else may pass.
                let permanent = matches!(
                    code.as_str(),
                    "InvalidMessageContents"
                        | "InvalidParameterValue"
                        | "MissingParameter"
                        | "InvalidParameterValueException"
                ) || code.contains("MessageTooLong");
                if permanent {
                    Err(QueueError::Rejected(code))
                } else {
                    Err(QueueError::Unavailable(Box::new(error)))
                }
            }
        }
    }
}

const FIFO_DEDUP_WINDOW: Duration = Duration::from_secs(300);

/// An in-process FIFO queue with SQS FIFO's five-minute deduplication, for the local host.
#[derive(Default)]
pub struct InMemoryEventQueue {
    inner: Mutex<InMemoryState>,
}

#[derive(Default)]
struct InMemoryState {
    messages: VecDeque<QueuedMessage>,
    seen: HashMap<String, Instant>,
}

impl InMemoryEventQueue {
    /// Takes up to `max` messages in arrival order.
    pub fn drain(&self, max: usize) -> Vec<QueuedMessage> {
        let mut state = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let n = max.min(state.messages.len());
        state.messages.drain(..n).collect()
    }

    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .messages
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl EventQueue for InMemoryEventQueue {
    async fn enqueue(&self, message: QueuedMessage) -> Result<(), QueueError> {
        let mut state = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        state
            .seen
            .retain(|_, at| now.duration_since(*at) < FIFO_DEDUP_WINDOW);
        if state.seen.contains_key(&message.dedup_id) {
            return Ok(());
        }
        state.seen.insert(message.dedup_id.clone(), now);
        state.messages.push_back(message);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(group: &str, dedup: &str) -> QueuedMessage {
        QueuedMessage {
            group_id: group.into(),
            dedup_id: dedup.into(),
            body: format!("{group}/{dedup}"),
        }
    }

    #[tokio::test]
    async fn in_memory_queue_keeps_order_and_deduplicates() {
        let queue = InMemoryEventQueue::default();
        queue.enqueue(msg("a", "1")).await.unwrap();
        queue.enqueue(msg("a", "2")).await.unwrap();
        queue.enqueue(msg("a", "1")).await.unwrap();
        assert_eq!(queue.len(), 2);
        let drained = queue.drain(10);
        assert_eq!(
            drained
                .iter()
                .map(|m| m.dedup_id.as_str())
                .collect::<Vec<_>>(),
            ["1", "2"]
        );
        assert!(queue.is_empty());
    }
}
