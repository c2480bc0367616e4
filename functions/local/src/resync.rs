//! `port-github resync [--dry-run]`: one full resync in this process. The core's `Resync` over an
//! in-memory state store and jobs queue on the system clock, driven to the end by the core's
//! driver; settings and clients from the environment as for the worker (`WorkerConfig`, the
//! core's setup functions). Progress per kind and the summary go to standard error; a dry run
//! prints the entities on standard output (one JSON object per line, as `map` does, with `kind`)
//! and never calls Port. No resync logic of its own.

use std::collections::HashMap;

use crate::catalog::EmbeddedCatalog;
use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use port_github_core::clock::{Clock, SystemClock};
use port_github_core::config::{ConfigError, Env, WorkerConfig};
use port_github_core::github::InMemoryEtagStore;
use port_github_core::log_shipping::LogShipper;
use port_github_core::port::Entity;
use port_github_core::queue::InMemoryJobQueue;
use port_github_core::resync::driver::{DriveSettings, run_to_end};
use port_github_core::resync::setup::{ResyncParts, assemble_resync};
use port_github_core::resync::{DryRunSink, ResyncError, ResyncSettings, StartOutcome};
use port_github_core::state::InMemoryStateStore;
use port_github_core::sync::setup::{SetupError, port_client};

use crate::entity_line::{entity_line, from_port};
use crate::progress::{Progress, summary_lines};

/// Stands in for Port settings a dry run does not use (it never calls Port).
const DRY_RUN_PLACEHOLDER: &str = "dry-run-unused";

