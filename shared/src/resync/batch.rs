//! A batch of job messages from the jobs queue: drops malformed jobs and jobs of a superseded
//! run, delays jobs whose time has not come, keeps the run's lease, runs the cleanups, and takes
//! the other jobs through the three phases (`gathering`, `sending`, `settling`) together, so the
//! batch's upserts go to Port in bulk.

use std::time::{Duration, Instant};

use chrono::DateTime;
use futures_util::StreamExt as _;

use super::gathering::Gathered;
use super::{Job, Resync, Task, delay_until};

/// One message of the jobs queue.
#[derive(Debug, Clone)]
pub struct JobMessage {
    pub id: String,
    pub body: String,
}

impl JobMessage {
    /// Messages for in-process delivery, each named by its index in `bodies`.
    pub fn numbered(bodies: &[String]) -> Vec<Self> {
        bodies
            .iter()
            .enumerate()
            .map(|(index, body)| Self {
                id: index.to_string(),
                body: body.clone(),
            })
            .collect()
    }
}

impl Resync {
    /// Runs a batch of job messages before `deadline`; returns the ids of the messages SQS
    /// should deliver again (only when the state store or the queue failed: a job's own
    /// failures are retried by re-queueing it).
    pub async fn handle_messages(
        &self,
        messages: Vec<JobMessage>,
        deadline: Instant,
    ) -> Vec<String> {
        let current = match self.ledger.current().await {
            Ok(current) => current,
            Err(error) => {
                tracing::error!(%error, "cannot read the current run; the batch is retried");
                return messages.into_iter().map(|m| m.id).collect();
            }
        };
        if let Some(config) = current.as_ref().and_then(|c| c.mapping.as_ref())
            && let Err(error) = self.use_mapping(config)
        {
            tracing::error!(%error, "the run's mapping does not compile; the batch is retried");
            return messages.into_iter().map(|m| m.id).collect();
        }
        let now = self.clock.now();
        let mut failed = Vec::new();
        let mut runnable = Vec::new();
        for message in messages {
            let job = match Job::parse(&message.body) {
                Ok(job) => job,
                Err(error) => {
                    tracing::warn!(message_id = %message.id, %error, "dropped a malformed resync job");
                    continue;
                }
            };
            if current.as_ref().map(|c| c.run.as_str()) != Some(job.run.as_str()) {
                tracing::info!(run = %job.run, job = %job.id, "dropped a job of a superseded run");
                continue;
            }
            if let Some(at) = job.not_before.and_then(|s| DateTime::from_timestamp(s, 0))
                && at > now
            {
                if let Err(error) = self
                    .queue
                    .send(vec![job.to_body()], delay_until(now, at))
                    .await
                {
                    tracing::warn!(%error, "could not delay a job");
                    failed.push(message.id);
                }
                continue;
            }
            runnable.push((message.id, job));
        }
        if let Some(current) = current.as_ref().filter(|_| !runnable.is_empty()) {
            // The run is alive: its jobs keep its lease.
            self.known_lease
                .working_for(&current.run, current.started_at);
            self.keep_lease(&current.run, Duration::ZERO).await;
        }
        let (cleanups, jobs): (Vec<_>, Vec<_>) = runnable
            .into_iter()
            .partition(|(_, job)| matches!(job.task, Task::Cleanup));
        for (id, job) in cleanups {
            if let Err(error) = self.run_cleanup(job).await {
                tracing::error!(%error, "cleanup bookkeeping failed; retried");
                failed.push(id);
            }
        }
        if jobs.is_empty() {
            return failed;
        }
        let started = Instant::now();
        let listing_deadline = deadline
            .checked_sub(deadline.saturating_duration_since(started) / 5)
            .unwrap_or(deadline);
        let concurrency = self.settings.job_concurrency.max(1);
        let mut gathered: Vec<(String, Gathered)> = futures_util::stream::iter(jobs)
            .map(|(id, job)| async move { (id, self.gather(job, listing_deadline).await) })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let results = self.send_upserts(&mut gathered, now).await;
        for ((id, gathered), results) in gathered.into_iter().zip(results) {
            if let Err(error) = self.settle(gathered, results).await {
                tracing::error!(message_id = %id, %error, "job bookkeeping failed; retried");
                failed.push(id);
            }
        }
        failed
    }
}
