//! Port access tokens: fetched from the client id and secret, cached for the `expiresIn` Port
//! gives, refreshed by one caller at a time, and dropped when Port answers 401 so the next call
//! fetches a new one. It never logs or prints the secret or the token.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// A token and when this process must stop using it.
struct CachedToken {
    token: SecretString,
    refresh_at: Instant,
}

/// The access-token cache. One refresh at a time: callers that find the token missing or stale
/// wait on the same lock, and the first one fetches it for all.
pub(crate) struct TokenCache {
    current: Mutex<Option<CachedToken>>,
    /// How long before Port's expiry the token is renewed.
    margin: Duration,
}

/// Port's answer to `POST /v1/auth/access_token`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TokenResponse {
    pub access_token: String,
    /// Seconds the token stays valid.
    pub expires_in: u64,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[REDACTED]")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// The body of `POST /v1/auth/access_token`; only built right before it is serialized.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TokenRequest<'a> {
    pub client_id: &'a str,
    pub client_secret: &'a str,
}

impl TokenCache {
    pub fn new(margin: Duration) -> Self {
        TokenCache {
            current: Mutex::new(None),
            margin,
        }
    }

    /// The cached token, or a new one from `fetch` when there is none or it is about to expire.
    pub async fn get<F, Fut, E>(&self, fetch: F) -> Result<SecretString, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<TokenResponse, E>>,
    {
        let mut current = self.current.lock().await;
        if let Some(cached) = current.as_ref()
            && Instant::now() < cached.refresh_at
        {
            return Ok(cached.token.clone());
        }
        let fresh = fetch().await?;
        let lifetime = Duration::from_secs(fresh.expires_in);
        // A short-lived token (another process got it first) is still used, for half its life.
        let margin = self.margin.min(lifetime / 2);
        let token = SecretString::from(fresh.access_token);
        *current = Some(CachedToken {
            token: token.clone(),
            refresh_at: Instant::now() + (lifetime - margin),
        });
        Ok(token)
    }

    /// Forgets `rejected` after Port answered 401 with it. A token another caller already
    /// replaced is left alone, so concurrent 401s cause a single refresh.
    pub async fn invalidate(&self, rejected: &SecretString) {
        let mut current = self.current.lock().await;
        if current
            .as_ref()
            .is_some_and(|cached| cached.token.expose_secret() == rejected.expose_secret())
        {
            *current = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn answer(token: &str, expires_in: u64) -> Result<TokenResponse, ()> {
        Ok(TokenResponse {
            access_token: token.to_owned(),
            expires_in,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn cached_until_the_margin_before_expiry() {
        let cache = TokenCache::new(Duration::from_secs(60));
        let fetches = AtomicU32::new(0);
        let fetch = || async {
            let n = fetches.fetch_add(1, Ordering::SeqCst);
            answer(&format!("token-{n}"), 600)
        };
        let first = cache.get(fetch).await;
        assert_eq!(
            first.map(|t| t.expose_secret().to_owned()),
            Ok("token-0".to_owned())
        );
        tokio::time::advance(Duration::from_secs(500)).await;
        let again = cache.get(fetch).await;
        assert_eq!(
            again.map(|t| t.expose_secret().to_owned()),
            Ok("token-0".to_owned())
        );
        tokio::time::advance(Duration::from_secs(50)).await; // 550 s: inside the 60 s margin
        let renewed = cache.get(fetch).await;
        assert_eq!(
            renewed.map(|t| t.expose_secret().to_owned()),
            Ok("token-1".to_owned())
        );
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn invalidate_only_drops_the_rejected_token() {
        let cache = TokenCache::new(Duration::from_secs(60));
        let old = cache.get(|| async { answer("old", 3600) }).await;
        let old = old.unwrap_or_else(|()| SecretString::from("unreachable"));
        cache.invalidate(&SecretString::from("some-other")).await;
        let kept = cache.get(|| async { answer("new", 3600) }).await;
        assert_eq!(
            kept.map(|t| t.expose_secret().to_owned()),
            Ok("old".to_owned())
        );
        cache.invalidate(&old).await;
        let fresh = cache.get(|| async { answer("new", 3600) }).await;
        assert_eq!(
            fresh.map(|t| t.expose_secret().to_owned()),
            Ok("new".to_owned())
        );
    }

    #[test]
    fn token_response_debug_hides_the_token() {
        let response = TokenResponse {
            access_token: "eyJsecret".to_owned(),
            expires_in: 10,
        };
        assert!(!format!("{response:?}").contains("eyJsecret"));
    }
}
