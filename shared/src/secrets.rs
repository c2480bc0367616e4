//! Loading and caching secrets: a plain value from the environment or a Secrets Manager secret,
//! re-read after a TTL, and at once (single-flight, at most every few seconds) when the
//! credential it holds is refused, so a rotation takes effect without a redeploy. Secret values
//! only ever live in `SecretString`s; nothing here logs a value.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// The secret values it holds, to be masked wherever they might appear in shipped logs.
    fn secret_values(&self) -> Vec<&SecretString>;
}

/// The shortest time between two re-reads after an authentication failure: a storm of 401s
/// costs one read, and a credential that stays refused at most one read per this interval.
pub const MIN_RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// The value in use and when it was read.
struct Entry<T> {
    /// Start of the TTL (moved back after a failed refresh, so the next try comes sooner).
    read_at: DateTime<Utc>,
    /// When a refusal last made the source be read again (successfully or not), for
    /// [`MIN_RELOAD_INTERVAL`].
    reloaded_at: Option<DateTime<Utc>>,
    value: Arc<T>,
    /// SHA-256 of the raw text: tells a rotated value from a re-read of the same one.
    digest: [u8; 32],
}

/// A secret read once, then re-read when older than the TTL, and at once when the credential
/// it holds was refused ([`CachedSecret::reload_if_current`]). Reads are single-flight: callers
/// that need a read wait for the one in progress and share its result. When a refresh fails,
/// the last good value keeps serving (a Secrets Manager hiccup must not reject every delivery);
/// the first read has no fallback and fails. Every value read is registered for masking in
/// shipped logs (`crate::log_shipping::register_secret`).
pub struct CachedSecret<T> {
    id: String,
    /// `None`: a fixed value that is never re-read.
    source: Option<Box<dyn SecretSource>>,
    ttl: Duration,
    clock: Arc<dyn Clock>,
    state: Mutex<Option<Entry<T>>>,
    reads: AtomicU64,
}

impl<T> std::fmt::Debug for CachedSecret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedSecret")
            .field("id", &self.id)
            .field("ttl", &self.ttl)
            .field("reads", &self.reads.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn digest(raw: &SecretString) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(raw.expose_secret().as_bytes()).into()
}

fn register<T: ParseSecret>(value: &T) {
    for secret in value.secret_values() {
        crate::log_shipping::register_secret(secret);
    }
}

impl<T: ParseSecret> CachedSecret<T> {
    pub fn new(source: Box<dyn SecretSource>, ttl: Duration) -> Self {
        Self::with_clock(source, ttl, Arc::new(SystemClock))
    }

