//! Dead letters, the client side: [`Pool::dead_jobs`] and [`Pool::dead_job`] read a queue's
//! dead set (the jobs that failed for good) as [`DeadJob`]s, and [`Pool::requeue_dead`],
//! [`Pool::requeue_all_dead`], [`Pool::delete_dead`] and [`Pool::purge_dead`] steer it, over
//! the backend's [`DeadLetters`] capability.
//!
//! Each letter's result record is decoded with `wire::decode_result`, as every stored record
//! is; a letter whose record cannot be read is still listed, saying why.

use super::Pool;
pub use crate::backend::RequeueOutcome;
use crate::backend::{DeadEntry, DeadLetters};
use crate::codec::HintFor;
use crate::wire::{decode_job, decode_result, failure_of};
use crate::{ms_to_datetime, Codec, JobFailure, Result, Value};
use chrono::{DateTime, Utc};

/// How many letters one step of the batched calls reads, requeues or removes.
const BATCH: u64 = 500;

/// A job that failed for good, as its queue's dead set keeps it ([`Pool::dead_jobs`]).
///
/// What it was enqueued as and how it ended come from the failure's result record; when that
/// record is missing or cannot be decoded with the pool's codec, from the job record kept with
/// the letter, and [`DeadJob::problem`] says what could not be read.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> arq_core::Result<()> {
/// # use arq_core::backend::*;
/// # use arq_core::{Codec, JobFailure, MsgpackCodec, ResultRecord, Value};
/// let pool = arq_core::Pool::memory();
/// # let job = pool.enqueue_job("charge", vec![Value::Int(7)]).job_id("order-7").await?;
/// # let claimed = pool.backend().claim(&ClaimRequest {
/// #     queue: job.queue_name().into(), limit: 1, scan_limit: 10, token_prefix: "w".into(),
/// #     seq: 1, idle: true, alone_from_try: 3, lease_ms: 10_000, check_abort: false,
/// #     events: None,
/// # }).await?.jobs.remove(0);
/// # let failure = JobFailure::new("ValueError", "card declined");
/// # let record = MsgpackCodec.encode(&ResultRecord {
/// #     job_try: 1, function: "charge".into(), args: vec![Value::Int(7)], kwargs: vec![],
/// #     enqueue_time_ms: 1, success: false, result: Value::Str(failure.to_text()),
/// #     start_ms: 2, finish_ms: 3, queue: job.queue_name().into(), job_id: "order-7".into(),
/// # }.to_value()).unwrap();
/// # pool.backend().finish(&[FinishRequest {
/// #     queue: job.queue_name().into(), job_id: "order-7".into(), token: claimed.token.clone(),
/// #     result: Some(record.clone()), keep_result_ms: None, keep_in_progress_ms: None,
/// #     outcome: FinishOutcome::Failed, job_try: 1, events: None, error: None,
/// #     failure: Some(FinalFailure {
/// #         job: claimed.payload.clone(), record, hook_lease_ms: None,
/// #         dead: Some(DeadLimits { max_len: 100, max_age_ms: 86_400_000 }),
/// #     }),
/// # }]).await?;
/// // ... a worker ran `charge(7)` as job "order-7", and it failed for good:
/// let dead = pool.dead_job(pool.default_queue_name(), "order-7").await?.unwrap();
/// assert_eq!(dead.function, "charge");
/// assert_eq!(dead.args, vec![Value::Int(7)]);
/// assert_eq!(dead.job_try, Some(1));
/// assert_eq!(dead.error, "ValueError: card declined");
/// assert_eq!(dead.failure.as_ref().unwrap().class, "ValueError");
/// assert!(dead.has_job_record && dead.problem.is_none());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DeadJob {
    /// The job id.
    pub job_id: String,
    /// The queue whose dead set holds it.
    pub queue: String,
    /// When it was added to the dead set (the backend's clock).
    pub died_at: DateTime<Utc>,
    /// The function name (`"<unknown>"` when neither record could be read).
    pub function: String,
    /// Positional arguments.
    pub args: Vec<Value>,
    /// Keyword arguments.
    pub kwargs: Vec<(String, Value)>,
    /// How many tries it used (the try its last run counted as); `None` when the result
    /// record could not be read.
    pub job_try: Option<i64>,
    /// When it was enqueued, if a record says.
    pub enqueue_time: Option<DateTime<Utc>>,
    /// When its last run started, if the result record says.
    pub start_time: Option<DateTime<Utc>>,
    /// When its last run ended, if the result record says.
    pub finish_time: Option<DateTime<Utc>>,
    /// Why it failed, as text (`"ValueError: card declined"`); when the result record could
    /// not be read, what could not be read ([`DeadJob::problem`]).
    pub error: String,
    /// The failure, read from the result record; `None` when it could not be read.
    pub failure: Option<JobFailure>,
    /// The stored result value `r` as it is (the failure text, or a Python exception
    /// object); `None` when the result record could not be read.
    pub result: Option<Value>,
    /// The letter keeps the job record as it was claimed, so [`Pool::requeue_dead`] can run
    /// the very same job again (`false` when the job key was gone when it failed).
    pub has_job_record: bool,
    /// What could not be read, and with which codec: the result record (missing, or not
    /// decodable), and the job record when it was needed instead.
    pub problem: Option<String>,
}

