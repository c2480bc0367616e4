//! Runs a whole resync in one process with the in-memory jobs queue, as Lambda would with SQS:
//! each "invocation" takes up to `batch` visible jobs and a deadline `budget` away, `parallel`
//! invocations at a time; delayed jobs wait on the clock. For the local host, the demo, tests
//! and benchmarks.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{JobMessage, Resync, ResyncError, RunSummary, StartOutcome};
use crate::clock::Clock;
use crate::queue::{InMemoryJobQueue, JobQueue as _};

#[derive(Debug, Clone)]
pub struct DriveSettings {
    /// Jobs per invocation (the event source mapping's batch size).
    pub batch: usize,
    /// Work time per invocation.
    pub budget: Duration,
    /// Invocations at once.
    pub parallel: usize,
}

impl Default for DriveSettings {
    fn default() -> Self {
        Self {
            batch: 10,
            budget: Duration::from_secs(60),
            parallel: 2,
        }
    }
}

#[derive(Debug, Clone)]
pub struct DriveReport {
    pub start: StartOutcome,
    /// Job invocations (the schedule's own not counted).
    pub invocations: u64,
    pub summary: Option<RunSummary>,
}

/// Starts a run and drives its jobs until the queue is empty. `on_progress` sees the run's
/// counters after every round of invocations.
pub async fn run_to_end(
    resync: &Resync,
    queue: &InMemoryJobQueue,
    clock: Arc<dyn Clock>,
    settings: &DriveSettings,
    on_progress: impl FnMut(&BTreeMap<String, i64>),
) -> Result<DriveReport, ResyncError> {
    let start = resync.start().await?;
    let StartOutcome::Started { run, .. } = &start else {
        return Ok(DriveReport {
            start,
            invocations: 0,
            summary: None,
        });
    };
    let run = run.clone();
    let invocations = drain(resync, queue, clock, settings, on_progress, &run).await?;
    let summary = resync.summary(&run).await?;
    Ok(DriveReport {
        start,
        invocations,
        summary,
    })
}

/// Runs the queued jobs until none is left; returns the invocations used.
pub async fn drain(
    resync: &Resync,
    queue: &InMemoryJobQueue,
    clock: Arc<dyn Clock>,
    settings: &DriveSettings,
    mut on_progress: impl FnMut(&BTreeMap<String, i64>),
    run: &str,
) -> Result<u64, ResyncError> {
    let mut invocations = 0u64;
    let mut redeliveries = 0u32;
    loop {
        let mut batches = Vec::new();
        for _ in 0..settings.parallel.max(1) {
            let bodies = queue.take_ready(settings.batch.max(1));
            if bodies.is_empty() {
                break;
            }
            batches.push(bodies);
        }
        if batches.is_empty() {
            match queue.next_visible_at() {
                None => return Ok(invocations),
                Some(at) => {
                    let wait = (at - clock.now()).to_std().unwrap_or_default();
                    clock.sleep(wait.max(Duration::from_millis(1))).await;
                    continue;
                }
            }
        }
        invocations += batches.len() as u64;
        let rounds = batches.into_iter().map(|bodies| async move {
            let messages = JobMessage::numbered(&bodies);
            let failed = resync
                .handle_messages(messages, Instant::now() + settings.budget)
                .await;
            failed
                .into_iter()
                .filter_map(|id| id.parse::<usize>().ok())
                .filter_map(|index| bodies.get(index).cloned())
                .collect::<Vec<String>>()
        });
        let failed: Vec<String> = futures_util::future::join_all(rounds)
            .await
            .into_iter()
            .flatten()
            .collect();
        if !failed.is_empty() {
            // As SQS would: deliver again after the visibility timeout, a bounded number of times.
            redeliveries += 1;
            if redeliveries > 20 {
                return Err(ResyncError::Stuck);
            }
            queue.send(failed, Duration::from_secs(30)).await?;
        }
        on_progress(&resync.progress(run).await?);
    }
}
