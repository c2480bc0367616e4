//! The GitHub side of the integration: App and token authentication, the REST client (pagination,
//! rate limits, retries, conditional requests) and one module per family of kinds that lists and
//! fetches raw objects in the shape Port's GitHub integration gives its mappings. It never talks
//! to Port and never maps anything.

pub mod app;
pub mod auth;
pub mod client;
pub mod clock;
pub mod error;
pub mod etag;
pub mod kinds;
pub mod pages;
pub mod rate_limit;

pub use app::{GitHubApp, Installation, InstallationAccount};
pub use auth::{
    AppJwtSigner, InstallationToken, InstallationTokenCache, TokenCacheSettings, TokenSource,
};
pub use client::{API_VERSION, ClientConfig, Feature, Fetched, GitHubClient, PER_PAGE};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{GitHubError, LimitKind};
pub use etag::{CachedPage, EtagStore, EtagStoreError, InMemoryEtagStore, NoEtagStore};
pub use pages::{Page, Pages};
pub use rate_limit::RateBudget;
