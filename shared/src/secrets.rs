//! Loading and caching secrets: a plain value from the environment or a Secrets Manager secret,
//! re-read after a TTL so a rotation takes effect without a redeploy. Secret values only ever
//! live in `SecretString`s; nothing here logs a value.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

use crate::clock::{Clock, SystemClock};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("could not read secret {id}")]
    Fetch {
        id: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("secret {id} has no string value")]
    Empty { id: String },
    #[error("secret {id} is malformed: {reason}")]
    Malformed { id: String, reason: String },
}

/// Where a secret's raw text comes from. Contract: each call reads the current value from the
/// source (no caching: `CachedSecret` does that); errors name the secret, never its value.
#[async_trait]
pub trait SecretSource: Send + Sync {
    async fn fetch(&self) -> Result<SecretString, SecretError>;
    /// A name safe to log (an ARN or a variable name).
    fn id(&self) -> &str;
}

/// A value given directly (environment, local use).
pub struct StaticSecret {
    id: String,
    value: SecretString,
}

impl StaticSecret {
    pub fn new(id: impl Into<String>, value: SecretString) -> Self {
        Self {
            id: id.into(),
            value,
        }
    }
}

#[async_trait]
impl SecretSource for StaticSecret {
    async fn fetch(&self) -> Result<SecretString, SecretError> {
        Ok(self.value.clone())
    }
    fn id(&self) -> &str {
        &self.id
    }
}

/// The `SecretString` value of a Secrets Manager secret (`AWSCURRENT` stage).
pub struct SecretsManagerSecret {
    client: aws_sdk_secretsmanager::Client,
    arn: String,
}

impl SecretsManagerSecret {
    pub fn new(client: aws_sdk_secretsmanager::Client, arn: impl Into<String>) -> Self {
        Self {
            client,
            arn: arn.into(),
        }
    }
}

#[async_trait]
impl SecretSource for SecretsManagerSecret {
    async fn fetch(&self) -> Result<SecretString, SecretError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(&self.arn)
            .send()
            .await
            .map_err(|e| SecretError::Fetch {
                id: self.arn.clone(),
                source: Box::new(e),
            })?;
        match output.secret_string {
            Some(value) if !value.trim().is_empty() => Ok(SecretString::from(value)),
            _ => Err(SecretError::Empty {
                id: self.arn.clone(),
            }),
        }
    }
    fn id(&self) -> &str {
        &self.arn
    }
}

/// A parsed secret value.
pub trait ParseSecret: Sized + Send + Sync + 'static {
    fn parse(id: &str, raw: &SecretString) -> Result<Self, SecretError>;
}

/// A secret read once, then re-read when older than the TTL. When a refresh fails, the last good
/// value keeps serving (a Secrets Manager hiccup must not reject every delivery); the first read
/// has no fallback and fails.
pub struct CachedSecret<T> {
    source: Box<dyn SecretSource>,
    ttl: Duration,
    clock: Arc<dyn Clock>,
    state: Mutex<Option<(DateTime<Utc>, Arc<T>)>>,
}

impl<T: ParseSecret> CachedSecret<T> {
    pub fn new(source: Box<dyn SecretSource>, ttl: Duration) -> Self {
        Self::with_clock(source, ttl, Arc::new(SystemClock))
    }

    pub fn with_clock(source: Box<dyn SecretSource>, ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            source,
            ttl,
            clock,
            state: Mutex::new(None),
        }
    }

    /// The current value, read from the source when there is none yet or it is older than the TTL.
    pub async fn get(&self) -> Result<Arc<T>, SecretError> {
        let mut state = self.state.lock().await;
        let now = self.clock.now();
        if let Some((read_at, value)) = state.as_ref()
            && (now - *read_at).to_std().unwrap_or(Duration::ZERO) < self.ttl
        {
            return Ok(Arc::clone(value));
        }
        match self
            .source
            .fetch()
            .await
            .and_then(|raw| T::parse(self.source.id(), &raw))
        {
            Ok(value) => {
                let value = Arc::new(value);
                *state = Some((now, Arc::clone(&value)));
                Ok(value)
            }
            Err(error) => match state.as_mut() {
                Some((read_at, value)) => {
                    tracing::warn!(secret = self.source.id(), error = %error, "secret refresh failed; keeping the last value");
                    // Try again after a short pause rather than on every request.
                    let back = chrono::TimeDelta::from_std(
                        self.ttl.saturating_sub(Duration::from_secs(10)),
                    )
                    .unwrap_or(chrono::TimeDelta::zero());
                    *read_at = now.checked_sub_signed(back).unwrap_or(now);
                    Ok(Arc::clone(value))
                }
                None => Err(error),
            },
        }
    }
}

/// The webhook secret(s): the current one and, during a rotation, the previous one.
pub struct WebhookSecrets {
    pub current: SecretString,
    pub previous: Option<SecretString>,
}

impl WebhookSecrets {
    pub fn all(&self) -> impl Iterator<Item = &SecretString> {
        std::iter::once(&self.current).chain(self.previous.iter())
    }
}

