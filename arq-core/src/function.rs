//! The job table: functions a worker can run, their options, and how their arguments and
//! outcomes cross the erased boundary between the worker and typed user code.

use crate::{from_value, BoxError, BoxFuture, Ctx, FailedJob, JobFailure, RetryPolicy, Value};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// The erased entry point of a job function: takes the context and the decoded arguments,
/// returns the result as a value or a failure. `#[arq::job]` generates one per function.
pub type Handler = fn(Ctx, Args) -> BoxFuture<'static, Result<Value, JobError>>;

/// Per-function options; `None` falls back to the worker's setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobOptions {
    /// How many times the job may run (`Retry` and lost workers count); worker default 5.
    pub max_tries: Option<u32>,
    /// How long one run may take; worker default 300 s.
    pub timeout: Option<Duration>,
    /// How long the result is kept; zero keeps none. Worker default 3600 s.
    pub keep_result: Option<Duration>,
    /// Keep the result without expiry.
    pub keep_result_forever: Option<bool>,
    /// The queue the typed `enqueue` sends to, instead of the pool's default.
    pub queue: Option<&'static str>,
    /// Which failures run again and after how long; worker default: none (Python arq's
    /// semantics, only `Retry` runs a job again).
    pub retry: Option<RetryPolicy>,
    /// How many times the job may [`Snooze`]; worker default 25.
    pub max_snoozes: Option<u32>,
    /// Whether a final failure goes to the queue's dead set; worker default `true`.
    pub dead_letter: Option<bool>,
    /// Runs once per final failure of this job (besides the worker's `on_job_failed`).
    pub on_failed: Option<FailureHook>,
    /// Runs once when this job fails on its last try (besides the worker's
    /// `on_tries_exhausted`).
    pub on_tries_exhausted: Option<FailureHook>,
}

/// A failure hook of one job function: `#[arq::job(on_failed = notify)]` wraps
/// `async fn notify(job: arq::FailedJob)` into one.
#[derive(Clone, Copy)]
pub struct FailureHook(pub fn(FailedJob) -> BoxFuture<'static, ()>);

impl std::fmt::Debug for FailureHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FailureHook")
    }
}

impl PartialEq for FailureHook {
    fn eq(&self, other: &Self) -> bool {
        self.0 as usize == other.0 as usize
    }
}

impl Eq for FailureHook {}

impl JobOptions {
    /// No options set: everything comes from the worker.
    pub const fn new() -> Self {
        JobOptions {
            max_tries: None,
            timeout: None,
            keep_result: None,
            keep_result_forever: None,
            queue: None,
            retry: None,
            max_snoozes: None,
            dead_letter: None,
            on_failed: None,
            on_tries_exhausted: None,
        }
    }
}

/// A job function the worker can run: its name, options and erased handler.
///
/// `#[arq::job]` generates `<fn>::FUNCTION` and registers it in the compile-time job table
/// (see [`Function::registered`]); a worker can also be given an explicit list.
#[derive(Clone, Copy)]
pub struct Function {
    /// The name the job is enqueued under (Python arq's `f`).
    pub name: &'static str,
    /// Per-function options.
    pub options: JobOptions,
    /// The erased entry point.
    pub handler: Handler,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function")
            .field("name", &self.name)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Function {
    /// A function with default options.
    pub const fn new(name: &'static str, handler: Handler) -> Self {
        Function {
            name,
            options: JobOptions::new(),
            handler,
        }
    }

    /// The same function with other options.
    pub const fn with_options(mut self, options: JobOptions) -> Self {
        self.options = options;
        self
    }

    /// Every function registered with `#[arq::job]` in the crates linked into this binary.
    pub fn registered() -> impl Iterator<Item = &'static Function> {
        inventory::iter::<Function>.into_iter()
    }
}

inventory::collect!(Function);

