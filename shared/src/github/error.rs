//! The GitHub client's error type, split by what the caller must do about it.

use chrono::{DateTime, Utc};

/// Which rate limit stopped a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// The hourly budget (`x-ratelimit-remaining: 0`).
    Primary,
    /// A secondary (abuse) limit, signalled by `retry-after` or GitHub's message.
    Secondary,
}

/// What went wrong talking to GitHub.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    /// Worth retrying later: timeouts, connection failures, 5xx, a secondary limit that persisted.
    #[error("transient GitHub failure on {path}: {reason}")]
    Transient {
        path: String,
        reason: String,
        #[source]
        source: Option<reqwest::Error>,
    },
    /// A rate limit that will not clear before the caller's longest wait: try again at `until`.
    #[error("GitHub {kind:?} rate limit on {path}: retry at {until}")]
    RateLimited {
        path: String,
        kind: LimitKind,
        until: DateTime<Utc>,
    },
    /// 403/404 from a feature that is disabled or not permitted for this one resource (alerts,
    /// environments, pages, …). Kind listings turn this into an outcome, not a failure.
    #[error("not available for this resource on {path} (HTTP {status}): {message}")]
    NotAvailable {
        path: String,
        status: u16,
        message: String,
    },
    /// The object does not exist (404/410 on a single-object fetch or a required list).
    #[error("not found: {path} (HTTP {status})")]
    NotFound { path: String, status: u16 },
    /// A 4xx that will not change by retrying (bad request, permission, validation).
    #[error("GitHub refused {path} (HTTP {status}): {message}")]
    Permanent {
        path: String,
        status: u16,
        message: String,
    },
    /// The credentials were refused, or no token could be obtained.
    #[error("GitHub authentication failed: {reason}")]
    Auth {
        reason: String,
        #[source]
        source: Option<Box<GitHubError>>,
    },
    /// Local configuration is unusable (bad key, bad base URL).
    #[error("GitHub client configuration: {reason}")]
    Config {
        reason: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// GitHub answered 2xx with a body that is not the expected JSON.
    #[error("unexpected response body from {path}")]
    Decode {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

impl GitHubError {
    /// True when retrying the same call later may succeed (transient or rate limited).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient { .. } | Self::RateLimited { .. })
    }

    /// The time to retry at, for a rate limit.
    pub fn retry_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::RateLimited { until, .. } => Some(*until),
            _ => None,
        }
    }
}
