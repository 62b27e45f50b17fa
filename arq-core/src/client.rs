//! The client side: the pool, enqueueing, and job handles (status, result, info).

use crate::backend::{AbortOutcome, AbortRequest, Defer, EnqueueRequest, QueueStats, ResultTtl};
use crate::time::duration_ms;
use crate::{
    from_value, ms_to_datetime, now_ms, to_value, Backend, Codec, Error, JobFailure, JobRecord,
    MsgpackCodec, Result, ResultRecord, Value, DEFAULT_QUEUE_NAME,
};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A connection to the queue backend plus the codec and default queue: what Python arq calls
/// `ArqRedis`. Cheap to clone; create one with `arq::create_pool`.
#[derive(Clone)]
pub struct Pool {
    backend: Arc<dyn Backend>,
    codec: Arc<dyn Codec>,
    default_queue: Arc<str>,
    results: Arc<crate::result_watch::ResultWatch>,
    max_payload_bytes: usize,
}

/// The default limit on an encoded job record (see [`Pool::with_max_payload_bytes`]).
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 16 * 1024 * 1024;

/// Job records above this size are enqueued with a warning: they cost Redis memory and time.
const LARGE_PAYLOAD_BYTES: usize = 1024 * 1024;

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("codec", &self.codec.name())
            .field("default_queue", &self.default_queue)
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// A pool on a backend, with the msgpack codec and the `arq:queue` default queue.
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Pool {
            backend,
            codec: Arc::new(MsgpackCodec),
            default_queue: DEFAULT_QUEUE_NAME.into(),
            results: Arc::default(),
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
        }
    }

    /// A pool on a fresh, empty [`MemoryBackend`](crate::MemoryBackend) of its own: queues,
    /// jobs and results in this process, with every behaviour of the Redis backend. For
    /// tests, examples and single-process programs; clones of the pool share its store.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> arq_core::Result<()> {
    /// let pool = arq_core::Pool::memory();
    /// pool.enqueue_job("say_hello", vec!["world".into()]).await?;
    /// assert_eq!(pool.queue_size(pool.default_queue_name()).await?, 1);
    /// assert_eq!(pool.backend().name(), "memory");
    /// # Ok(())
    /// # }
    /// ```
    pub fn memory() -> Self {
        Pool::new(Arc::new(crate::MemoryBackend::new()))
    }

    /// The same as [`Pool::memory`], under its former name: a pool for unit tests of job
    /// functions that need a [`Ctx`](crate::Ctx) (`Ctx::new`). It used to have no backend;
    /// it now has a fresh in-process one.
    pub fn unconnected() -> Self {
        Pool::memory()
    }

    /// The same pool with another codec (client and worker must agree).
    pub fn with_codec(mut self, codec: impl Codec) -> Self {
        self.codec = Arc::new(codec);
        self
    }

    /// The same pool with a shared codec (the worker's [`WorkerSettings::codec`](crate::WorkerSettings::codec)).
    pub(crate) fn with_codec_arc(mut self, codec: Arc<dyn Codec>) -> Self {
        self.codec = codec;
        self
    }

    /// The same pool with another limit on the size of an encoded job (default 16 MiB): a
    /// larger job is refused before anything is sent, with an error naming both sizes, rather
    /// than met by Redis dropping the connection (`proto-max-bulk-len`).
    pub fn with_max_payload_bytes(mut self, bytes: usize) -> Self {
        self.max_payload_bytes = bytes;
        self
    }

    /// The same pool with another default queue.
    pub fn with_default_queue(mut self, queue: impl Into<String>) -> Self {
        self.default_queue = queue.into().into();
        self
    }

    /// The backend.
    pub fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    pub(crate) fn backend_arc(&self) -> Arc<dyn Backend> {
        self.backend.clone()
    }

    /// The codec.
    pub fn codec(&self) -> &dyn Codec {
        &*self.codec
    }

    /// The queue used when none is given.
    pub fn default_queue_name(&self) -> &str {
        &self.default_queue
    }

    /// Enqueues a job by name with untyped positional arguments, for functions that live in
    /// another process or language. Add keyword arguments with [`Enqueue::kwarg`].
    pub fn enqueue_job(&self, function: impl Into<String>, args: Vec<Value>) -> Enqueue<'_, Value> {
        Enqueue::new(self, function.into(), Ok(args), None)
    }

    /// A handle for an existing job id in the default queue (use [`Job::in_queue`] for
    /// another one). `T` is the type its result is read as.
    pub fn job<T>(&self, job_id: impl Into<String>) -> Job<T> {
        Job::new(self.clone(), job_id.into(), self.default_queue.to_string())
    }

    /// Number of jobs in a queue (queued, deferred and running).
    pub async fn queue_size(&self, queue: &str) -> Result<u64> {
        self.backend.queue_size(queue).await
    }

    /// Reads a queue's health-check record (`None` when no worker wrote one recently).
    pub async fn health_check(&self, queue: &str) -> Result<Option<String>> {
        self.backend.health_read(queue).await
    }

    /// Each live worker's own health record of a queue: `(worker id, record)`.
    pub async fn worker_health(&self, queue: &str) -> Result<Vec<(String, String)>> {
        self.inspect("listing workers")?.workers(queue).await
    }

    /// The queues that exist in this database (sorted sets other than the abort set).
    pub async fn queues(&self) -> Result<Vec<String>> {
        self.inspect("listing queues")?.queues().await
    }

    /// Counts of a queue by state, and its oldest entry.
    pub async fn queue_info(&self, queue: &str) -> Result<QueueStats> {
        self.inspect("queue counts")?.queue_stats(queue).await
    }

    /// The backend's inspection capability, or [`Error::Unsupported`] naming `what`.
    fn inspect(&self, what: &'static str) -> Result<&dyn crate::backend::Inspect> {
        self.backend
            .inspect()
            .ok_or_else(|| crate::backend::unsupported(self.backend.name(), what))
    }

    /// Every job in a queue, in score order (Python arq's `queued_jobs`). A queue entry whose
    /// job record expired or cannot be decoded is listed with `job: None` and the reason,
    /// never an error (arq #466).
    pub async fn queued_jobs(&self, queue: &str) -> Result<Vec<QueuedJob>> {
        let mut all = Vec::new();
        let mut offset = 0;
        loop {
            let page = self.queued_jobs_page(queue, offset, 1000).await?;
            let n = page.len() as u64;
            all.extend(page);
            if n < 1000 {
                return Ok(all);
            }
            offset += n;
        }
    }

    /// One page of [`Pool::queued_jobs`]: at most `limit` entries from `offset`, one round
    /// trip.
    pub async fn queued_jobs_page(
        &self,
        queue: &str,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<QueuedJob>> {
        let page = self
            .inspect("listing jobs")?
            .queue_page(queue, offset, limit)
            .await?;
        Ok(page
            .entries
            .into_iter()
            .map(|e| {
                let status = if e.in_progress {
                    JobStatus::InProgress
                } else if e.score > page.now_ms {
                    JobStatus::Deferred
                } else {
                    JobStatus::Queued
                };
                let (job, problem) = match &e.payload {
                    None => (
                        None,
                        Some("job record missing (expired or deleted)".to_owned()),
                    ),
                    Some(raw) => match self.decode("job", raw).and_then(|v| {
                        JobRecord::from_value(&v).map_err(|m| Error::Decode {
                            what: "job".into(),
                            message: m,
                        })
                    }) {
                        Ok(r) => (Some(JobDef::from_record(r, Some(e.score))), None),
                        Err(err) => (None, Some(err.to_string())),
                    },
                };
                QueuedJob {
                    job_id: e.job_id,
                    score: e.score,
                    status,
                    job,
                    problem,
                }
            })
            .collect())
    }

    /// Every stored result, sorted by enqueue time (Python arq's `all_job_results`), read with
    /// SCAN in batches, never `KEYS`. Results that cannot be decoded are skipped with a
    /// warning rather than failing the call.
    pub async fn all_job_results(&self) -> Result<Vec<JobResult>> {
        let inspect = self.inspect("listing results")?;
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = inspect.results(cursor.as_deref(), 500).await?;
            for (id, raw) in page.results {
                match self.decode("result", &raw).and_then(|v| {
                    ResultRecord::from_value(&v).map_err(|m| Error::Decode {
                        what: "result".into(),
                        message: m,
                    })
                }) {
                    Ok(r) => out.push(JobResult::from_record(r, ResultTtl::Unknown)),
                    Err(e) => tracing::warn!(job_id = %id, "skipping a result: {e}"),
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        out.sort_by_key(|r| r.job.enqueue_time);
        Ok(out)
    }

    /// Deletes a job and everything about it (queue entry, record, result, lease); a worker
    /// still running it can no longer store its outcome. Returns whether anything existed.
    pub async fn delete_job(&self, queue: &str, job_id: &str) -> Result<bool> {
        Ok(self.inspect("deleting jobs")?.delete(queue, job_id).await? > 0)
    }

    /// Deletes every job of a queue that is not running; returns how many.
    pub async fn purge_queue(&self, queue: &str) -> Result<u64> {
        let inspect = self.inspect("purging queues")?;
        let mut total = 0;
        loop {
            let n = inspect.purge(queue, 1000).await?;
            total += n;
            if n == 0 {
                return Ok(total);
            }
        }
    }

    /// Runs a finished (or failed) job again under the same id, with the arguments stored in
    /// its result; the old result is replaced and its tries start from one.
    pub async fn rerun_job(&self, queue: &str, job_id: &str) -> Result<Job<Value>> {
        let Some(raw) = self.backend.result(queue, job_id).await?.result else {
            return Err(Error::InvalidArgument(format!(
                "job {job_id:?} has no stored result to run again (it is unknown, still queued \
                 or running, or its result was not kept)"
            )));
        };
        let v = self.decode("result", &raw)?;
        let r = ResultRecord::from_value(&v).map_err(|m| Error::Decode {
            what: "result".into(),
            message: m,
        })?;
        let mut e = self
            .enqueue_job(r.function, r.args)
            .job_id(job_id)
            .queue_name(queue)
            .replace_result(true);
        for (k, v) in r.kwargs {
            e = e.kwarg(k, v);
        }
        e.await
    }

    pub(crate) fn encode(&self, what: &str, v: &Value) -> Result<Vec<u8>> {
        self.codec.encode(v).map_err(|e| Error::Encode {
            what: what.into(),
            message: e.to_string(),
        })
    }

    /// Decodes a stored record; when the bytes look like another codec's, the error says
    /// which and how to switch (see [`crate::codec::detect_format`]).
    pub(crate) fn decode(&self, what: &str, b: &[u8]) -> Result<Value> {
        self.codec.decode(b).map_err(|e| {
            let hint = crate::codec::foreign_payload_hint(
                self.codec.name(),
                b,
                crate::codec::HintFor::Pool,
            )
            .unwrap_or_default();
            Error::Decode {
                what: what.into(),
                message: format!("{e}{hint}"),
            }
        })
    }
}

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
            .unwrap_or_else(|| self.pool.default_queue.to_string());
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
        };
        crate::failpoint::hit("enqueue_before_send");
        if self.pool.backend.enqueue(&req).await? {
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

/// Where a job is (Python arq's `JobStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JobStatus {
    /// In the queue, not due yet.
    Deferred,
    /// In the queue and due.
    Queued,
    /// A worker holds it.
    InProgress,
    /// Its result is stored.
    Complete,
    /// Unknown: never enqueued, expired, or finished without a kept result.
    NotFound,
}

impl JobStatus {
    /// The name Python arq uses (`"deferred"`, `"queued"`, `"in_progress"`, `"complete"`,
    /// `"not_found"`).
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Deferred => "deferred",
            JobStatus::Queued => "queued",
            JobStatus::InProgress => "in_progress",
            JobStatus::Complete => "complete",
            JobStatus::NotFound => "not_found",
        }
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a job was enqueued as (Python's `JobDef`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct JobDef {
    /// Function name.
    pub function: String,
    /// Positional arguments.
    pub args: Vec<Value>,
    /// Keyword arguments.
    pub kwargs: Vec<(String, Value)>,
    /// The try number stored with the job (`None` unless set at enqueue), or for a finished
    /// job the try that finished it.
    pub job_try: Option<i64>,
    /// Enqueue time.
    pub enqueue_time: DateTime<Utc>,
    /// Score in the queue; `None` once the job has left it.
    pub score: Option<i64>,
}

/// A finished job's record (Python's `JobResult`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct JobResult {
    /// What was enqueued.
    pub job: JobDef,
    /// Whether it succeeded.
    pub success: bool,
    /// The return value, or the stored failure.
    pub result: Value,
    /// Start of the run.
    pub start_time: DateTime<Utc>,
    /// End of the run.
    pub finish_time: DateTime<Utc>,
    /// Queue it ran from.
    pub queue_name: String,
    /// Its id.
    pub job_id: String,
    /// When the stored result expires (by this machine's clock), read together with it:
    /// `None` when it is kept forever (`keep_result_forever`). Also `None` when the expiry
    /// was not read: in [`Pool::all_job_results`], or for a Redis user that may not run
    /// `PTTL` on result keys.
    pub expires_at: Option<DateTime<Utc>>,
}

