//! A batch of queued events, as SQS hands them to the worker: each message processed in order,
//! within the invocation's deadline. What becomes of each message: applied; kept in the dead
//! letters with its reason when it fails for good (then acknowledged); or handed back for
//! another delivery (a transient failure, a wait that does not fit the time left, a message the
//! batch had no time to start), with the wait after which it should come back when that is
//! known. A message that was applied is never handed back. In a FIFO queue, once a message of a
//! group is handed back, the later messages of that group are handed back unprocessed too, so
//! the group's order holds; other groups go on.

use std::collections::HashMap;
use std::time::Duration;

use tracing::Instrument;

use super::dead_letters::{DeadLetter, DeadLetters};
use super::error::LiveError;
use super::processor::{LiveProcessor, LiveReport};
use crate::deadline::{self, Deadline};
use crate::webhook::envelope::{ENVELOPE_VERSION, Envelope};

/// Of an invocation's time, what the worker keeps for after the batch (visibility changes, the
/// answer to Lambda): its deadline for the batch is Lambda's less this.
pub const INVOCATION_MARGIN: Duration = Duration::from_secs(5);

/// A message is not started with less time than this left: it could not do much before the
/// deadline cuts it.
pub const MIN_TIME_TO_START: Duration = Duration::from_secs(2);

/// One message of the batch.
#[derive(Debug, Clone)]
pub struct QueuedEvent {
    pub message_id: String,
    /// The FIFO message group, when the queue has them.
    pub group_id: Option<String>,
    pub body: String,
}

/// How a batch is run.
#[derive(Clone, Copy, Default)]
pub struct BatchSettings<'a> {
    /// Where events that fail for good are kept. `None`: they are handed back, and the queue's
    /// redrive policy moves them to its dead-letter queue after `maxReceiveCount` receives.
    pub dead_letters: Option<&'a dyn DeadLetters>,
    /// When the batch must be done (the invocation's deadline less a margin): no wait is slept
    /// past it, and what has not started by then is handed back.
    pub deadline: Option<Deadline>,
}

/// Why a message is handed back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryReason {
    /// Its processing failed in a way that may pass.
    Failed(String),
    /// An earlier message of its FIFO group was handed back.
    GroupBlocked,
    /// The batch ran out of time before (or while) processing it.
    OutOfTime,
    /// It failed for good, and could not be kept in the dead letters (or there are none): the
    /// queue keeps it, and its redrive policy moves it to the dead-letter queue in the end.
    NotKept(String),
}

impl std::fmt::Display for RetryReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Failed(reason) | Self::NotKept(reason) => f.write_str(reason),
            Self::GroupBlocked => f.write_str("an earlier event of its group was handed back"),
            Self::OutOfTime => f.write_str("the batch ran out of time"),
        }
    }
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied(LiveReport),
    /// Failed for good; kept with this reason in the dead letters, and acknowledged.
    DeadLettered {
        reason: String,
    },
    /// To be delivered again; `after`: when, if that is known (`Duration::ZERO`: at once).
    Retry {
        reason: RetryReason,
        after: Option<Duration>,
    },
}

/// Each message's outcome, in the batch's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub messages: Vec<(String, Outcome)>,
    /// True when the batch stopped early for lack of time.
    pub out_of_time: bool,
}

impl BatchOutcome {
    /// The message ids to hand back to the queue (`batchItemFailures`).
    pub fn handed_back(&self) -> Vec<String> {
        self.messages
            .iter()
            .filter(|(_, outcome)| matches!(outcome, Outcome::Retry { .. }))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Handed-back messages whose return time is known, with that time.
    pub fn known_waits(&self) -> Vec<(&str, Duration)> {
        self.messages
            .iter()
            .filter_map(|(id, outcome)| match outcome {
                Outcome::Retry {
                    after: Some(after), ..
                } => Some((id.as_str(), *after)),
                _ => None,
            })
            .collect()
    }

    /// The outcome of one message.
    pub fn get(&self, message_id: &str) -> Option<&Outcome> {
        self.messages
            .iter()
            .find(|(id, _)| id == message_id)
            .map(|(_, outcome)| outcome)
    }

    /// How many messages ended each way: (applied, dead-lettered, handed back).
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for (_, outcome) in &self.messages {
            match outcome {
                Outcome::Applied(_) => counts.0 += 1,
                Outcome::DeadLettered { .. } => counts.1 += 1,
                Outcome::Retry { .. } => counts.2 += 1,
            }
        }
        counts
    }
}

/// Processes the batch in order (see the module comment).
pub async fn process_batch(
    processor: &LiveProcessor,
    messages: &[QueuedEvent],
    settings: BatchSettings<'_>,
) -> BatchOutcome {
    let run = run_batch(processor, messages, settings);
    match settings.deadline {
        Some(deadline) => deadline.scope(run).await,
        None => run.await,
    }
}

