//! The simulator's bookkeeping: the hourly primary rate-limit window per identity (spent,
//! reset, and the `x-ratelimit-*` headers that report it) and the per-endpoint request counters.

use std::sync::atomic::Ordering;

use chrono::TimeDelta;

use super::{SimState, Window, lock};

impl SimState {
    pub(super) fn count(&self, endpoint: &str, not_modified: bool) {
        let mut counts = lock(&self.counts);
        let entry = counts.entry(endpoint.to_owned()).or_default();
        entry.total += 1;
        if not_modified {
            entry.not_modified += 1;
        }
    }

    /// The budget headers for `identity`, after optionally spending one request.
    pub(super) fn budget(&self, identity: &str, spend: bool) -> (u64, Vec<(&'static str, String)>) {
        let now = self.clock.now();
        let limit = self.config.hourly_limit;
        let mut windows = lock(&self.windows);
        let window = windows.entry(identity.to_owned()).or_insert(Window {
            used: 0,
            reset: now + TimeDelta::hours(1),
        });
        if now >= window.reset {
            *window = Window {
                used: 0,
                reset: now + TimeDelta::hours(1),
            };
        }
        if spend && window.used < limit {
            window.used += 1;
            self.spent.fetch_add(1, Ordering::Relaxed);
        }
        let remaining = limit.saturating_sub(window.used);
        if spend {
            self.lowest_remaining
                .fetch_min(remaining, Ordering::Relaxed);
        }
        let headers = vec![
            ("x-ratelimit-limit", limit.to_string()),
            ("x-ratelimit-remaining", remaining.to_string()),
            ("x-ratelimit-used", window.used.to_string()),
            ("x-ratelimit-reset", window.reset.timestamp().to_string()),
            ("x-ratelimit-resource", "core".to_owned()),
        ];
        (remaining, headers)
    }
}