impl JobDef {
    fn from_record(r: JobRecord, score: Option<i64>) -> Self {
        JobDef {
            function: r.function,
            args: r.args,
            kwargs: r.kwargs,
            job_try: r.job_try,
            enqueue_time: ms_to_datetime(r.enqueue_time_ms),
            score,
        }
    }
}

/// One entry of a queue, as [`Pool::queued_jobs`] lists it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct QueuedJob {
    /// The job id.
    pub job_id: String,
    /// Its score (ms from which it may run).
    pub score: i64,
    /// Queued, deferred or in progress.
    pub status: JobStatus,
    /// What was enqueued; `None` when the record is missing or undecodable.
    pub job: Option<JobDef>,
    /// Why `job` is `None`.
    pub problem: Option<String>,
}

impl JobResult {
    fn from_record(r: ResultRecord, ttl: ResultTtl) -> Self {
        let expires_at = match ttl {
            ResultTtl::Ms(ms) => Some(ms_to_datetime(now_ms().saturating_add(ms))),
            ResultTtl::Forever | ResultTtl::Unknown => None,
        };
        JobResult {
            expires_at,
            job: JobDef {
                function: r.function,
                args: r.args,
                kwargs: r.kwargs,
                job_try: Some(r.job_try),
                enqueue_time: ms_to_datetime(r.enqueue_time_ms),
                score: None,
            },
            success: r.success,
            result: r.result,
            start_time: ms_to_datetime(r.start_ms),
            finish_time: ms_to_datetime(r.finish_ms),
            queue_name: r.queue,
            job_id: r.job_id,
        }
    }

