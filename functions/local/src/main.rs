//! `port-github`: the local host. `demo` runs the product offline against simulators; `serve` is a
//! local webhook endpoint with an in-process queue and worker (see `serve`); `resync` runs one
//! full resync in this process, or prints its entities with `--dry-run` (see `resync`); `map` is
//! Port's mapping tester: applies a `port-app-config` to raw objects and prints the entities (one
//! JSON object per line), with the per-field errors on standard error; `webhooks
//! ensure|redeliver`: the organization webhook (see `webhooks`); `check`: a setup check, one
//! line per check (see `check`).
mod catalog;
mod check;
mod demo;
mod entity_line;
mod progress;
mod resync;
mod serve;
mod webhooks;

use std::io::{BufWriter, Read as _, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use port_github_core::mapping::{CompiledMapping, JqOptions, PortAppConfig};
use serde_json::Value;

#[derive(Parser)]
#[command(name = "port-github", about = "GitHub → Port integration, local host")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Offline: a simulated GitHub organization, an embedded catalog, a full resync, then signed
    /// deliveries through the webhook, queue and worker code.
    Demo,
    /// A local webhook endpoint (the Lambda's checks) with an in-process queue and worker; settings
    /// from the environment as for the webhook and worker functions. Stops on Ctrl-C.
    Serve {
        /// The address to listen on (port 0: any free port; the bound address is printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
    },
    /// One full resync in this process (in-memory state and jobs queue); settings from the
    /// environment as for the worker. Exit status 0 completed, 1 failed, 2 bad settings.
    Resync {
        /// Print the entities (one JSON object per line, with `kind`) instead of writing them;
        /// needs no Port credentials when PORT_APP_CONFIG is set.
        #[arg(long)]
        dry_run: bool,
    },
    /// Apply a mapping to raw objects and print the entities, one JSON object per line.
    Map {
        /// The port-app-config file (YAML or JSON).
        #[arg(long)]
        config: PathBuf,
        /// The kind of the raw objects (e.g. repository, pull-request).
        #[arg(long)]
        kind: String,
        /// Files holding one raw object or an array of them; standard input when none is given.
        inputs: Vec<PathBuf>,
    },
    /// Check the setup: GitHub credentials, permissions and webhook events, Port credentials,
    /// integration, blueprints and mapping, one sample object per resource, and (when the stack's
    /// names are set) its secrets and last resync. Settings from the environment as for
    /// `resync`. Exit status 0 all passed, 1 a check failed, 2 bad settings.
    Check {
        /// Our public webhook URL (default: WEBHOOK_URL): which organization hook is ours.
        #[arg(long)]
        webhook_url: Option<String>,
    },
    /// Manage the organization webhook.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
}

#[derive(Subcommand)]
enum WebhooksCommand {
    /// Create or reconcile each organization's webhook for URL.
    Ensure {
        /// The public webhook URL.
        #[arg(long)]
        url: String,
    },
    /// Redeliver the failed deliveries of the last 3 days that have not succeeded since.
    Redeliver {
        /// The public webhook URL (which hook is ours).
        #[arg(long)]
        url: String,
    },
}

/// Exit status when the configuration is invalid.
const EXIT_INVALID_CONFIG: u8 = 2;
/// `resync`: the run completed, but Port refused entities (the summary says which and why).
const EXIT_REFUSED: u8 = 3;
/// Exit status when an input cannot be read or parsed.
const EXIT_BAD_INPUT: u8 = 3;

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Demo => {
            let runtime = match async_runtime() {
                Ok(runtime) => runtime,
                Err(code) => return code,
            };
            match runtime.block_on(demo::run()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("port-github demo: {error:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Serve { addr } => run_serve(addr),
        Command::Resync { dry_run } => run_resync(dry_run),
        Command::Map {
            config,
            kind,
            inputs,
        } => map(&config, &kind, &inputs),
        Command::Check { webhook_url } => run_check(check::Options { webhook_url }),
        Command::Webhooks { command } => {
            let (job, url) = match command {
                WebhooksCommand::Ensure { url } => (webhooks::Job::Ensure, url),
                WebhooksCommand::Redeliver { url } => (webhooks::Job::Redeliver, url),
            };
            run_webhooks(job, &url)
        }
    }
}

/// The one Tokio runtime a command runs on; when it cannot be built, the line and exit status.
fn async_runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| {
            eprintln!("port-github: cannot start the async runtime: {error}");
            ExitCode::FAILURE
        })
}