impl DeadJob {
    /// A dead letter as listed: decoded with `codec`, never an error.
    fn from_entry(codec: &dyn Codec, queue: &str, e: DeadEntry) -> Self {
        let mut dead = DeadJob {
            job_id: e.job_id,
            queue: queue.to_owned(),
            died_at: ms_to_datetime(e.died_ms),
            function: "<unknown>".to_owned(),
            args: Vec::new(),
            kwargs: Vec::new(),
            job_try: None,
            enqueue_time: None,
            start_time: None,
            finish_time: None,
            error: String::new(),
            failure: None,
            result: None,
            has_job_record: e.job.is_some(),
            problem: None,
        };
        let why = match e.record.as_deref() {
            None => "no result record was kept with the letter".to_owned(),
            Some(raw) => match decode_result(codec, raw, HintFor::Pool) {
                Ok(r) => {
                    let failure = failure_of(&r.result, r.start_ms, r.finish_ms);
                    dead.error = if r.success {
                        // Not written by this crate; say what is there rather than guess.
                        format!("(the result record says the job succeeded: {})", r.result)
                    } else {
                        failure.to_string()
                    };
                    dead.failure = (!r.success).then_some(failure);
                    dead.function = r.function;
                    dead.args = r.args;
                    dead.kwargs = r.kwargs;
                    dead.job_try = Some(r.job_try);
                    dead.enqueue_time = Some(ms_to_datetime(r.enqueue_time_ms));
                    dead.start_time = Some(ms_to_datetime(r.start_ms));
                    dead.finish_time = Some(ms_to_datetime(r.finish_ms));
                    dead.result = Some(r.result);
                    return dead;
                }
                Err(err) => format!(
                    "the result record could not be decoded (format={}): {}",
                    codec.name(),
                    err.message
                ),
            },
        };
        // What it was enqueued as, from the job record kept with the letter.
        let mut problem = why;
        match e.job.as_deref() {
            Some(raw) => match decode_job(codec, raw, HintFor::Pool) {
                Ok(j) => {
                    dead.function = j.function;
                    dead.args = j.args;
                    dead.kwargs = j.kwargs;
                    dead.enqueue_time = Some(ms_to_datetime(j.enqueue_time_ms));
                }
                Err(err) => problem.push_str(&format!(
                    "; the job record could not be decoded either (format={}): {}",
                    codec.name(),
                    err.message
                )),
            },
            None => problem.push_str("; no job record was kept either"),
        }
        dead.error = problem.clone();
        dead.problem = Some(problem);
        dead
    }
}

/// A page of a queue's dead set, newest first ([`Pool::dead_jobs`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> arq_core::Result<()> {
/// let pool = arq_core::Pool::memory();
/// let (mut offset, limit) = (0, 100);
/// loop {
///     let page = pool.dead_jobs("arq:queue", offset, limit).await?;
///     for dead in &page.jobs {
///         let age = page.now - dead.died_at;
///         println!("{}: {} ({}s ago)", dead.job_id, dead.error, age.num_seconds());
///     }
///     offset += page.jobs.len() as u64;
///     if offset >= page.total || page.jobs.is_empty() {
///         break;
///     }
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DeadJobsPage {
    /// How many letters the dead set holds in all.
    pub total: u64,
    /// The page, newest first.
    pub jobs: Vec<DeadJob>,
    /// The backend's clock when the page was read (for ages).
    pub now: DateTime<Utc>,
}

impl Pool {
    /// The backend's dead letters, or [`Error::Unsupported`](crate::Error::Unsupported).
    fn dead(&self) -> Result<&dyn DeadLetters> {
        self.backend()
            .dead_letters()
            .ok_or_else(|| crate::backend::unsupported(self.backend().name(), "dead letters"))
    }

