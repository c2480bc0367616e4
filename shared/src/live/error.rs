//! How a live event failed, in the terms the queue acts on: deliver it again (transient), deliver
//! it again after a known wait (deferred), or keep it in the dead letters (permanent). Each keeps
//! its cause (a GitHub, Port or state-store error) as its source.

use std::time::Duration;

use crate::github::GitHubError;
use crate::port::PortError;

/// The error a live failure came from.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// May pass: SQS should deliver the message again.
    #[error("transient failure: {reason}")]
    Transient {
        reason: String,
        #[source]
        source: Option<Cause>,
    },
    /// Cannot go on before `wait` has passed (a rate limit, Port's `retry-after`): deliver the
    /// message again after that.
    #[error("deferred for {}s: {reason}", wait.as_secs())]
    Deferred {
        reason: String,
        wait: Duration,
        #[source]
        source: Option<Cause>,
    },
    /// Will not pass: keep the message with its reason (the dead-letter queue) and acknowledge.
    #[error("permanent failure: {reason}")]
    Permanent {
        reason: String,
        #[source]
        source: Option<Cause>,
    },
}

impl LiveError {
    pub fn transient(reason: impl Into<String>) -> Self {
        Self::Transient {
            reason: reason.into(),
            source: None,
        }
    }

    pub fn permanent(reason: impl Into<String>) -> Self {
        Self::Permanent {
            reason: reason.into(),
            source: None,
        }
    }

    /// The failure in words, without its kind.
    pub fn reason(&self) -> &str {
        match self {
            Self::Transient { reason, .. }
            | Self::Deferred { reason, .. }
            | Self::Permanent { reason, .. } => reason,
        }
    }

    /// The wait after which trying again makes sense, when it is known.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Deferred { wait, .. } => Some(*wait),
            _ => None,
        }
    }
}

impl From<GitHubError> for LiveError {
    /// Refused credentials are transient for an event: the secret was re-read once already, and
    /// the message is better redelivered (after a rotation completes, or to the DLQ) than dropped.
    fn from(error: GitHubError) -> Self {
        let reason = error.to_string();
        if let Some(until) = error.retry_at() {
            let wait = (until - chrono::Utc::now()).to_std().unwrap_or_default();
            return Self::Deferred {
                reason,
                wait,
                source: Some(Box::new(error)),
            };
        }
        let transient = error.is_retryable() || matches!(error, GitHubError::Auth { .. });
        let source = Some(Box::new(error) as Cause);
        if transient {
            Self::Transient { reason, source }
        } else {
            Self::Permanent { reason, source }
        }
    }
}

impl From<PortError> for LiveError {
    /// Refused credentials (401, after a fresh token and a re-read of the secret) are transient
    /// for an event, as for GitHub.
    fn from(error: PortError) -> Self {
        let reason = format!("{error}: {}", error.cause());
        let wait = error.retry_after();
        let transient = error.is_transient() || error.status() == Some(401);
        let source = Some(Box::new(error) as Cause);
        match wait {
            Some(wait) => Self::Deferred {
                reason,
                wait,
                source,
            },
            None if transient => Self::Transient { reason, source },
            None => Self::Permanent { reason, source },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn a_github_failure_keeps_its_cause_and_its_message() {
        let error = LiveError::from(GitHubError::NotFound {
            path: "/repos/o/r".into(),
            status: 404,
        });
        assert!(matches!(error, LiveError::Permanent { .. }));
        assert_eq!(
            error.to_string(),
            "permanent failure: not found: /repos/o/r (HTTP 404)"
        );
        let cause = error.source().and_then(|e| e.downcast_ref::<GitHubError>());
        assert!(matches!(
            cause,
            Some(GitHubError::NotFound { status: 404, .. })
        ));
        let transient = LiveError::from(GitHubError::Transient {
            path: "/x".into(),
            reason: "timeout".into(),
            source: None,
        });
        assert!(matches!(transient, LiveError::Transient { .. }));
        assert_eq!(
            transient.reason(),
            "transient GitHub failure on /x: timeout"
        );
    }
}
