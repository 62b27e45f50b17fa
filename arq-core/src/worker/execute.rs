//! The execute step: decode and check a claimed job ([`JobRunner::plan`]), call its function
//! under its timeout ([`JobRunner::execute`]), and hand the outcome to finish, retry or
//! release (`finish.rs`).

use super::finish::End;
use super::{Counters, WorkerSettings};
use crate::backend::ClaimedJob;
use crate::codec::HintFor;
use crate::error::{CANCELLED_ERROR, DESERIALIZATION_ERROR, JOB_EXECUTION_FAILED, TIMEOUT_ERROR};
use crate::function::JobError;
use crate::time::duration_ms;
use crate::wire::decode_job;
use crate::{failpoint, now_ms, Args, Ctx, Function, JobFailure, JobRecord, Pool, State, Value};
use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// An abort marker older than the job's enqueue time by more than this was meant for an
/// earlier job with the same id (arq #485), allowing for this much clock skew between the
/// machines that enqueued and aborted.
pub(crate) const ABORT_MARKER_SKEW_MS: i64 = 5_000;

/// Whether an abort marker set at `marker_ms` applies to a job enqueued at `enqueue_ms`.
pub(crate) fn marker_applies(marker_ms: i64, enqueue_ms: i64) -> bool {
    marker_ms >= enqueue_ms - ABORT_MARKER_SKEW_MS
}

/// Everything job tasks share.
pub(crate) struct JobRunner {
    pub(crate) pool: Pool,
    pub(crate) queue: String,
    pub(crate) functions: Arc<HashMap<&'static str, Function>>,
    pub(crate) settings: WorkerSettings,
    pub(crate) state: Arc<State>,
    pub(crate) counters: Arc<Counters>,
    /// Cancelled when shutdown stops waiting for running jobs.
    pub(crate) cancel: CancellationToken,
    /// Stores outcomes in batches.
    pub(crate) finisher: super::finish::Finisher,
    /// The dead set's bounds, `None` when dead letters are off (or the backend keeps none).
    pub(crate) dead_letters: Option<crate::backend::DeadLimits>,
}

/// A claimed job, checked and ready to call.
pub(crate) struct Run {
    pub(crate) claimed: ClaimedJob,
    pub(crate) record: JobRecord,
    pub(crate) function: Function,
    pub(crate) job_try: i64,
    pub(crate) timeout: Duration,
    /// Cancelled when an abort of this job is requested while it runs.
    pub(crate) abort: CancellationToken,
    /// Cancelled by the heartbeat when this worker lost the job's lease.
    pub(crate) lease_lost: CancellationToken,
}

/// What the checks of a claimed job decided ([`JobRunner::plan`]).
pub(crate) enum Plan {
    /// Call the function.
    Run(Box<Run>),
    /// Fail it without running (expired, undecodable, aborted, unknown, out of tries).
    Fail(Box<EarlyFailure>),
    /// Put it back for later without running (a function this worker does not know, with
    /// `unknown_function_retry`).
    PutBack(Box<(ClaimedJob, Duration, String)>),
}

/// A job failed before its function ran.
pub(crate) struct EarlyFailure {
    claimed: ClaimedJob,
    record: Option<JobRecord>,
    function: Option<Function>,
    failure: JobFailure,
    set_try: Option<i64>,
}

pub(super) enum Outcome {
    Success(Value),
    /// A failure: `timed_out` when the run hit its timeout, `permanent` when the error chain
    /// holds a `Permanent` (no policy retries it).
    Failure {
        failure: JobFailure,
        timed_out: bool,
        permanent: bool,
    },
    Retry(Option<Duration>),
    Snooze(Duration),
    Cancelled,
    LeaseLost,
}

impl Outcome {
    fn failed(failure: JobFailure) -> Self {
        Outcome::Failure {
            failure,
            timed_out: false,
            permanent: false,
        }
    }
}