    /// A page of a queue's dead set, newest first: at most `limit` letters from `offset`,
    /// with how many there are in all. A letter whose records cannot be decoded is listed
    /// with [`DeadJob::problem`] saying why, never an error for the page.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> arq_core::Result<()> {
    /// let pool = arq_core::Pool::memory();
    /// let page = pool.dead_jobs(pool.default_queue_name(), 0, 50).await?;
    /// assert_eq!(page.total, 0);
    /// for dead in &page.jobs {
    ///     println!("{} died {}: {}", dead.job_id, dead.died_at, dead.error);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn dead_jobs(&self, queue: &str, offset: u64, limit: u64) -> Result<DeadJobsPage> {
        let page = self.dead()?.dead_page(queue, offset, limit).await?;
        Ok(DeadJobsPage {
            total: page.total,
            now: ms_to_datetime(page.now_ms),
            jobs: page
                .entries
                .into_iter()
                .map(|e| DeadJob::from_entry(self.codec(), queue, e))
                .collect(),
        })
    }

    /// One dead letter of a queue, `None` when there is none with this id.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> arq_core::Result<()> {
    /// let pool = arq_core::Pool::memory();
    /// assert!(pool.dead_job(pool.default_queue_name(), "order-7").await?.is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn dead_job(&self, queue: &str, job_id: &str) -> Result<Option<DeadJob>> {
        let entry = self.dead()?.dead_read(queue, job_id).await?;
        Ok(entry.map(|e| DeadJob::from_entry(self.codec(), queue, e)))
    }

    /// Puts dead jobs back in their queue, due now, as they were claimed: their tries start
    /// again from one, and the letter and the failed result are removed. One outcome per id,
    /// in order: [`RequeueOutcome::Requeued`], or why a letter stays (a job with that id is
    /// queued or running again, or the letter kept no job record) or is unknown. Writes a
    /// `requeued` event per job when the pool writes events ([`Pool::with_events`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> arq_core::Result<()> {
    /// use arq_core::backend::RequeueOutcome;
    /// let pool = arq_core::Pool::memory();
    /// let done = pool.requeue_dead(pool.default_queue_name(), ["order-7"]).await?;
    /// assert_eq!(done, vec![("order-7".to_owned(), RequeueOutcome::NotFound)]);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn requeue_dead<I, S>(
        &self,
        queue: &str,
        job_ids: I,
    ) -> Result<Vec<(String, RequeueOutcome)>>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let dead = self.dead()?;
        let ids: Vec<String> = job_ids.into_iter().map(Into::into).collect();
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH as usize) {
            let outcomes = dead
                .dead_requeue(queue, chunk, self.events_max_len())
                .await?;
            out.extend(chunk.iter().cloned().zip(outcomes));
        }
        Ok(out)
    }

    /// Requeues every letter of a queue's dead set that was there when the call began (as
    /// [`Pool::requeue_dead`] does, a batch at a time); returns how many went back. Letters
    /// that stay (their job is queued again, or they kept no job record) are skipped, and a
    /// job that dies again meanwhile is not requeued a second time.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> arq_core::Result<()> {
    /// let pool = arq_core::Pool::memory();
    /// assert_eq!(pool.requeue_all_dead(pool.default_queue_name()).await?, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn requeue_all_dead(&self, queue: &str) -> Result<u64> {
        let dead = self.dead()?;
        let mut requeued = 0;
        // Letters that stay (or are newer than the call) are skipped over: they are the first
        // `offset` of the set, newest first, give or take letters added meanwhile.
        let mut offset = 0;
        let mut since: Option<i64> = None;
        loop {
            let page = dead.dead_page(queue, offset, BATCH).await?;
            let cutoff = *since.get_or_insert(page.now_ms);
            let n = page.entries.len() as u64;
            let (old, newer): (Vec<DeadEntry>, Vec<DeadEntry>) =
                page.entries.into_iter().partition(|e| e.died_ms <= cutoff);
            offset += newer.len() as u64;
            if !old.is_empty() {
                let ids: Vec<String> = old.into_iter().map(|e| e.job_id).collect();
                for outcome in dead
                    .dead_requeue(queue, &ids, self.events_max_len())
                    .await?
                {
                    match outcome {
                        RequeueOutcome::Requeued => requeued += 1,
                        RequeueOutcome::NotFound => {}
                        _ => offset += 1,
                    }
                }
            }
            if n < BATCH {
                return Ok(requeued);
            }
        }
    }

    /// Deletes dead letters (with their job and result records); returns how many existed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> arq_core::Result<()> {
    /// let pool = arq_core::Pool::memory();
    /// assert_eq!(pool.delete_dead(pool.default_queue_name(), ["a", "b"]).await?, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn delete_dead<I, S>(&self, queue: &str, job_ids: I) -> Result<u64>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let dead = self.dead()?;
        let ids: Vec<String> = job_ids.into_iter().map(Into::into).collect();
        let mut deleted = 0;
        for chunk in ids.chunks(BATCH as usize) {
            deleted += dead.dead_delete(queue, chunk).await?;
        }
        Ok(deleted)
    }

    /// Deletes every letter of a queue's dead set, a batch at a time until it is empty;
    /// returns how many.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> arq_core::Result<()> {
    /// let pool = arq_core::Pool::memory();
    /// assert_eq!(pool.purge_dead(pool.default_queue_name()).await?, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn purge_dead(&self, queue: &str) -> Result<u64> {
        let dead = self.dead()?;
        let mut total = 0;
        loop {
            let n = dead.dead_purge(queue, BATCH).await?;
            total += n;
            if n == 0 {
                return Ok(total);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MsgpackCodec, ResultRecord};
    use bytes::Bytes;

    fn entry(job: Option<&[u8]>, record: Option<&[u8]>) -> DeadEntry {
        DeadEntry {
            job_id: "j".into(),
            died_ms: 1_700_000_000_000,
            job: job.map(Bytes::copy_from_slice),
            record: record.map(Bytes::copy_from_slice),
        }
    }

    #[tokio::test]
    async fn a_backend_without_dead_letters_says_so() {
        let backend = crate::client::events::limited::Limited {
            inner: crate::MemoryBackend::new(),
            events: false,
        };
        let pool = Pool::new(std::sync::Arc::new(backend));
        let q = "q";
        let errors = [
            pool.dead_jobs(q, 0, 10).await.unwrap_err(),
            pool.dead_job(q, "a").await.unwrap_err(),
            pool.requeue_dead(q, ["a"]).await.unwrap_err(),
            pool.requeue_all_dead(q).await.unwrap_err(),
            pool.delete_dead(q, ["a"]).await.unwrap_err(),
            pool.purge_dead(q).await.unwrap_err(),
        ];
        for e in errors {
            assert!(
                matches!(
                    e,
                    crate::Error::Unsupported {
                        backend: "limited",
                        what: "dead letters"
                    }
                ),
                "{e:?}"
            );
        }
    }

    #[test]
    fn undecodable_letters_are_listed_with_what_could_not_be_read() {
        let codec = MsgpackCodec;
        let job = crate::JobRecord {
            job_try: None,
            function: "f".into(),
            args: vec![Value::Int(1)],
            kwargs: vec![],
            enqueue_time_ms: 5,
        };
        let job = codec.encode(&job.to_value()).unwrap();
        // A pickled result: the job record tells what it was, the text what went wrong.
        let d = DeadJob::from_entry(&codec, "q", entry(Some(&job), Some(b"\x80\x04\x95..")));
        assert_eq!(
            (d.function.as_str(), d.args.clone()),
            ("f", vec![Value::Int(1)])
        );
        assert_eq!(d.job_try, None);
        assert!(d.has_job_record && d.failure.is_none() && d.result.is_none());
        let p = d.problem.clone().unwrap();
        assert!(
            p.starts_with("the result record could not be decoded (format=msgpack): ")
                && p.contains("looks like pickle"),
            "{p}"
        );
        assert_eq!(d.error, p);
        // Neither record: still a letter.
        let d = DeadJob::from_entry(&codec, "q", entry(None, None));
        assert_eq!(d.function, "<unknown>");
        assert!(!d.has_job_record);
        assert_eq!(
            d.problem.as_deref(),
            Some("no result record was kept with the letter; no job record was kept either")
        );
        // A readable failure.
        let r = ResultRecord {
            job_try: 3,
            function: "f".into(),
            args: vec![],
            kwargs: vec![("k".into(), Value::Bool(true))],
            enqueue_time_ms: 5,
            success: false,
            result: Value::Str("TimeoutError: too slow".into()),
            start_ms: 6,
            finish_ms: 7,
            queue: "q".into(),
            job_id: "j".into(),
        };
        let r = codec.encode(&r.to_value()).unwrap();
        let d = DeadJob::from_entry(&codec, "q", entry(None, Some(&r)));
        assert_eq!(d.error, "TimeoutError: too slow");
        assert!(d.failure.as_ref().unwrap().is_timeout());
        assert_eq!(d.job_try, Some(3));
        assert_eq!(d.kwargs, vec![("k".to_owned(), Value::Bool(true))]);
        assert_eq!(d.problem, None);
        assert_eq!(d.finish_time, Some(ms_to_datetime(7)));
    }
}
