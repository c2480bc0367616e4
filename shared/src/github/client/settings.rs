//! The client's settings ([`ClientConfig`]: base URL, concurrency, waits, retries, timeouts) and
//! the HTTP client every GitHub call is built on.

use std::time::Duration;

use crate::github::error::GitHubError;

/// Settings of a [`GitHubClient`](super::GitHubClient).
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
