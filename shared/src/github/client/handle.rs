//! The [`GitHubClient`] handle for one identity: what it shares between clones (HTTP client,
//! token source, budget, concurrency limit, ETag store), how it is built, and its read entry
//! points (one object, a list's pages, a resumed list), with the same-origin check on links.

use std::sync::Arc;

use reqwest::Method;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::PER_PAGE;
use super::settings::{ClientConfig, http_client, parse_base};
use crate::github::auth::{TokenSource, join};
use crate::github::clock::Clock;
use crate::github::error::GitHubError;
use crate::github::etag::EtagStore;
use crate::github::pages::Pages;
use crate::github::rate_limit::{BudgetTracker, RateBudget};
use crate::secrets::{CachedSecret, PlainSecret};

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
    pub(super) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) http: reqwest::Client,
    base: reqwest::Url,
    pub(super) tokens: TokenSource,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) etags: Arc<dyn EtagStore>,
    pub(super) budget: BudgetTracker,
    pub(super) permits: Semaphore,
    pub(super) config: ClientConfig,
    pub(super) scope: String,
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

    /// One GET with the conditional-request cache, retries and rate-limit handling.
    pub async fn fetch(&self, url: reqwest::Url, feature: Feature) -> Result<Fetched, GitHubError> {
        self.execute(Method::GET, url, None, feature).await
    }
}
