//! The steps that end a run: finish (store the outcome and remove the job), retry (put it back
//! for another try) and release (hand it back at shutdown). Each is fenced by the token the
//! claim wrote.
//!
//! Finishes are batched: jobs hand their outcomes to one task, which stores whatever has piled
//! up in one backend step ([`Backend::finish`](crate::Backend::finish)). Under load many jobs
//! share a round trip; an idle worker's single job goes out at once.

use super::execute::JobRunner;
use crate::backend::{ClaimedJob, FinishRequest, ReleaseRequest, RetryRequest, FREE_RELEASES};
use crate::time::duration_ms;
use crate::{now_ms, Error, Function, JobFailure, JobRecord, Pool, Result, ResultRecord, Value};
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

impl JobRunner {
    /// Finish: stores a result (unless results are not kept) and removes the job.
    pub(super) async fn finish(
        &self,
        claimed: &ClaimedJob,
        mut record: ResultRecord,
        f: Option<&Function>,
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
        let req = FinishRequest {
            queue: self.queue.clone(),
            job_id: claimed.job_id.clone(),
            token: claimed.token.clone(),
            result: payload,
            keep_result_ms: keep.flatten(),
            keep_in_progress_ms: crate::cron::keep_in_progress_ms(f),
            outcome: crate::backend::FinishOutcome::Completed,
            job_try: record.job_try,
            failure: None,
            events: None,
            error: None,
        };
        self.with_retries("finish", &claimed.job_id, || async {
            self.finisher.send(req.clone()).await
        })
        .await;
    }

    /// Retry: puts a held job back for another try, due `defer_ms` from now (0: as it is).
    pub(super) async fn retry(&self, claimed: &ClaimedJob, defer_ms: i64) {
        let req = RetryRequest {
            queue: self.queue.clone(),
            job_id: claimed.job_id.clone(),
            token: claimed.token.clone(),
            defer_ms,
            job_try: claimed.job_try,
            events: None,
            error: None,
        };
        self.with_retries("retry", &claimed.job_id, || async {
            self.pool.backend().retry(&req).await
        })
        .await;
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
    async fn with_retries<F, Fut>(&self, step: &str, job_id: &str, f: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = crate::Result<bool>>,
    {
        let mut delay = Duration::from_millis(50);
        for attempt in 1..=5 {
            match f().await {
                Ok(true) => return,
                Ok(false) => {
                    tracing::warn!(
                        job_id,
                        "lease for job {job_id} lost (it lapsed, or another worker took the job \
                         over): {step} refused, result discarded"
                    );
                    return;
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
    }
}
