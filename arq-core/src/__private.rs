//! Support for the code `#[arq::job]` generates. **Not public API**: names here may change in
//! any release.

pub use crate::backend::BoxFuture;
pub use crate::cron::{CronJob, CronSchedule, CRON_JOB_OPTIONS};
pub use crate::function::{Args, FailureHook, Function, Handler, JobError, JobOptions};
pub use crate::{Ctx, Enqueue, Job, Pool, Result, Value};
pub use crate::{FailedJob, RetryPolicy};
pub use inventory;
pub use serde;

use crate::{BoxError, JobFailure, Permanent, Retry, Snooze};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::cell::Cell;
use std::time::Duration;

/// Compile-time check, spanned to a job parameter's type.
pub const fn assert_arg<T: Serialize + DeserializeOwned>() {}

/// Compile-time check, spanned to a job's return type.
pub const fn assert_output<T: Serialize + DeserializeOwned>() {}

/// How generated code serializes and takes one job parameter of type `T`.
///
/// Built by [`arg_codec`], the one place the `Serialize + DeserializeOwned` bound is checked
/// (at the parameter's type, through a `const` spanned there); the generated `enqueue` and
/// handler then call these function pointers, which carry no bound of their own, so a missing
/// derive is reported once instead of at every use.
pub struct ArgCodec<T> {
    /// Serializes the argument (for `enqueue`).
    pub to_value: fn(&str, &T) -> Result<Value>,
    /// Takes the argument out of a run's arguments (in the handler).
    pub take: fn(&mut Args, usize, &str) -> std::result::Result<T, JobError>,
}

/// Compile-time check, spanned to a job parameter's type, that also yields its codec.
pub const fn arg_codec<T: Serialize + DeserializeOwned>() -> ArgCodec<T> {
    ArgCodec {
        to_value: arg::<T>,
        take: Args::take::<T>,
    }
}

/// How generated code converts a job's result of type `T`; see [`ArgCodec`].
pub struct OutputCodec<T> {
    /// Converts the returned value.
    pub to_value: fn(T) -> std::result::Result<Value, JobError>,
}

/// Compile-time check, spanned to a job's result type, that also yields its codec.
pub const fn output_codec<T: Serialize + DeserializeOwned>() -> OutputCodec<T> {
    OutputCodec {
        to_value: output::<T>,
    }
}

/// Compile-time check that a job's future can run on the worker's threads.
pub fn assert_send<F: std::future::Future + Send + 'static>(f: F) -> F {
    f
}

/// A const `Duration` from milliseconds.
pub const fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Serializes one typed argument.
pub fn arg<T: Serialize + ?Sized>(name: &str, value: &T) -> Result<Value> {
    crate::client::arg_value(name, value)
}

/// Starts a typed enqueue of a registered function.
pub fn enqueue<'p, T>(
    pool: &'p Pool,
    function: &Function,
    args: Result<Vec<Value>>,
) -> Enqueue<'p, T> {
    Enqueue::new(pool, function.name.to_owned(), args, function.options.queue)
}

/// Converts a job's plain return value.
pub fn output<T: Serialize>(value: T) -> std::result::Result<Value, JobError> {
    crate::to_value(&value).map_err(|e| {
        JobError::failed(
            "SerializationError",
            format!("unable to serialize result: {e}"),
        )
    })
}

/// The short name of an error type (`MyError` for `my_crate::errors::MyError<T>`).
pub(crate) fn short_type_name<E>() -> String {
    let full = std::any::type_name::<E>();
    let base = full.split('<').next().unwrap_or(full);
    let name = base.rsplit("::").next().unwrap_or(base);
    match name {
        "String" | "str" | "&str" | "Box" => "Error".to_owned(),
        n => n.trim_start_matches('&').to_owned(),
    }
}

/// What an error chain asks of the worker.
enum Directive {
    Retry(Retry),
    Snooze(Snooze),
    /// A [`Permanent`] (its class when it is the error itself).
    Permanent(Option<String>),
}

