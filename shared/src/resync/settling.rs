//! Phase three of a job: tallies what Port accepted and refused, writes the resources' records
//! (or the partial records of an unfinished list), queues children and the continuation, marks
//! the job done once (a duplicate delivery changes nothing) and adds its counters; the job that
//! completes the count claims the end of the run (`finishing`). Requeues, retries and failures
//! are settled here too.

use std::collections::BTreeMap;
use std::time::Duration;

use super::gathering::{Gathered, Outcome};
use super::ledger::refusals_counter;
use super::records::{self, Entry};
use super::{Job, Resync, ResyncError, Task, retry_delay};
use crate::port::UpsertResult;
use crate::queue::MAX_DELAY;

impl Resync {
    /// Phase three: records, continuation and children, counters; and the end of the run when
    /// this job completes the count.
    pub(super) async fn settle(
        &self,
        mut gathered: Gathered,
        results: Vec<UpsertResult>,
    ) -> Result<(), ResyncError> {
        let now = self.clock.now();
        let job = gathered.job.clone();
        // Entities Port refused for a reason that may pass make the job try again; the others
        // are counted per blueprint, with the first reason of each.
        let mut refused = 0i64;
        let mut refusals: BTreeMap<String, (i64, String)> = BTreeMap::new();
        for (index, result) in results.iter().enumerate() {
            if gathered.deleted_live.contains(&index) {
                continue;
            }
            if let UpsertResult::Failed(failure) = result {
                if !failure.transient {
                    let blueprint = gathered
                        .upserts
                        .get(index)
                        .map(|(_, entity)| entity.blueprint.clone())
                        .unwrap_or_default();
                    let reason = format!("{}: {}", failure.code, failure.message);
                    refusals.entry(blueprint).or_insert((0, reason)).0 += 1;
                }
                if failure.transient {
                    gathered.outcome = Outcome::Retry(
                        failure
                            .retry_after
                            .unwrap_or_else(|| retry_delay(job.attempt)),
                        format!("Port: {} {}", failure.code, failure.message),
                    );
                    break;
                }
                refused += 1;
            }
        }
        match gathered.outcome {
            Outcome::Requeue(delay) => {
                self.send_delayed(vec![job], delay).await?;
                return Ok(());
            }
            Outcome::Retry(delay, reason) => {
                if job.attempt + 1 < self.settings.max_attempts {
                    tracing::warn!(job = %job.id, attempt = job.attempt + 1, %reason, "resync job retried");
                    self.send_delayed(vec![job.retried()], delay).await?;
                    return Ok(());
                }
                return self.settle_failed(&job, &reason).await;
            }
            Outcome::Failed(reason) => return self.settle_failed(&job, &reason).await,
            Outcome::Complete | Outcome::Continue(..) => {}
        }
        if refused > 0 {
            gathered.count("refused".into(), refused);
        }
        // Per kind too, for the metrics (`crate::metrics::functions`).
        let per_kind: Vec<String> = results
            .iter()
            .zip(&gathered.upserts)
            .enumerate()
            .filter(|(index, _)| !gathered.deleted_live.contains(index))
            .filter_map(|(_, (result, (kind, _)))| match result {
                UpsertResult::Upserted { .. } => Some(format!("upserted-{kind}")),
                UpsertResult::Failed(failure) if !failure.transient => {
                    Some(format!("refused-{kind}"))
                }
                UpsertResult::Failed(_) => None,
            })
            .collect();
        for name in per_kind {
            gathered.count(name, 1);
        }
        if !gathered.deleted_live.is_empty() {
            gathered.count("deleted-live".into(), gathered.deleted_live.len() as i64);
        }
        for (blueprint, (count, reason)) in &refusals {
            gathered.count(refusals_counter(blueprint), *count);
            // The first reason of each blueprint in the run (later ones leave it).
            let put = self
                .ledger
                .note_first_refusal(&job.run, blueprint, reason)
                .await;
            if let Err(error) = put {
                tracing::warn!(%error, blueprint, "first refusal reason not stored");
            }
        }
        let upserted = results
            .iter()
            .filter(|r| matches!(r, UpsertResult::Upserted { .. }))
            .count();
        if upserted > 0 {
            gathered.count("upserted".into(), upserted as i64);
        }
        // Records first: writing them twice is harmless.
        for draft in &gathered.drafts {
            let entries: Vec<Entry> = draft
                .entries
                .iter()
                .map(|d| {
                    let mut entry = d.entry.clone();
                    if let Some(index) = d.upsert
                        && !matches!(results.get(index), Some(UpsertResult::Upserted { .. }))
                    {
                        // Refused, or not sent (dry run): seen, but to be sent again.
                        entry.h.clear();
                    }
                    entry
                })
                .collect();
            if draft.partial {
                // Only this part's entries: earlier parts keep their own records until the list
                // is done.
                let fresh = &entries[draft.carried.min(entries.len())..];
                self.ledger
                    .put_partial(&job.run, &draft.key, &job.id, fresh)
                    .await?;
                continue;
            }
            let unchanged = draft.previous.as_ref().is_some_and(|p| {
                p.entries == entries
                    && p.kind == draft.kind
                    && p.not_available_at == draft.not_available_at
            });
            if !unchanged && self.settings.dry_run.is_none() {
                records::store(
                    self.state.as_ref(),
                    &draft.key,
                    &draft.kind,
                    &entries,
                    draft.not_available_at,
                    draft.previous.as_ref().map_or(0, |p| p.chunks),
                    now,
                )
                .await?;
            }
            for item in &draft.merged_partials {
                self.ledger.remove_partial(&job.run, item).await?;
            }
        }
        if let Some((page, names)) = &gathered.visited {
            self.ledger
                .note_visited(&job.run, &job.org, *page, names)
                .await?;
        }
        let mut next: Vec<(Job, Duration)> = gathered
            .children
            .drain(..)
            .map(|child| (child, Duration::ZERO))
            .collect();
        if let Outcome::Continue(continuation, delay) =
            std::mem::replace(&mut gathered.outcome, Outcome::Complete)
        {
            next.push((*continuation, delay));
        }
        let queued = next.len() as i64;
        if queued > 0 {
            self.ledger.add(&job.run, &[("queued", queued)]).await?;
            let sent = self.send_jobs(next).await;
            if let Err(error) = sent {
                let _ = self.ledger.add(&job.run, &[("queued", -queued)]).await;
                return Err(error);
            }
        }
        if !self.ledger.mark_done(&job.run, &job.id).await? {
            // A duplicate delivery of a job already counted: its children are duplicates too.
            if queued > 0 {
                self.ledger.add(&job.run, &[("queued", -queued)]).await?;
            }
            return Ok(());
        }
        gathered.count("done".into(), 1);
        let deltas: Vec<(&str, i64)> = gathered
            .counters
            .iter()
            .map(|(name, delta)| (name.as_str(), *delta))
            .collect();
        let counters = self.ledger.add(&job.run, &deltas).await?;
        self.maybe_finish(&job, &counters).await
    }

