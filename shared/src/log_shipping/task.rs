//! The background shipping task: each round finds the destination when it is not known yet,
//! then ships every line captured before the round started, a batch at a time, counting what
//! is lost; the task-local [`SHIPPING`] marks its own calls out so nothing they log is captured.

use std::sync::atomic::Ordering;

use secrecy::ExposeSecret;
use tokio::time::Instant;

use super::TARGET;
use super::ingest::{Discovery, IngestError, LogIngest};
use super::known_secrets::known_secrets;
use super::render::{bodies, drop_notice, render};
use super::shipper::{ON, PENDING, Shared, ShippingState, lock};

tokio::task_local! {
    /// Set while the shipper itself calls out: anything logged then is not captured.
    pub(super) static SHIPPING: ();
}

/// What the shipping task remembers between rounds.
pub(super) struct Task {
    pub(super) url: Option<String>,
    pub(super) discovered_at: Option<Instant>,
}

impl Shared {
    /// One round of the task: find the destination when needed, then ship every line captured
    /// before the round started.
    pub(super) async fn round(&self, ingest: &dyn LogIngest, task: &mut Task) {
        let round = self.rounds_started.fetch_add(1, Ordering::SeqCst) + 1;
        let flushing = self.flush_requested.swap(false, Ordering::SeqCst);
        if self.state() == ShippingState::Pending {
            let wait = if flushing {
                self.settings.rediscover_on_flush_after
            } else {
                self.settings.rediscover_after
            };
            let due = task.discovered_at.is_none_or(|at| at.elapsed() >= wait);
            if due {
                task.discovered_at = Some(Instant::now());
                match SHIPPING.scope((), ingest.discover()).await {
                    Discovery::At(url) => {
                        tracing::debug!(target: TARGET, "shipping warnings and errors to Port's integration log");
                        task.url = Some(url);
                        self.state.store(ON, Ordering::SeqCst);
                    }
                    Discovery::Off(reason) => {
                        tracing::debug!(target: TARGET, %reason, "log shipping to Port is off");
                        self.turn_off();
                    }
                    Discovery::NotYet(reason) => {
                        tracing::debug!(target: TARGET, %reason, "log shipping to Port: destination not known yet");
                    }
                }
            }
        }
        if self.state() == ShippingState::On
            && let Some(url) = task.url.clone()
            && let Err(gone) = self.ship_until(ingest, &url).await
        {
            tracing::debug!(target: TARGET, error = %gone, "the log ingest URL is gone; asking for it again");
            task.url = None;
            task.discovered_at = None;
            self.state.store(PENDING, Ordering::SeqCst);
        }
        self.stalled.store(false, Ordering::SeqCst);
        self.rounds_done.send_replace(round);
    }

    /// Ships the lines captured so far, a batch at a time; `Err` when the URL is gone.
    async fn ship_until(&self, ingest: &dyn LogIngest, url: &str) -> Result<(), IngestError> {
        let until = lock(&self.buffer).next_seq;
        let known = known_secrets();
        let known: Vec<&str> = known.iter().map(|s| s.expose_secret()).collect();
        loop {
            let (lines, drops) = {
                let mut buffer = lock(&self.buffer);
                let mut lines = Vec::new();
                while lines.len() < self.settings.batch_lines.max(1)
                    && buffer.lines.front().is_some_and(|line| line.seq < until)
                {
                    if let Some(line) = buffer.lines.pop_front() {
                        buffer.bytes = buffer.bytes.saturating_sub(line.bytes);
                        lines.push(line);
                    }
                }
                (lines, std::mem::take(&mut buffer.unreported_drops))
            };
            if lines.is_empty() && drops == 0 {
                return Ok(());
            }
            let mut rendered: Vec<(usize, String)> = Vec::with_capacity(lines.len() + 1);
            if drops > 0 {
                rendered.push((0, drop_notice(drops, &self.settings.source).to_string()));
            }
            for line in lines {
                rendered.push((1, render(line, &known, &self.settings.source).to_string()));
            }
            for body in bodies(rendered, self.settings.max_batch_bytes) {
                let count = body.lines;
                match SHIPPING.scope((), ingest.send(url, body.bytes)).await {
                    Ok(()) => {
                        self.shipped.fetch_add(count, Ordering::Relaxed);
                    }
                    Err(error) => {
                        self.failed_batches.fetch_add(1, Ordering::Relaxed);
                        self.lost.fetch_add(count, Ordering::Relaxed);
                        if !self.failure_logged.swap(true, Ordering::SeqCst) {
                            tracing::warn!(target: TARGET, %error,
                                "could not ship logs to Port's integration log; the lines are dropped, and later failures only counted");
                        }
                        if error.gone {
                            return Err(error);
                        }
                    }
                }
            }
        }
    }
}
