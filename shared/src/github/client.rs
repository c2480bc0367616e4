//! The GitHub REST client: standard headers, bounded concurrency per token, conditional requests
//! through the [`EtagStore`], retries on 5xx and timeouts, rate-limit waits bounded by the
//! caller's limit and by the current [`deadline`](crate::deadline) (past either the call hands
//! back "retry at T", and a retry back-off that does not fit ends the call as transient). Pages
//! of a list are in `pages`, writes (POST/PATCH/DELETE with a JSON body) in `writes`. It knows
//! nothing about kinds.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::auth::{TokenSource, join};
use super::clock::Clock;
use super::error::{GitHubError, LimitKind};
use super::etag::{CachedPage, EtagStore};
use super::pages::{Pages, next_link};
use super::rate_limit::{
    BudgetTracker, RateBudget, Refusal, budget_from_headers, classify_refusal, transient_backoff,
};
use crate::deadline;
use crate::secrets::{CachedSecret, PlainSecret};

/// The REST API version this client speaks.
pub const API_VERSION: &str = "2022-11-28";
/// Page size asked for on every list.
pub const PER_PAGE: u32 = 100;

/// Settings of a [`GitHubClient`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// REST base URL (`https://api.github.com`, or `https://HOST/api/v3` for GHES).
    pub base_url: String,
    /// Requests in flight at once per token (GitHub's secondary limit is 100).
    pub max_concurrency: usize,
    /// The longest the client waits for a rate limit by itself; past it the call returns
    /// [`GitHubError::RateLimited`] with the time to retry at.
    pub max_wait: Duration,
    /// Attempts after the first on 5xx, timeouts and secondary limits.
    pub max_retries: u32,
    /// First back-off on 5xx and timeouts (doubles per attempt, with jitter).
    pub retry_base: Duration,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// How long after minting a 401 is taken for GitHub's propagation delay.
    pub fresh_token_grace: Duration,
    /// Pause before retrying such a 401.
    pub fresh_token_retry: Duration,
    /// `User-Agent` sent to GitHub.
    pub user_agent: String,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            base_url: "https://api.github.com".to_owned(),
            max_concurrency: 10,
            max_wait: Duration::from_secs(60),
            max_retries: 4,
            retry_base: Duration::from_millis(500),
            request_timeout: Duration::from_secs(30),
            fresh_token_grace: Duration::from_secs(10),
            fresh_token_retry: Duration::from_secs(1),
            user_agent: "port-github-integration".to_owned(),
        }
    }
}

/// Whether a 403/404 means "this feature is not here" or is a real failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// The endpoint always exists: 403 is [`GitHubError::Permanent`], 404 [`GitHubError::NotFound`].
    Required,
    /// A per-repository feature (alerts, environments, pages…): 403/404 is
    /// [`GitHubError::NotAvailable`].
    Optional,
}

/// What one GET returned.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub body: Value,
    pub next: Option<String>,
    pub not_modified: bool,
    /// `x-oauth-scopes`: what a classic personal token may do, as GitHub lists it on each
    /// answer to it (`None` for other tokens, and for a cached page).
    pub oauth_scopes: Option<String>,
}

/// A GitHub REST client for one identity (an installation, the App, or a personal token).
/// Cheap to clone; clones share the concurrency limit, the budget and the token.
#[derive(Clone, Debug)]
pub struct GitHubClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    base: reqwest::Url,
    tokens: TokenSource,
    clock: Arc<dyn Clock>,
    etags: Arc<dyn EtagStore>,
    budget: BudgetTracker,
    permits: Semaphore,
    config: ClientConfig,
    scope: String,
}

/// Builds the HTTP client every GitHub call uses (rustls, timeouts, user agent).
pub fn http_client(config: &ClientConfig) -> Result<reqwest::Client, GitHubError> {
    reqwest::Client::builder()
        .user_agent(config.user_agent.clone())
        .timeout(config.request_timeout)
        .connect_timeout(config.request_timeout.min(Duration::from_secs(10)))
        .build()
        .map_err(|err| GitHubError::Config {
            reason: "could not build the HTTP client".to_owned(),
            source: Some(Box::new(err)),
        })
}

pub(crate) fn parse_base(base_url: &str) -> Result<reqwest::Url, GitHubError> {
    reqwest::Url::parse(base_url.trim_end_matches('/')).map_err(|err| GitHubError::Config {
        reason: format!("GITHUB_API_URL is not a URL: {base_url}"),
        source: Some(Box::new(err)),
    })
}

