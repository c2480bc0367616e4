//! GitHub rate-limit bookkeeping: reading the `x-ratelimit-*` and `retry-after` headers, the
//! budget left for an installation, and how long to wait before the next attempt. It decides
//! waits; it never sleeps or sends requests itself.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::HeaderMap;

use super::error::LimitKind;

/// The primary budget as GitHub last reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateBudget {
    /// Requests per hour (`x-ratelimit-limit`).
    pub limit: u64,
    /// Requests left in this window (`x-ratelimit-remaining`).
    pub remaining: u64,
    /// When the window resets (`x-ratelimit-reset`).
    pub reset: DateTime<Utc>,
}

impl RateBudget {
    /// The share of the hourly budget still available, 0.0 ..= 1.0.
    pub fn remaining_share(&self) -> f64 {
        if self.limit == 0 {
            return 0.0;
        }
        (self.remaining as f64 / self.limit as f64).clamp(0.0, 1.0)
    }

    /// True when less than `reserve` (a share, e.g. 0.05) of the budget is left: a resync
    /// should stop here and leave the rest to live events.
    pub fn below_reserve(&self, reserve: f64) -> bool {
        self.remaining_share() < reserve
    }
}

/// Reads the budget headers of one response (`None` when GitHub sent none, e.g. GHES with
/// rate limiting off).
pub fn budget_from_headers(headers: &HeaderMap) -> Option<RateBudget> {
    let limit = header_u64(headers, "x-ratelimit-limit")?;
    let remaining = header_u64(headers, "x-ratelimit-remaining")?;
    let reset_epoch = header_u64(headers, "x-ratelimit-reset")?;
    let reset = DateTime::<Utc>::from_timestamp(i64::try_from(reset_epoch).ok()?, 0)?;
    Some(RateBudget {
        limit,
        remaining,
        reset,
    })
}

/// `retry-after` in seconds, when present and numeric.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    header_u64(headers, "retry-after").map(Duration::from_secs)
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// How a 403/429 answer is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Rate limited: wait until `until` (primary) or for a back-off (secondary).
    Limited {
        kind: LimitKind,
        until: DateTime<Utc>,
    },
    /// Not a rate limit: permission or feature refusal.
    Forbidden,
}

/// Classifies a 403 or 429 answer. `attempt` (0-based) scales the back-off of a secondary limit
/// that came without `retry-after`.
pub fn classify_refusal(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
    attempt: u32,
) -> Refusal {
    let budget = budget_from_headers(headers);
    if let Some(budget) = budget
        && budget.remaining == 0
        && retry_after(headers).is_none()
    {
        // One extra second: GitHub resets on the second boundary.
        let until = budget.reset.max(now) + TimeDelta::seconds(1);
        return Refusal::Limited {
            kind: LimitKind::Primary,
            until,
        };
    }
    if let Some(wait) = retry_after(headers) {
        return Refusal::Limited {
            kind: LimitKind::Secondary,
            until: now + delta(wait),
        };
    }
    let says_rate_limit = String::from_utf8_lossy(body)
        .to_ascii_lowercase()
        .contains("rate limit");
    if status == 429 || says_rate_limit {
        return Refusal::Limited {
            kind: LimitKind::Secondary,
            until: now + delta(secondary_backoff(attempt)),
        };
    }
    Refusal::Forbidden
}

/// Back-off for a secondary limit without `retry-after`: at least a minute, doubling per
/// attempt, plus up to 10 % jitter.
pub fn secondary_backoff(attempt: u32) -> Duration {
    let base = Duration::from_secs(60).saturating_mul(1u32 << attempt.min(5));
    with_jitter(base)
}

/// Back-off for 5xx and timeouts: `base` doubling per attempt (capped at 32×), plus jitter.
pub fn transient_backoff(base: Duration, attempt: u32) -> Duration {
    with_jitter(base.saturating_mul(1u32 << attempt.min(5)))
}

fn with_jitter(base: Duration) -> Duration {
    let jitter_ms = (base.as_millis() as u64 / 10).max(1);
    base + Duration::from_millis(fastrand::u64(0..=jitter_ms))
}

