//! Credentials for GitHub: the App JWT (RS256), installation tokens cached and renewed before
//! they expire with one refresh at a time, and the personal-token alternative. Secrets stay in
//! `SecretString`s: nothing here logs or prints a token or key.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::clock::Clock;
use super::error::GitHubError;
use super::rate_limit::{delta, transient_backoff};
use crate::secrets::{CachedSecret, ParseSecret, PlainSecret, SecretError};

/// The App's private key: the PEM (kept for masking) and the signing key made from it.
pub struct AppPrivateKey {
    pem: SecretString,
    key: EncodingKey,
}

impl AppPrivateKey {
    /// A key from the PEM, or base64 of it.
    pub fn from_secret(private_key: &SecretString) -> Result<Self, GitHubError> {
        let pem = decode_pem(private_key)?;
        let key = EncodingKey::from_rsa_pem(pem.expose_secret().as_bytes()).map_err(|err| {
            config_error(
                "the App private key is not an RSA PEM key",
                Some(Box::new(err)),
            )
        })?;
        Ok(Self { pem, key })
    }
}

impl ParseSecret for AppPrivateKey {
    fn parse(id: &str, raw: &SecretString) -> Result<Self, SecretError> {
        Self::from_secret(raw).map_err(|error| SecretError::Malformed {
            id: id.to_owned(),
            reason: match error {
                GitHubError::Config { reason, .. } => reason,
                other => other.to_string(),
            },
        })
    }
    fn secret_values(&self) -> Vec<&SecretString> {
        vec![&self.pem]
    }
}

/// Signs App JWTs: `iat` one minute in the past (clock drift), `exp` nine minutes ahead, `iss`
/// the App ID (a number) or client ID (a string). The key comes from a [`CachedSecret`], so a
/// rotated key is used after the TTL, or at once when GitHub refuses a JWT signed with the old one.
pub struct AppJwtSigner {
    issuer: serde_json::Value,
    key: Arc<CachedSecret<AppPrivateKey>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for AppJwtSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppJwtSigner")
            .field("issuer", &self.issuer)
            .field("key", &"[redacted]")
            .finish()
    }
}

#[derive(Serialize)]
struct AppClaims<'a> {
    iat: i64,
    exp: i64,
    iss: &'a serde_json::Value,
}

/// A secret that cannot be read, as the GitHub client reports it.
fn unreadable(error: SecretError) -> GitHubError {
    GitHubError::Auth {
        reason: error.to_string(),
        source: None,
    }
}