/// An abort, stored as Python arq stores it: a bare `CancelledError()` (the text
/// `"CancelledError"` under codecs that cannot hold an exception). Whether it came before the
/// start or during the run is told by the record's times: `st == ft` before the start, `ft >
/// st` for a run (see `ResultRecord::failure`).
fn aborted_failure() -> JobFailure {
    JobFailure::new(CANCELLED_ERROR, "")
}

impl JobRunner {
    fn timeout_of(&self, f: &Function) -> Duration {
        f.options
            .timeout
            .filter(|t| !t.is_zero())
            .unwrap_or(self.settings.job_timeout)
    }

    /// Decodes and checks a claimed job (Python arq's `run_job` prologue, in its order): the
    /// first half of the execute step, run before the job's task starts so the heartbeat and
    /// abort requests know it.
    pub(crate) fn plan(&self, claimed: ClaimedJob) -> Plan {
        let fail = |claimed, record, function, class: &str, message: String| {
            Plan::Fail(Box::new(EarlyFailure {
                claimed,
                record,
                function,
                failure: JobFailure::new(class, message),
                set_try: None,
            }))
        };
        let id = claimed.job_id.clone();
        if let Some(e) = &claimed.payload_error {
            let msg = format!(
                "job {id}: payload could not be decoded (format={}): the job key could not be \
                 read as a record: {e}",
                self.pool.codec().name()
            );
            return fail(claimed, None, None, DESERIALIZATION_ERROR, msg);
        }
        let Some(payload) = &claimed.payload else {
            return fail(
                claimed,
                None,
                None,
                JOB_EXECUTION_FAILED,
                format!("job {id} expired"),
            );
        };
        let record = match decode_job(self.pool.codec(), payload, HintFor::Worker) {
            Ok(r) => r,
            Err(e) => {
                let msg = format!(
                    "job {id}: payload could not be decoded (format={}): {}",
                    self.pool.codec().name(),
                    e.message
                );
                return fail(claimed, None, None, DESERIALIZATION_ERROR, msg);
            }
        };
        let function = self.functions.get(record.function.as_str()).copied();
        if let Some(marker) = claimed.abort_marker_ms {
            if marker_applies(marker, record.enqueue_time_ms) {
                let failure = aborted_failure();
                return fail(
                    claimed,
                    Some(record),
                    function,
                    &failure.class,
                    failure.message,
                );
            }
            tracing::info!(
                job_id = %claimed.job_id,
                "ignoring an abort request older than the job (meant for an earlier job with this id)"
            );
        }
        let Some(function) = function else {
            let msg = format!("function '{}' not found", record.function);
            if let Some(defer) = self.settings.unknown_function_retry {
                if claimed.job_try < i64::from(self.settings.max_tries) {
                    return Plan::PutBack(Box::new((claimed, defer, msg)));
                }
            }
            return fail(claimed, Some(record), None, JOB_EXECUTION_FAILED, msg);
        };
        let mut job_try = claimed.job_try;
        let mut set_try = None;
        if let Some(t) = record.job_try {
            if t > job_try {
                job_try = t;
                set_try = Some(t);
            }
        }
        let max_tries = function
            .options
            .max_tries
            .unwrap_or(self.settings.max_tries);
        if job_try > i64::from(max_tries) {
            // A recovery past the last try: the last attempt's worker died (or lost the
            // lease) every time, so this is a poison job; say so rather than "retries".
            let message = if claimed.recovered {
                format!(
                    "worker died while running it (attempt {} of {max_tries})",
                    job_try - 1
                )
            } else {
                format!("max {max_tries} retries exceeded")
            };
            return Plan::Fail(Box::new(EarlyFailure {
                claimed,
                record: Some(record),
                function: Some(function),
                failure: JobFailure::new(JOB_EXECUTION_FAILED, message),
                set_try,
            }));
        }
        if claimed.recovered {
            tracing::warn!(
                job_id = %claimed.job_id,
                "job {} recovered: attempt {} ended without an outcome (its worker died or \
                 lost the lease); running attempt {job_try} of {max_tries}",
                claimed.job_id,
                job_try - 1
            );
        }
        let timeout = self.timeout_of(&function);
        if let Some(t) = set_try {
            let pool = self.pool.clone();
            let id = claimed.job_id.clone();
            tokio::spawn(async move {
                if let Err(e) = pool
                    .backend()
                    .set_try(&crate::backend::SetTryRequest {
                        job_id: id.clone(),
                        job_try: t,
                    })
                    .await
                {
                    tracing::warn!(job_id = %id, "could not store the job try: {e}");
                }
            });
        }
        Plan::Run(Box::new(Run {
            claimed,
            record,
            function,
            job_try,
            timeout,
            abort: CancellationToken::new(),
            lease_lost: CancellationToken::new(),
        }))
    }

