//! The Port client's errors, split by what the caller must do: retry later (transient) or report
//! and stop (permanent). It holds no I/O and never carries a token or a secret.

use std::time::Duration;

/// Why one call to Port failed, split by what the caller must do about it.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Port could not be reached or was overloaded, even after the configured retries: try again
    /// later (re-queue the work). `retry_after` is Port's own hint when it gave one.
    #[error("Port {endpoint} failed for now")]
    Transient {
        endpoint: &'static str,
        retry_after: Option<Duration>,
        #[source]
        cause: Failure,
    },
    /// Port refused the request (validation, missing blueprint or related entity, credentials
    /// rejected after a refresh): retrying the same request cannot succeed.
    #[error("Port rejected {endpoint}")]
    Permanent {
        endpoint: &'static str,
        #[source]
        cause: Failure,
    },
}

/// What actually went wrong underneath a [`PortError`].
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("the HTTP request failed")]
    Http(#[source] reqwest::Error),
    #[error("Port answered {status}: {code}: {message}")]
    Status {
        status: u16,
        code: String,
        message: String,
    },
    #[error("Port's answer could not be read")]
    Decode(#[source] serde_json::Error),
    #[error("the request could not be built: {0}")]
    Request(String),
}

impl PortError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, PortError::Transient { .. })
    }

    /// The HTTP status Port answered, when it answered one.
    pub fn status(&self) -> Option<u16> {
        match self.cause() {
            Failure::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Port's error code (`not_found`, `invalid_request`…), when it answered one.
    pub fn code(&self) -> Option<&str> {
        match self.cause() {
            Failure::Status { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Port's wait hint (`retry-after` / `x-ratelimit-reset`) for a transient failure.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PortError::Transient { retry_after, .. } => *retry_after,
            PortError::Permanent { .. } => None,
        }
    }

    /// Which call failed (`auth` for the access token, `create blueprint`…).
    pub fn endpoint(&self) -> &'static str {
        match self {
            PortError::Transient { endpoint, .. } | PortError::Permanent { endpoint, .. } => {
                endpoint
            }
        }
    }

    pub fn cause(&self) -> &Failure {
        match self {
            PortError::Transient { cause, .. } | PortError::Permanent { cause, .. } => cause,
        }
    }

    pub(crate) fn permanent_request(endpoint: &'static str, why: impl Into<String>) -> Self {
        PortError::Permanent {
            endpoint,
            cause: Failure::Request(why.into()),
        }
    }

    pub(crate) fn decode(endpoint: &'static str, source: serde_json::Error) -> Self {
        PortError::Permanent {
            endpoint,
            cause: Failure::Decode(source),
        }
    }
}

/// Whether an HTTP status from Port means "try again later" rather than "this request is wrong".
pub fn is_transient_status(status: u16) -> bool {
    matches!(status, 408 | 429) || (500..=599).contains(&status)
}

/// Port's error body: `{"ok": false, "error": "<code>", "message": "..."}`.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

impl ErrorBody {
    /// Reads an error body leniently: a proxy's HTML page or an empty body still gives a status.
    pub fn parse(status: u16, body: &[u8]) -> Failure {
        let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
        Failure::Status {
            status,
            code: parsed.error.unwrap_or_else(|| format!("http_{status}")),
            message: parsed.message.unwrap_or_default(),
        }
    }
}