impl AppJwtSigner {
    /// `app_id` is the numeric App ID or the client ID; `private_key` is the PEM, or base64 of it
    /// (a fixed key, never re-read).
    pub fn new(
        app_id: &str,
        private_key: &SecretString,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, GitHubError> {
        let key = AppPrivateKey::from_secret(private_key)?;
        let key = Arc::new(CachedSecret::fixed("GITHUB_APP_PRIVATE_KEY", key));
        Self::with_key(app_id, key, clock)
    }

    /// A signer whose key is read (and re-read) from `key`.
    pub fn with_key(
        app_id: &str,
        key: Arc<CachedSecret<AppPrivateKey>>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, GitHubError> {
        let app_id = app_id.trim();
        if app_id.is_empty() {
            return Err(config_error("the App ID is empty", None));
        }
        let issuer = match app_id.parse::<u64>() {
            Ok(number) => serde_json::Value::from(number),
            Err(_) => serde_json::Value::from(app_id),
        };
        Ok(Self { issuer, key, clock })
    }

    /// A fresh JWT for the App endpoints.
    pub async fn sign(&self) -> Result<SecretString, GitHubError> {
        Ok(self.sign_with_key().await?.0)
    }

    /// A fresh JWT, and the key it was signed with (to say which key GitHub refused).
    pub(crate) async fn sign_with_key(
        &self,
    ) -> Result<(SecretString, Arc<AppPrivateKey>), GitHubError> {
        let key = self.key.get().await.map_err(unreadable)?;
        let now = self.clock.now().timestamp();
        let claims = AppClaims {
            iat: now - 60,
            exp: now + 9 * 60,
            iss: &self.issuer,
        };
        let jwt = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key.key)
            .map(SecretString::from)
            .map_err(|err| config_error("could not sign the App JWT", Some(Box::new(err))))?;
        Ok((jwt, key))
    }

    /// After GitHub refused a JWT signed with `used`: whether another key is now in use (the
    /// secret is re-read once; concurrent refusals share that read).
    pub(crate) async fn key_refused(&self, used: &Arc<AppPrivateKey>) -> bool {
        self.key.reload_if_current(used).await.is_some()
    }
}

/// Accepts a PEM as is, or base64 of a PEM (how keys are often stored in env vars).
fn decode_pem(private_key: &SecretString) -> Result<SecretString, GitHubError> {
    let raw = private_key.expose_secret().trim();
    if raw.contains("-----BEGIN") {
        // Env vars sometimes carry the newlines escaped.
        return Ok(SecretString::from(raw.replace("\\n", "\n")));
    }
    let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| {
            config_error(
                "the App private key is neither PEM nor base64 of a PEM",
                None,
            )
        })?;
    let text = String::from_utf8(bytes)
        .map_err(|_| config_error("the base64 App private key does not decode to text", None))?;
    if !text.contains("-----BEGIN") {
        return Err(config_error(
            "the base64 App private key does not decode to a PEM",
            None,
        ));
    }
    Ok(SecretString::from(text))
}

fn config_error(
    reason: &str,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
) -> GitHubError {
    GitHubError::Config {
        reason: reason.to_owned(),
        source,
    }
}

/// An installation token and when it stops working.
#[derive(Clone)]
pub struct InstallationToken {
    pub token: SecretString,
    pub expires_at: DateTime<Utc>,
    /// When this process received it (a fresh token may briefly answer 401).
    pub minted_at: DateTime<Utc>,
}

impl std::fmt::Debug for InstallationToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstallationToken")
            .field("token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .field("minted_at", &self.minted_at)
            .finish()
    }
}

#[derive(Deserialize)]
struct AccessTokenResponse {
    token: String,
    expires_at: String,
}

/// Settings of an [`InstallationTokenCache`].
#[derive(Debug, Clone)]
pub struct TokenCacheSettings {
    /// Renew this long before `expires_at` (at least 5 minutes is sensible).
    pub renew_before: Duration,
    /// Attempts to mint a token on transient failures.
    pub mint_attempts: u32,
    /// Base of the back-off between mint attempts.
    pub retry_base: Duration,
}

impl Default for TokenCacheSettings {
    fn default() -> Self {
        Self {
            renew_before: Duration::from_secs(5 * 60),
            mint_attempts: 3,
            retry_base: Duration::from_secs(1),
        }
    }
}

/// The token of one installation, minted on first use and renewed `renew_before` ahead of its
/// expiry. Concurrent callers share one refresh: the first one mints while the others wait for
/// its result.
pub struct InstallationTokenCache {
    installation_id: u64,
    signer: Arc<AppJwtSigner>,
    http: reqwest::Client,
    mint_url: reqwest::Url,
    clock: Arc<dyn Clock>,
    settings: TokenCacheSettings,
    current: tokio::sync::Mutex<Option<InstallationToken>>,
    mints: AtomicU64,
}

