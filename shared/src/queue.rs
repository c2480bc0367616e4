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
    #[error("could not send to the queue")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The queue rejected the message itself (too large, bad attribute): retrying will not help.
    #[error("the queue rejected the message: {0}")]
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
/// Bounded or not: a bounded queue counts each message from `enqueue` until the consumer says
/// it is [`finished`](InMemoryEventQueue::finished) with it (applied, kept or given up), and
/// refuses new ones as unavailable while `capacity` are outstanding, as an unreachable SQS would.
#[derive(Default)]
pub struct InMemoryEventQueue {
    inner: Mutex<InMemoryState>,
    capacity: Option<usize>,
}

#[derive(Default)]
struct InMemoryState {
    messages: VecDeque<QueuedMessage>,
    seen: HashMap<String, Instant>,
    /// Accepted and not yet finished (drained ones included).
    outstanding: usize,
}

/// Why a bounded queue turned a message away.
#[derive(Debug, thiserror::Error)]
#[error("the in-process queue is full ({capacity} events waiting)")]
pub struct QueueFull {
    pub capacity: usize,
}

impl InMemoryEventQueue {
    /// A queue that holds at most `capacity` outstanding messages.
    pub fn bounded(capacity: usize) -> Self {
        Self {
            inner: Mutex::default(),
            capacity: Some(capacity.max(1)),
        }
    }

    /// The consumer is done with `count` drained messages: room for as many new ones.
    pub fn finished(&self, count: usize) {
        let mut state = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.outstanding = state.outstanding.saturating_sub(count);
    }

    /// Messages accepted and not yet finished.
    pub fn outstanding(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .outstanding
    }

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
        if let Some(capacity) = self.capacity
            && state.outstanding >= capacity
        {
            return Err(QueueError::Unavailable(Box::new(QueueFull { capacity })));
        }
        state.seen.insert(message.dedup_id.clone(), now);
        state.messages.push_back(message);
        state.outstanding += 1;
        Ok(())
    }
}

/// The most SQS lets a message be delayed (standard queues).
pub const MAX_DELAY: Duration = Duration::from_secs(900);

/// A queue of resync jobs (standard, not FIFO: jobs are independent and may run in any order).
///
/// Contract: `send` returns `Ok` only once every body was accepted; each becomes visible after
/// `delay` (capped at [`MAX_DELAY`]; callers that need longer re-queue on receipt). On `Err`,
/// some bodies may have been sent: jobs are idempotent, so the caller may send them again.
#[async_trait]
pub trait JobQueue: Send + Sync {
    async fn send(&self, bodies: Vec<String>, delay: Duration) -> Result<(), QueueError>;
}

/// The SQS "resync-jobs" queue, ten messages per `SendMessageBatch`.
pub struct SqsJobQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsJobQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl JobQueue for SqsJobQueue {
    async fn send(&self, bodies: Vec<String>, delay: Duration) -> Result<(), QueueError> {
        use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
        let delay_seconds = i32::try_from(delay.min(MAX_DELAY).as_secs()).unwrap_or(900);
        for chunk in bodies.chunks(10) {
            let mut request = self.client.send_message_batch().queue_url(&self.queue_url);
            for (index, body) in chunk.iter().enumerate() {
                let entry = SendMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .message_body(body)
                    .delay_seconds(delay_seconds)
                    .build()
                    .map_err(|e| QueueError::Rejected(e.to_string()))?;
                request = request.entries(entry);
            }
            let answer = request
                .send()
                .await
                .map_err(|e| QueueError::Unavailable(Box::new(e)))?;
            if let Some(failed) = answer.failed().first() {
                let reason = format!(
                    "{}: {}",
                    failed.code(),
                    failed.message().unwrap_or_default()
                );
                return Err(if failed.sender_fault() {
                    QueueError::Rejected(reason)
                } else {
                    QueueError::Unavailable(reason.into())
                });
            }
        }
        Ok(())
    }
}

/// An in-process job queue with delays on the caller's clock, for the local host, tests and
/// benchmarks.
pub struct InMemoryJobQueue {
    clock: std::sync::Arc<dyn crate::clock::Clock>,
    messages: Mutex<Vec<(chrono::DateTime<chrono::Utc>, u64, String)>>,
    sent: std::sync::atomic::AtomicU64,
}

impl InMemoryJobQueue {
    pub fn new(clock: std::sync::Arc<dyn crate::clock::Clock>) -> Self {
        Self {
            clock,
            messages: Mutex::new(Vec::new()),
            sent: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Takes up to `max` messages that are visible now, oldest first.
    pub fn take_ready(&self, max: usize) -> Vec<String> {
        let now = self.clock.now();
        let mut messages = self
            .messages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        messages.sort_by_key(|(at, seq, _)| (*at, *seq));
        let ready = messages.iter().take_while(|(at, _, _)| *at <= now).count();
        messages
            .drain(..ready.min(max))
            .map(|(_, _, body)| body)
            .collect()
    }

    /// When the next message becomes visible (`None`: the queue is empty).
    pub fn next_visible_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.messages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|(at, _, _)| *at)
            .min()
    }

    pub fn len(&self) -> usize {
        self.messages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Messages sent since the queue was made.
    pub fn sent(&self) -> u64 {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[async_trait]
impl JobQueue for InMemoryJobQueue {
    async fn send(&self, bodies: Vec<String>, delay: Duration) -> Result<(), QueueError> {
        let at = crate::state::expiry(self.clock.now(), delay.min(MAX_DELAY));
        let mut messages = self
            .messages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for body in bodies {
            let seq = self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            messages.push((at, seq, body));
        }
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

    #[tokio::test]
    async fn a_bounded_queue_refuses_while_full_until_messages_are_finished() {
        let queue = InMemoryEventQueue::bounded(2);
        queue.enqueue(msg("a", "1")).await.unwrap();
        queue.enqueue(msg("a", "2")).await.unwrap();
        assert!(matches!(
            queue.enqueue(msg("a", "3")).await,
            Err(QueueError::Unavailable(_))
        ));
        // A duplicate is still recognised as one, full or not.
        assert!(queue.enqueue(msg("a", "1")).await.is_ok());
        // Drained but not finished: still counted.
        assert_eq!(queue.drain(10).len(), 2);
        assert!(queue.enqueue(msg("a", "3")).await.is_err());
        queue.finished(1);
        queue.enqueue(msg("a", "3")).await.unwrap();
        assert_eq!(queue.outstanding(), 2);
    }
}