    /// Execute: runs a planned job to its end and hands its outcome to finish, retry or
    /// release, inside a `job` span (job id, function, try) so the job's own logs carry them
    /// too.
    pub(crate) async fn execute(&self, plan: Plan) {
        let span = match &plan {
            Plan::Run(r) => tracing::info_span!(
                "job",
                id = %r.claimed.job_id,
                function = %r.record.function,
                try = r.job_try
            ),
            Plan::Fail(f) => tracing::info_span!(
                "job",
                id = %f.claimed.job_id,
                function = f.record.as_ref().map(|r| r.function.as_str()).unwrap_or("<unknown>"),
                try = f.claimed.job_try
            ),
            Plan::PutBack(p) => tracing::info_span!(
                "job",
                id = %p.0.job_id,
                function = "<unknown>",
                try = p.0.job_try
            ),
        };
        async move {
            match plan {
                Plan::Fail(early) => {
                    let EarlyFailure {
                        claimed,
                        record,
                        function,
                        failure,
                        set_try,
                    } = *early;
                    if failure.is_aborted() {
                        tracing::info!("job {} aborted before start", claimed.job_id);
                    } else {
                        tracing::warn!(
                            "job {} failed: {} (before it ran; {})",
                            claimed.job_id,
                            failure.message,
                            failure.class
                        );
                    }
                    let job_try = set_try.unwrap_or(claimed.job_try);
                    let start = now_ms();
                    self.counters.failed.fetch_add(1, Ordering::Relaxed);
                    let mut result = self.result_record(
                        &claimed,
                        record,
                        job_try,
                        false,
                        self.pool.codec().failure_value(&failure),
                        start,
                    );
                    let end = if failure.is_aborted() {
                        // It never ran: no time between start and finish says "before start".
                        result.finish_ms = result.start_ms;
                        End::Aborted
                    } else {
                        End::Failed
                    };
                    self.finish(&claimed, result, function.as_ref(), end).await;
                }
                Plan::Run(run) => self.call(*run).await,
                Plan::PutBack(p) => {
                    let (claimed, defer, reason) = *p;
                    tracing::info!(
                    "{reason} on this worker; putting job {} back for {defer:?} (attempt {} of \
                     {}), in case a newer worker knows it",
                    claimed.job_id,
                    claimed.job_try,
                    self.settings.max_tries
                );
                    self.counters.retried.fetch_add(1, Ordering::Relaxed);
                    self.retry(
                        &claimed,
                        claimed.job_try,
                        duration_ms(defer).max(1),
                        Some(reason),
                    )
                    .await;
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Calls the job's function under its timeout, its abort and its lease, then hands the
    /// outcome on.
    async fn call(&self, run: Run) {
        let Run {
            claimed,
            record,
            function,
            job_try,
            timeout,
            abort,
            lease_lost,
        } = run;
        let ctx = Ctx::new(
            claimed.job_id.clone(),
            u32::try_from(job_try).unwrap_or(u32::MAX),
            record.enqueue_time_ms,
            claimed.score,
            self.queue.clone(),
            record.function.clone(),
            self.pool.clone(),
            self.state.clone(),
        )
        .with_token(claimed.token.clone());
        if let Some(h) = &self.settings.on_job_start {
            h(ctx.clone()).await;
        }
        let args = Args::new(
            record.function.clone(),
            record.args.clone(),
            record.kwargs.clone(),
        );
        failpoint::hit("before_execute");
        let start = now_ms();
        let started = Instant::now();
        let delay_ms = start - claimed.score;
        tracing::info!("started, {:.2}s after it was due", delay_ms as f64 / 1000.0);
        let call = CatchUnwind((function.handler)(ctx.clone(), args));
        let id = &claimed.job_id;
        let mut returned = true;
        let mut outcome = tokio::select! {
            r = tokio::time::timeout(timeout, call) => match r {
                Ok(Ok(Ok(v))) => Outcome::Success(v),
                Ok(Ok(Err(JobError::Retry(r)))) => {
                    if self.settings.retry_jobs {
                        Outcome::Retry(r.defer())
                    } else {
                        Outcome::failed(JobFailure::new("Retry", r.to_string()))
                    }
                }
                Ok(Ok(Err(JobError::Snooze(s)))) => Outcome::Snooze(s.delay()),
                Ok(Ok(Err(JobError::Failed(f)))) => Outcome::failed(f),
                Ok(Ok(Err(JobError::Permanent(f)))) => Outcome::Failure {
                    failure: f,
                    timed_out: false,
                    permanent: true,
                },
                Ok(Err(panic)) => Outcome::failed(JobFailure::new("Panic", panic)),
                Err(_) => {
                    returned = false;
                    Outcome::Failure {
                        failure: JobFailure::new(
                            TIMEOUT_ERROR,
                            format!("job {id} timed out after {:.1}s", timeout.as_secs_f64()),
                        ),
                        timed_out: true,
                        permanent: false,
                    }
                }
            },
            _ = abort.cancelled() => { returned = false; Outcome::failed(aborted_failure()) }
            _ = lease_lost.cancelled() => { returned = false; Outcome::LeaseLost }
            _ = self.cancel.cancelled() => { returned = false; Outcome::Cancelled }
        };
        // A job that blocks its thread is not interrupted by the timeout: it returns late,
        // and whatever it returned, it failed its timeout.
        let ran = started.elapsed();
        if returned && ran > timeout {
            outcome = Outcome::Failure {
                failure: JobFailure::new(
                    TIMEOUT_ERROR,
                    format!(
                        "job {id} exceeded timeout {:.1}s (ran {:.1}s; the job did not yield)",
                        timeout.as_secs_f64(),
                        ran.as_secs_f64()
                    ),
                ),
                timed_out: true,
                permanent: false,
            };
        }
        failpoint::hit("after_execute_before_finish");
        if let Some(h) = &self.settings.on_job_end {
            h(ctx.clone()).await;
        }
        let elapsed = (now_ms() - start) as f64 / 1000.0;
        match outcome {
            Outcome::Retry(defer) => {
                self.counters.retried.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    "asked to retry{} after {elapsed:.2}s",
                    defer.map(|d| format!(" in {d:?}")).unwrap_or_default()
                );
                let why = match defer {
                    Some(d) => crate::Retry::after(d).to_string(),
                    None => crate::Retry::now().to_string(),
                };
                self.retry(
                    &claimed,
                    job_try,
                    defer.map(duration_ms).unwrap_or(0),
                    Some(why),
                )
                .await;
            }
            Outcome::Snooze(delay) => {
                // A snooze past its limit fails the job for good.
                if let Some(failure) = self.snooze(&claimed, job_try, delay, &function).await {
                    tracing::warn!("failed: {failure}");
                    self.fail(&claimed, record, job_try, failure, start, &function)
                        .await;
                }
            }
            Outcome::LeaseLost => {
                tracing::warn!(
                    "job {id} cancelled after {elapsed:.2}s: this worker lost its lease, so \
                     another worker may run it; nothing was written"
                );
            }
            Outcome::Cancelled => {
                tracing::info!(
                    "cancelled by shutdown after {elapsed:.2}s; handed back to the queue (this \
                     try is not counted)"
                );
                self.release(&claimed).await;
            }
            Outcome::Success(value) => {
                self.counters.complete.fetch_add(1, Ordering::Relaxed);
                tracing::info!("succeeded in {elapsed:.2}s: {}", short(&value));
                let r = self.result_record(&claimed, Some(record), job_try, true, value, start);
                self.finish(&claimed, r, Some(&function), End::Completed)
                    .await;
            }
            Outcome::Failure { failure, .. } if failure.is_aborted() => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                let value = self.pool.codec().failure_value(&failure);
                let mut r =
                    self.result_record(&claimed, Some(record), job_try, false, value, start);
                tracing::info!("aborted while running, after {elapsed:.2}s");
                // A run lasts at least 1 ms, so `ft > st` tells it from an abort before the
                // start.
                r.finish_ms = r.finish_ms.max(r.start_ms + 1);
                self.finish(&claimed, r, Some(&function), End::Aborted)
                    .await;
            }
            Outcome::Failure {
                failure,
                timed_out,
                permanent,
            } => {
                let retry_in = (!permanent)
                    .then(|| self.policy_retry(&function, job_try, &failure, timed_out))
                    .flatten();
                match retry_in {
                    Some(delay) => {
                        self.counters.retried.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            "failed in {elapsed:.2}s: {failure}; retrying in {delay:?} (retry \
                             policy, attempt {job_try} of {})",
                            self.max_tries_of(Some(&function))
                        );
                        self.retry(
                            &claimed,
                            job_try,
                            duration_ms(delay).max(1),
                            Some(failure.to_text()),
                        )
                        .await;
                    }
                    None => {
                        tracing::warn!("failed in {elapsed:.2}s: {failure}");
                        self.fail(&claimed, record, job_try, failure, start, &function)
                            .await;
                    }
                }
            }
        }
        if let Some(h) = &self.settings.after_job_end {
            h(ctx).await;
        }
    }
}

impl JobRunner {
    /// Stores a final failure of a run that started at `start`.
    async fn fail(
        &self,
        claimed: &ClaimedJob,
        record: JobRecord,
        job_try: i64,
        failure: JobFailure,
        start: i64,
        function: &Function,
    ) {
        self.counters.failed.fetch_add(1, Ordering::Relaxed);
        let value = self.pool.codec().failure_value(&failure);
        let r = self.result_record(claimed, Some(record), job_try, false, value, start);
        self.finish(claimed, r, Some(function), End::Failed).await;
    }

    /// When the job's (or the worker's) retry policy runs this failure again, and tries are
    /// left: the delay.
    fn policy_retry(
        &self,
        function: &Function,
        job_try: i64,
        failure: &JobFailure,
        timed_out: bool,
    ) -> Option<Duration> {
        let policy = function.options.retry.or(self.settings.retry_policy)?;
        let max_tries = i64::from(self.max_tries_of(Some(function)));
        if job_try >= max_tries || !policy.retries(failure, timed_out) {
            return None;
        }
        Some(policy.delay(u32::try_from(job_try.max(1)).unwrap_or(u32::MAX)))
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        let cut: String = s.chars().take(77).collect();
        format!("{cut}...")
    } else {
        s
    }
}

/// Turns a panic inside a job future into an error text instead of a dead task (the worker's
/// and `testing::run`'s).
pub(crate) struct CatchUnwind<F>(pub(crate) F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(&mut *inner).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => {
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "job panicked".to_owned());
                Poll::Ready(Err(msg))
            }
        }
    }
}
