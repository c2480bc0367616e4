//! One Port call with everything around it: the bearer token (refreshed once on a 401), the
//! ownership User-Agent, retries on overload statuses and network errors (never waiting past the
//! current deadline), and the split of failures into transient and permanent. It knows no
//! endpoint's body.

use std::sync::Arc;

use reqwest::{Method, Url};
use secrecy::ExposeSecret;

use super::PortClientConfig;
use super::auth::{TokenCache, TokenRequest, TokenResponse};
use super::error::{ErrorBody, Failure, PortError, is_transient_status};
use super::retry::{self, Sleeper};

/// A successful answer: its status and raw body.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

pub(crate) struct Transport {
    pub config: PortClientConfig,
    http: reqwest::Client,
    base: Url,
    tokens: TokenCache,
    sleeper: Arc<dyn Sleeper>,
}

/// What one attempt came to, before the retry decision.
enum Attempt {
    Answered(Answer),
    Unauthorized,
    Retry {
        failure: Failure,
        hint: Option<std::time::Duration>,
    },
    Fail(PortError),
}

impl Transport {
    pub fn new(config: PortClientConfig, sleeper: Arc<dyn Sleeper>) -> Result<Self, PortError> {
        let mut base = Url::parse(config.base_url.trim_end_matches('/')).map_err(|e| {
            PortError::permanent_request("configuration", format!("bad base URL: {e}"))
        })?;
        if base.cannot_be_a_base() {
            return Err(PortError::permanent_request(
                "configuration",
                "bad base URL",
            ));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(config.user_agent())
            .build()
            .map_err(|e| PortError::Permanent {
                endpoint: "configuration",
                cause: Failure::Http(e),
            })?;
        Ok(Transport {
            tokens: TokenCache::new(config.token_refresh_margin),
            config,
            http,
            base,
            sleeper,
        })
    }

    /// `{base}/v1/<segments...>`, each segment percent-encoded (identifiers may hold `/`).
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, PortError> {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| PortError::permanent_request("url", "base URL cannot take a path"))?;
            path.pop_if_empty().push("v1");
            for segment in segments {
                path.push(segment);
            }
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// An access token (the cached one, or a new one from `POST /v1/auth/access_token`).
    pub async fn access_token(&self) -> Result<secrecy::SecretString, PortError> {
        self.tokens.get(|| self.fetch_token()).await
    }

    /// Sends one authenticated call with retries. `body` is already-serialized JSON.
    pub async fn call(
        &self,
        endpoint: &'static str,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, PortError> {
        let attempts = self.config.retry.max_attempts;
        self.call_with(endpoint, method, url, body, attempts, None)
            .await
    }

    /// [`Self::call`] with at most `max_attempts` attempts (a token refresh after a 401 does not
    /// count) and, when given, a shorter `timeout` per request than the client's.
    pub async fn call_with(
        &self,
        endpoint: &'static str,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        max_attempts: u32,
        timeout: Option<std::time::Duration>,
    ) -> Result<Answer, PortError> {
        let mut attempt = 0;
        let mut refreshed = false;
        loop {
            attempt += 1;
            let token = self.tokens.get(|| self.fetch_token()).await?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.expose_secret());
            if let Some(timeout) = timeout {
                request = request.timeout(timeout);
            }
            if let Some(body) = &body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            match classify(endpoint, request.send().await).await {
                Attempt::Answered(answer) => return Ok(answer),
                Attempt::Fail(error) => return Err(error),
                Attempt::Unauthorized if !refreshed => {
                    tracing::info!(endpoint, "Port answered 401; fetching a new access token");
                    self.tokens.invalidate(&token).await;
                    refreshed = true;
                    attempt -= 1; // the refresh does not count against the retries
                }
                Attempt::Unauthorized => {
                    return Err(PortError::Permanent {
                        endpoint,
                        cause: Failure::Status {
                            status: 401,
                            code: "unauthorized".to_owned(),
                            message: "access token rejected after a refresh".to_owned(),
                        },
                    });
                }
                Attempt::Retry { failure, hint } => {
                    self.wait_or_give_up(endpoint, (attempt, max_attempts), failure, hint)
                        .await?
                }
            }
        }
    }

