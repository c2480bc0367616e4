//! When and how long to wait before retrying a Port call: which statuses are retried, Port's
//! `retry-after` / `x-ratelimit-reset` hints, and exponential back-off with jitter otherwise.
//! The waiting itself goes through [`Sleeper`] so tests never really sleep. No HTTP here.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::time::Duration;

use reqwest::header::HeaderMap;

/// How hard the client tries before giving up with a transient error.
#[derive(Debug, Clone)]
pub struct RetrySettings {
    /// Attempts per call, the first one included (1 = never retry).
    pub max_attempts: u32,
    /// The first back-off wait; it doubles on each further attempt.
    pub initial_backoff: Duration,
    /// The longest single wait. When Port asks for more (`retry-after`), or the wait would end
    /// past the current deadline (`crate::deadline`), the client stops and returns a transient
    /// error carrying Port's hint, so the caller can re-queue instead.
    pub max_wait: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_wait: Duration::from_secs(20),
        }
    }
}

/// Statuses Port answers when it is overloaded or a proxy in front of it failed.
pub fn is_retried_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 502 | 503 | 504)
}

/// Port's own wait hint: `retry-after` (seconds or an HTTP date), else `x-ratelimit-reset`
/// (seconds until the reset, or a Unix time when it looks like one).
pub fn server_hint(headers: &HeaderMap, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(value) = header("retry-after") {
        if let Ok(seconds) = value.parse::<f64>() {
            return seconds_to_duration(seconds);
        }
        if let Ok(date) = chrono::DateTime::parse_from_rfc2822(value) {
            let wait = date.with_timezone(&chrono::Utc) - now;
            return Some(wait.to_std().unwrap_or(Duration::ZERO));
        }
    }
    let reset = header("x-ratelimit-reset")?.parse::<f64>().ok()?;
    // A value past a billion cannot be a wait in seconds (31 years): it is a Unix time.
    if reset > 1e9 {
        let now_secs = now.timestamp_millis() as f64 / 1000.0;
        return seconds_to_duration((reset - now_secs).max(0.0));
    }
    seconds_to_duration(reset)
}

fn seconds_to_duration(seconds: f64) -> Option<Duration> {
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(86_400.0)))
}

/// Exponential back-off with "equal jitter": half the step fixed, half random, capped at `max_wait`.
/// `attempt` is the attempt that just failed, from 1.
pub fn backoff(settings: &RetrySettings, attempt: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(16);
    let step = settings
        .initial_backoff
        .saturating_mul(1u32 << exponent)
        .min(settings.max_wait);
    let half = step / 2;
    half + half.mul_f64(jitter_fraction())
}

/// A random fraction in [0, 1) from the standard library's per-process random hash keys.
fn jitter_fraction() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0x5eed);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Waits between attempts. The default sleeps on the Tokio timer; tests record the waits instead.
pub trait Sleeper: Send + Sync {
    fn sleep(&self, wait: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Sleeps for real, on the Tokio timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, wait: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(wait))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                *name,
                HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("")),
            );
        }
        map
    }

    fn at(seconds: i64) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_default()
    }

    #[test]
    fn retried_statuses_are_the_overload_ones() {
        for status in [408, 429, 502, 503, 504] {
            assert!(is_retried_status(status), "{status}");
        }
        for status in [400, 401, 404, 413, 422, 500] {
            assert!(!is_retried_status(status), "{status}");
        }
    }

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let now = at(1_700_000_000);
        assert_eq!(
            server_hint(&headers(&[("retry-after", "3")]), now),
            Some(Duration::from_secs(3))
        );
        let date = "Tue, 14 Nov 2023 22:13:30 GMT"; // 10 s after `now`
        assert_eq!(
            server_hint(&headers(&[("retry-after", date)]), now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(server_hint(&headers(&[("retry-after", "soon")]), now), None);
    }

    #[test]
    fn ratelimit_reset_as_delta_or_unix_time() {
        let now = at(1_700_000_000);
        assert_eq!(
            server_hint(&headers(&[("x-ratelimit-reset", "7")]), now),
            Some(Duration::from_secs(7))
        );
        let hint = server_hint(&headers(&[("x-ratelimit-reset", "1700000004")]), now);
        assert_eq!(hint, Some(Duration::from_secs(4)));
        let past = server_hint(&headers(&[("x-ratelimit-reset", "1600000000")]), now);
        assert_eq!(past, Some(Duration::ZERO));
        let both = headers(&[("retry-after", "2"), ("x-ratelimit-reset", "9")]);
        assert_eq!(server_hint(&both, now), Some(Duration::from_secs(2)));
    }

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        let settings = RetrySettings {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_wait: Duration::from_secs(1),
        };
        for attempt in 1..12 {
            let wait = backoff(&settings, attempt);
            let step = Duration::from_millis(100)
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(settings.max_wait);
            assert!(
                wait >= step / 2 && wait <= step,
                "attempt {attempt}: {wait:?}"
            );
        }
    }
}