    async fn send_jobs(&self, jobs: Vec<(Job, Duration)>) -> Result<(), ResyncError> {
        let mut by_delay: BTreeMap<u64, Vec<Job>> = BTreeMap::new();
        for (job, delay) in jobs {
            by_delay.entry(delay.as_secs()).or_default().push(job);
        }
        for (secs, jobs) in by_delay {
            self.send_delayed(jobs, Duration::from_secs(secs)).await?;
        }
        Ok(())
    }

    /// Queues jobs after `delay`; past SQS's longest delay they carry `not_before`.
    pub(super) async fn send_delayed(
        &self,
        jobs: Vec<Job>,
        delay: Duration,
    ) -> Result<(), ResyncError> {
        if !delay.is_zero()
            && let Some(job) = jobs.first()
        {
            // A run waiting (for GitHub's reset, a back-off) is not dead: the lease covers it.
            self.keep_lease(&job.run, delay).await;
        }
        let not_before = (delay > MAX_DELAY).then(|| {
            (self.clock.now() + chrono::Duration::from_std(delay).unwrap_or_default()).timestamp()
        });
        let bodies = jobs
            .into_iter()
            .map(|mut job| {
                if not_before.is_some() {
                    job.not_before = not_before;
                }
                job.to_body()
            })
            .collect();
        self.queue.send(bodies, delay.min(MAX_DELAY)).await?;
        Ok(())
    }

    async fn settle_failed(&self, job: &Job, reason: &str) -> Result<(), ResyncError> {
        tracing::error!(run = %job.run, job = %job.id, reason, "resync job failed");
        if !self.ledger.mark_done(&job.run, &job.id).await? {
            return Ok(());
        }
        let counters = self.ledger.add(&job.run, &[("failed", 1)]).await?;
        self.ledger.note_failure(&job.run, &job.id, reason).await?;
        self.maybe_finish(job, &counters).await
    }

    /// When every queued job is settled: the cleanup when none failed, else a failed run.
    async fn maybe_finish(
        &self,
        job: &Job,
        counters: &BTreeMap<String, i64>,
    ) -> Result<(), ResyncError> {
        let get = |name: &str| counters.get(name).copied().unwrap_or(0);
        if get("done") + get("failed") < get("queued") {
            return Ok(());
        }
        let now = self.clock.now();
        if !self.ledger.claim_finish(&job.run).await? {
            return Ok(());
        }
        if get("failed") > 0 {
            let reason = format!("{} job(s) failed; nothing was deleted", get("failed"));
            self.finish_failed(&job.run, now, &reason, None).await;
            return Ok(());
        }
        let cleanup = job.child("cleanup".into(), Task::Cleanup);
        self.send_delayed(vec![cleanup], Duration::ZERO).await
    }
}