    pub fn with_clock(source: Box<dyn SecretSource>, ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            id: source.id().to_owned(),
            source: Some(source),
            ttl,
            clock,
            state: Mutex::new(None),
            reads: AtomicU64::new(0),
        }
    }

    /// A value given once (a plain setting): served as is, never re-read.
    pub fn fixed(id: impl Into<String>, value: T) -> Self {
        register(&value);
        let now = Utc::now();
        Self {
            id: id.into(),
            source: None,
            ttl: Duration::MAX,
            clock: Arc::new(SystemClock),
            state: Mutex::new(Some(Entry {
                read_at: now,
                reloaded_at: None,
                value: Arc::new(value),
                digest: [0; 32],
            })),
            reads: AtomicU64::new(0),
        }
    }

    /// The name of the secret (an ARN or a variable name), safe to log.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// How many times the source was read.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Reads and parses the source (counted).
    async fn read(&self, source: &dyn SecretSource) -> Result<(T, [u8; 32]), SecretError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let raw = source.fetch().await?;
        let value = T::parse(source.id(), &raw)?;
        register(&value);
        Ok((value, digest(&raw)))
    }

    /// The current value, read from the source when there is none yet or it is older than the TTL.
    pub async fn get(&self) -> Result<Arc<T>, SecretError> {
        let mut state = self.state.lock().await;
        let now = self.clock.now();
        if let Some(entry) = state.as_ref()
            && (now - entry.read_at).to_std().unwrap_or(Duration::ZERO) < self.ttl
        {
            return Ok(Arc::clone(&entry.value));
        }
        let Some(source) = self.source.as_deref() else {
            return match state.as_ref() {
                Some(entry) => Ok(Arc::clone(&entry.value)),
                None => Err(SecretError::Empty {
                    id: self.id.clone(),
                }),
            };
        };
        match self.read(source).await {
            Ok((value, digest)) => {
                let value = Arc::new(value);
                let reloaded_at = state.as_ref().and_then(|entry| entry.reloaded_at);
                *state = Some(Entry {
                    read_at: now,
                    reloaded_at,
                    value: Arc::clone(&value),
                    digest,
                });
                Ok(value)
            }
            Err(error) => match state.as_mut() {
                Some(entry) => {
                    tracing::warn!(secret = %self.id, error = %error, "secret refresh failed; keeping the last value");
                    // Try again after a short pause rather than on every request.
                    let back = chrono::TimeDelta::from_std(
                        self.ttl.saturating_sub(Duration::from_secs(10)),
                    )
                    .unwrap_or(chrono::TimeDelta::zero());
                    entry.read_at = now.checked_sub_signed(back).unwrap_or(now);
                    Ok(Arc::clone(&entry.value))
                }
                None => Err(error),
            },
        }
    }

    /// After the credential in `rejected` was refused (a 401): the value to try instead, or
    /// `None` when there is none (the source still holds the refused value, could not be read,
    /// or was read less than [`MIN_RELOAD_INTERVAL`] ago; the caller then reports the failure).
    /// When another caller already replaced `rejected`, its value is returned without a read, so
    /// concurrent refusals cause one read.
    pub async fn reload_if_current(&self, rejected: &Arc<T>) -> Option<Arc<T>> {
        let source = self.source.as_deref()?;
        let mut state = self.state.lock().await;
        let now = self.clock.now();
        if let Some(entry) = state.as_ref() {
            if !Arc::ptr_eq(&entry.value, rejected) {
                return Some(Arc::clone(&entry.value));
            }
            let recent = entry.reloaded_at.is_some_and(|at| {
                (now - at).to_std().unwrap_or(Duration::ZERO) < MIN_RELOAD_INTERVAL
            });
            if recent {
                return None;
            }
        }
        tracing::info!(secret = %self.id, "a credential was refused; reading the secret again");
        match self.read(source).await {
            Ok((value, digest)) => match state.as_mut() {
                Some(entry) if entry.digest == digest => {
                    // The same value: keep the one in use (so later refusals of it match).
                    entry.read_at = now;
                    entry.reloaded_at = Some(now);
                    None
                }
                _ => {
                    let value = Arc::new(value);
                    *state = Some(Entry {
                        read_at: now,
                        reloaded_at: Some(now),
                        value: Arc::clone(&value),
                        digest,
                    });
                    Some(value)
                }
            },
            Err(error) => {
                tracing::warn!(secret = %self.id, error = %error, "could not read the secret again");
                if let Some(entry) = state.as_mut() {
                    entry.reloaded_at = Some(now);
                }
                None
            }
        }
    }
}

/// A secret that is one string (a token, a key): the trimmed text.
pub struct PlainSecret(pub SecretString);

impl ParseSecret for PlainSecret {
    fn parse(id: &str, raw: &SecretString) -> Result<Self, SecretError> {
        let text = raw.expose_secret().trim();
        if text.is_empty() {
            return Err(SecretError::Empty { id: id.to_owned() });
        }
        Ok(Self(SecretString::from(text.to_owned())))
    }
    fn secret_values(&self) -> Vec<&SecretString> {
        vec![&self.0]
    }
}

/// Port credentials: the secret `{"clientId": "...", "clientSecret": "..."}`.
pub struct PortCredentials {
    pub client_id: String,
    pub client_secret: SecretString,
}

