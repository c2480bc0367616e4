//! The time an invocation has left. The worker sets a [`Deadline`] for the task that processes a
//! batch (the Lambda context's deadline less a margin); the clients read it where they decide to
//! wait (a rate limit, a retry back-off) and turn a wait that would not fit into a failure for
//! their caller instead of sleeping past it. Without a deadline (tests, the resync, the local
//! host) every wait fits. Owns nothing else: it never sleeps itself.
//!
//! Why a task-local and not a parameter: the deadline belongs to one invocation, while the
//! clients are built once per container and shared by every invocation; the places that wait sit
//! under some thirty kind functions and every Port endpoint, which would all have to pass it
//! along. A task-local set once around the batch reaches exactly those places, and the whole live
//! path runs on that one task (it spawns nothing), so it cannot be lost on the way.

use std::cell::Cell;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A point in (monotonic) time by which the current work must be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
}

/// The current deadline and the longest wait refused under it since it was last asked.
struct Current {
    deadline: Deadline,
    refused: Cell<Option<Duration>>,
}

tokio::task_local! {
    static CURRENT: Current;
}

impl Deadline {
    /// A deadline at `at`.
    pub fn at(at: Instant) -> Self {
        Self { at }
    }

    /// A deadline `time_left` from now.
    pub fn after(time_left: Duration) -> Self {
        let now = Instant::now();
        Self {
            at: now.checked_add(time_left).unwrap_or(now),
        }
    }

    /// Lambda's deadline (a wall-clock time, as the Runtime API's `Lambda-Runtime-Deadline-Ms`
    /// gives it) less `margin`, the time kept for answering. A deadline already past gives no
    /// time at all.
    pub fn from_wall_clock(deadline: SystemTime, margin: Duration) -> Self {
        let left = deadline
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        Self::after(left.saturating_sub(margin))
    }

    /// [`Deadline::from_wall_clock`] from milliseconds since the Unix epoch.
    pub fn from_epoch_millis(deadline_ms: u64, margin: Duration) -> Self {
        Self::from_wall_clock(UNIX_EPOCH + Duration::from_millis(deadline_ms), margin)
    }

    /// The time left (zero once past).
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// True once the deadline has passed.
    pub fn is_past(&self) -> bool {
        self.remaining().is_zero()
    }

    /// When it falls.
    pub fn instant(&self) -> Instant {
        self.at
    }

    /// Runs `work` with this deadline as the current one (for the task running it).
    pub async fn scope<F: Future>(self, work: F) -> F::Output {
        let current = Current {
            deadline: self,
            refused: Cell::new(None),
        };
        CURRENT.scope(current, work).await
    }
}

/// The deadline of the work the calling task is doing, if it has one.
pub fn current() -> Option<Deadline> {
    CURRENT.try_with(|current| current.deadline).ok()
}

/// Whether a wait of `wait` may be slept now: always without a deadline, else only when it ends
/// before the deadline does. A refused wait is remembered (see [`take_refused`]).
pub fn allows(wait: Duration) -> bool {
    CURRENT
        .try_with(|current| {
            let fits = wait < current.deadline.remaining();
            if !fits {
                let longest = current.refused.get().map_or(wait, |w| w.max(wait));
                current.refused.set(Some(longest));
            }
            fits
        })
        .unwrap_or(true)
}

/// The longest wait refused for lack of time since the last call (`None`: none was), and
/// forgets it: the caller learns that some work stopped because the time was up, not because
/// it failed on its own.
pub fn take_refused() -> Option<Duration> {
    CURRENT
        .try_with(|current| current.refused.take())
        .ok()
        .flatten()
}

/// The time left before the current deadline (`None`: no deadline).
pub fn remaining() -> Option<Duration> {
    current().map(|deadline| deadline.remaining())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_a_deadline_every_wait_fits() {
        assert!(current().is_none());
        assert!(allows(Duration::from_secs(86_400)));
        assert_eq!(remaining(), None);
    }

    #[tokio::test]
    async fn a_deadline_bounds_waits_inside_its_scope_only() {
        let deadline = Deadline::after(Duration::from_secs(10));
        deadline
            .scope(async {
                assert!(allows(Duration::from_secs(2)));
                assert_eq!(take_refused(), None);
                assert!(!allows(Duration::from_secs(30)));
                assert!(!allows(Duration::from_secs(20)));
                assert_eq!(take_refused(), Some(Duration::from_secs(30)), "the longest");
                assert_eq!(take_refused(), None, "forgotten once taken");
                let left = remaining().unwrap_or_default();
                assert!(left <= Duration::from_secs(10) && left > Duration::from_secs(8));
            })
            .await;
        assert!(allows(Duration::from_secs(30)), "gone outside the scope");
    }

    #[test]
    fn lambda_deadlines_keep_a_margin_and_past_ones_give_no_time() {
        let in_a_minute = SystemTime::now() + Duration::from_secs(60);
        let deadline = Deadline::from_wall_clock(in_a_minute, Duration::from_secs(5));
        let left = deadline.remaining();
        assert!(
            left <= Duration::from_secs(55) && left > Duration::from_secs(53),
            "{left:?}"
        );
        let past = Deadline::from_epoch_millis(1_000, Duration::from_secs(1));
        assert!(past.is_past());
        let tight = Deadline::from_wall_clock(
            SystemTime::now() + Duration::from_secs(2),
            Duration::from_secs(5),
        );
        assert!(
            tight.is_past(),
            "a margin larger than the time left leaves none"
        );
    }
}
