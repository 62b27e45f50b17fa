//! The steps that end a run: finish (store the outcome and remove the job), retry (put it back
//! for another try) and release (hand it back at shutdown). Each is fenced by the token the
//! claim wrote.
//!
//! Finishes are batched: jobs hand their outcomes to one task, which stores whatever has piled
//! up in one backend step ([`Backend::finish`](crate::Backend::finish)). Under load many jobs
//! share a round trip; an idle worker's single job goes out at once.

use super::execute::JobRunner;
use crate::backend::{
    ClaimedJob, FinalFailure, FinishOutcome, FinishRequest, ReleaseRequest, RetryRequest,
    SnoozeOutcome, SnoozeRequest, FREE_RELEASES,
};
use crate::time::duration_ms;
use crate::{
    failpoint, now_ms, Error, Function, JobFailure, JobRecord, Pool, Result, ResultRecord, Value,
};
use std::future::Future;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// At most this many outcomes per backend step.
const MAX_BATCH: usize = 256;

type Reply = oneshot::Sender<std::result::Result<bool, String>>;

/// The sending side; the task ends when every clone is dropped.
#[derive(Clone)]
pub(crate) struct Finisher {
    tx: mpsc::UnboundedSender<(FinishRequest, Reply)>,
}

impl Finisher {
    /// Starts the batching task on the current runtime.
    pub(crate) fn spawn(pool: Pool) -> (Finisher, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<(FinishRequest, Reply)>();
        let task = tokio::spawn(async move {
            let mut reqs = Vec::new();
            let mut replies = Vec::new();
            while let Some((req, reply)) = rx.recv().await {
                reqs.push(req);
                replies.push(reply);
                while reqs.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok((req, reply)) => {
                            reqs.push(req);
                            replies.push(reply);
                        }
                        Err(_) => break,
                    }
                }
                let outcome = pool.backend().finish(&reqs).await;
                for (i, reply) in replies.drain(..).enumerate() {
                    let _ = reply.send(match &outcome {
                        Ok(flags) => Ok(flags.get(i).copied().unwrap_or(false)),
                        Err(e) => Err(e.to_string()),
                    });
                }
                reqs.clear();
            }
        });
        (Finisher { tx }, task)
    }

    /// Stores one job's outcome (batched with others waiting); `Ok(false)` when fenced out.
    pub(crate) async fn send(&self, req: FinishRequest) -> Result<bool> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send((req, tx))
            .map_err(|_| Error::backend("the worker's finisher has stopped"))?;
        rx.await
            .map_err(|_| Error::backend("the worker's finisher has stopped"))?
            .map_err(Error::backend)
    }
}

/// How a finished run ended, for [`JobRunner::finish`].
pub(super) enum End {
    Completed,
    Aborted,
    /// Failed for good: it may leave a dead letter and run failure hooks.
    Failed,
}