async fn run_batch(
    processor: &LiveProcessor,
    messages: &[QueuedEvent],
    settings: BatchSettings<'_>,
) -> BatchOutcome {
    let mut outcome = BatchOutcome::default();
    // Groups with a handed-back message, and when that message comes back.
    let mut blocked: HashMap<&str, Option<Duration>> = HashMap::new();
    // Once out of time: when the messages not started should come back.
    let mut stopped: Option<Duration> = None;
    for message in messages {
        let group = message.group_id.as_deref();
        // Behind a handed-back message of its group: comes back with it.
        if let Some(after) = group.and_then(|g| blocked.get(g)) {
            outcome.messages.push((
                message.message_id.clone(),
                Outcome::Retry {
                    reason: RetryReason::GroupBlocked,
                    after: *after,
                },
            ));
            continue;
        }
        if let Some(after) = stopped {
            outcome.messages.push((
                message.message_id.clone(),
                Outcome::Retry {
                    reason: RetryReason::OutOfTime,
                    after: Some(after),
                },
            ));
            continue;
        }
        if let Some(deadline) = settings.deadline
            && deadline.remaining() < MIN_TIME_TO_START
        {
            tracing::warn!(message_id = %message.message_id, "out of time: handing back the rest of the batch");
            stopped = Some(Duration::ZERO);
            outcome.out_of_time = true;
            outcome.messages.push((
                message.message_id.clone(),
                Outcome::Retry {
                    reason: RetryReason::OutOfTime,
                    after: Some(Duration::ZERO),
                },
            ));
            continue;
        }
        let (result, envelope) = process_one(processor, message, settings.deadline).await;
        // A wait this message needed that did not fit the time left: the rest of the batch is
        // handed back unstarted, to come back when that wait is over.
        let refused = deadline::take_refused();
        let result = match result {
            Some(result) => result,
            None => {
                tracing::warn!(message_id = %message.message_id, "out of time while processing: handing it back");
                stopped = Some(Duration::ZERO);
                outcome.out_of_time = true;
                if let Some(group) = group {
                    blocked.insert(group, None);
                }
                outcome.messages.push((
                    message.message_id.clone(),
                    Outcome::Retry {
                        reason: RetryReason::OutOfTime,
                        after: None,
                    },
                ));
                continue;
            }
        };
        if let Some(wait) = refused {
            tracing::warn!(message_id = %message.message_id, wait_s = wait.as_secs(),
                "a wait does not fit the time left: handing back the rest of the batch");
            stopped = Some(wait);
            outcome.out_of_time = true;
        }
        let this = match result {
            Ok(report) => Outcome::Applied(report),
            Err(LiveError::Permanent { reason, .. }) => {
                keep(settings.dead_letters, message, envelope.as_ref(), reason).await
            }
            Err(error @ (LiveError::Transient { .. } | LiveError::Deferred { .. })) => {
                Outcome::Retry {
                    after: error.retry_after().or(refused),
                    reason: RetryReason::Failed(error.to_string()),
                }
            }
        };
        if let (Outcome::Retry { after, .. }, Some(group)) = (&this, group) {
            blocked.insert(group, *after);
        }
        outcome.messages.push((message.message_id.clone(), this));
    }
    outcome
}

/// Reads and processes one message: `None` when the deadline cut it short. The envelope is
/// returned when it could be read.
async fn process_one(
    processor: &LiveProcessor,
    message: &QueuedEvent,
    deadline: Option<Deadline>,
) -> (Option<Result<LiveReport, LiveError>>, Option<Envelope>) {
    let envelope: Envelope = match serde_json::from_str(&message.body) {
        Ok(envelope) => envelope,
        Err(error) => {
            let reason = format!("not an event envelope: {error}");
            return (Some(Err(LiveError::permanent(reason))), None);
        }
    };
    if envelope.version != ENVELOPE_VERSION {
        let reason = format!(
            "unknown envelope version {} (this worker reads {ENVELOPE_VERSION})",
            envelope.version
        );
        return (Some(Err(LiveError::permanent(reason))), Some(envelope));
    }
    let span = tracing::info_span!("event", message_id = %message.message_id,
        delivery_id = %envelope.delivery_id, event = %envelope.event);
    let work = processor.process(&envelope).instrument(span.clone());
    let result = match deadline {
        Some(deadline) => tokio::time::timeout(deadline.remaining(), work).await.ok(),
        None => Some(work.await),
    };
    // Logged inside the event's span, so each line names its message and delivery.
    span.in_scope(|| match &result {
        Some(Ok(report)) => tracing::info!(
            action = envelope.action.as_deref().unwrap_or("-"),
            upserted = report.upserted.len(),
            deleted = report.deleted.len(),
            not_owned = report.not_owned.len(),
            field_errors = report.field_errors,
            "applied"
        ),
        Some(Err(LiveError::Permanent { reason, .. })) => {
            tracing::error!(reason = %reason, "permanent failure")
        }
        Some(Err(error)) => tracing::warn!(reason = %error, "will retry"),
        None => tracing::warn!("cut short by the deadline"),
    });
    (result, Some(envelope))
}

/// A message that failed for good: kept in the dead letters and acknowledged, or handed back
/// when it cannot be kept.
async fn keep(
    dead_letters: Option<&dyn DeadLetters>,
    message: &QueuedEvent,
    envelope: Option<&Envelope>,
    reason: String,
) -> Outcome {
    let Some(dead_letters) = dead_letters else {
        tracing::error!(message_id = %message.message_id, reason = %reason,
            "failed for good; no dead-letter queue is set: handed back for the redrive policy");
        return Outcome::Retry {
            reason: RetryReason::NotKept(reason),
            after: None,
        };
    };
    let letter = DeadLetter {
        message_id: message.message_id.clone(),
        group_id: message.group_id.clone(),
        body: message.body.clone(),
        reason: reason.clone(),
        delivery_id: envelope.map(|e| e.delivery_id.clone()),
        event: envelope.map(|e| e.event.clone()),
    };
    match dead_letters.keep(&letter).await {
        Ok(()) => {
            tracing::error!(message_id = %message.message_id,
                delivery_id = letter.delivery_id.as_deref().unwrap_or("-"),
                reason = %reason, "dead-lettered: failed for good, kept with its reason");
            Outcome::DeadLettered { reason }
        }
        Err(error) => {
            tracing::error!(message_id = %message.message_id, reason = %reason, error = %error,
                "failed for good and could not be dead-lettered: handed back");
            Outcome::Retry {
                reason: RetryReason::NotKept(format!("{reason} (dead-letter queue: {error})")),
                after: None,
            }
        }
    }
}