fn run_webhooks(job: webhooks::Job, url: &str) -> ExitCode {
    let runtime = match async_runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let env = port_github_core::config::Env::from_process();
    match runtime.block_on(webhooks::run(job, url, &env)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_check(options: check::Options) -> ExitCode {
    let runtime = match async_runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    match runtime.block_on(check::run(process_vars(), options)) {
        Ok(report) => {
            let stdout = std::io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            for line in report.render() {
                if writeln!(out, "{line}").is_err() {
                    return ExitCode::FAILURE;
                }
            }
            if out.flush().is_err() {
                return ExitCode::FAILURE;
            }
            if report.all_passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(check::CheckError::Config(error)) => {
            eprintln!("port-github check: cannot start: {error}");
            ExitCode::from(EXIT_INVALID_CONFIG)
        }
    }
}

fn run_serve(addr: SocketAddr) -> ExitCode {
    let logs = serve::init_logging("info", "port-github serve");
    let runtime = match async_runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    match runtime.block_on(serve::run(addr, process_vars(), &logs)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.is_startup() => {
            eprintln!("port-github serve: cannot start: {error}");
            ExitCode::from(EXIT_INVALID_CONFIG)
        }
        Err(error) => {
            eprintln!("port-github serve: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run_resync(dry_run: bool) -> ExitCode {
    // Warnings and errors only: the progress display has standard error otherwise.
    let logs = serve::init_logging("warn", "port-github resync");
    let runtime = match async_runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    match runtime.block_on(resync::run(process_vars(), dry_run, &logs)) {
        Ok(resync::Ended::Completed) => ExitCode::SUCCESS,
        Ok(resync::Ended::Failed) => ExitCode::FAILURE,
        Ok(resync::Ended::CompletedWithErrors) => ExitCode::from(EXIT_REFUSED),
        Err(error) if error.is_settings() => {
            eprintln!("port-github resync: cannot start: {error}");
            ExitCode::from(EXIT_INVALID_CONFIG)
        }
        Err(error) => {
            eprintln!("port-github resync: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The environment; variables that are not UTF-8 are left out (`std::env::vars` would panic on
/// them).
fn process_vars() -> std::collections::HashMap<String, String> {
    std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .collect()
}

fn load_mapping(config: &PathBuf) -> anyhow::Result<CompiledMapping> {
    let text = std::fs::read_to_string(config)
        .with_context(|| format!("cannot read {}", config.display()))?;
    let config = PortAppConfig::from_yaml_or_json(&text)?;
    Ok(CompiledMapping::compile(&config, &JqOptions::default())?)
}

fn read_objects(inputs: &[PathBuf]) -> anyhow::Result<Vec<Value>> {
    let documents = if inputs.is_empty() {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
        vec![("standard input".to_owned(), text)]
    } else {
        inputs
            .iter()
            .map(|path| {
                std::fs::read_to_string(path)
                    .map(|text| (path.display().to_string(), text))
                    .with_context(|| format!("cannot read {}", path.display()))
            })
            .collect::<anyhow::Result<_>>()?
    };
    let mut objects = Vec::new();
    for (name, text) in documents {
        match serde_json::from_str(&text).with_context(|| format!("{name} is not JSON"))? {
            Value::Array(items) => objects.extend(items),
            object => objects.push(object),
        }
    }
    Ok(objects)
}

fn map(config: &PathBuf, kind: &str, inputs: &[PathBuf]) -> ExitCode {
    let mapping = match load_mapping(config) {
        Ok(mapping) => mapping,
        Err(error) => {
            eprintln!("invalid configuration: {error:#}");
            return ExitCode::from(EXIT_INVALID_CONFIG);
        }
    };
    if mapping.resources_for_kind(kind).next().is_none() {
        eprintln!("warning: the configuration has no resource of kind {kind:?}");
    }
    let objects = match read_objects(inputs) {
        Ok(objects) => objects,
        Err(error) => {
            eprintln!("{error:#}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for (position, object) in objects.iter().enumerate() {
        let outcome = mapping.map_item(kind, object);
        for entity in &outcome.entities {
            match entity_line::entity_line(entity, None) {
                Ok(line) => {
                    if writeln!(out, "{line}").is_err() {
                        return ExitCode::FAILURE;
                    }
                }
                Err(error) => eprintln!("object {position}: cannot serialize entity: {error}"),
            }
        }
        for error in &outcome.field_errors {
            eprintln!(
                "object {position}: resources[{}] ({}) {}: {}",
                error.resource_index, error.kind, error.field, error.message
            );
        }
        for dropped in &outcome.dropped {
            eprintln!(
                "object {position}: resources[{}] ({}) entity dropped: {}",
                dropped.resource_index, dropped.kind, dropped.reason
            );
        }
    }
    if out.flush().is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