/// Ask the worker to run the job again, optionally after a delay (Python arq's `Retry`).
///
/// Return it as the job's error: `return Err(Retry::after(Duration::from_secs(5)).into())`,
/// or `Err(Retry::now())?`. Each run counts against `max_tries`. The worker finds it wherever
/// the error chain holds it:
///
/// - as the error itself, or inside `anyhow::Error` (with or without `.context(...)`) or
///   `Box<dyn Error>`;
/// - as the `source()` of your own error type (`#[error("rate limited")] Limited(#[source]
///   Retry)`);
/// - behind a wrapper that forwards to it, such as thiserror's `#[error(transparent)]
///   Retry(#[from] Retry)` or a transparent variant holding an `anyhow::Error`.
///
/// A forwarding wrapper's `source()` is the inner error's `source()`, so the `Retry` itself is
/// not in the chain; for that case a `Retry`'s own `source()` is a small private marker that
/// carries the delay, and the worker reads the delay from it.
///
/// ```
/// use std::time::Duration;
/// #[derive(Debug, thiserror::Error)]
/// enum SendError {
///     #[error(transparent)]
///     Retry(#[from] arq_core::Retry),
///     #[error("bad address: {0}")]
///     BadAddress(String),
/// }
/// let e: SendError = arq_core::Retry::after(Duration::from_secs(1)).into();
/// assert_eq!(e.to_string(), "retry requested in 1s");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Default, thiserror::Error)]
#[error("retry requested{}", match .delay.0 { Some(d) => format!(" in {d:?}"), None => String::new() })]
pub struct Retry {
    /// How long to wait before the next run; `None` runs it at the next poll. Also this
    /// error's `source()`, so that wrappers which forward `source()` still expose it.
    #[source]
    delay: RetryDelay,
}

impl std::fmt::Debug for Retry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retry")
            .field("defer", &self.delay.0)
            .finish()
    }
}

impl Retry {
    /// Run again at the next poll.
    pub const fn now() -> Self {
        Retry {
            delay: RetryDelay(None),
        }
    }

    /// Run again after `defer`.
    pub const fn after(defer: Duration) -> Self {
        Retry {
            delay: RetryDelay(Some(defer)),
        }
    }

    /// How long to wait before the next run; `None` runs it at the next poll.
    pub const fn defer(&self) -> Option<Duration> {
        self.delay.0
    }

    /// The `Retry` that `err` is, or that it stands for: a `Retry` itself, or the marker a
    /// `Retry` exposes as its `source()` (what a forwarding wrapper's chain shows).
    pub(crate) fn from_chain_link(err: &(dyn std::error::Error + 'static)) -> Option<Retry> {
        if let Some(r) = err.downcast_ref::<Retry>() {
            return Some(*r);
        }
        err.downcast_ref::<RetryDelay>()
            .map(|d| Retry { delay: *d })
    }
}

/// The `source()` of a [`Retry`]: its delay, as an error of its own so that it stays in an
/// error chain whose wrappers forward `source()` past the `Retry` (thiserror's
/// `#[error(transparent)]`). Private: only the worker looks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, thiserror::Error)]
#[error("the job asked to be run again")]
struct RetryDelay(Option<Duration>);

/// Run the job again later without spending a try: the upstream is rate-limited, a resource
/// is busy. Return it as the job's error, as [`Retry`]:
/// `return Err(Snooze::after(Duration::from_secs(30)).into())`. The worker finds it wherever
/// the error chain holds it, as it finds a `Retry`.
///
/// A job may snooze `max_snoozes` times (per job or per worker, default 25); the snooze past
/// that fails the job for good, saying so, so a job cannot snooze forever.
///
/// ```
/// use std::time::Duration;
/// let s = arq_core::Snooze::after(Duration::from_secs(30));
/// assert_eq!(s.delay(), Duration::from_secs(30));
/// assert_eq!(s.to_string(), "snooze requested for 30s");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("snooze requested for {:?}", .delay.0)]
pub struct Snooze {
    /// How long to wait; also this error's `source()` (see [`Retry`]).
    #[source]
    delay: SnoozeDelay,
}

impl std::fmt::Debug for Snooze {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snooze")
            .field("delay", &self.delay.0)
            .finish()
    }
}

