//! Conditional-request cache: where the client keeps the `ETag` (and body) of each page it has
//! read, so that re-reading an unchanged page costs a 304 that GitHub does not count. Owns the
//! storage contract and an in-memory store; it knows nothing about HTTP.

use std::collections::HashMap;
use std::sync::Mutex;

use futures_util::future::BoxFuture;

/// One cached page: the validator GitHub gave, and what is needed to rebuild the answer on a 304.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedPage {
    /// The `ETag` header value, sent back as `If-None-Match`.
    pub etag: String,
    /// The URL of the next page (`Link: rel="next"`), when there was one.
    pub next: Option<String>,
    /// The raw JSON body of the page.
    pub body: Vec<u8>,
}

/// Error from a store; the client treats it as a cache miss and logs it, never failing a read.
#[derive(Debug, thiserror::Error)]
#[error("ETag store: {reason}")]
pub struct EtagStoreError {
    pub reason: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// Storage for [`CachedPage`]s, keyed by a string the client builds from the token's scope
/// (installation) and the full request URL.
///
/// Contract:
/// - `get` returns the last page `put` under that key, or `None`. Returning `None` (or an error)
///   is always safe: the client then makes an unconditional request.
/// - `put` replaces any earlier entry. A store may decline to keep an entry (for example one
///   larger than a DynamoDB item may hold, 400 KB) and return `Ok(())`; it must never keep a body
///   with an `etag` that did not come with it.
/// - Keys are at most a few hundred bytes of printable ASCII; bodies are JSON bytes.
/// - Implementations are shared across tasks and must be safe to call concurrently; two `put`s
///   racing on one key may leave either value.
pub trait EtagStore: Send + Sync + std::fmt::Debug {
    /// The cached page for `key`.
    fn get<'a>(&'a self, key: &'a str)
    -> BoxFuture<'a, Result<Option<CachedPage>, EtagStoreError>>;
    /// Stores `page` under `key`.
    fn put<'a>(
        &'a self,
        key: &'a str,
        page: CachedPage,
    ) -> BoxFuture<'a, Result<(), EtagStoreError>>;
}

/// An [`EtagStore`] in process memory (tests, the local host, one warm Lambda container).
#[derive(Default)]
pub struct InMemoryEtagStore {
    pages: Mutex<HashMap<String, CachedPage>>,
}

impl std::fmt::Debug for InMemoryEtagStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryEtagStore")
            .field("pages", &self.len())
            .finish()
    }
}

impl InMemoryEtagStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many pages are cached.
    pub fn len(&self) -> usize {
        self.pages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl EtagStore for InMemoryEtagStore {
    fn get<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<CachedPage>, EtagStoreError>> {
        let found = self
            .pages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(key)
            .cloned();
        Box::pin(async move { Ok(found) })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        page: CachedPage,
    ) -> BoxFuture<'a, Result<(), EtagStoreError>> {
        self.pages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(key.to_owned(), page);
        Box::pin(async { Ok(()) })
    }
}

/// A store that keeps nothing: every request is unconditional.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEtagStore;

impl EtagStore for NoEtagStore {
    fn get<'a>(
        &'a self,
        _key: &'a str,
    ) -> BoxFuture<'a, Result<Option<CachedPage>, EtagStoreError>> {
        Box::pin(async { Ok(None) })
    }

    fn put<'a>(
        &'a self,
        _key: &'a str,
        _page: CachedPage,
    ) -> BoxFuture<'a, Result<(), EtagStoreError>> {
        Box::pin(async { Ok(()) })
    }
}