    /// The failure, when the job failed; an abort says whether it came before the start or
    /// while the job ran (see [`ResultRecord::failure`]).
    pub fn failure(&self) -> Option<JobFailure> {
        (!self.success).then(|| {
            crate::wire::failure_of(
                &self.result,
                self.start_time.timestamp_millis(),
                self.finish_time.timestamp_millis(),
            )
        })
    }
}

/// A handle to an enqueued job; `T` is its result type (`Value` when untyped).
pub struct Job<T = Value> {
    pool: Pool,
    id: String,
    queue: String,
    _out: PhantomData<fn() -> T>,
}

impl<T> Clone for Job<T> {
    fn clone(&self) -> Self {
        Job::new(self.pool.clone(), self.id.clone(), self.queue.clone())
    }
}

impl<T> std::fmt::Debug for Job<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.id)
            .field("queue", &self.queue)
            .finish()
    }
}

/// Defaults for waiting on a result: poll quickly at first, then back off.
const RESULT_POLL_MIN: Duration = Duration::from_millis(2);
const RESULT_POLL_MAX: Duration = Duration::from_millis(250);

impl<T> Job<T> {
    fn new(pool: Pool, id: String, queue: String) -> Self {
        Job {
            pool,
            id,
            queue,
            _out: PhantomData,
        }
    }

