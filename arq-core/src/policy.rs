//! Retry policies: which failures run again, and after how long.
//!
//! Python arq runs a job again only when it raises `Retry`; every other error is final. A
//! [`RetryPolicy`], set per job (`#[arq::job(retry = exponential("1s"))]`) or per worker
//! ([`WorkerSettings::retry_policy`](crate::WorkerSettings::retry_policy)), makes ordinary
//! errors run again too, with a backoff. `max_tries` still bounds every path: a failure on
//! the last try is final whatever the policy says.

use crate::JobFailure;
use std::time::Duration;

/// How the delay before the next try grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backoff {
    /// The same delay after every failed try.
    Fixed(Duration),
    /// `base × n` after the n-th failed try.
    Linear(Duration),
    /// `base × 2^(n-1)` after the n-th failed try.
    Exponential(Duration),
}

/// Which failures of a job run again, and after how long: opt-in, per job
/// (`#[arq::job(retry = ...)]`) or per worker ([`WorkerSettings::retry_policy`](crate::WorkerSettings::retry_policy));
/// without one, only a returned [`Retry`](crate::Retry) runs a job again, as in Python arq.
///
/// The delay after the n-th failed try comes from the [`Backoff`], is capped
/// ([`RetryPolicy::cap`], 1 hour by default) and, with full jitter (the default), is drawn
/// uniformly between zero and that value, so a burst of failures does not come back as a
/// burst. It is counted from the backend's clock (Redis `TIME`) when the job is put back, not
/// from the worker's.
///
/// Errors retry unless the error chain holds a [`Permanent`](crate::Permanent), or the policy's
/// predicate ([`RetryPolicy::when`]) says no; timeouts are final unless
/// [`RetryPolicy::retry_timeouts`] is set; aborts never retry.
///
/// Every method is `const`, so a policy can sit in a `const` or a job's options:
///
/// ```
/// use std::time::Duration;
/// use arq_core::{JobFailure, RetryPolicy};
///
/// fn transient(f: &JobFailure) -> bool {
///     f.class != "ValidationError"
/// }
///
/// const POLICY: RetryPolicy = RetryPolicy::exponential(Duration::from_secs(1))
///     .cap(Duration::from_secs(600))
///     .when(transient);
/// // The bound of the 4th delay: 1 s × 2³ = 8 s (the jittered delay is at most that).
/// assert_eq!(POLICY.max_delay(4), Duration::from_secs(8));
/// assert!(POLICY.delay(4) <= Duration::from_secs(8));
/// assert!(!POLICY.retries(&JobFailure::new("ValidationError", "bad email"), false));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    backoff: Backoff,
    cap: Duration,
    jitter: bool,
    retry_timeouts: bool,
    when: Option<fn(&JobFailure) -> bool>,
}

impl PartialEq for RetryPolicy {
    fn eq(&self, other: &Self) -> bool {
        self.backoff == other.backoff
            && self.cap == other.cap
            && self.jitter == other.jitter
            && self.retry_timeouts == other.retry_timeouts
            && self.when.map(|f| f as usize) == other.when.map(|f| f as usize)
    }
}

impl Eq for RetryPolicy {}

/// The default cap on one delay.
const DEFAULT_CAP: Duration = Duration::from_secs(3600);

impl RetryPolicy {
    const fn with(backoff: Backoff) -> Self {
        RetryPolicy {
            backoff,
            cap: DEFAULT_CAP,
            jitter: true,
            retry_timeouts: false,
            when: None,
        }
    }

    /// The same delay (up to jitter) after every failed try.
    pub const fn fixed(delay: Duration) -> Self {
        Self::with(Backoff::Fixed(delay))
    }

    /// `base × n` after the n-th failed try.
    pub const fn linear(base: Duration) -> Self {
        Self::with(Backoff::Linear(base))
    }

    /// `base × 2^(n-1)` after the n-th failed try: `base`, `2 × base`, `4 × base`, …
    pub const fn exponential(base: Duration) -> Self {
        Self::with(Backoff::Exponential(base))
    }

    /// No delay is longer than `max` (default 1 hour).
    pub const fn cap(mut self, max: Duration) -> Self {
        self.cap = max;
        self
    }

    /// Full jitter (`true`, the default): each delay is drawn uniformly from zero to its
    /// bound. `false` waits exactly the bound.
    pub const fn jitter(mut self, on: bool) -> Self {
        self.jitter = on;
        self
    }

