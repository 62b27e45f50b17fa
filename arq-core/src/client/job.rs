//! [`Job`]: the handle to one job by id and queue: its status, what it was enqueued as, its
//! result (waited for), and abort.

use super::{JobDef, JobResult, JobStatus, Pool};
use crate::backend::{AbortOutcome, AbortRequest, ResultTtl};
use crate::codec::{foreign_payload_hint, HintFor};
use crate::wire::{decode_job, decode_result};
use crate::{from_value, now_ms, Error, JobFailure, Result, ResultRecord, Value};
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

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
    /// A handle for job `id` in `queue`.
    pub(super) fn new(pool: Pool, id: String, queue: String) -> Self {
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
        let raw = self.pool.backend().status(&self.queue, &self.id).await?;
        Ok(if raw.result_exists {
            JobStatus::Complete
        } else {
            match raw.score {
                Some(s) => JobStatus::of_entry(raw.in_progress, s, raw.now_ms),
                None if raw.in_progress => JobStatus::InProgress,
                None => JobStatus::NotFound,
            }
        })
    }

    /// The stored result record, if the job finished and its result was kept, with when it
    /// expires ([`JobResult::expires_at`], read in the same step).
    pub async fn result_info(&self) -> Result<Option<JobResult>> {
        let read = self.pool.backend().result(&self.queue, &self.id).await?;
        if read.ttl == ResultTtl::Unknown && read.result.is_some() {
            tracing::debug!(job_id = %self.id, "the expiry of the result could not be read");
        }
        read.result
            .map(|b| {
                decode_result(self.pool.codec(), &b, HintFor::Pool)
                    .map(|r| JobResult::from_record(r, read.ttl))
                    .map_err(Error::from)
            })
            .transpose()
    }

    /// What the job was enqueued as: from its result when finished, else from its record.
    pub async fn info(&self) -> Result<Option<JobDef>> {
        if let Some(r) = self.result_info().await? {
            return Ok(Some(r.job));
        }
        let Some(raw) = self.pool.backend().job_record(&self.id).await? else {
            return Ok(None);
        };
        let record = decode_job(self.pool.codec(), &raw, HintFor::Pool)?;
        let score = self.pool.backend().score(&self.queue, &self.id).await?;
        Ok(Some(JobDef::from_record(record, score)))
    }

    /// The last progress the job reported while it ran (`Ctx::set_progress`), decoded with
    /// the pool's codec; `None` when it reported none, or the progress expired.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> arq_core::Result<()> {
    /// let pool = arq_core::Pool::memory();
    /// let job = pool.enqueue_job("resize", vec![]).await?;
    /// assert_eq!(job.progress().await?, None);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn progress(&self) -> Result<Option<Value>> {
        let Some(raw) = self.pool.backend().progress_read(&self.id).await? else {
            return Ok(None);
        };
        let codec = self.pool.codec();
        codec.decode(&raw).map(Some).map_err(|e| {
            let hint = foreign_payload_hint(codec.name(), &raw, HintFor::Pool).unwrap_or_default();
            Error::Decode {
                what: format!("progress of job {:?}", self.id),
                message: format!("{e} (format={}){hint}", codec.name()),
            }
        })
    }

    /// [`Job::progress`] read as a `P` (a number, a struct the job reports, ...).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> arq_core::Result<()> {
    /// #[derive(serde::Deserialize)]
    /// struct Done { files: u32, of: u32 }
    ///
    /// let pool = arq_core::Pool::memory();
    /// let job = pool.enqueue_job("backup", vec![]).await?;
    /// if let Some(Done { files, of }) = job.progress_as::<Done>().await? {
    ///     println!("{files} of {of} files");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn progress_as<P: DeserializeOwned>(&self) -> Result<Option<P>> {
        self.progress()
            .await?
            .map(|v| {
                from_value::<P>(v).map_err(|e| Error::Decode {
                    what: format!("progress of job {:?}", self.id),
                    message: e.to_string(),
                })
            })
            .transpose()
    }
}

impl<T> Job<T> {
    /// Waits until the job has a result record (or is gone, or `timeout` passes).
    async fn wait_record(&self, timeout: Option<Duration>) -> Result<ResultRecord> {
        let started = Instant::now();
        let mut delay = RESULT_POLL_MIN;
        // Woken as soon as a worker of this crate stores the outcome (its notification, or its
        // event when the pool reads events); polling covers the rest.
        let waiting = self
            .pool
            .results
            .wait_for(
                &self.pool.backend_arc(),
                self.pool.events_max_len().map(|_| &self.pool.event_conns),
                &self.queue,
                &self.id,
            )
            .await;
        loop {
            let read = self.pool.backend().result(&self.queue, &self.id).await?;
            if let Some(raw) = read.result {
                return Ok(decode_result(self.pool.codec(), &raw, HintFor::Pool)?);
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
        let record = match self.pool.backend().job_record(&self.id).await {
            Ok(Some(raw)) => decode_job(self.pool.codec(), &raw, HintFor::Pool).ok(),
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
            result: self.pool.codec().failure_value(&failure),
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
            events: self.pool.events_max_len(),
        };
        match self.pool.backend().abort(&req).await? {
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
    ///
    /// The wait wakes as soon as a worker of this crate stores the outcome: on its "finished"
    /// notification, and, when the pool has events on ([`Pool::with_events`]), on the job's
    /// `completed`, `failed` or `aborted` event (read by one reader per queue and pool, on a
    /// connection of its own). It also polls, for workers that send neither (Python arq's).
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