impl ParseSecret for PortCredentials {
    fn parse(id: &str, raw: &SecretString) -> Result<Self, SecretError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Credentials {
            client_id: String,
            client_secret: String,
        }
        let parsed: Credentials =
            serde_json::from_str(raw.expose_secret()).map_err(|_| SecretError::Malformed {
                id: id.to_owned(),
                reason: "expected {\"clientId\": \"...\", \"clientSecret\": \"...\"}".into(),
            })?;
        if parsed.client_id.trim().is_empty() || parsed.client_secret.trim().is_empty() {
            return Err(SecretError::Malformed {
                id: id.to_owned(),
                reason: "clientId and clientSecret must not be empty".into(),
            });
        }
        Ok(Self {
            client_id: parsed.client_id,
            client_secret: SecretString::from(parsed.client_secret),
        })
    }
    fn secret_values(&self) -> Vec<&SecretString> {
        vec![&self.client_secret]
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
    fn secret_values(&self) -> Vec<&SecretString> {
        self.all().collect()
    }

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

    /// A source that counts reads, answers after a short pause (so concurrent callers overlap)
    /// and whose value the test changes.
    struct Slow(Arc<Rotatable>);

    #[async_trait]
    impl SecretSource for Slow {
        async fn fetch(&self) -> Result<SecretString, SecretError> {
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.0.fetch().await
        }
        fn id(&self) -> &str {
            "slow"
        }
    }

    #[tokio::test]
    async fn a_storm_of_refusals_reads_once_and_at_most_every_few_seconds() {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let reads = Arc::new(AtomicUsize::new(0));
        let source = Arc::new(Rotatable {
            value: std::sync::Mutex::new(Some("old-token".into())),
            reads: reads.clone(),
        });
        let cache: Arc<CachedSecret<PlainSecret>> = Arc::new(CachedSecret::with_clock(
            Box::new(Slow(source.clone())),
            Duration::from_secs(3600),
            clock.clone(),
        ));
        let refused = cache.get().await.unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 1);

        // Rotated: 20 callers whose token was refused at once make one read, and all get the new value.
        *source.value.lock().unwrap() = Some("new-token".into());
        clock.advance(MIN_RELOAD_INTERVAL);
        let storm = (0..20).map(|_| {
            let cache = cache.clone();
            let refused = refused.clone();
            tokio::spawn(async move { cache.reload_if_current(&refused).await })
        });
        for answer in futures_util::future::join_all(storm).await {
            let fresh = answer.unwrap().expect("the new value");
            assert_eq!(fresh.0.expose_secret(), "new-token");
        }
        assert_eq!(reads.load(Ordering::SeqCst), 2);
        assert_eq!(cache.reads(), 2);
        assert_eq!(cache.get().await.unwrap().0.expose_secret(), "new-token");

        // Refused again, and the source still holds the same value: no new value, one read at most
        // per interval.
        let current = cache.get().await.unwrap();
        assert!(
            cache.reload_if_current(&current).await.is_none(),
            "too soon: no read"
        );
        assert_eq!(reads.load(Ordering::SeqCst), 2);
        clock.advance(MIN_RELOAD_INTERVAL);
        assert!(
            cache.reload_if_current(&current).await.is_none(),
            "same value"
        );
        assert!(cache.reload_if_current(&current).await.is_none());
        assert_eq!(reads.load(Ordering::SeqCst), 3);

        // A source that fails keeps the value in use.
        *source.value.lock().unwrap() = None;
        clock.advance(MIN_RELOAD_INTERVAL);
        assert!(cache.reload_if_current(&current).await.is_none());
        assert_eq!(cache.get().await.unwrap().0.expose_secret(), "new-token");
    }

    #[tokio::test]
    async fn fixed_values_are_never_read_again() {
        let cache = CachedSecret::fixed(
            "GITHUB_TOKEN",
            PlainSecret(SecretString::from("fixed-token")),
        );
        let value = cache.get().await.unwrap();
        assert!(cache.reload_if_current(&value).await.is_none());
        assert_eq!(cache.reads(), 0);
        assert!(!format!("{cache:?}").contains("fixed-token"));
    }

    #[test]
    fn port_credentials_parse_without_leaking() {
        let parsed = PortCredentials::parse(
            "arn",
            &SecretString::from(r#"{"clientId": "id", "clientSecret": "hunter2-secret"}"#),
        )
        .unwrap();
        assert_eq!(parsed.client_id, "id");
        assert_eq!(parsed.secret_values().len(), 1);
        for bad in [
            r#"{"clientId": "id"}"#,
            r#"{"clientId": "", "clientSecret": "x"}"#,
            "hunter2-secret",
        ] {
            let error = PortCredentials::parse("arn", &SecretString::from(bad))
                .err()
                .unwrap();
            assert!(!error.to_string().contains("hunter2"), "{error}");
        }
    }
}
