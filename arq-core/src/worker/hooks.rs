//! Failure hooks: `on_job_failed` and `on_tries_exhausted`, the worker's and each job's.
//!
//! A final failure's finish step also leaves a pending hook in the backend, leased to the
//! worker that stored the outcome ([`FinalFailure::hook_lease_ms`](crate::backend::FinalFailure)).
//! That worker runs the hooks at once and removes the entry (hook done); if it dies first,
//! the lease runs out and another worker of the queue takes the entry (hooks claim) and runs
//! them. Since the entry exists only when the fenced finish was written, two workers racing
//! over one job never both run its hooks.

use super::execute::JobRunner;
use super::CatchUnwind;
use crate::codec::HintFor;
use crate::time::duration_ms;
use crate::wire::decode_result;
use crate::{Ctx, Function, JobFailure, ResultRecord};

/// A job that failed for good, as failure hooks see it.
#[derive(Debug, Clone)]
pub struct FailedJob {
    ctx: Ctx,
    failure: JobFailure,
    result: ResultRecord,
    tries_exhausted: bool,
}

impl FailedJob {
    /// A failed job (the worker builds these; tests of hooks may too).
    pub fn new(ctx: Ctx, failure: JobFailure, result: ResultRecord, tries_exhausted: bool) -> Self {
        FailedJob {
            ctx,
            failure,
            result,
            tries_exhausted,
        }
    }

    /// The job's context: id, try, queue, function, the worker's pool and shared state.
    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    /// The job id.
    pub fn job_id(&self) -> &str {
        self.ctx.job_id()
    }

    /// The function name.
    pub fn function(&self) -> &str {
        self.ctx.function_name()
    }

    /// The try it failed on.
    pub fn job_try(&self) -> u32 {
        self.ctx.job_try()
    }

    /// The final error.
    pub fn failure(&self) -> &JobFailure {
        &self.failure
    }

    /// The failure's result record (arguments, times), as stored.
    pub fn result(&self) -> &ResultRecord {
        &self.result
    }

    /// It failed on its last allowed try (`job_try >= max_tries`).
    pub fn tries_exhausted(&self) -> bool {
        self.tries_exhausted
    }
}

impl JobRunner {
    /// Whether any failure hook applies to a job of `f`.
    pub(super) fn has_hooks(&self, f: Option<&Function>) -> bool {
        self.settings.on_job_failed.is_some()
            || self.settings.on_tries_exhausted.is_some()
            || f.is_some_and(|f| {
                f.options.on_failed.is_some() || f.options.on_tries_exhausted.is_some()
            })
    }

    /// The pending hook's lease, ms.
    pub(super) fn hook_lease_ms(&self) -> i64 {
        duration_ms(self.settings.hook_lease())
    }

    /// The `max_tries` of a job of `f`.
    pub(super) fn max_tries_of(&self, f: Option<&Function>) -> u32 {
        f.and_then(|f| f.options.max_tries)
            .unwrap_or(self.settings.max_tries)
    }

    /// Runs the hooks of a final failure (each under `hook_timeout`, a panic logged), then
    /// removes its pending entry.
    pub(super) async fn run_hooks(&self, record: ResultRecord, f: Option<&Function>) {
        let job_id = record.job_id.clone();
        let failure = record
            .failure()
            .unwrap_or_else(|| JobFailure::new("Error", ""));
        let job_try = u32::try_from(record.job_try.max(0)).unwrap_or(u32::MAX);
        let exhausted = job_try >= self.max_tries_of(f);
        let ctx = Ctx::new(
            record.job_id.clone(),
            job_try,
            record.enqueue_time_ms,
            record.start_ms,
            self.queue.clone(),
            record.function.clone(),
            self.pool.clone(),
            self.state.clone(),
        );
        let job = FailedJob::new(ctx, failure, record, exhausted);
        let mut hooks = Vec::new();
        if let Some(h) = &self.settings.on_job_failed {
            hooks.push(("on_job_failed", h(job.clone())));
        }
        if let Some(h) = f.and_then(|f| f.options.on_failed) {
            hooks.push(("on_failed", (h.0)(job.clone())));
        }
        if exhausted {
            if let Some(h) = &self.settings.on_tries_exhausted {
                hooks.push(("on_tries_exhausted", h(job.clone())));
            }
            if let Some(h) = f.and_then(|f| f.options.on_tries_exhausted) {
                hooks.push(("on_tries_exhausted", (h.0)(job.clone())));
            }
        }
        for (name, fut) in hooks {
            match tokio::time::timeout(self.settings.hook_timeout, CatchUnwind(fut)).await {
                Ok(Ok(())) => {}
                Ok(Err(panic)) => {
                    tracing::error!(job_id = %job_id, "{name} hook panicked: {panic}")
                }
                Err(_) => tracing::error!(
                    job_id = %job_id,
                    "{name} hook timed out after {:?} (hook_timeout)",
                    self.settings.hook_timeout
                ),
            }
        }
        if let Err(e) = self.pool.backend().hook_done(&self.queue, &job_id).await {
            tracing::warn!(
                job_id = %job_id,
                "could not mark the failure hooks of job {job_id} done ({e}); they may run again"
            );
        }
    }

    /// Hooks claim: runs the pending hooks of this queue whose worker died before running
    /// them. Returns how many it ran.
    pub(super) async fn recover_hooks(&self) -> usize {
        let pending = match self
            .pool
            .backend()
            .hooks_claim(&self.queue, 16, self.hook_lease_ms())
            .await
        {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("reading pending failure hooks failed: {e}");
                return 0;
            }
        };
        let n = pending.len();
        for hook in pending {
            match decode_result(self.pool.codec(), &hook.record, HintFor::Worker) {
                Ok(record) => {
                    tracing::info!(
                        job_id = %hook.job_id,
                        "running the failure hooks of job {} (the worker that failed it did not)",
                        hook.job_id
                    );
                    let f = self.functions.get(record.function.as_str()).copied();
                    self.run_hooks(record, f.as_ref()).await;
                }
                Err(e) => {
                    tracing::error!(
                        job_id = %hook.job_id,
                        "dropping the failure hooks of job {}: its record could not be decoded: {}",
                        hook.job_id,
                        e.message
                    );
                    let _ = self
                        .pool
                        .backend()
                        .hook_done(&self.queue, &hook.job_id)
                        .await;
                }
            }
        }
        n
    }
}