    /// Whether a run that timed out retries (default `false`: as in Python arq, a timeout is
    /// final).
    pub const fn retry_timeouts(mut self, on: bool) -> Self {
        self.retry_timeouts = on;
        self
    }

    /// Retry only the failures `predicate` accepts (it sees the error's class, the Rust
    /// error type's name, and its text).
    pub const fn when(mut self, predicate: fn(&JobFailure) -> bool) -> Self {
        self.when = Some(predicate);
        self
    }

    /// The backoff.
    pub const fn backoff(&self) -> Backoff {
        self.backoff
    }

    /// Whether timeouts retry.
    pub const fn retries_timeouts(&self) -> bool {
        self.retry_timeouts
    }

    /// Whether this failure runs again (tries permitting). `timed_out`: the run hit its
    /// timeout.
    pub fn retries(&self, failure: &JobFailure, timed_out: bool) -> bool {
        if timed_out && !self.retry_timeouts {
            return false;
        }
        self.when.is_none_or(|p| p(failure))
    }

    /// The bound of the delay after failed try `n` (1 for the first run): the backoff's value,
    /// capped; what [`RetryPolicy::delay`] returns without jitter.
    pub fn max_delay(&self, n: u32) -> Duration {
        let n = n.max(1);
        let raw = match self.backoff {
            Backoff::Fixed(d) => d,
            Backoff::Linear(d) => d.saturating_mul(n),
            Backoff::Exponential(d) => d.saturating_mul(2u32.saturating_pow(n - 1)),
        };
        raw.min(self.cap)
    }

    /// The delay after failed try `n`: [`RetryPolicy::max_delay`], or with jitter a uniform
    /// draw from zero to it.
    pub fn delay(&self, n: u32) -> Duration {
        let bound = self.max_delay(n);
        if !self.jitter {
            return bound;
        }
        let ms = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(fastrand::u64(0..=ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn bounds_grow_as_named_and_stop_at_the_cap() {
        let fixed = RetryPolicy::fixed(S).jitter(false);
        assert_eq!((1..=4).map(|n| fixed.delay(n)).collect::<Vec<_>>(), [S; 4]);
        let linear = RetryPolicy::linear(S).jitter(false).cap(3 * S);
        assert_eq!(
            (1..=5).map(|n| linear.delay(n)).collect::<Vec<_>>(),
            [S, 2 * S, 3 * S, 3 * S, 3 * S]
        );
        let exp = RetryPolicy::exponential(S).jitter(false).cap(10 * S);
        assert_eq!(
            (1..=6).map(|n| exp.delay(n)).collect::<Vec<_>>(),
            [S, 2 * S, 4 * S, 8 * S, 10 * S, 10 * S]
        );
        // Huge try numbers saturate instead of overflowing.
        assert_eq!(exp.delay(u32::MAX), 10 * S);
        assert_eq!(exp.delay(0), S);
    }

    #[test]
    fn full_jitter_stays_within_its_bound_and_spreads() {
        let p = RetryPolicy::exponential(Duration::from_millis(100)).cap(Duration::from_secs(1));
        for n in 1..=8 {
            let bound = p.max_delay(n);
            let draws: Vec<Duration> = (0..500).map(|_| p.delay(n)).collect();
            assert!(draws.iter().all(|d| *d <= bound), "try {n}");
            // 500 uniform draws: some below a quarter of the bound, some above three quarters.
            assert!(draws.iter().any(|d| *d < bound / 4), "try {n}");
            assert!(draws.iter().any(|d| *d > bound * 3 / 4), "try {n}");
        }
    }

    #[test]
    fn which_failures_retry() {
        fn only_io(f: &JobFailure) -> bool {
            f.class == "IoError"
        }
        let p = RetryPolicy::fixed(S);
        let io = JobFailure::new("IoError", "reset");
        assert!(p.retries(&io, false));
        assert!(!p.retries(&io, true), "timeouts are final by default");
        assert!(p.retry_timeouts(true).retries(&io, true));
        let p = p.when(only_io);
        assert!(p.retries(&io, false));
        assert!(!p.retries(&JobFailure::new("ValueError", "x"), false));
        assert_eq!(p, RetryPolicy::fixed(S).when(only_io));
        assert_ne!(p, RetryPolicy::fixed(S));
    }
}