/// The first [`Retry`], [`Snooze`] or [`Permanent`] in an error chain: the error itself or
/// any `source()` below it. A wrapper that forwards `source()` (thiserror's `transparent`)
/// hides a `Retry` or `Snooze` but shows its marker, which `from_chain_link` reads too.
fn find_directive(err: &(dyn std::error::Error + 'static)) -> Option<Directive> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut top = true;
    while let Some(e) = cur {
        if let Some(r) = Retry::from_chain_link(e) {
            return Some(Directive::Retry(r));
        }
        if let Some(s) = Snooze::from_chain_link(e) {
            return Some(Directive::Snooze(s));
        }
        if let Some(p) = e.downcast_ref::<Permanent>() {
            return Some(Directive::Permanent(top.then(|| p.class().to_owned())));
        }
        top = false;
        cur = e.source();
    }
    None
}

/// The job outcome of an error of class `class` with text `message`, given its chain.
fn classify(directive: Option<Directive>, class: String, message: String) -> JobError {
    match directive {
        Some(Directive::Retry(r)) => JobError::Retry(r),
        Some(Directive::Snooze(s)) => JobError::Snooze(s),
        Some(Directive::Permanent(own)) => {
            JobError::Permanent(JobFailure::new(own.unwrap_or(class), message))
        }
        None => JobError::Failed(JobFailure::new(class, message)),
    }
}

/// Holds a job's error while the right classifier is picked at compile time (autoref
/// specialization: `anyhow::Error`, then any `std::error::Error`, then anything
/// `Into<BoxError>`).
pub struct ErrorWrap<E>(Cell<Option<E>>);

impl<E> ErrorWrap<E> {
    /// Wraps an error.
    pub fn new(e: E) -> Self {
        ErrorWrap(Cell::new(Some(e)))
    }

    fn take(&self) -> E {
        self.0.take().expect("an error is classified once")
    }
}

/// Classifies `anyhow::Error` (highest priority).
pub trait ClassifyAnyhow {
    /// Turns the error into a job outcome.
    fn __arq_classify(&self) -> JobError;
}

impl ClassifyAnyhow for &&ErrorWrap<anyhow::Error> {
    fn __arq_classify(&self) -> JobError {
        let e = self.take();
        let directive = find_directive(e.as_ref());
        classify(directive, "Error".to_owned(), format!("{e:#}"))
    }
}

/// Classifies any `std::error::Error`.
pub trait ClassifyStd {
    /// Turns the error into a job outcome.
    fn __arq_classify(&self) -> JobError;
}

impl<E: std::error::Error + 'static> ClassifyStd for &ErrorWrap<E> {
    fn __arq_classify(&self) -> JobError {
        let e = self.take();
        classify(find_directive(&e), short_type_name::<E>(), e.to_string())
    }
}

/// Classifies anything that converts into a boxed error (`String`, `Box<dyn Error>`).
pub trait ClassifyInto {
    /// Turns the error into a job outcome.
    fn __arq_classify(&self) -> JobError;
}

impl<E: Into<BoxError>> ClassifyInto for ErrorWrap<E> {
    fn __arq_classify(&self) -> JobError {
        let e: BoxError = self.take().into();
        classify(find_directive(&*e), short_type_name::<E>(), e.to_string())
    }
}