impl Snooze {
    /// Run again after `delay`, without spending a try.
    pub const fn after(delay: Duration) -> Self {
        Snooze {
            delay: SnoozeDelay(delay),
        }
    }

    /// How long to wait.
    pub const fn delay(&self) -> Duration {
        self.delay.0
    }

    /// The `Snooze` that `err` is, or that its marker stands for.
    pub(crate) fn from_chain_link(err: &(dyn std::error::Error + 'static)) -> Option<Snooze> {
        if let Some(s) = err.downcast_ref::<Snooze>() {
            return Some(*s);
        }
        err.downcast_ref::<SnoozeDelay>()
            .map(|d| Snooze { delay: *d })
    }
}

/// The `source()` of a [`Snooze`], as [`RetryDelay`] is a `Retry`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the job asked to be run later")]
struct SnoozeDelay(Duration);

/// An error that no retry policy retries: the job fails for good at once (a bad request, a
/// missing record). Wrap the error in it, or put it in your error's chain as a `#[source]`.
///
/// The failure keeps the wrapped error's type name and text:
///
/// ```
/// #[derive(Debug, thiserror::Error)]
/// #[error("no such customer: {0}")]
/// struct NotFound(u64);
///
/// let e = arq_core::Permanent::new(NotFound(7));
/// assert_eq!(e.to_string(), "no such customer: 7");
/// assert_eq!(e.class(), "NotFound");
/// ```
pub struct Permanent {
    class: String,
    inner: BoxError,
}

impl Permanent {
    /// Marks `error` as final.
    pub fn new<E: Into<BoxError>>(error: E) -> Self {
        Permanent {
            class: crate::__private::short_type_name::<E>(),
            inner: error.into(),
        }
    }

    /// The failure's class: the wrapped error's type name.
    pub fn class(&self) -> &str {
        &self.class
    }
}

impl std::fmt::Debug for Permanent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Permanent").field(&self.inner).finish()
    }
}

impl std::fmt::Display for Permanent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.inner, f)
    }
}

impl std::error::Error for Permanent {
    /// The wrapped error's own source: the wrapper reads as the error it wraps.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}

/// How a job run ended when it did not return a value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum JobError {
    /// The job asked to run again.
    Retry(Retry),
    /// The job failed (for good, unless a [`RetryPolicy`] retries it).
    Failed(JobFailure),
    /// The job asked to run later without spending a try.
    Snooze(Snooze),
    /// The job failed for good, whatever the retry policy ([`Permanent`]).
    Permanent(JobFailure),
}

impl JobError {
    /// A terminal failure of the given class.
    pub fn failed(class: impl Into<String>, message: impl Into<String>) -> Self {
        JobError::Failed(JobFailure::new(class, message))
    }
}

/// The arguments of one job run: Python's positional `a` and keyword `k`.
///
/// Generated handlers take each parameter with [`Args::take`], by position first and then by
/// name, and finish with [`Args::finish`], so Python callers may use either form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Args {
    function: String,
    positional: Vec<Option<Value>>,
    keyword: Vec<(String, Value)>,
}

impl Args {
    /// Arguments for a call of `function`.
    pub fn new(
        function: impl Into<String>,
        positional: Vec<Value>,
        keyword: Vec<(String, Value)>,
    ) -> Self {
        Args {
            function: function.into(),
            positional: positional.into_iter().map(Some).collect(),
            keyword,
        }
    }

    fn type_error(&self, msg: impl std::fmt::Display) -> JobError {
        let f = &self.function;
        JobError::failed(
            "TypeError",
            format!("arguments for '{f}' do not match its signature: {f}() {msg}"),
        )
    }