impl std::fmt::Debug for InstallationTokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstallationTokenCache")
            .field("installation_id", &self.installation_id)
            .field("mints", &self.mints.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl InstallationTokenCache {
    /// A cache for `installation_id`, minting at `{api_base}/app/installations/{id}/access_tokens`.
    pub fn new(
        installation_id: u64,
        signer: Arc<AppJwtSigner>,
        http: reqwest::Client,
        api_base: &reqwest::Url,
        clock: Arc<dyn Clock>,
        settings: TokenCacheSettings,
    ) -> Result<Self, GitHubError> {
        let mint_url = join(
            api_base,
            &format!("/app/installations/{installation_id}/access_tokens"),
        )?;
        Ok(Self {
            installation_id,
            signer,
            http,
            mint_url,
            clock,
            settings,
            current: tokio::sync::Mutex::new(None),
            mints: AtomicU64::new(0),
        })
    }

    /// The installation this cache serves.
    pub fn installation_id(&self) -> u64 {
        self.installation_id
    }

    /// How many tokens this cache has minted (for tests and metrics).
    pub fn mint_count(&self) -> u64 {
        self.mints.load(Ordering::Relaxed)
    }

    /// A token valid for at least `renew_before`, minting one when needed.
    pub async fn token(&self) -> Result<InstallationToken, GitHubError> {
        let mut current = self.current.lock().await;
        let now = self.clock.now();
        if let Some(token) = current.as_ref()
            && token.expires_at - delta(self.settings.renew_before) > now
        {
            return Ok(token.clone());
        }
        let fresh = self.mint().await?;
        *current = Some(fresh.clone());
        Ok(fresh)
    }

    /// Drops `stale` (a token GitHub refused) so the next call mints a new one. A token that was
    /// already replaced by another caller is left alone, so many 401s cause one refresh.
    pub async fn invalidate(&self, stale: &SecretString) {
        let mut current = self.current.lock().await;
        if current
            .as_ref()
            .is_some_and(|token| token.token.expose_secret() == stale.expose_secret())
        {
            *current = None;
        }
    }

    async fn mint(&self) -> Result<InstallationToken, GitHubError> {
        let path = self.mint_url.path().to_owned();
        let mut attempt = 0;
        let mut key_reread = false;
        loop {
            let (jwt, key) = self.signer.sign_with_key().await?;
            let sent = self
                .http
                .post(self.mint_url.clone())
                .bearer_auth(jwt.expose_secret())
                .header("accept", "application/vnd.github+json")
                .header("x-github-api-version", super::client::API_VERSION)
                .send()
                .await;
            let failure = match sent {
                Ok(response) if response.status().is_success() => {
                    let body = response
                        .bytes()
                        .await
                        .map_err(|err| transient(&path, "reading the token", err))?;
                    let parsed: AccessTokenResponse =
                        serde_json::from_slice(&body).map_err(|source| GitHubError::Decode {
                            path: path.clone(),
                            source,
                        })?;
                    let expires_at = DateTime::parse_from_rfc3339(&parsed.expires_at)
                        .map_err(|_| GitHubError::Auth {
                            reason: "the installation token came with an unreadable expires_at"
                                .to_owned(),
                            source: None,
                        })?
                        .with_timezone(&Utc);
                    self.mints.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(installation_id = self.installation_id, %expires_at, "minted an installation token");
                    return Ok(InstallationToken {
                        token: SecretString::from(parsed.token),
                        expires_at,
                        minted_at: self.clock.now(),
                    });
                }
                Ok(response) if response.status().is_server_error() => GitHubError::Transient {
                    path: path.clone(),
                    reason: format!("HTTP {} minting a token", response.status().as_u16()),
                    source: None,
                },
                Ok(response) => {
                    let status = response.status().as_u16();
                    // A rotated (and revoked) key: GitHub refuses the JWT until the new key is read.
                    if status == 401 && !key_reread {
                        key_reread = true;
                        if self.signer.key_refused(&key).await {
                            tracing::info!(
                                installation_id = self.installation_id,
                                "minting with the App's new private key"
                            );
                            continue;
                        }
                    }
                    return Err(GitHubError::Auth {
                        reason: format!(
                            "GitHub refused an installation token for installation {} (HTTP {status})",
                            self.installation_id
                        ),
                        source: None,
                    });
                }
                Err(err) => transient(&path, "minting a token", err),
            };
            attempt += 1;
            if attempt >= self.settings.mint_attempts {
                return Err(GitHubError::Auth {
                    reason: format!("no token for installation {}", self.installation_id),
                    source: Some(Box::new(failure)),
                });
            }
            self.clock
                .sleep(transient_backoff(self.settings.retry_base, attempt - 1))
                .await;
        }
    }
}

fn transient(path: &str, what: &str, err: reqwest::Error) -> GitHubError {
    GitHubError::Transient {
        path: path.to_owned(),
        reason: what.to_owned(),
        source: Some(err),
    }
}

pub(crate) fn join(base: &reqwest::Url, path_and_query: &str) -> Result<reqwest::Url, GitHubError> {
    let joined = format!("{}{}", base.as_str().trim_end_matches('/'), path_and_query);
    reqwest::Url::parse(&joined).map_err(|err| config_error("bad GitHub URL", Some(Box::new(err))))
}

/// Where a client's bearer token comes from.
#[derive(Clone)]
pub enum TokenSource {
    /// An App installation (tokens minted and renewed by the cache).
    Installation(Arc<InstallationTokenCache>),
    /// The App itself (a fresh JWT per request), for `/app/...` endpoints.
    App(Arc<AppJwtSigner>),
    /// A personal or fine-grained token (`GITHUB_TOKEN`), re-read when GitHub refuses it.
    Token(Arc<CachedSecret<PlainSecret>>),
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Installation(cache) => f
                .debug_tuple("Installation")
                .field(&cache.installation_id)
                .finish(),
            Self::App(_) => f.write_str("App"),
            Self::Token(_) => f.write_str("Token([redacted])"),
        }
    }
}