    /// Sleeps before the next attempt, or ends with a transient error when the attempts are used
    /// up, Port asks for a longer wait than allowed, or the wait would end past the current
    /// deadline (`crate::deadline`).
    async fn wait_or_give_up(
        &self,
        endpoint: &'static str,
        (attempt, max_attempts): (u32, u32),
        failure: Failure,
        hint: Option<std::time::Duration>,
    ) -> Result<(), PortError> {
        let settings = &self.config.retry;
        let wait = hint.unwrap_or_else(|| retry::backoff(settings, attempt));
        if attempt >= max_attempts || wait > settings.max_wait || !crate::deadline::allows(wait) {
            return Err(PortError::Transient {
                endpoint,
                retry_after: hint,
                cause: failure,
            });
        }
        tracing::warn!(endpoint, attempt, wait_ms = wait.as_millis() as u64, error = %failure, "retrying a Port call");
        self.sleeper.sleep(wait).await;
        Ok(())
    }

    /// `POST /v1/auth/access_token`, with the same retries as any call. Credentials from a
    /// secret are re-read once when Port refuses them (a rotation), and tried again.
    async fn fetch_token(&self) -> Result<TokenResponse, PortError> {
        const ENDPOINT: &str = "auth";
        let url = self.url(&["auth", "access_token"], &[])?;
        let source = self.config.credentials.as_ref();
        let mut credentials = match source {
            Some(source) => Some(source.get().await.map_err(|error| PortError::Transient {
                endpoint: ENDPOINT,
                retry_after: None,
                cause: Failure::Request(error.to_string()),
            })?),
            None => None,
        };
        let mut reread = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request = match &credentials {
                Some(credentials) => TokenRequest {
                    client_id: &credentials.client_id,
                    client_secret: credentials.client_secret.expose_secret(),
                },
                None => TokenRequest {
                    client_id: &self.config.client_id,
                    client_secret: self.config.client_secret.expose_secret(),
                },
            };
            let response = self.http.post(url.clone()).json(&request).send().await;
            match classify(ENDPOINT, response).await {
                Attempt::Answered(answer) => {
                    return serde_json::from_slice(&answer.body)
                        .map_err(|e| PortError::decode(ENDPOINT, e));
                }
                Attempt::Fail(error) => return Err(error),
                Attempt::Unauthorized => {
                    if !reread && let (Some(source), Some(used)) = (source, credentials.as_ref()) {
                        reread = true;
                        if let Some(fresh) = source.reload_if_current(used).await {
                            tracing::info!(
                                "Port refused the client secret; using the one just read"
                            );
                            credentials = Some(fresh);
                            attempt -= 1; // the re-read does not count against the retries
                            continue;
                        }
                    }
                    return Err(PortError::Permanent {
                        endpoint: ENDPOINT,
                        cause: Failure::Status {
                            status: 401,
                            code: "unauthorized".to_owned(),
                            message: "Port rejected the client id and secret".to_owned(),
                        },
                    });
                }
                Attempt::Retry { failure, hint } => {
                    let attempts = (attempt, self.config.retry.max_attempts);
                    self.wait_or_give_up(ENDPOINT, attempts, failure, hint)
                        .await?
                }
            }
        }
    }
}

/// Sorts one HTTP outcome into success, 401, retry, or a final failure.
async fn classify(
    endpoint: &'static str,
    response: Result<reqwest::Response, reqwest::Error>,
) -> Attempt {
    let response = match response {
        Ok(response) => response,
        Err(error) if error.is_builder() => {
            return Attempt::Fail(PortError::Permanent {
                endpoint,
                cause: Failure::Http(error),
            });
        }
        Err(error) => {
            return Attempt::Retry {
                failure: Failure::Http(error),
                hint: None,
            };
        }
    };
    let status = response.status().as_u16();
    let hint = retry::server_hint(response.headers(), chrono::Utc::now());
    let body = match response.bytes().await {
        Ok(body) => body.to_vec(),
        Err(error) => {
            return Attempt::Retry {
                failure: Failure::Http(error),
                hint: None,
            };
        }
    };
    match status {
        200..=299 => Attempt::Answered(Answer { status, body }),
        401 => Attempt::Unauthorized,
        s if retry::is_retried_status(s) => Attempt::Retry {
            failure: ErrorBody::parse(status, &body),
            hint,
        },
        s if is_transient_status(s) => Attempt::Fail(PortError::Transient {
            endpoint,
            retry_after: hint,
            cause: ErrorBody::parse(status, &body),
        }),
        _ => Attempt::Fail(PortError::Permanent {
            endpoint,
            cause: ErrorBody::parse(status, &body),
        }),
    }
}
