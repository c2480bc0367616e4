//! How long a run holds the resync lease. A run takes the lease for one heartbeat
//! ([`super::ResyncSettings::heartbeat`], 30 minutes by default) and its jobs keep it: every batch of
//! jobs of the current run renews it to a heartbeat from now, and a job queued with a delay (a
//! rate-limit wait until GitHub's reset, a retry's back-off) renews it to a heartbeat past that
//! delay, so a run waiting for its budget does not look dead. A crashed or stuck run (no job
//! activity) lapses one heartbeat after its last activity; no renewal reaches past
//! [`MAX_RUN`] from the run's start, after which the next due tick supersedes it. The renewal
//! is a conditional write on the holder (`StateStore::renew_lease`): it never takes the lease
//! from a newer run. Which run a new one supersedes, and why, is logged and kept as that run's
//! summary (`failed`).

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::ledger::RunLedger;
use super::{FAILED, LEASE, Resync, RunSummary};
use crate::state::{Expect, expiry};

/// How long a lease lasts without job activity (the default of `ResyncSettings::heartbeat`).
pub const HEARTBEAT: Duration = Duration::from_secs(30 * 60);
/// The longest a run keeps the lease, from its start: then the next due tick supersedes it.
pub const MAX_RUN: Duration = Duration::from_secs(24 * 3_600);

/// What this container knows of the lease it last took or renewed (saves renewals when the
/// lease already reaches far enough).
#[derive(Default)]
pub(super) struct KnownLease(Mutex<Option<Known>>);

#[derive(Clone)]
struct Known {
    run: String,
    started_at: DateTime<Utc>,
    until: DateTime<Utc>,
}

impl KnownLease {
    fn get(&self) -> Option<Known> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn set(&self, known: Known) {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(known);
    }

    /// The run this container works for now (the lease not known to reach anywhere when it is
    /// another run than the last).
    pub(super) fn working_for(&self, run: &str, started_at: DateTime<Utc>) {
        let mut known = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if known.as_ref().is_none_or(|k| k.run != run) {
            *known = Some(Known {
                run: run.to_owned(),
                started_at,
                until: DateTime::<Utc>::MIN_UTC,
            });
        }
    }

    pub(super) fn taken(&self, run: &str, started_at: DateTime<Utc>, until: DateTime<Utc>) {
        self.set(Known {
            run: run.to_owned(),
            started_at,
            until,
        });
    }
}

/// The lease a run takes at its start: one heartbeat.
pub(super) fn first_lease(settings_heartbeat: Duration) -> Duration {
    settings_heartbeat.min(MAX_RUN)
}

impl Resync {
    /// Keeps `run`'s lease until a heartbeat past `delay` from now (capped at [`MAX_RUN`] from
    /// its start). Renews only when the lease is not known to reach most of that far already;
    /// best effort: a renewal that fails is logged, and the next batch tries again.
    pub(super) async fn keep_lease(&self, run: &str, delay: Duration) {
        let Some(known) = self.known_lease.get().filter(|k| k.run == run) else {
            return;
        };
        let now = self.clock.now();
        let heartbeat = self.settings.heartbeat;
        let cap = expiry(known.started_at, MAX_RUN);
        let after_delay = expiry(now, delay);
        let wanted = expiry(after_delay, heartbeat).min(cap);
        let enough = expiry(after_delay, heartbeat.mul_f64(0.8)).min(cap);
        if known.until >= enough {
            return;
        }
        if wanted <= now {
            tracing::warn!(run, started = %known.started_at,
                "the run reached the {} h limit: its lease is not renewed, and the next due tick \
                 supersedes it", MAX_RUN.as_secs() / 3_600);
            return;
        }
        match self.state.renew_lease(LEASE, run, wanted).await {
            Ok(Some(lease)) => {
                tracing::debug!(run, until = %lease.expires_at, "lease renewed");
                self.known_lease
                    .taken(run, known.started_at, lease.expires_at);
            }
            Ok(None) => tracing::warn!(
                run,
                "the run no longer holds the lease (it lapsed and another run took it)"
            ),
            Err(error) => {
                tracing::warn!(run, %error, "lease not renewed; the next batch tries again")
            }
        }
    }

    /// A new run took the lease: when the current run did not end (no summary), logs why it is
    /// superseded and records it as failed. Its remaining jobs are dropped as they come, and
    /// nothing of it is deleted.
    pub(super) async fn note_superseded(&self, by: &str, now: DateTime<Utc>) {
        let Ok(Some(previous)) = self.ledger.current().await else {
            return;
        };
        // Past the run records' lifetime its summary is gone whether or not it ended: unknown.
        let records_kept = RunLedger::records_kept(previous.started_at, now);
        if previous.run == by
            || !records_kept
            || !matches!(self.summary(&previous.run).await, Ok(None))
        {
            return;
        }
        let reason = if now >= expiry(previous.started_at, MAX_RUN) {
            format!(
                "it reached the {} h limit of a run",
                MAX_RUN.as_secs() / 3_600
            )
        } else {
            format!(
                "its lease lapsed: no job activity for {} minutes (crashed or stuck)",
                self.settings.heartbeat.as_secs() / 60
            )
        };
        tracing::warn!(run = %previous.run, started = %previous.started_at, by, %reason,
            "superseded: run {} (started {}) did not end; {reason}", previous.run, previous.started_at);
        let counters = self
            .ledger
            .counters(&previous.run)
            .await
            .unwrap_or_default();
        let summary = RunSummary {
            run: previous.run.clone(),
            status: FAILED.to_owned(),
            reason: Some(format!("superseded by run {by}: {reason}")),
            started_at: previous.started_at,
            ended_at: now,
            counters,
            cleanup: None,
            refused: Default::default(),
            missing_permissions: previous.missing_permissions.clone(),
            trigger: previous.trigger.clone(),
        };
        let put = self.ledger.store_summary(&summary, Expect::Absent).await;
        if let Err(error) = put {
            tracing::warn!(%error, "the superseded run's summary is not stored");
        }
    }
}
