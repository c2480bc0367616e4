//! Where events that failed for good are kept, with their reason, so that none is lost: the
//! events queue's dead-letter queue in AWS (sent there directly, the reason and the delivery as
//! message attributes, then acknowledged), a bounded in-memory list for the local host. Owns
//! only the keeping; deciding what is permanent is the processor's, replaying is the operator's
//! (`aws sqs start-message-move-task`, see the README).

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{SecondsFormat, Utc};

use crate::queue::QueueError;

/// Longest reason kept in a message attribute (SQS allows far more; the logs have the rest).
const MAX_REASON_CHARS: usize = 1024;

/// One event that failed for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The queue's id of the message (SQS message id, or the local host's sequence number).
    pub message_id: String,
    /// Its FIFO group: a dead-letter FIFO queue keeps the group's order too.
    pub group_id: Option<String>,
    /// The message as it was received, untouched, so that a replay re-queues exactly it.
    pub body: String,
    /// Why it cannot be applied.
    pub reason: String,
    /// From the envelope, when it could be read.
    pub delivery_id: Option<String>,
    pub event: Option<String>,
}

/// Contract: `keep` returns `Ok` only once the letter is stored where an operator can find it
/// (then the caller acknowledges the original); on `Err` nothing may be assumed kept and the
/// caller hands the message back instead, so it is never lost.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    async fn keep(&self, letter: &DeadLetter) -> Result<(), QueueError>;
}

/// The events queue's dead-letter queue (`EVENTS_DLQ_URL`, FIFO like the events queue).
pub struct SqsDeadLetters {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsDeadLetters {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

/// A string message attribute.
fn attribute(value: &str) -> Result<aws_sdk_sqs::types::MessageAttributeValue, QueueError> {
    aws_sdk_sqs::types::MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| QueueError::Rejected(e.to_string()))
}

/// Characters SQS accepts in attribute values (XML's): anything else becomes `?`.
fn sqs_safe(text: &str, max_chars: usize) -> String {
    text.chars()
        .take(max_chars)
        .map(|c| match c {
            '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' => c,
            c if c > '\u{FFFF}' => c,
            _ => '?',
        })
        .collect()
}

#[async_trait]
impl DeadLetters for SqsDeadLetters {
    async fn keep(&self, letter: &DeadLetter) -> Result<(), QueueError> {
        use aws_sdk_sqs::error::ProvideErrorMetadata;
        let group = letter
            .group_id
            .clone()
            .unwrap_or_else(|| "dead-letters".to_owned());
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_group_id(group)
            // The same message failing twice (a redelivery) is kept once.
            .message_deduplication_id(crate::webhook::events::fifo_safe(&format!(
                "dead-{}",
                letter.message_id
            )))
            .message_body(&letter.body)
            .message_attributes(
                "reason",
                attribute(&sqs_safe(&letter.reason, MAX_REASON_CHARS))?,
            )
            .message_attributes(
                "failed_at",
                attribute(&Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true))?,
            )
            .message_attributes(
                "source_message_id",
                attribute(&sqs_safe(&letter.message_id, 128))?,
            );
        if let Some(delivery) = &letter.delivery_id {
            request =
                request.message_attributes("delivery_id", attribute(&sqs_safe(delivery, 128))?);
        }
        if let Some(event) = &letter.event {
            request = request.message_attributes("event", attribute(&sqs_safe(event, 128))?);
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(error) => {
                let code = error.code().unwrap_or_default().to_owned();
                tracing::error!(error = %error, code, "the dead-letter queue did not take the event");
                Err(QueueError::Unavailable(Box::new(error)))
            }
        }
    }
}

/// The local host's dead letters: the latest `capacity` kept in memory (older ones are
/// forgotten, and counted), each also printed by the caller.
pub struct InMemoryDeadLetters {
    capacity: usize,
    inner: Mutex<(VecDeque<DeadLetter>, u64)>,
}

impl InMemoryDeadLetters {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new((VecDeque::new(), 0)),
        }
    }

    /// The letters kept, oldest first.
    pub fn letters(&self) -> Vec<DeadLetter> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.0.iter().cloned().collect()
    }

    /// Every letter ever kept, the forgotten ones included.
    pub fn total(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).1
    }
}

#[async_trait]
impl DeadLetters for InMemoryDeadLetters {
    async fn keep(&self, letter: &DeadLetter) -> Result<(), QueueError> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.0.len() >= self.capacity {
            inner.0.pop_front();
        }
        inner.0.push_back(letter.clone());
        inner.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(n: u32) -> DeadLetter {
        DeadLetter {
            message_id: n.to_string(),
            group_id: None,
            body: "{}".into(),
            reason: format!("reason {n}"),
            delivery_id: None,
            event: None,
        }
    }

    #[tokio::test]
    async fn the_local_list_keeps_the_latest_and_counts_all() {
        let kept = InMemoryDeadLetters::new(2);
        for n in 1..=3 {
            kept.keep(&letter(n)).await.unwrap_or_default();
        }
        let ids: Vec<String> = kept.letters().into_iter().map(|l| l.message_id).collect();
        assert_eq!(ids, ["2", "3"]);
        assert_eq!(kept.total(), 3);
    }

    #[test]
    fn attribute_values_keep_to_what_sqs_accepts() {
        assert_eq!(sqs_safe("a\u{0}b\u{FFFE}c", 100), "a?b?c");
        assert_eq!(sqs_safe("é😀", 100), "é😀");
        assert_eq!(sqs_safe("abcdef", 3), "abc");
    }
}