pub(crate) fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

/// The budget last seen for one token, shared by all requests made with it.
#[derive(Debug, Default)]
pub struct BudgetTracker {
    last: Mutex<Option<RateBudget>>,
    secondary_until: Mutex<Option<DateTime<Utc>>>,
}

impl BudgetTracker {
    /// Records the budget of a counted (non-304) response.
    pub fn record(&self, budget: RateBudget) {
        crate::metrics::note_rate_limit_remaining(budget.remaining);
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *last = Some(budget);
    }

    /// The last budget seen, if any.
    pub fn current(&self) -> Option<RateBudget> {
        *self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Remembers a secondary limit, so no request is sent before `until`.
    pub fn block_until(&self, until: DateTime<Utc>) {
        let mut blocked = self
            .secondary_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *blocked = Some(blocked.map_or(until, |earlier| earlier.max(until)));
    }

    /// When a limit is known to be in force, the time it lifts and which limit it is: a spent
    /// primary budget that has not reset yet, or a secondary limit still running.
    pub fn blocked_until(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, LimitKind)> {
        let secondary = *self
            .secondary_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(until) = secondary
            && until > now
        {
            return Some((until, LimitKind::Secondary));
        }
        let budget = self.current()?;
        (budget.remaining == 0 && budget.reset > now)
            .then_some((budget.reset + TimeDelta::seconds(1), LimitKind::Primary))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(value) = HeaderValue::from_str(value) {
                map.insert(*name, value);
            }
        }
        map
    }

    fn now() -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn remaining_zero_waits_for_the_reset_plus_a_second() {
        let map = headers(&[
            ("x-ratelimit-limit", "5000"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1700000600"),
        ]);
        let refusal = classify_refusal(403, &map, b"{}", now(), 0);
        assert_eq!(
            refusal,
            Refusal::Limited {
                kind: LimitKind::Primary,
                until: now() + TimeDelta::seconds(601)
            }
        );
    }

    #[test]
    fn retry_after_is_honoured_exactly() {
        let map = headers(&[("retry-after", "42"), ("x-ratelimit-remaining", "12")]);
        let refusal = classify_refusal(429, &map, b"{}", now(), 3);
        assert_eq!(
            refusal,
            Refusal::Limited {
                kind: LimitKind::Secondary,
                until: now() + TimeDelta::seconds(42)
            }
        );
    }

    #[test]
    fn a_secondary_message_without_retry_after_waits_at_least_a_minute() {
        let body = br#"{"message":"You have exceeded a secondary rate limit"}"#;
        let Refusal::Limited { kind, until } =
            classify_refusal(403, &HeaderMap::new(), body, now(), 0)
        else {
            panic!("a secondary limit");
        };
        assert_eq!(kind, LimitKind::Secondary);
        assert!(until - now() >= TimeDelta::seconds(60) && until - now() <= TimeDelta::seconds(66));
        let Refusal::Limited { until, .. } =
            classify_refusal(403, &HeaderMap::new(), body, now(), 2)
        else {
            panic!("a secondary limit");
        };
        assert!(
            until - now() >= TimeDelta::seconds(240),
            "doubles per attempt"
        );
    }

    #[test]
    fn a_plain_403_is_a_refusal_not_a_limit() {
        let map = headers(&[
            ("x-ratelimit-remaining", "4999"),
            ("x-ratelimit-limit", "5000"),
            ("x-ratelimit-reset", "1700000600"),
        ]);
        let body = br#"{"message":"Resource not accessible by integration"}"#;
        assert_eq!(
            classify_refusal(403, &map, body, now(), 0),
            Refusal::Forbidden
        );
    }

    #[test]
    fn the_reserve_is_a_share_of_the_limit() {
        let budget = RateBudget {
            limit: 5000,
            remaining: 200,
            reset: now(),
        };
        assert!(budget.below_reserve(0.05));
        assert!(!budget.below_reserve(0.03));
    }
}