    /// The job id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The queue this handle looks in.
    pub fn queue_name(&self) -> &str {
        &self.queue
    }

    /// The same job in another queue (status and result look at the queue's entry).
    pub fn in_queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }

    /// The same job with its result read as `U`.
    pub fn typed<U>(self) -> Job<U> {
        Job::new(self.pool, self.id, self.queue)
    }

    /// Where the job is now.
    pub async fn status(&self) -> Result<JobStatus> {
        let raw = self.pool.backend.status(&self.queue, &self.id).await?;
        Ok(if raw.result_exists {
            JobStatus::Complete
        } else if raw.in_progress {
            JobStatus::InProgress
        } else {
            match raw.score {
                Some(s) => {
                    if s > raw.now_ms {
                        JobStatus::Deferred
                    } else {
                        JobStatus::Queued
                    }
                }
                _ => JobStatus::NotFound,
            }
        })
    }

    /// The stored result record, if the job finished and its result was kept, with when it
    /// expires ([`JobResult::expires_at`], read in the same step).
    pub async fn result_info(&self) -> Result<Option<JobResult>> {
        let read = self.pool.backend.result(&self.queue, &self.id).await?;
        if read.ttl == ResultTtl::Unknown && read.result.is_some() {
            tracing::debug!(job_id = %self.id, "the expiry of the result could not be read");
        }
        read.result
            .map(|b| {
                self.decode_result(&b)
                    .map(|r| JobResult::from_record(r, read.ttl))
            })
            .transpose()
    }

    /// What the job was enqueued as: from its result when finished, else from its record.
    pub async fn info(&self) -> Result<Option<JobDef>> {
        if let Some(r) = self.result_info().await? {
            return Ok(Some(r.job));
        }
        let Some(raw) = self.pool.backend.job_record(&self.id).await? else {
            return Ok(None);
        };
        let v = self.pool.decode("job", &raw)?;
        let rec = JobRecord::from_value(&v).map_err(|m| Error::Decode {
            what: "job".into(),
            message: m,
        })?;
        let score = self.pool.backend.score(&self.queue, &self.id).await?;
        Ok(Some(JobDef {
            function: rec.function,
            args: rec.args,
            kwargs: rec.kwargs,
            job_try: rec.job_try,
            enqueue_time: ms_to_datetime(rec.enqueue_time_ms),
            score,
        }))
    }

    fn decode_result(&self, raw: &[u8]) -> Result<ResultRecord> {
        let v = self.pool.decode("result", raw)?;
        ResultRecord::from_value(&v).map_err(|m| Error::Decode {
            what: "result".into(),
            message: m,
        })
    }
}

