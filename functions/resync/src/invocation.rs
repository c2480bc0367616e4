//! What one invocation is (the schedule, a batch of jobs, or neither), the time it may use, and
//! its answer. Parsing and shaping only: the work is `Resync::tick` (a run when one is due) and
//! `Resync::handle_messages`.

use std::time::{Duration, Instant, SystemTime};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::Error;
use port_github_core::metrics::{Metrics, functions};
use port_github_core::resync::{JobMessage, Resync, StartOutcome, TickOutcome};
use serde_json::{Value, json};

/// Time kept back from Lambda's deadline to settle the batch and answer.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(10);

/// The kinds of event the function accepts.
#[derive(Debug)]
pub enum Invocation {
    /// An EventBridge scheduled event.
    Schedule,
    /// A batch of the jobs queue.
    Jobs(Vec<JobMessage>),
}

#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error("unsupported event: expected an EventBridge scheduled event or an SQS batch ({0})")]
    Unsupported(String),
    #[error("malformed SQS event: {0}")]
    MalformedSqs(String),
}

/// Tells the schedule from a job batch by their envelopes.
pub fn classify(event: Value) -> Result<Invocation, InvocationError> {
    let text = |key: &str| event.get(key).and_then(Value::as_str);
    if text("detail-type") == Some("Scheduled Event") || text("source") == Some("aws.events") {
        return Ok(Invocation::Schedule);
    }
    let from_sqs = event
        .get("Records")
        .and_then(Value::as_array)
        .and_then(|records| records.first())
        .and_then(|record| record.get("eventSource"))
        .and_then(Value::as_str)
        == Some("aws:sqs");
    if !from_sqs {
        let keys: Vec<&str> = event
            .as_object()
            .map(|object| object.keys().map(String::as_str).collect())
            .unwrap_or_default();
        return Err(InvocationError::Unsupported(if keys.is_empty() {
            "not a JSON object with fields".to_owned()
        } else {
            format!("fields: {}", keys.join(", "))
        }));
    }
    let batch: SqsEvent =
        serde_json::from_value(event).map_err(|e| InvocationError::MalformedSqs(e.to_string()))?;
    Ok(Invocation::Jobs(
        batch
            .records
            .into_iter()
            .map(|record| JobMessage {
                id: record.message_id.unwrap_or_default(),
                body: record.body.unwrap_or_default(),
            })
            .collect(),
    ))
}

/// When the jobs must stop: Lambda's deadline less [`DEADLINE_MARGIN`], and no later than the
/// configured budget (`RESYNC_TIME_BUDGET_SECONDS`) from now.
pub fn deadline(lambda_deadline: SystemTime, budget: Option<Duration>) -> Instant {
    let now = Instant::now();
    let remaining = lambda_deadline
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        .saturating_sub(DEADLINE_MARGIN);
    let remaining = budget.map_or(remaining, |budget| remaining.min(budget));
    now + remaining
}

/// Runs one invocation, shapes its answer and writes its metrics (a schedule tick's say whether
/// a completed run is overdue, whatever the tick did).
pub async fn handle(
    resync: &Resync,
    event: Value,
    deadline: Instant,
    metrics: &Metrics,
) -> Result<Value, Error> {
    let invocation = classify(event)?;
    let schedule = matches!(invocation, Invocation::Schedule);
    let answer = run(resync, invocation, deadline).await;
    let overdue = match schedule && metrics.enabled() {
        true => match resync.overdue().await {
            Ok(overdue) => Some(overdue),
            Err(error) => {
                tracing::warn!(%error, "cannot tell whether a resync is overdue");
                None
            }
        },
        false => None,
    };
    let noted = port_github_core::metrics::take_noted();
    metrics.emit(&functions::resync(
        metrics,
        port_github_core::metrics::now(),
        &noted,
        overdue,
    ));
    answer
}

async fn run(resync: &Resync, invocation: Invocation, deadline: Instant) -> Result<Value, Error> {
    match invocation {
        Invocation::Schedule => match resync.tick().await? {
            TickOutcome::NotDue { due_at } => {
                Ok(json!({"status": "not_due", "due_at": due_at.to_rfc3339()}))
            }
            TickOutcome::Start(StartOutcome::Started { run, jobs, trigger }) => Ok(json!({
                "status": "started", "run": run, "jobs": jobs, "reason": trigger.to_string(),
            })),
            TickOutcome::Start(StartOutcome::Skipped {
                holder,
                until,
                started_at,
            }) => Ok(json!({
                "status": "skipped", "holder": holder, "until": until.to_rfc3339(),
                "started_at": started_at.map(|s| s.to_rfc3339()),
                "message": format!(
                    "skipped: run {holder} in progress, lease until {} (started {})",
                    until.to_rfc3339(),
                    started_at.map_or_else(|| "unknown".to_owned(), |s| s.to_rfc3339())
                ),
            })),
        },
        Invocation::Jobs(messages) => {
            tracing::info!(messages = messages.len(), "resync jobs batch");
            let mut response = SqsBatchResponse::default();
            for id in resync.handle_messages(messages, deadline).await {
                response.add_failure(id);
            }
            Ok(serde_json::to_value(response)?)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_scheduled_event_is_the_schedule() {
        let event = json!({"version": "0", "id": "e", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "1", "time": "2026-11-24T00:00:00Z",
            "region": "us-east-1", "resources": [], "detail": {}});
        assert!(matches!(classify(event).unwrap(), Invocation::Schedule));
        let by_source = json!({"source": "aws.events", "detail-type": "Other"});
        assert!(matches!(classify(by_source).unwrap(), Invocation::Schedule));
    }

    #[test]
    fn an_sqs_batch_is_jobs_with_their_message_ids() {
        let event = json!({"Records": [
            {"messageId": "m-1", "body": "{}", "eventSource": "aws:sqs", "attributes": {},
             "messageAttributes": {}},
            {"messageId": "m-2", "eventSource": "aws:sqs", "attributes": {},
             "messageAttributes": {}}
        ]});
        let Invocation::Jobs(messages) = classify(event).unwrap() else {
            panic!("not jobs");
        };
        let ids: Vec<&str> = messages.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["m-1", "m-2"]);
        assert_eq!(messages[1].body, "");
    }

    #[test]
    fn anything_else_is_a_clear_error() {
        for event in [
            json!({"Records": [{"eventSource": "aws:s3"}]}),
            json!({"hello": "world"}),
            json!("text"),
            json!({"Records": []}),
        ] {
            let error = classify(event).unwrap_err().to_string();
            assert!(error.contains("unsupported event"), "{error}");
        }
        let bad = json!({"Records": [{"eventSource": "aws:sqs", "messageId": 5}]});
        assert!(classify(bad).unwrap_err().to_string().contains("SQS"));
    }

    #[test]
    fn the_deadline_keeps_a_margin_and_honours_the_budget() {
        let in_60s = SystemTime::now() + Duration::from_secs(60);
        let left = |at: Instant| at.saturating_duration_since(Instant::now());
        let plain = left(deadline(in_60s, None));
        assert!(plain <= Duration::from_secs(50) && plain > Duration::from_secs(45));
        let budget = left(deadline(in_60s, Some(Duration::from_secs(20))));
        assert!(budget <= Duration::from_secs(20) && budget > Duration::from_secs(15));
        let past = SystemTime::now() - Duration::from_secs(5);
        assert_eq!(left(deadline(past, None)), Duration::ZERO);
    }
}
