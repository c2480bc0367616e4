//! The GitHub REST client: standard headers, bounded concurrency per token, conditional requests
//! through the [`EtagStore`](super::etag::EtagStore), retries on 5xx and timeouts, rate-limit
//! waits bounded by the caller's limit and by the current [`deadline`](crate::deadline) (past
//! either the call hands back "retry at T", and a retry back-off that does not fit ends the call
//! as transient). Pages of a list are in `pages`, writes (POST/PATCH/DELETE with a JSON body) in
//! `writes`. It knows nothing about kinds.
//!
//! The parts: `settings` ([`ClientConfig`], the shared HTTP client), `handle` (the
//! [`GitHubClient`] itself, its constructors and read entry points), and `execute` (one request:
//! sending, retries, rate limits, and what each answer status means).

mod execute;
mod handle;
mod settings;

pub(crate) use execute::header_str;
pub use handle::{Feature, Fetched, GitHubClient};
pub(crate) use settings::parse_base;
pub use settings::{ClientConfig, http_client};

/// The REST API version this client speaks.
pub const API_VERSION: &str = "2022-11-28";
/// Page size asked for on every list.
pub const PER_PAGE: u32 = 100;
