//! The destination's contract: where lines go ([`Discovery`]), how a send fails
//! ([`IngestError`]), and the [`LogIngest`] trait Port's integration log implements.

use async_trait::async_trait;

/// Where the lines go, as the destination describes itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovery {
    /// Ship to this URL.
    At(String),
    /// The destination says no shipping (e.g. the integration record has no ingest URL): off
    /// for the life of the process.
    Off(String),
    /// Not known yet (the record does not exist yet, or could not be read): asked again later.
    NotYet(String),
}

/// A batch that could not be shipped.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct IngestError {
    pub message: String,
    /// The URL is gone (404/410): find it again before shipping more.
    pub gone: bool,
}

/// Where shipped lines go (Port's integration log: `port::logs::PortLogIngest`). Contract:
/// `send` posts one already-serialized `{"logs": [...]}` body once, without retrying.
#[async_trait]
pub trait LogIngest: Send + Sync {
    async fn discover(&self) -> Discovery;
    async fn send(&self, url: &str, body: Vec<u8>) -> Result<(), IngestError>;
}
