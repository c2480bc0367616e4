//! When a handed-back message comes back. Lambda leaves a message it was told to retry
//! invisible for the queue's whole visibility timeout (720 s); when the wait is known (a rate
//! limit's reset, Port's `retry-after`, or "at once" for a message the batch had no time to
//! start) the worker sets the message's visibility to that wait instead, so it neither comes
//! back early to fail again (spending one of its `maxReceiveCount` receives) nor waits longer
//! than it must. Owns only that call (`ChangeMessageVisibilityBatch` on the events queue).

use std::time::Duration;

/// SQS's longest visibility timeout (12 hours).
pub const MAX_VISIBILITY: Duration = Duration::from_secs(43_200);

/// One handed-back message whose return time is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requeue {
    /// The receipt handle of this delivery of the message.
    pub receipt_handle: String,
    /// Visible again after this (capped at [`MAX_VISIBILITY`]).
    pub after: Duration,
}

/// The seconds SQS is asked for: whole seconds, rounded up, at most 12 hours.
pub fn visibility_seconds(after: Duration) -> i32 {
    let capped = after.min(MAX_VISIBILITY);
    let seconds = capped.as_secs() + u64::from(capped.subsec_nanos() > 0);
    i32::try_from(seconds).unwrap_or(i32::MAX)
}

/// Sets the visibility of each message (ten per request). A failure is logged and the message
/// keeps the queue's own timeout: it still comes back, only later.
pub async fn set_visibility(client: &aws_sdk_sqs::Client, queue_url: &str, messages: &[Requeue]) {
    use aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry;
    for chunk in messages.chunks(10) {
        let mut request = client
            .change_message_visibility_batch()
            .queue_url(queue_url);
        for (index, message) in chunk.iter().enumerate() {
            match ChangeMessageVisibilityBatchRequestEntry::builder()
                .id(index.to_string())
                .receipt_handle(&message.receipt_handle)
                .visibility_timeout(visibility_seconds(message.after))
                .build()
            {
                Ok(entry) => request = request.entries(entry),
                Err(error) => tracing::warn!(%error, "a visibility change could not be built"),
            }
        }
        match request.send().await {
            Ok(answer) => {
                for failed in answer.failed() {
                    tracing::warn!(
                        code = failed.code(),
                        message = failed.message().unwrap_or_default(),
                        "a handed-back message keeps the queue's visibility timeout"
                    );
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, "handed-back messages keep the queue's visibility timeout");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_become_whole_seconds_within_sqs_limits() {
        assert_eq!(visibility_seconds(Duration::ZERO), 0);
        assert_eq!(visibility_seconds(Duration::from_millis(1_200)), 2);
        assert_eq!(visibility_seconds(Duration::from_secs(30)), 30);
        assert_eq!(visibility_seconds(Duration::from_secs(100_000)), 43_200);
    }
}
