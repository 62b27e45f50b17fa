//! [`Pool`]: a backend, a codec and a default queue; enqueueing by name, handles by id, and
//! the admin and inspection reads (queues, listings, delete, purge, rerun).

use super::{Enqueue, Job, JobDef, JobResult, JobStatus, QueuedJob};
use crate::backend::{Inspect, QueueStats, ResultTtl};
use crate::codec::HintFor;
use crate::wire::{decode_job, decode_result};
use crate::{Backend, Codec, Error, MsgpackCodec, Result, Value, DEFAULT_QUEUE_NAME};
use std::sync::Arc;

/// A connection to the queue backend plus the codec and default queue: what Python arq calls
/// `ArqRedis`. Cheap to clone; create one with `arq::create_pool`.
#[derive(Clone)]
pub struct Pool {
    backend: Arc<dyn Backend>,
    codec: Arc<dyn Codec>,
    default_queue: Arc<str>,
    /// The result waiters of [`Job::result`].
    pub(super) results: Arc<crate::result_watch::ResultWatch>,
    /// See [`Pool::with_max_payload_bytes`].
    pub(super) max_payload_bytes: usize,
    /// See [`Pool::with_events`].
    events: Option<u64>,
    /// The connections of this pool's event readers, reused from one reader to the next.
    pub(crate) event_conns: Arc<super::events::ReaderConns>,
}

/// The default length of a queue's event stream (see [`Pool::with_events`]).
pub const DEFAULT_EVENTS_MAX_LEN: u64 = 10_000;

/// The default limit on an encoded job record (see [`Pool::with_max_payload_bytes`]).
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 16 * 1024 * 1024;

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
            events: None,
            event_conns: Arc::default(),
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

    /// The same pool writing lifecycle events (enqueued, started, progress, retried,
    /// snoozed, completed, failed, dead, aborted, requeued) to each queue's event stream,
    /// trimmed to about `max_len` entries ([`DEFAULT_EVENTS_MAX_LEN`] is a good start).
    ///
    /// Events are written by whoever makes the change: turn them on in the pools of both the
    /// clients and the workers. Off by default: a pool without them writes nothing extra.
    /// Read them with [`Pool::events`].
    pub fn with_events(mut self, max_len: u64) -> Self {
        self.events = Some(max_len.max(1));
        self
    }

    /// The event stream length this pool writes with, `None` when it writes no events.
    pub fn events_max_len(&self) -> Option<u64> {
        self.events
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

    /// The codec, shared (an event stream keeps it).
    pub(crate) fn codec_arc(&self) -> Arc<dyn Codec> {
        self.codec.clone()
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
    fn inspect(&self, what: &'static str) -> Result<&dyn Inspect> {
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
                let (job, problem) = match &e.payload {
                    None => (
                        None,
                        Some("job record missing (expired or deleted)".to_owned()),
                    ),
                    Some(raw) => match decode_job(self.codec(), raw, HintFor::Pool) {
                        Ok(r) => (Some(JobDef::from_record(r, Some(e.score))), None),
                        Err(err) => (None, Some(Error::from(err).to_string())),
                    },
                };
                QueuedJob {
                    status: JobStatus::of_entry(e.in_progress, e.score, page.now_ms),
                    job_id: e.job_id,
                    score: e.score,
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
                match decode_result(self.codec(), &raw, HintFor::Pool) {
                    Ok(r) => out.push(JobResult::from_record(r, ResultTtl::Unknown)),
                    Err(e) => {
                        tracing::warn!(job_id = %id, "skipping a result: {}", Error::from(e))
                    }
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
        let r = decode_result(self.codec(), &raw, HintFor::Pool)?;
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

    /// Encodes a record with the pool's codec, naming `what` in the error.
    pub(crate) fn encode(&self, what: &str, v: &Value) -> Result<Vec<u8>> {
        self.codec.encode(v).map_err(|e| Error::Encode {
            what: what.into(),
            message: e.to_string(),
        })
    }
}
