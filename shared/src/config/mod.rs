//! Settings from the environment, validated once at start with one clear line per problem.
//! This module only reads and checks values; it never fetches secrets (see `secrets`).
//!
//! The parts: `env` (the environment snapshot, [`ConfigError`] and the value parsers),
//! `credentials` (where secrets and credentials come from), and one module per function's
//! settings: `webhook`, `worker` (also the worker's queues and the mapping source) and `resync`.

mod credentials;
mod env;
mod resync;
#[cfg(test)]
mod tests;
mod webhook;
mod worker;

pub use credentials::{
    DEFAULT_SECRET_TTL_SECONDS, GitHubAuthSetting, PortCredentialsSetting, SecretSetting,
    secret_setting,
};
pub use env::{ConfigError, Env};
pub use resync::ResyncConfig;
pub use webhook::{DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_MESSAGE_BYTES, WebhookConfig};
pub use worker::{DEFAULT_INTEGRATION_TYPE, MappingSetting, WorkerConfig, WorkerQueuesConfig};
