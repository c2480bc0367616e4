//! The GitHub side of the integration: App and token authentication, the REST client (pagination,
//! rate limits, retries, conditional requests) and one module per family of kinds that lists and
//! fetches raw objects in the shape Port's GitHub integration gives its mappings. It never talks
//! to Port and never maps anything.
//!
//! How the worker and the resync use it:
//!
//! ```text
//! let app = GitHubApp::new(ClientConfig { base_url, ..Default::default() }, TokenCacheSettings::default(),
//!                          &app_id, &private_key, Arc::new(SystemClock), etag_store)?;
//! for installation in app.installations(allow_list.as_deref()).await? {
//!     let client = app.installation_client(installation.id)?;        // one per installation, shared
//!     let mut repos = list_repositories(&client, &RepoSource::Installation, &selector)?;
//!     while let Some(page) = repos.next_page().await? { /* one page in memory at a time */ }
//!     if client.budget().is_some_and(|b| b.below_reserve(0.05)) { /* re-queue, leave the rest */ }
//! }
//! // Personal token instead: GitHubClient::with_token(config, token, clock, etag_store)?
//! // and RepoSource::Organization(org).
//! ```
//!
//! Errors tell the caller what to do: [`GitHubError::RateLimited`] carries the time to retry at
//! (re-queue with that delay), [`GitHubError::is_retryable`] covers transient failures, and a
//! feature that is off on one repository comes back from the kind lists as
//! [`kinds::Listed::NotAvailable`], never as an empty success or an error.

pub mod app;
pub mod auth;
pub mod client;
pub use crate::clock;
pub mod error;
pub mod etag;
pub mod etag_dynamodb;
pub mod kinds;
pub mod pages;
pub mod permissions;
pub mod rate_limit;
mod writes;

pub use app::{GitHubApp, Installation, InstallationAccount};
pub use auth::{
    AppJwtSigner, AppPrivateKey, InstallationToken, InstallationTokenCache, TokenCacheSettings,
    TokenSource,
};
pub use client::{API_VERSION, ClientConfig, Feature, Fetched, GitHubClient, PER_PAGE};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{GitHubError, LimitKind};
pub use etag::{CachedPage, EtagStore, EtagStoreError, InMemoryEtagStore, NoEtagStore};
pub use etag_dynamodb::DynamoDbEtagStore;
pub use pages::{Page, Pages};
pub use rate_limit::RateBudget;
