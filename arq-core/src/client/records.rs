//! What the client reads back: a job's status, what it was enqueued as, its result, and a
//! queue's entries, made from the wire records (`wire.rs`).

use crate::backend::ResultTtl;
use crate::{ms_to_datetime, now_ms, JobFailure, JobRecord, ResultRecord, Value};
use chrono::{DateTime, Utc};

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

    /// The status of a queue entry with `score`, read at `now_ms`: in progress while a worker
    /// holds it, else deferred until it is due.
    pub(super) fn of_entry(in_progress: bool, score: i64, now_ms: i64) -> Self {
        if in_progress {
            JobStatus::InProgress
        } else if score > now_ms {
            JobStatus::Deferred
        } else {
            JobStatus::Queued
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

impl JobDef {
    /// A job record as listed, with its score in the queue.
    pub(super) fn from_record(r: JobRecord, score: Option<i64>) -> Self {
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
    /// was not read: in [`Pool::all_job_results`](crate::Pool::all_job_results), or for a
    /// Redis user that may not run `PTTL` on result keys.
    pub expires_at: Option<DateTime<Utc>>,
}

impl JobResult {
    /// A result record, with the time it had left when it was read.
    pub(super) fn from_record(r: ResultRecord, ttl: ResultTtl) -> Self {
        let expires_at = match ttl {
            ResultTtl::Ms(ms) => Some(ms_to_datetime(now_ms().saturating_add(ms))),
            ResultTtl::Forever | ResultTtl::Unknown => None,
        };
        let job = JobRecord {
            job_try: Some(r.job_try),
            function: r.function,
            args: r.args,
            kwargs: r.kwargs,
            enqueue_time_ms: r.enqueue_time_ms,
        };
        JobResult {
            expires_at,
            job: JobDef::from_record(job, None),
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

/// One entry of a queue, as [`Pool::queued_jobs`](crate::Pool::queued_jobs) lists it.
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
