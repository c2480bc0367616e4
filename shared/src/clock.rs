//! Time for the whole core: what "now" is and how to wait. Owns nothing else; it exists so tests
//! can drive token expiry, rate-limit resets and secret TTLs without real waiting.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::BoxFuture;

/// A source of the current time and of waits.
///
/// Contract: `now` never goes backwards for one clock; `sleep(d)` completes once `now` has
/// advanced by at least `d` (a manual clock may advance itself instead of waiting).
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current UTC time.
    fn now(&self) -> DateTime<Utc>;
    /// Waits for `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// The real clock: system time and `tokio::time::sleep`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock that only moves when told to, or when someone sleeps on it (the sleep advances the
/// clock by its duration at once). Cloning shares the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
    slept: Arc<Mutex<Duration>>,
}

impl ManualClock {
    /// A clock reading `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
            slept: Arc::new(Mutex::new(Duration::ZERO)),
        }
    }

    /// Moves the clock forward by `duration`.
    pub fn advance(&self, duration: Duration) {
        let delta = TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX);
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now = now.checked_add_signed(delta).unwrap_or(*now);
    }

    /// Sets the clock to `at` (ignored when `at` is in the clock's past).
    pub fn set(&self, at: DateTime<Utc>) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if at > *now {
            *now = at;
        }
    }

    /// The total time callers have slept on this clock (waits that would have been real).
    pub fn total_slept(&self) -> Duration {
        *self
            .slept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.advance(duration);
        {
            let mut slept = self
                .slept
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            *slept = slept.saturating_add(duration);
        }
        Box::pin(tokio::task::yield_now())
    }
}