impl JobRunner {
    /// Finish: stores a result (unless results are not kept) and removes the job; a final
    /// failure also leaves its dead letter and pending hook in the same step, and then runs
    /// its hooks.
    pub(super) async fn finish(
        &self,
        claimed: &ClaimedJob,
        mut record: ResultRecord,
        f: Option<&Function>,
        end: End,
    ) {
        let keep = self.keep_result_ms(f);
        let payload = match keep {
            None => None,
            Some(_) => match self.pool.codec().encode(&record.to_value()) {
                Ok(b) if b.len() > self.settings.max_result_bytes => {
                    tracing::warn!(
                        "result of job {} too large: {} bytes; limit is {}",
                        claimed.job_id,
                        b.len(),
                        self.settings.max_result_bytes
                    );
                    record.success = false;
                    record.result = self.pool.codec().failure_value(&JobFailure::new(
                        "SerializationError",
                        format!(
                            "result too large: {} bytes; limit is {} (max_result_bytes)",
                            b.len(),
                            self.settings.max_result_bytes
                        ),
                    ));
                    self.pool.codec().encode(&record.to_value()).ok()
                }
                Ok(b) => Some(b),
                Err(e) => {
                    // As Python arq does: store a failure saying the result could not be
                    // serialized rather than losing the outcome.
                    tracing::warn!("result could not be encoded: {e}");
                    record.success = false;
                    record.result = self.pool.codec().failure_value(&JobFailure::new(
                        "SerializationError",
                        format!("unable to serialize result: {e}"),
                    ));
                    self.pool.codec().encode(&record.to_value()).ok()
                }
            },
        };
        let events = self.pool.events_max_len();
        let outcome = match end {
            End::Completed => FinishOutcome::Completed,
            End::Aborted => FinishOutcome::Aborted,
            End::Failed => FinishOutcome::Failed,
        };
        let error = match (events, record.success) {
            (Some(_), false) => record.failure().map(|f| f.to_text()),
            _ => None,
        };
        let failure = match end {
            End::Failed => self.final_failure(claimed, &record, payload.as_deref(), f),
            _ => None,
        };
        let hooks = failure.as_ref().is_some_and(|x| x.hook_lease_ms.is_some());
        let req = FinishRequest {
            queue: self.queue.clone(),
            job_id: claimed.job_id.clone(),
            token: claimed.token.clone(),
            result: payload,
            keep_result_ms: keep.flatten(),
            keep_in_progress_ms: crate::cron::keep_in_progress_ms(f),
            outcome,
            job_try: record.job_try,
            failure,
            events,
            error,
        };
        let written = self
            .with_retries("finish", &claimed.job_id, || async {
                self.finisher.send(req.clone()).await
            })
            .await;
        if written && hooks {
            failpoint::hit("after_finish_before_hooks");
            self.run_hooks(record, f).await;
        }
    }