impl<T> Job<T> {
    /// Waits until the job has a result record (or is gone, or `timeout` passes).
    async fn wait_record(&self, timeout: Option<Duration>) -> Result<ResultRecord> {
        let started = Instant::now();
        let mut delay = RESULT_POLL_MIN;
        // Woken as soon as a worker of this crate stores the outcome; polling covers the rest.
        let waiting = self
            .pool
            .results
            .wait_for(&*self.pool.backend, &self.queue, &self.id)
            .await;
        loop {
            let read = self.pool.backend.result(&self.queue, &self.id).await?;
            if let Some(raw) = read.result {
                return self.decode_result(&raw);
            }
            if read.score.is_none() {
                return Err(Error::NotFound {
                    job_id: self.id.clone(),
                    queue: self.queue.clone(),
                });
            }
            let mut sleep = delay;
            if let Some(t) = timeout {
                let elapsed = started.elapsed();
                if elapsed >= t {
                    return Err(Error::ResultTimeout {
                        job_id: self.id.clone(),
                        waited: elapsed,
                    });
                }
                sleep = sleep.min(t - elapsed);
            }
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = waiting.notified() => {}
            }
            delay = (delay * 2).min(RESULT_POLL_MAX);
        }
    }

    /// Aborts the job, wherever it is (Python arq's `Job.abort`), and says whether it was
    /// aborted:
    /// - queued or deferred: it is removed at once and never runs; its result records the
    ///   abort (`CancelledError`), kept for an hour. `Ok(true)`.
    /// - running: its worker is asked to cancel it and does so at its next poll; this waits
    ///   up to `timeout` (`None`: forever) for the result. `Ok(true)` when the job ended
    ///   aborted, `Ok(false)` when it finished first; [`Error::ResultTimeout`] when neither
    ///   happened in time (the request stays, for a day).
    /// - finished, or unknown: `Ok(false)`, and nothing is left behind that could abort a
    ///   later job with the same id.
    pub async fn abort(&self, timeout: impl Into<Option<Duration>>) -> Result<bool> {
        let timeout = timeout.into();
        // The record to store if the job has not started yet, built from the job itself.
        // (Only decoration: if it can't be read, the abort goes ahead without it.)
        let record = match self.pool.backend.job_record(&self.id).await {
            Ok(Some(raw)) => self
                .pool
                .decode("job", &raw)
                .ok()
                .and_then(|v| JobRecord::from_value(&v).ok()),
            Ok(None) => None,
            Err(e) => {
                tracing::debug!(job_id = %self.id, "reading the job before aborting it failed: {e}");
                None
            }
        };
        // A bare CancelledError, as Python stores it; st == ft marks "before start" for
        // Rust readers (see ResultRecord::failure).
        let failure = JobFailure::new(crate::error::CANCELLED_ERROR, "");
        let now = now_ms();
        let result = ResultRecord {
            job_try: record.as_ref().and_then(|r| r.job_try).unwrap_or(0),
            function: record
                .as_ref()
                .map_or_else(|| "<unknown>".to_owned(), |r| r.function.clone()),
            args: record.as_ref().map(|r| r.args.clone()).unwrap_or_default(),
            kwargs: record
                .as_ref()
                .map(|r| r.kwargs.clone())
                .unwrap_or_default(),
            enqueue_time_ms: record.as_ref().map_or(0, |r| r.enqueue_time_ms),
            success: false,
            result: self.pool.codec.failure_value(&failure),
            start_ms: now,
            finish_ms: now,
            queue: self.queue.clone(),
            job_id: self.id.clone(),
        };
        let req = AbortRequest {
            queue: self.queue.clone(),
            job_id: self.id.clone(),
            result: Some(self.pool.encode("result", &result.to_value())?),
            keep_result_ms: Some(ABORTED_RESULT_KEEP_MS),
        };
        match self.pool.backend.abort(&req).await? {
            AbortOutcome::Aborted => Ok(true),
            AbortOutcome::NotFound => Ok(false),
            AbortOutcome::Finished | AbortOutcome::Requested => {
                match self.wait_record(timeout).await {
                    Ok(r) => {
                        Ok(!r.success && JobFailure::from_result_value(&r.result).is_aborted())
                    }
                    Err(Error::NotFound { .. }) => Ok(false),
                    Err(e) => Err(e),
                }
            }
        }
    }
}

/// How long the result of a job aborted before it started is kept (Python arq's default
/// `keep_result`).
const ABORTED_RESULT_KEEP_MS: i64 = 3_600_000;

impl<T: DeserializeOwned> Job<T> {
    /// Waits for the result: `Ok(value)` on success, [`Error::JobFailed`] with the stored
    /// failure, [`Error::NotFound`] when the job has neither a result nor a queue entry, and
    /// [`Error::ResultTimeout`] when `timeout` passes first (`None` waits forever).
    pub async fn result(&self, timeout: impl Into<Option<Duration>>) -> Result<T> {
        let rec = self.wait_record(timeout.into()).await?;
        if rec.success {
            return from_value::<T>(rec.result).map_err(|e| Error::Decode {
                what: format!("result of job {:?}", self.id),
                message: e.to_string(),
            });
        }
        Err(Error::JobFailed {
            job_id: self.id.clone(),
            failure: crate::wire::failure_of(&rec.result, rec.start_ms, rec.finish_ms),
        })
    }
}