#[derive(Debug, thiserror::Error)]
pub enum ResyncCliError {
    /// A missing or malformed setting: exit status 2.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The settings are well-formed but a client or the mapping cannot be built: exit status 2.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The run could not start or be driven: exit status 1.
    #[error("resync: {0}")]
    Run(#[from] ResyncError),
    /// The embedded catalog (no Port credentials) could not start or be saved: exit status 1.
    #[error("embedded catalog: {0}")]
    Catalog(#[from] anyhow::Error),
}

impl ResyncCliError {
    /// True when the settings are at fault (exit status 2).
    pub fn is_settings(&self) -> bool {
        matches!(self, Self::Config(_) | Self::Setup(_))
    }
}

/// How a run ended, for the exit status: 0 completed, 1 failed (or skipped), 3 completed with
/// entities refused by Port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Completed,
    CompletedWithErrors,
    Failed,
}

impl Ended {
    fn of(status: &str) -> Self {
        match status {
            port_github_core::resync::COMPLETED => Ended::Completed,
            port_github_core::resync::COMPLETED_WITH_ERRORS => Ended::CompletedWithErrors,
            _ => Ended::Failed,
        }
    }
}

/// Runs one resync with the settings in `vars` (the environment).
pub async fn run(
    vars: HashMap<String, String>,
    dry_run: bool,
    logs: &LogShipper,
) -> Result<Ended, ResyncCliError> {
    let mut vars = if dry_run { dry_run_vars(vars)? } else { vars };
    // No Port credentials (and not a dry run): the embedded catalog stands in for Port.
    let embedded = if dry_run {
        None
    } else {
        EmbeddedCatalog::start_if_no_port(&mut vars).await?
    };
    let config = WorkerConfig::from_env(&Env::from_pairs(vars))?;
    let secrets_manager = if crate::serve::worker_uses_secrets_manager(&config) {
        let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Some(aws_sdk_secretsmanager::Client::new(&aws))
    } else {
        None
    };
    if dry_run {
        logs.disable();
    } else {
        // The resync's Port client is its own; the log shipper gets one with the same settings.
        let port = port_client(&config, secrets_manager.as_ref()).await?;
        crate::serve::connect_logs(logs, &port, embedded.is_some());
    }
    let sink = Arc::new(StdoutSink::default());
    let settings = ResyncSettings {
        organizations: config.organizations.clone(),
        dry_run: dry_run.then(|| sink.clone() as Arc<dyn DryRunSink>),
        ..ResyncSettings::default()
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let queue = Arc::new(InMemoryJobQueue::new(clock.clone()));
    let parts = ResyncParts {
        secrets_manager,
        etags: Arc::new(InMemoryEtagStore::new()),
        state: Arc::new(InMemoryStateStore::default()),
        queue: queue.clone(),
        clock: clock.clone(),
    };
    let (resync, source) = assemble_resync(&config, settings, parts).await?;

    eprintln!(
        "port-github resync{}: mapping {source:?}; GitHub at {}",
        if dry_run { " --dry-run" } else { "" },
        config.github_api_url
    );
    // Redrawing in place only when standard error has the terminal to itself.
    let redraw = std::io::stderr().is_terminal() && !(dry_run && std::io::stdout().is_terminal());
    let mut progress = Progress::new(std::io::stderr(), redraw);
    let started = Instant::now();
    let report = run_to_end(
        &resync,
        &queue,
        clock,
        &DriveSettings::default(),
        |counters| progress.update(counters),
    )
    .await?;
    if let Some(catalog) = &embedded {
        let path = catalog.save()?;
        eprintln!(
            "no Port credentials: {} entities in the embedded catalog, saved to {}",
            catalog.len(),
            path.display()
        );
    }
    logs.flush(port_github_core::log_shipping::INVOCATION_FLUSH_TIMEOUT)
        .await;
    if sink.broken.load(Ordering::Relaxed) {
        eprintln!("standard output was closed: not every entity was printed");
    }
    match (&report.start, &report.summary) {
        (
            StartOutcome::Skipped {
                holder,
                until,
                started_at,
            },
            _,
        ) => {
            let started = started_at.map_or_else(|| "unknown".to_owned(), |s| s.to_string());
            eprintln!("skipped: run {holder} in progress, lease until {until} (started {started})");
            Ok(Ended::Failed)
        }
        (StartOutcome::Started { run, .. }, None) => {
            eprintln!("resync {run} stopped without a summary (see the log)");
            Ok(Ended::Failed)
        }
        (StartOutcome::Started { .. }, Some(summary)) => {
            for line in summary_lines(summary, dry_run) {
                eprintln!("{line}");
            }
            eprintln!("  in {:.1} s", started.elapsed().as_secs_f64());
            Ok(Ended::of(&summary.status))
        }
    }
}

/// A dry run without Port credentials takes its mapping from `PORT_APP_CONFIG` (or
/// `PORT_APP_CONFIG_ARN`) and stands
/// placeholders in for the Port settings `WorkerConfig` requires (the run never calls Port).
fn dry_run_vars(mut vars: HashMap<String, String>) -> Result<HashMap<String, String>, ConfigError> {
    let env = Env::from_pairs(vars.clone());
    let has_credentials = [
        "PORT_CLIENT_ID",
        "PORT_CLIENT_SECRET",
        "PORT_CREDENTIALS_ARN",
    ]
    .iter()
    .any(|name| env.get(name).is_some());
    let has_mapping =
        env.get("PORT_APP_CONFIG").is_some() || env.get("PORT_APP_CONFIG_ARN").is_some();
    if !has_credentials {
        if !has_mapping {
            return Err(ConfigError::Missing {
                name: "PORT_APP_CONFIG",
                hint: "a dry run without Port credentials reads its mapping from this file (or the secret PORT_APP_CONFIG_ARN)",
            });
        }
        for name in ["PORT_CLIENT_ID", "PORT_CLIENT_SECRET"] {
            vars.insert(name.to_owned(), DRY_RUN_PLACEHOLDER.to_owned());
        }
    }
    if has_mapping && env.get("PORT_INTEGRATION_ID").is_none() {
        vars.insert(
            "PORT_INTEGRATION_ID".to_owned(),
            DRY_RUN_PLACEHOLDER.to_owned(),
        );
    }
    Ok(vars)
}

/// A dry run's entities on standard output, one line each.
#[derive(Default)]
struct StdoutSink {
    /// Standard output failed (closed): later entities are not printed.
    broken: AtomicBool,
}

impl DryRunSink for StdoutSink {
    fn entity(&self, kind: &str, entity: &Entity) {
        if self.broken.load(Ordering::Relaxed) {
            return;
        }
        let line = match entity_line(&from_port(entity), Some(kind)) {
            Ok(line) => line,
            Err(error) => {
                eprintln!(
                    "{kind} {}: cannot serialize entity: {error}",
                    entity.identifier
                );
                return;
            }
        };
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{line}").is_err() {
            self.broken.store(true, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_dry_run_without_port_credentials_needs_the_mapping_file() {
        let error = dry_run_vars(vars(&[("GITHUB_TOKEN", "t")])).err();
        assert!(
            matches!(
                error,
                Some(ConfigError::Missing {
                    name: "PORT_APP_CONFIG",
                    ..
                })
            ),
            "{error:?}"
        );
        let filled = dry_run_vars(vars(&[("PORT_APP_CONFIG", "m.yaml")])).unwrap_or_default();
        assert_eq!(
            filled.get("PORT_CLIENT_ID").map(String::as_str),
            Some(DRY_RUN_PLACEHOLDER)
        );
        assert!(filled.contains_key("PORT_INTEGRATION_ID"));
    }

    #[test]
    fn a_dry_run_with_port_credentials_keeps_them() {
        let given = vars(&[
            ("PORT_CLIENT_ID", "id"),
            ("PORT_CLIENT_SECRET", "secret"),
            ("PORT_INTEGRATION_ID", "mine"),
        ]);
        assert_eq!(dry_run_vars(given.clone()).ok(), Some(given));
    }
}