impl GitHubClient {
    /// A client authenticated by `tokens`.
    pub fn new(
        config: ClientConfig,
        http: reqwest::Client,
        tokens: TokenSource,
        clock: Arc<dyn Clock>,
        etags: Arc<dyn EtagStore>,
    ) -> Result<Self, GitHubError> {
        let base = parse_base(&config.base_url)?;
        let scope = tokens.scope();
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                tokens,
                clock,
                etags,
                budget: BudgetTracker::default(),
                permits: Semaphore::new(config.max_concurrency.max(1)),
                config,
                scope,
            }),
        })
    }

    /// A client using a personal or fine-grained token.
    pub fn with_token(
        config: ClientConfig,
        token: secrecy::SecretString,
        clock: Arc<dyn Clock>,
        etags: Arc<dyn EtagStore>,
    ) -> Result<Self, GitHubError> {
        let token = CachedSecret::fixed("GITHUB_TOKEN", PlainSecret(token));
        Self::with_token_source(config, Arc::new(token), clock, etags)
    }

    /// A client using a personal or fine-grained token read (and re-read) from `token`.
    pub fn with_token_source(
        config: ClientConfig,
        token: Arc<CachedSecret<PlainSecret>>,
        clock: Arc<dyn Clock>,
        etags: Arc<dyn EtagStore>,
    ) -> Result<Self, GitHubError> {
        let http = http_client(&config)?;
        Self::new(config, http, TokenSource::Token(token), clock, etags)
    }

    /// The primary budget GitHub last reported for this identity (`None` before the first call).
    pub fn budget(&self) -> Option<RateBudget> {
        self.inner.budget.current()
    }

    /// The REST base URL requests are joined to.
    pub(crate) fn base(&self) -> &reqwest::Url {
        &self.inner.base
    }

    /// The clock this client runs on.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// One object, e.g. `/repos/o/r/pulls/1`.
    pub async fn get(&self, path_and_query: &str, feature: Feature) -> Result<Value, GitHubError> {
        let url = join(&self.inner.base, path_and_query)?;
        Ok(self.fetch(url, feature).await?.body)
    }

    /// One object with the whole answer (`x-oauth-scopes` included), e.g. `/user`.
    pub async fn get_fetched(
        &self,
        path_and_query: &str,
        feature: Feature,
    ) -> Result<Fetched, GitHubError> {
        let url = join(&self.inner.base, path_and_query)?;
        self.fetch(url, feature).await
    }

    /// One object, or `None` when GitHub answers 404/410 (deleted or never existed).
    pub async fn get_if_exists(&self, path_and_query: &str) -> Result<Option<Value>, GitHubError> {
        match self.get(path_and_query, Feature::Required).await {
            Ok(body) => Ok(Some(body)),
            Err(GitHubError::NotFound { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// The pages of a list endpoint. `per_page=100` is added; `items_field` names the wrapper
    /// array of endpoints that return an object (`workflows`, `environments`, …).
    pub fn pages(
        &self,
        path_and_query: &str,
        items_field: Option<&str>,
        feature: Feature,
    ) -> Result<Pages, GitHubError> {
        let mut url = join(&self.inner.base, path_and_query)?;
        if !url.query_pairs().any(|(name, _)| name == "per_page") {
            url.query_pairs_mut()
                .append_pair("per_page", &PER_PAGE.to_string());
        }
        Ok(Pages {
            client: self.clone(),
            next: Some(url.to_string()),
            items_field: items_field.map(str::to_owned),
            feature,
        })
    }

    /// Continues a list from a cursor saved with [`Pages::cursor`] (a URL GitHub gave).
    pub fn resume_pages(
        &self,
        cursor: &str,
        items_field: Option<&str>,
        feature: Feature,
    ) -> Result<Pages, GitHubError> {
        let url = self.same_origin(cursor)?;
        Ok(Pages {
            client: self.clone(),
            next: Some(url.to_string()),
            items_field: items_field.map(str::to_owned),
            feature,
        })
    }

    /// Refuses URLs that would send the token to another host.
    pub(crate) fn same_origin(&self, link: &str) -> Result<reqwest::Url, GitHubError> {
        let url = reqwest::Url::parse(link).map_err(|err| GitHubError::Config {
            reason: "GitHub gave a page link that is not a URL".to_owned(),
            source: Some(Box::new(err)),
        })?;
        if url.origin() != self.inner.base.origin() {
            return Err(GitHubError::Permanent {
                path: url.path().to_owned(),
                status: 0,
                message: "page link points to another host".to_owned(),
            });
        }
        Ok(url)
    }

    /// Waits until `until` when that is within `max_wait` and ends before the current deadline,
    /// else hands back "retry at".
    async fn wait_or_hand_back(
        &self,
        until: DateTime<Utc>,
        kind: LimitKind,
        path: &str,
    ) -> Result<(), GitHubError> {
        let now = self.inner.clock.now();
        let wait = (until - now).to_std().unwrap_or(Duration::ZERO);
        if wait > self.inner.config.max_wait || !deadline::allows(wait) {
            return Err(GitHubError::RateLimited {
                path: path.to_owned(),
                kind,
                until,
            });
        }
        tracing::info!(path, wait_ms = wait.as_millis() as u64, limit = ?kind, "waiting for a GitHub rate limit");
        self.inner.clock.sleep(wait).await;
        Ok(())
    }

    /// Sleeps `wait` before another attempt, when the current deadline leaves time for it.
    async fn pause(&self, wait: Duration) -> bool {
        if !deadline::allows(wait) {
            return false;
        }
        self.inner.clock.sleep(wait).await;
        true
    }

    /// Sends one request (within the concurrency limit) and reads the whole answer.
    async fn send_once(
        &self,
        method: &Method,
        url: &reqwest::Url,
        token: &secrecy::SecretString,
        cached: Option<&CachedPage>,
        body: Option<&Value>,
    ) -> Result<Result<(StatusCode, HeaderMap, Vec<u8>), reqwest::Error>, GitHubError> {
        let inner = &self.inner;
        let mut request = inner
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(token.expose_secret())
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", API_VERSION);
        if let Some(cached) = cached {
            request = request.header("if-none-match", cached.etag.as_str());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let _permit = inner
            .permits
            .acquire()
            .await
            .map_err(|_| GitHubError::Config {
                reason: "the client's request limiter was closed".to_owned(),
                source: None,
            })?;
        Ok(match request.send().await {
            Ok(response) => {
                let status = response.status();
                let headers = response.headers().clone();
                response
                    .bytes()
                    .await
                    .map(|body| (status, headers, Vec::from(body)))
            }
            Err(err) => Err(err),
        })
    }

    /// One GET with the conditional-request cache, retries and rate-limit handling.
    pub async fn fetch(&self, url: reqwest::Url, feature: Feature) -> Result<Fetched, GitHubError> {
        self.execute(Method::GET, url, None, feature).await
    }

    /// One request with retries and rate-limit handling; only GETs use the ETag store (a write
    /// is never conditional and its answer is never cached).
    pub(crate) async fn execute(
        &self,
        method: Method,
        url: reqwest::Url,
        body: Option<&Value>,
        feature: Feature,
    ) -> Result<Fetched, GitHubError> {
        let inner = &self.inner;
        let path = url.path().to_owned();
        let key = format!("{} {}", inner.scope, url);
        let conditional = method == Method::GET;
        let cached = if conditional {
            match inner.etags.get(&key).await {
                Ok(cached) => cached,
                Err(err) => {
                    tracing::warn!(error = %err, "ETag store read failed; asking unconditionally");
                    None
                }
            }
        } else {
            None
        };
        let mut transient_attempts = 0u32;
        let mut secondary_attempts = 0u32;
        let mut fresh_401s = 0u32;
        let mut reauthenticated = false;
        loop {
            if let Some((until, kind)) = inner.budget.blocked_until(inner.clock.now()) {
                self.wait_or_hand_back(until, kind, &path).await?;
            }
            let bearer = inner.tokens.bearer().await?;
            let answer = self
                .send_once(&method, &url, &bearer.token, cached.as_ref(), body)
                .await?;
            let (status, headers, body) = match answer {
                Ok(answer) => answer,
                Err(err) => {
                    let reason = if err.is_timeout() {
                        "timed out"
                    } else {
                        "request failed"
                    };
                    if transient_attempts < inner.config.max_retries
                        && self
                            .pause(transient_backoff(
                                inner.config.retry_base,
                                transient_attempts,
                            ))
                            .await
                    {
                        transient_attempts += 1;
                        continue;
                    }
                    return Err(GitHubError::Transient {
                        path,
                        reason: reason.to_owned(),
                        source: Some(err),
                    });
                }
            };
            if let Some(budget) = budget_from_headers(&headers) {
                inner.budget.record(budget);
            }
            let now = inner.clock.now();
            match status {
                StatusCode::NOT_MODIFIED => {
                    if let Some(cached) = cached {
                        let body = parse_body(&path, &cached.body)?;
                        return Ok(Fetched {
                            body,
                            next: cached.next,
                            not_modified: true,
                            oauth_scopes: None,
                        });
                    }
                    return Err(GitHubError::Transient {
                        path,
                        reason: "304 without a cached page".to_owned(),
                        source: None,
                    });
                }
                status if status.is_success() => {
                    let next = next_link(&headers);
                    if let Some(next) = &next {
                        self.same_origin(next)?;
                    }
                    let parsed = parse_body(&path, &body)?;
                    if let Some(etag) = header_str(&headers, "etag").filter(|_| conditional) {
                        let page = CachedPage {
                            etag: etag.to_owned(),
                            next: next.clone(),
                            body: body.to_vec(),
                        };
                        if let Err(err) = inner.etags.put(&key, page).await {
                            tracing::warn!(error = %err, "ETag store write failed");
                        }
                    }
                    return Ok(Fetched {
                        body: parsed,
                        next,
                        not_modified: false,
                        oauth_scopes: header_str(&headers, "x-oauth-scopes").map(str::to_owned),
                    });
                }
                StatusCode::UNAUTHORIZED => {
                    let TokenSource::Installation(cache) = &inner.tokens else {
                        // An App JWT or a personal token: re-read the secret once (rotated).
                        if !reauthenticated && inner.tokens.refused(&bearer).await {
                            reauthenticated = true;
                            continue;
                        }
                        return Err(auth_refused(&path));
                    };
                    let fresh = bearer.minted_at.is_some_and(|minted| {
                        now - minted <= super::rate_limit::delta(inner.config.fresh_token_grace)
                    });
                    if fresh && fresh_401s < 5 && self.pause(inner.config.fresh_token_retry).await {
                        fresh_401s += 1;
                        continue;
                    }
                    if !reauthenticated {
                        reauthenticated = true;
                        cache.invalidate(&bearer.token).await;
                        continue;
                    }
                    return Err(auth_refused(&path));
                }
                StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS => {
                    match classify_refusal(
                        status.as_u16(),
                        &headers,
                        &body,
                        now,
                        secondary_attempts,
                    ) {
                        Refusal::Limited { kind, until } => {
                            if kind == LimitKind::Secondary {
                                // Other callers of this client hold off too (GitHub may ban
                                // integrations that keep sending while limited).
                                inner.budget.block_until(until);
                                if secondary_attempts >= inner.config.max_retries {
                                    return Err(GitHubError::Transient {
                                        path,
                                        reason: "secondary rate limit persisted".to_owned(),
                                        source: None,
                                    });
                                }
                                secondary_attempts += 1;
                            }
                            self.wait_or_hand_back(until, kind, &path).await?;
                            continue;
                        }
                        Refusal::Forbidden => {
                            let message = error_message(&body);
                            return Err(match feature {
                                Feature::Optional => GitHubError::NotAvailable {
                                    path,
                                    status: 403,
                                    message,
                                },
                                Feature::Required => GitHubError::Permanent {
                                    path,
                                    status: 403,
                                    message,
                                },
                            });
                        }
                    }
                }
                StatusCode::NOT_FOUND | StatusCode::GONE => {
                    return Err(match feature {
                        Feature::Optional => GitHubError::NotAvailable {
                            path,
                            status: status.as_u16(),
                            message: error_message(&body),
                        },
                        Feature::Required => GitHubError::NotFound {
                            path,
                            status: status.as_u16(),
                        },
                    });
                }
                status if status.is_server_error() => {
                    if transient_attempts < inner.config.max_retries
                        && self
                            .pause(transient_backoff(
                                inner.config.retry_base,
                                transient_attempts,
                            ))
                            .await
                    {
                        transient_attempts += 1;
                        continue;
                    }
                    return Err(GitHubError::Transient {
                        path,
                        reason: format!("HTTP {}", status.as_u16()),
                        source: None,
                    });
                }
                status => {
                    return Err(GitHubError::Permanent {
                        path,
                        status: status.as_u16(),
                        message: error_message(&body),
                    });
                }
            }
        }
    }
}

fn auth_refused(path: &str) -> GitHubError {
    GitHubError::Auth {
        reason: format!("GitHub answered 401 on {path}"),
        source: None,
    }
}

fn parse_body(path: &str, body: &[u8]) -> Result<Value, GitHubError> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body).map_err(|source| GitHubError::Decode {
        path: path.to_owned(),
        source,
    })
}

pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok()
}

/// GitHub's `message`, cut short (it is for logs, never for a webhook response).
fn error_message(body: &[u8]) -> String {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|value| {
            value
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_default();
    message.chars().take(200).collect()
}