    /// What a final failure leaves besides its result: a dead letter (when on for the job and
    /// the job record was read) and a pending hook (when a hook applies).
    fn final_failure(
        &self,
        claimed: &ClaimedJob,
        record: &ResultRecord,
        stored: Option<&[u8]>,
        f: Option<&Function>,
    ) -> Option<FinalFailure> {
        let dead = self
            .dead_letters
            .filter(|_| claimed.payload.is_some())
            .filter(|_| f.and_then(|f| f.options.dead_letter).unwrap_or(true));
        let hook_lease_ms = self.has_hooks(f).then(|| self.hook_lease_ms());
        if dead.is_none() && hook_lease_ms.is_none() {
            return None;
        }
        let encoded = match stored {
            Some(b) => b.to_vec(),
            None => match self.pool.codec().encode(&record.to_value()) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(
                        "the failure record of job {} could not be encoded ({e}): no dead                          letter or hooks",
                        claimed.job_id
                    );
                    return None;
                }
            },
        };
        Some(FinalFailure {
            job: claimed.payload.clone(),
            record: encoded,
            dead,
            hook_lease_ms,
        })
    }

    /// Retry: puts a held job back for another try, due `defer_ms` from now (0: as it is).
    /// `why` is the error text for the `retried` event.
    pub(super) async fn retry(
        &self,
        claimed: &ClaimedJob,
        job_try: i64,
        defer_ms: i64,
        why: Option<String>,
    ) {
        let events = self.pool.events_max_len();
        let req = RetryRequest {
            queue: self.queue.clone(),
            job_id: claimed.job_id.clone(),
            token: claimed.token.clone(),
            defer_ms,
            job_try,
            events,
            error: why.filter(|_| events.is_some()),
        };
        self.with_retries("retry", &claimed.job_id, || async {
            self.pool.backend().retry(&req).await
        })
        .await;
    }

    /// Snooze: puts a held job back for later without spending its try. Returns the
    /// failure to store instead when the job may not snooze again (or the backend can't).
    pub(super) async fn snooze(
        &self,
        claimed: &ClaimedJob,
        job_try: i64,
        delay: Duration,
        f: &Function,
    ) -> Option<JobFailure> {
        let max = f.options.max_snoozes.unwrap_or(self.settings.max_snoozes);
        let req = SnoozeRequest {
            queue: self.queue.clone(),
            job_id: claimed.job_id.clone(),
            token: claimed.token.clone(),
            defer_ms: duration_ms(delay).max(1),
            max_snoozes: max,
            job_try,
            events: self.pool.events_max_len(),
        };
        let mut wait = Duration::from_millis(50);
        for attempt in 1..=5 {
            match self.pool.backend().snooze(&req).await {
                Ok(SnoozeOutcome::Snoozed(n)) => {
                    tracing::info!(
                        "snoozed for {delay:?} ({n} of {max} snoozes; the try is not counted)"
                    );
                    return None;
                }
                Ok(SnoozeOutcome::LimitReached(n)) => {
                    return Some(JobFailure::new(
                        crate::error::JOB_EXECUTION_FAILED,
                        format!("snoozed {n} times, the limit (max_snoozes = {max})"),
                    ))
                }
                Ok(SnoozeOutcome::Fenced) => {
                    tracing::warn!(
                        "lease for job {} lost (it lapsed, or another worker took the job                          over): snooze refused",
                        claimed.job_id
                    );
                    return None;
                }
                Err(Error::Unsupported { backend, what }) => {
                    return Some(JobFailure::new(
                        crate::error::JOB_EXECUTION_FAILED,
                        format!("the job asked to snooze, but the {backend} backend lacks {what}"),
                    ))
                }
                Err(e) if attempt < 5 => {
                    tracing::warn!("snooze failed (attempt {attempt}), retrying: {e}");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                Err(e) => {
                    tracing::error!(
                        "snooze failed, giving up; the job will run again when its lease                          expires: {e}"
                    );
                }
            }
        }
        None
    }

    /// Release: hands a held job back at shutdown, giving its try back (the first
    /// [`FREE_RELEASES`] times).
    pub(super) async fn release(&self, claimed: &ClaimedJob) {
        let req = ReleaseRequest {
            job_id: claimed.job_id.clone(),
            token: claimed.token.clone(),
            free_releases: FREE_RELEASES,
        };
        self.with_retries("release", &claimed.job_id, || async {
            self.pool.backend().release(&req).await
        })
        .await;
    }

    /// The result record of a run that started at `start_ms`.
    pub(super) fn result_record(
        &self,
        claimed: &ClaimedJob,
        record: Option<JobRecord>,
        job_try: i64,
        success: bool,
        result: Value,
        start_ms: i64,
    ) -> ResultRecord {
        let (function, args, kwargs, et) = match record {
            Some(r) => (r.function, r.args, r.kwargs, r.enqueue_time_ms),
            None => ("<unknown>".to_owned(), Vec::new(), Vec::new(), 0),
        };
        ResultRecord {
            job_try,
            function,
            args,
            kwargs,
            enqueue_time_ms: et,
            success,
            result,
            start_ms,
            finish_ms: now_ms(),
            queue: self.queue.clone(),
            job_id: claimed.job_id.clone(),
        }
    }

    /// How long to keep a result: outer `None` stores none, inner `None` keeps it forever.
    fn keep_result_ms(&self, f: Option<&Function>) -> Option<Option<i64>> {
        // Outer None: store no result. Inner None: keep forever.
        let forever = f
            .and_then(|f| f.options.keep_result_forever)
            .unwrap_or(self.settings.keep_result_forever);
        if forever {
            return Some(None);
        }
        let keep = f
            .and_then(|f| f.options.keep_result)
            .unwrap_or(self.settings.keep_result);
        if keep.is_zero() {
            None
        } else {
            Some(Some(duration_ms(keep)))
        }
    }

    /// Runs an idempotent, fenced backend step, retrying transient errors a few times.
    /// Returns whether it was written.
    async fn with_retries<F, Fut>(&self, step: &str, job_id: &str, f: F) -> bool
    where
        F: Fn() -> Fut,
        Fut: Future<Output = crate::Result<bool>>,
    {
        let mut delay = Duration::from_millis(50);
        for attempt in 1..=5 {
            match f().await {
                Ok(true) => return true,
                Ok(false) => {
                    tracing::warn!(
                        job_id,
                        "lease for job {job_id} lost (it lapsed, or another worker took the job \
                         over): {step} refused, result discarded"
                    );
                    return false;
                }
                Err(e) if attempt < 5 => {
                    tracing::warn!(job_id, "{step} failed (attempt {attempt}), retrying: {e}");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(e) => {
                    tracing::error!(
                        job_id,
                        "{step} failed, giving up; the job will run again when its lease \
                         expires: {e}"
                    );
                }
            }
        }
        false
    }
}