#[cfg(test)]
#[allow(clippy::needless_borrow)] // autoref specialization needs the exact borrows
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum MyError {
        #[error("rate limited")]
        RateLimited(#[source] Retry),
        #[error("bad input: {0}")]
        Bad(String),
    }

    fn classify_my(e: MyError) -> JobError {
        #[allow(unused_imports)]
        use super::{ClassifyAnyhow as _, ClassifyInto as _, ClassifyStd as _};
        (&&&ErrorWrap::new(e)).__arq_classify()
    }

    #[test]
    fn retry_is_found_everywhere() {
        let d = Duration::from_secs(3);
        #[allow(unused_imports)]
        use super::{ClassifyAnyhow as _, ClassifyInto as _, ClassifyStd as _};
        assert_eq!(
            (&&&ErrorWrap::new(Retry::after(d))).__arq_classify(),
            JobError::Retry(Retry::after(d))
        );
        let any: anyhow::Error = Retry::after(d).into();
        assert_eq!(
            (&&&ErrorWrap::new(any.context("while sending"))).__arq_classify(),
            JobError::Retry(Retry::after(d))
        );
        let boxed: BoxError = Box::new(Retry::now());
        assert_eq!(
            (&&&ErrorWrap::new(boxed)).__arq_classify(),
            JobError::Retry(Retry::now())
        );
        assert_eq!(
            classify_my(MyError::RateLimited(Retry::after(d))),
            JobError::Retry(Retry::after(d))
        );
    }

    /// The usual thiserror shapes around a `Retry`.
    #[derive(Debug, thiserror::Error)]
    enum AppError {
        #[error(transparent)]
        Retry(#[from] Retry),
        #[error(transparent)]
        Io(#[from] std::io::Error),
        #[error(transparent)]
        Other(#[from] anyhow::Error),
    }

    #[derive(Debug, thiserror::Error)]
    enum Limited {
        #[error("rate limited by the provider")]
        Later(#[from] Retry),
    }

    #[test]
    fn retry_is_found_through_every_common_shape() {
        #[allow(unused_imports)]
        use super::{ClassifyAnyhow as _, ClassifyInto as _, ClassifyStd as _};
        let d = Duration::from_secs(1);
        let want = JobError::Retry(Retry::after(d));

        // Plain Retry, and Retry::now keeps "no delay".
        assert_eq!((&&&ErrorWrap::new(Retry::after(d))).__arq_classify(), want);
        assert_eq!(
            (&&&ErrorWrap::new(Retry::now())).__arq_classify(),
            JobError::Retry(Retry::now())
        );
        // #[error(transparent)] Retry(#[from] Retry): source() is Retry's own source().
        let e: AppError = Retry::after(d).into();
        assert_eq!(e.to_string(), "retry requested in 1s");
        assert_eq!((&&&ErrorWrap::new(e)).__arq_classify(), want);
        // #[error("...")] X(#[from] Retry): the Retry is the source.
        let e: Limited = Retry::after(d).into();
        assert_eq!((&&&ErrorWrap::new(e)).__arq_classify(), want);
        // anyhow::Error from a Retry, with and without context.
        let any = anyhow::Error::from(Retry::after(d));
        assert_eq!((&&&ErrorWrap::new(any)).__arq_classify(), want);
        let any = anyhow::Error::from(Retry::after(d)).context("while sending");
        assert_eq!((&&&ErrorWrap::new(any)).__arq_classify(), want);
        // anyhow::Error from a transparent wrapper of a Retry.
        let any = anyhow::Error::from(AppError::from(Retry::after(d))).context("outer");
        assert_eq!((&&&ErrorWrap::new(any)).__arq_classify(), want);
        // Box<dyn Error> from a Retry, and from a transparent wrapper of one.
        let boxed: BoxError = Box::new(Retry::after(d));
        assert_eq!((&&&ErrorWrap::new(boxed)).__arq_classify(), want);
        let boxed: BoxError = Box::new(AppError::from(Retry::after(d)));
        assert_eq!((&&&ErrorWrap::new(boxed)).__arq_classify(), want);
        // A transparent wrapper around an anyhow::Error that holds a Retry, bare or with context.
        let e = AppError::Other(anyhow::Error::from(Retry::after(d)));
        assert_eq!((&&&ErrorWrap::new(e)).__arq_classify(), want);
        let e = AppError::Other(anyhow::Error::from(Retry::after(d)).context("sending"));
        assert_eq!((&&&ErrorWrap::new(e)).__arq_classify(), want);
    }

    #[test]
    fn errors_without_a_retry_stay_final_with_a_sensible_class() {
        #[allow(unused_imports)]
        use super::{ClassifyAnyhow as _, ClassifyInto as _, ClassifyStd as _};
        // A transparent wrapper is named by its own type, with the inner error's text.
        let e = AppError::Io(std::io::Error::other("disk full"));
        assert_eq!(
            (&&&ErrorWrap::new(e)).__arq_classify(),
            JobError::failed("AppError", "disk full")
        );
        let e = AppError::Other(anyhow::anyhow!("no route").context("sending"));
        assert_eq!(
            (&&&ErrorWrap::new(e)).__arq_classify(),
            JobError::failed("AppError", "sending")
        );
        let any = anyhow::Error::from(std::io::Error::other("disk full"));
        assert_eq!(
            (&&&ErrorWrap::new(any)).__arq_classify(),
            JobError::failed("Error", "disk full")
        );
        let boxed: BoxError = "plain".into();
        assert_eq!(
            (&&&ErrorWrap::new(boxed)).__arq_classify(),
            JobError::failed("Error", "plain")
        );
    }

    #[test]
    fn the_retry_marker_keeps_the_delay_and_reads_well_in_a_chain() {
        let r = Retry::after(Duration::from_millis(250));
        let marker = std::error::Error::source(&r).expect("a Retry exposes its marker");
        assert_eq!(Retry::from_chain_link(marker), Some(r));
        assert_eq!(r.defer(), Some(Duration::from_millis(250)));
        assert_eq!(format!("{r:?}"), "Retry { defer: Some(250ms) }");
        let any = anyhow::Error::from(r);
        assert_eq!(
            format!("{any:#}"),
            "retry requested in 250ms: the job asked to be run again"
        );
    }

    #[test]
    fn snooze_and_permanent_are_found_in_the_chain() {
        #[allow(unused_imports)]
        use super::{ClassifyAnyhow as _, ClassifyInto as _, ClassifyStd as _};
        let d = Duration::from_secs(2);
        #[derive(Debug, thiserror::Error)]
        enum Busy {
            #[error(transparent)]
            Snooze(#[from] Snooze),
        }
        let want = JobError::Snooze(Snooze::after(d));
        assert_eq!((&&&ErrorWrap::new(Snooze::after(d))).__arq_classify(), want);
        let e: Busy = Snooze::after(d).into();
        assert_eq!((&&&ErrorWrap::new(e)).__arq_classify(), want);
        let any = anyhow::Error::from(Snooze::after(d)).context("busy");
        assert_eq!((&&&ErrorWrap::new(any)).__arq_classify(), want);

        // A Permanent keeps the wrapped error's class and text, however it is returned.
        let p = Permanent::new(MyError::Bad("x".into()));
        assert_eq!(
            (&&&ErrorWrap::new(p)).__arq_classify(),
            JobError::Permanent(JobFailure::new("MyError", "bad input: x"))
        );
        let any = anyhow::Error::from(Permanent::new(MyError::Bad("y".into())));
        assert_eq!(
            (&&&ErrorWrap::new(any)).__arq_classify(),
            JobError::Permanent(JobFailure::new("MyError", "bad input: y"))
        );
        // Deeper in a chain: the outer error names the failure.
        #[derive(Debug, thiserror::Error)]
        #[error("lookup failed")]
        struct Lookup(#[source] Permanent);
        let e = Lookup(Permanent::new("gone"));
        assert_eq!(
            (&&&ErrorWrap::new(e)).__arq_classify(),
            JobError::Permanent(JobFailure::new("Lookup", "lookup failed"))
        );
        // Without a marker, an error is a plain failure (a policy may retry it).
        assert_eq!(
            classify_my(MyError::Bad("z".into())),
            JobError::failed("MyError", "bad input: z")
        );
    }

    #[test]
    fn failures_carry_class_and_text() {
        assert_eq!(
            classify_my(MyError::Bad("x".into())),
            JobError::failed("MyError", "bad input: x")
        );
        #[allow(unused_imports)]
        use super::{ClassifyAnyhow as _, ClassifyInto as _, ClassifyStd as _};
        let any = anyhow::anyhow!("disk full").context("saving");
        assert_eq!(
            (&&&ErrorWrap::new(any)).__arq_classify(),
            JobError::failed("Error", "saving: disk full")
        );
        assert_eq!(
            (&&&ErrorWrap::new(String::from("plain"))).__arq_classify(),
            JobError::failed("Error", "plain")
        );
    }
}
