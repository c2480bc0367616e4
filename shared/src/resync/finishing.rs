//! The end of a run: the cleanup job (or nothing to delete in a dry run), the summary with its
//! counters and refusals, the report to Port (Port has no "completed with errors": it shows
//! failed, and the log says why), the schedule's record of a completed run, and the release of
//! the lease.

use chrono::{DateTime, Utc};

use super::ledger::CurrentRun;
use super::{
    COMPLETED, COMPLETED_WITH_ERRORS, CleanupReport, FAILED, Job, LEASE, Resync, ResyncError,
    RunSummary, Trigger, cleanup, retry_delay, schedule,
};
use crate::port::{ResyncState, ResyncStatus};
use crate::state::Expect;

impl Resync {
    pub(super) async fn run_cleanup(&self, job: Job) -> Result<(), ResyncError> {
        let Some(current) = self.ledger.current().await? else {
            return Ok(());
        };
        if current.run != job.run {
            // Superseded between the batch's start and now: the new run's cleanup is its own.
            tracing::info!(run = %job.run, "dropped the cleanup of a superseded run");
            return Ok(());
        }
        let report = if self.settings.dry_run.is_some() {
            Ok(CleanupReport::default())
        } else {
            cleanup::cleanup(self, &current).await
        };
        match report {
            Ok(report) => {
                self.finish(&current, COMPLETED, None, Some(report)).await;
                Ok(())
            }
            Err(error) if job.attempt + 1 < self.settings.max_attempts => {
                tracing::warn!(%error, attempt = job.attempt + 1, "cleanup retried");
                self.send_delayed(vec![job.retried()], retry_delay(job.attempt))
                    .await
            }
            Err(error) => {
                self.finish(&current, FAILED, Some(format!("cleanup: {error}")), None)
                    .await;
                Ok(())
            }
        }
    }

    /// Ends `run` as failed; `trigger` is why it started, for a run that failed before its
    /// record was written.
    pub(super) async fn finish_failed(
        &self,
        run: &str,
        now: DateTime<Utc>,
        reason: &str,
        trigger: Option<&Trigger>,
    ) {
        let current = match self.ledger.current().await {
            Ok(Some(current)) if current.run == run => current,
            _ => CurrentRun {
                run: run.to_owned(),
                started_at: now,
                orgs: Vec::new(),
                mapping: None,
                missing_permissions: Vec::new(),
                trigger: trigger.map(ToString::to_string),
            },
        };
        self.finish(&current, FAILED, Some(reason.to_owned()), None)
            .await;
    }

    /// Records the summary, reports to Port, logs it and releases the lease (best effort: a
    /// lease that cannot be released expires).
    pub(super) async fn finish(
        &self,
        current: &CurrentRun,
        status: &str,
        reason: Option<String>,
        cleanup: Option<CleanupReport>,
    ) {
        let now = self.clock.now();
        let counters = self.ledger.counters(&current.run).await.unwrap_or_default();
        let refused = self.ledger.refusals(&current.run, &counters).await;
        let status = if status == COMPLETED && !refused.is_empty() {
            COMPLETED_WITH_ERRORS
        } else {
            status
        };
        let summary = RunSummary {
            run: current.run.clone(),
            status: status.to_owned(),
            reason,
            started_at: current.started_at,
            ended_at: now,
            counters,
            cleanup,
            refused,
            missing_permissions: current.missing_permissions.clone(),
            trigger: current.trigger.clone(),
        };
        crate::metrics::note_run_finished(&summary);
        let text = serde_json::to_string(&summary).unwrap_or_default();
        if let Err(error) = self.ledger.store_summary(&summary, Expect::Anything).await {
            tracing::warn!(%error, "run summary not stored");
        }
        if (status == COMPLETED || status == COMPLETED_WITH_ERRORS)
            && let Err(error) = schedule::record_completed(
                self.state.as_ref(),
                &current.run,
                current.started_at,
                now,
            )
            .await
        {
            tracing::warn!(%error, "the completed run is not recorded for the schedule");
        }
        if status == COMPLETED {
            tracing::info!(summary = %text, "resync completed");
            self.report(ResyncStatus::Completed, Some(current.started_at), Some(now))
                .await;
        } else if status == COMPLETED_WITH_ERRORS {
            for (blueprint, refusals) in &summary.refused {
                tracing::error!(blueprint, count = refusals.count, first_reason = %refusals.first_reason,
                    "Port refused entities");
            }
            tracing::error!(summary = %text, "resync completed with errors: Port refused entities");
            // Port's states have no "with errors": it shows the run as failed, and the log says why.
            self.report(ResyncStatus::Failed, Some(current.started_at), Some(now))
                .await;
        } else {
            tracing::error!(summary = %text, "resync failed");
            self.report(ResyncStatus::Failed, Some(current.started_at), Some(now))
                .await;
        }
        if let Err(error) = self.state.release_lease(LEASE, &current.run).await {
            tracing::warn!(%error, "lease not released; it expires by itself");
        }
    }

    pub(super) async fn report(
        &self,
        status: ResyncStatus,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    ) {
        if self.settings.dry_run.is_some() {
            return;
        }
        let interval = self.settings.interval;
        let next =
            start.and_then(|s| s.checked_add_signed(chrono::Duration::from_std(interval).ok()?));
        let state = ResyncState {
            status,
            last_resync_start: start,
            last_resync_end: end,
            next_resync: next,
            interval_in_minutes: Some(interval.as_secs() / 60),
        };
        if let Err(error) = self.port.patch_resync_state(&state).await {
            tracing::warn!(%error, "resync state not reported to Port");
        }
    }
}