/// Which credential a bearer token came from (to re-read it when GitHub refuses it).
pub(crate) enum Credential {
    Installation,
    AppKey(Arc<AppPrivateKey>),
    Token(Arc<PlainSecret>),
}

/// A bearer token ready for one request.
pub(crate) struct Bearer {
    pub token: SecretString,
    /// When an installation token was minted (for the 401-right-after-mint grace).
    pub minted_at: Option<DateTime<Utc>>,
    pub credential: Credential,
}

impl TokenSource {
    pub(crate) async fn bearer(&self) -> Result<Bearer, GitHubError> {
        match self {
            Self::Installation(cache) => {
                let token = cache.token().await?;
                Ok(Bearer {
                    token: token.token,
                    minted_at: Some(token.minted_at),
                    credential: Credential::Installation,
                })
            }
            Self::App(signer) => {
                let (token, key) = signer.sign_with_key().await?;
                Ok(Bearer {
                    token,
                    minted_at: None,
                    credential: Credential::AppKey(key),
                })
            }
            Self::Token(cache) => {
                let value = cache.get().await.map_err(unreadable)?;
                Ok(Bearer {
                    token: value.0.clone(),
                    minted_at: None,
                    credential: Credential::Token(value),
                })
            }
        }
    }

    /// After GitHub answered 401 to `bearer` (an App JWT or a personal token): whether another
    /// credential is now in use, the secret re-read once (installation tokens are re-minted
    /// by their cache instead).
    pub(crate) async fn refused(&self, bearer: &Bearer) -> bool {
        match (self, &bearer.credential) {
            (Self::App(signer), Credential::AppKey(key)) => signer.key_refused(key).await,
            (Self::Token(cache), Credential::Token(value)) => {
                cache.reload_if_current(value).await.is_some()
            }
            _ => false,
        }
    }

    /// The key prefix that keeps cached pages of different identities apart.
    pub(crate) fn scope(&self) -> String {
        match self {
            Self::Installation(cache) => format!("installation:{}", cache.installation_id),
            Self::App(_) => "app".to_owned(),
            Self::Token(_) => "token".to_owned(),
        }
    }
}
