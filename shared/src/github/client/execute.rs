//! One request to GitHub: sent within the concurrency limit, conditional through the ETag store
//! (GETs only), retried on 5xx, timeouts and secondary limits, waiting out rate limits within the
//! caller's limit and the current deadline, and each answer status turned into a [`Fetched`] or
//! the [`GitHubError`] that tells the caller what to do.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::Value;

use super::API_VERSION;
use super::handle::{Feature, Fetched, GitHubClient};
use crate::deadline;
use crate::github::auth::TokenSource;
use crate::github::error::{GitHubError, LimitKind};
use crate::github::etag::CachedPage;
use crate::github::pages::next_link;
use crate::github::rate_limit::{
    Refusal, budget_from_headers, classify_refusal, transient_backoff,
};

impl GitHubClient {
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

    /// Waits out the back-off of transient failure number `attempts` and counts it; false when
    /// the retries are spent or the wait does not fit the deadline.
    async fn retry_transient(&self, attempts: &mut u32) -> bool {
        let config = &self.inner.config;
        if *attempts >= config.max_retries
            || !self
                .pause(transient_backoff(config.retry_base, *attempts))
                .await
        {
            return false;
        }
        *attempts += 1;
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
                    if self.retry_transient(&mut transient_attempts).await {
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
                        now - minted
                            <= crate::github::rate_limit::delta(inner.config.fresh_token_grace)
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
                    if self.retry_transient(&mut transient_attempts).await {
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
