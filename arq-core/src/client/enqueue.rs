//! [`Enqueue`]: the builder of one enqueue (id, queue, defer, expiry, try, keyword
//! arguments), sent when it is awaited.

use super::{Job, Pool};
use crate::backend::{Defer, EnqueueRequest};
use crate::time::duration_ms;
use crate::{now_ms, to_value, Error, JobRecord, Result, Value};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;

/// Job records above this size are enqueued with a warning: they cost Redis memory and time.
const LARGE_PAYLOAD_BYTES: usize = 1024 * 1024;

/// Serializes one argument into a value, naming it in the error.
pub(crate) fn arg_value<T: Serialize + ?Sized>(name: &str, v: &T) -> Result<Value> {
    to_value(v).map_err(|e| Error::Encode {
        what: format!("argument {name:?}"),
        message: e.to_string(),
    })
}

#[derive(Debug, Clone, Copy)]
enum When {
    Now,
    By(Duration),
    Until(DateTime<Utc>),
}

/// A job about to be enqueued; set options, then `.await` it.
///
/// Made by the typed `<fn>::enqueue(&pool, args…)` that `#[arq::job]` generates, or by
/// [`Pool::enqueue_job`]. Awaiting gives the job's handle, or [`Error::JobExists`] when the
/// id is taken (Python arq returns `None` then).
#[must_use = "an enqueue does nothing until it is awaited"]
pub struct Enqueue<'p, T> {
    pool: &'p Pool,
    function: String,
    args: Result<Vec<Value>>,
    kwargs: Vec<(String, Value)>,
    job_id: Option<String>,
    queue: Option<String>,
    when: Result<When>,
    expires: Option<Duration>,
    job_try: Option<i64>,
    replace_result: bool,
    _out: PhantomData<fn() -> T>,
}

impl<'p, T> Enqueue<'p, T> {
    /// Starts an enqueue of `function`; generated code calls this.
    pub fn new(
        pool: &'p Pool,
        function: String,
        args: Result<Vec<Value>>,
        queue: Option<&str>,
    ) -> Self {
        Enqueue {
            pool,
            function,
            args,
            kwargs: Vec::new(),
            job_id: None,
            queue: queue.map(str::to_owned),
            when: Ok(When::Now),
            expires: None,
            job_try: None,
            replace_result: false,
            _out: PhantomData,
        }
    }

    /// Replaces a stored result with the same id (and resets its try counter) instead of
    /// refusing the id: how a finished or failed job is run again. A job that is still
    /// queued or running is still refused.
    pub fn replace_result(mut self, yes: bool) -> Self {
        self.replace_result = yes;
        self
    }

    /// Sets the job id (Python's `_job_id`); a job or result with this id already present
    /// makes the enqueue fail with [`Error::JobExists`].
    pub fn job_id(mut self, id: impl Into<String>) -> Self {
        self.job_id = Some(id.into());
        self
    }

    /// Sends to this queue (Python's `_queue_name`).
    pub fn queue_name(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// Runs no earlier than `delay` from now (Python's `_defer_by`).
    pub fn defer_by(mut self, delay: Duration) -> Self {
        self.when = match self.when {
            Ok(When::Until(_)) => Err(both_defers()),
            _ => Ok(When::By(delay)),
        };
        self
    }

    /// Runs no earlier than `at` (Python's `_defer_until`).
    pub fn defer_until(mut self, at: DateTime<Utc>) -> Self {
        self.when = match self.when {
            Ok(When::By(_)) => Err(both_defers()),
            _ => Ok(When::Until(at)),
        };
        self
    }

    /// Same as [`Enqueue::defer_until`].
    pub fn run_at(self, at: DateTime<Utc>) -> Self {
        self.defer_until(at)
    }

    /// The job expires (is failed as `job expired` if not started) after this long
    /// (Python's `_expires`; default: one day after it is due).
    pub fn expires(mut self, after: Duration) -> Self {
        self.expires = Some(after);
        self
    }

    /// Sets the try number the job starts from (Python's `_job_try`).
    pub fn job_try(mut self, job_try: u32) -> Self {
        self.job_try = Some(i64::from(job_try));
        self
    }

    /// Adds a keyword argument (Python's `**kwargs`).
    pub fn kwarg(mut self, name: impl Into<String>, value: impl Serialize) -> Self {
        let name = name.into();
        match arg_value(&name, &value) {
            Ok(v) => self.kwargs.push((name, v)),
            Err(e) => self.args = Err(e),
        }
        self
    }

    async fn send(self) -> Result<Job<T>> {
        let args = self.args?;
        let when = self.when?;
        let job_id = self
            .job_id
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
        let queue = self
            .queue
            .unwrap_or_else(|| self.pool.default_queue_name().to_owned());
        let enqueue_time_ms = now_ms();
        let defer = match when {
            When::Now => Defer::None,
            When::By(d) if d.is_zero() => Defer::None,
            When::By(d) => Defer::By(duration_ms(d)),
            When::Until(at) => Defer::At(at.timestamp_millis()),
        };
        let expires_ms = match self.expires {
            Some(d) if !d.is_zero() => Some(duration_ms(d)),
            _ => None,
        };
        let record = JobRecord {
            job_try: self.job_try,
            function: self.function,
            args,
            kwargs: self.kwargs,
            enqueue_time_ms,
        };
        let payload = self.pool.encode("job", &record.to_value())?;
        if payload.len() > self.pool.max_payload_bytes {
            return Err(Error::InvalidArgument(format!(
                "job payload is {} bytes; limit is {} (raise it with \
                 Pool::with_max_payload_bytes); job {job_id} was not enqueued",
                payload.len(),
                self.pool.max_payload_bytes
            )));
        }
        if payload.len() > LARGE_PAYLOAD_BYTES {
            tracing::warn!(
                job_id = %job_id,
                "large job payload: {} bytes (keep big data elsewhere and pass a reference)",
                payload.len()
            );
        }
        let req = EnqueueRequest {
            job_id,
            queue,
            payload,
            defer,
            enqueue_time_ms,
            expires_ms,
            replace_result: self.replace_result,
            events: self.pool.events_max_len(),
        };
        crate::failpoint::hit("enqueue_before_send");
        if self.pool.backend().enqueue(&req).await? {
            Ok(Job::new(self.pool.clone(), req.job_id, req.queue))
        } else {
            Err(Error::JobExists { job_id: req.job_id })
        }
    }
}

fn both_defers() -> Error {
    Error::InvalidArgument("use either defer_by or defer_until, not both".into())
}

impl<'p, T: 'p> IntoFuture for Enqueue<'p, T> {
    type Output = Result<Job<T>>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<Job<T>>> + Send + 'p>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}