    /// Takes parameter `index` (named `name`): the positional argument at `index` if there is
    /// one, else the keyword argument `name`, else `None`-like (for `Option` parameters).
    pub fn take<T: DeserializeOwned>(&mut self, index: usize, name: &str) -> Result<T, JobError> {
        let kw_pos = self.keyword.iter().position(|(k, _)| k == name);
        let value = match self.positional.get_mut(index) {
            Some(slot) => {
                if kw_pos.is_some() {
                    return Err(
                        self.type_error(format_args!("got multiple values for argument '{name}'"))
                    );
                }
                slot.take().unwrap_or(Value::Nil)
            }
            None => match kw_pos {
                Some(i) => self.keyword.remove(i).1,
                None => {
                    return from_value::<T>(Value::Nil).map_err(|_| {
                        self.type_error(format_args!("missing required argument: '{name}'"))
                    })
                }
            },
        };
        from_value::<T>(value).map_err(|e| self.type_error(format_args!("argument '{name}': {e}")))
    }

    /// Whether parameter `index` (named `name`) was passed, by position or by keyword. The
    /// handlers `#[arq::job]` generates use it for a parameter with a default: when it was
    /// not passed, they use the default instead of calling [`Args::take`].
    pub fn has(&self, index: usize, name: &str) -> bool {
        index < self.positional.len() || self.keyword.iter().any(|(k, _)| k == name)
    }

    /// Checks that no argument is left over: `expected` positional parameters were taken.
    pub fn finish(&self, expected: usize) -> Result<(), JobError> {
        if self.positional.len() > expected {
            return Err(self.type_error(format_args!(
                "takes {expected} positional argument{} but {} were given (expected at most \
                 {expected})",
                if expected == 1 { "" } else { "s" },
                self.positional.len()
            )));
        }
        if let Some((name, _)) = self.keyword.first() {
            return Err(self.type_error(format_args!("got an unknown keyword argument '{name}'")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: Vec<Value>, k: Vec<(&str, Value)>) -> Args {
        Args::new(
            "f",
            a,
            k.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        )
    }

    #[test]
    fn positional_then_keyword() {
        let mut a = args(vec![Value::Int(1)], vec![("b", Value::Str("x".into()))]);
        assert_eq!(a.take::<i64>(0, "a").unwrap(), 1);
        assert_eq!(a.take::<String>(1, "b").unwrap(), "x");
        a.finish(2).unwrap();
    }

    #[test]
    fn missing_optional_is_none_missing_required_is_type_error() {
        let mut a = args(vec![], vec![]);
        assert_eq!(a.take::<Option<i64>>(0, "a").unwrap(), None);
        let err = a.take::<i64>(1, "b").unwrap_err();
        assert_eq!(
            err,
            JobError::failed(
                "TypeError",
                "arguments for 'f' do not match its signature: f() missing required argument: 'b'"
            )
        );
    }

    #[test]
    fn has_sees_positional_and_keyword_arguments() {
        let a = args(vec![Value::Int(1)], vec![("c", Value::Nil)]);
        assert!(a.has(0, "a"));
        assert!(!a.has(1, "b"));
        assert!(a.has(2, "c"));
    }

    #[test]
    fn extra_and_duplicate_arguments_are_refused() {
        let a = args(vec![Value::Int(1), Value::Int(2)], vec![]);
        let JobError::Failed(f) = a.finish(1).unwrap_err() else {
            panic!()
        };
        assert_eq!(
            f.message,
            "arguments for 'f' do not match its signature: f() takes 1 positional argument but \
             2 were given (expected at most 1)"
        );

        let a = args(vec![], vec![("zz", Value::Nil)]);
        let JobError::Failed(f) = a.finish(0).unwrap_err() else {
            panic!()
        };
        assert!(f.message.contains("unknown keyword argument 'zz'"));

        let mut a = args(vec![Value::Int(1)], vec![("a", Value::Int(2))]);
        let JobError::Failed(f) = a.take::<i64>(0, "a").unwrap_err() else {
            panic!()
        };
        assert!(f.message.contains("multiple values"));
    }

    #[test]
    fn wrong_type_names_the_argument() {
        let mut a = args(vec![Value::Str("x".into())], vec![]);
        let JobError::Failed(f) = a.take::<i64>(0, "count").unwrap_err() else {
            panic!()
        };
        assert_eq!(f.class, "TypeError");
        assert!(
            f.message.starts_with(
                "arguments for 'f' do not match its signature: f() argument 'count': invalid type"
            ),
            "{}",
            f.message
        );
    }
}