impl ParseSecret for WebhookSecrets {
    /// A plain string, or `{"current": "...", "previous": "..."}`.
    fn parse(id: &str, raw: &SecretString) -> Result<Self, SecretError> {
        let text = raw.expose_secret();
        if !text.trim_start().starts_with('{') {
            return Ok(Self {
                current: raw.clone(),
                previous: None,
            });
        }
        #[derive(serde::Deserialize)]
        struct Rotating {
            current: String,
            #[serde(default)]
            previous: Option<String>,
        }
        let parsed: Rotating = serde_json::from_str(text).map_err(|e| SecretError::Malformed {
            id: id.to_owned(),
            // serde's message names the field or position, never the value.
            reason: format!(
                "expected a string or {{\"current\", \"previous\"}}: {}",
                e.classify_message()
            ),
        })?;
        if parsed.current.is_empty() {
            return Err(SecretError::Malformed {
                id: id.to_owned(),
                reason: "\"current\" is empty".into(),
            });
        }
        Ok(Self {
            current: SecretString::from(parsed.current),
            previous: parsed
                .previous
                .filter(|p| !p.is_empty())
                .map(SecretString::from),
        })
    }
}

trait ClassifyMessage {
    fn classify_message(&self) -> &'static str;
}

impl ClassifyMessage for serde_json::Error {
    fn classify_message(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                "not valid JSON"
            }
            serde_json::error::Category::Data => "wrong fields or types",
            serde_json::error::Category::Io => "unreadable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A source whose value the test changes, counting reads.
    struct Rotatable {
        value: std::sync::Mutex<Option<String>>,
        reads: Arc<AtomicUsize>,
    }

    #[async_trait]
    impl SecretSource for Rotatable {
        async fn fetch(&self) -> Result<SecretString, SecretError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            match self.value.lock().unwrap().clone() {
                Some(v) => Ok(SecretString::from(v)),
                None => Err(SecretError::Empty { id: "test".into() }),
            }
        }
        fn id(&self) -> &str {
            "test"
        }
    }

    #[tokio::test]
    async fn reads_once_then_refreshes_after_ttl_and_survives_a_failed_refresh() {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let reads = Arc::new(AtomicUsize::new(0));
        let source = Arc::new(Rotatable {
            value: std::sync::Mutex::new(Some("one".into())),
            reads: reads.clone(),
        });
        struct Shared(Arc<Rotatable>);
        #[async_trait]
        impl SecretSource for Shared {
            async fn fetch(&self) -> Result<SecretString, SecretError> {
                self.0.fetch().await
            }
            fn id(&self) -> &str {
                "test"
            }
        }
        let cache: CachedSecret<WebhookSecrets> = CachedSecret::with_clock(
            Box::new(Shared(source.clone())),
            Duration::from_secs(300),
            clock.clone(),
        );
        assert_eq!(cache.get().await.unwrap().current.expose_secret(), "one");
        assert_eq!(cache.get().await.unwrap().current.expose_secret(), "one");
        assert_eq!(reads.load(Ordering::SeqCst), 1);

        *source.value.lock().unwrap() = Some(r#"{"current":"two","previous":"one"}"#.into());
        clock.advance(Duration::from_secs(299));
        assert_eq!(cache.get().await.unwrap().current.expose_secret(), "one");
        clock.advance(Duration::from_secs(2));
        let rotated = cache.get().await.unwrap();
        assert_eq!(rotated.current.expose_secret(), "two");
        assert_eq!(rotated.previous.as_ref().unwrap().expose_secret(), "one");

        *source.value.lock().unwrap() = None;
        clock.advance(Duration::from_secs(301));
        assert_eq!(
            cache.get().await.unwrap().current.expose_secret(),
            "two",
            "stale value serves when refresh fails"
        );
    }

    #[tokio::test]
    async fn first_read_failure_is_an_error() {
        let source = Rotatable {
            value: std::sync::Mutex::new(None),
            reads: Arc::new(AtomicUsize::new(0)),
        };
        let cache: CachedSecret<WebhookSecrets> =
            CachedSecret::new(Box::new(source), Duration::from_secs(1));
        assert!(cache.get().await.is_err());
    }

    #[test]
    fn parses_plain_and_rotating_values_without_leaking() {
        let plain = WebhookSecrets::parse("id", &SecretString::from("abc")).unwrap();
        assert_eq!(plain.all().count(), 1);
        let both = WebhookSecrets::parse(
            "id",
            &SecretString::from(r#"{"current":"a","previous":"b"}"#),
        )
        .unwrap();
        assert_eq!(both.all().count(), 2);
        let err = WebhookSecrets::parse("id", &SecretString::from(r#"{"current": "topsecret", "#))
            .err()
            .unwrap();
        assert!(!err.to_string().contains("topsecret"));
        assert!(WebhookSecrets::parse("id", &SecretString::from(r#"{"current":""}"#)).is_err());
        assert!(WebhookSecrets::parse("id", &SecretString::from(r#"{"previous":"x"}"#)).is_err());
    }
}
