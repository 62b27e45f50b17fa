//! The claim step: takes up to the free slots' worth of due jobs in one backend call, checks
//! each one ([`JobRunner::plan`]) and starts it as its own task (execute, then finish, retry
//! or release).

use super::execute::{JobRunner, Plan};
use super::heartbeat::{Held, HeldJobs};
use super::{ClaimTurn, Running};
use crate::backend::{ClaimRequest, ClaimedJob, RECOVERY_ALONE_FROM_TRY};
use crate::failpoint;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

impl Running {
    /// Claim: waits briefly for slots under a backlog, then claims due jobs and starts them.
    pub(super) async fn claim(&mut self) -> ClaimTurn {
        self.gather_slots().await;
        let began = Instant::now();
        let started = self.counters.started.load(Ordering::Relaxed) as usize;
        let burst_left = self
            .settings
            .max_burst_jobs
            .filter(|_| self.settings.burst)
            .map(|m| m.saturating_sub(started));
        let idle = self.semaphore.available_permits() == self.settings.max_jobs;
        // A recovery (a job whose last worker died) runs alone: while one runs, or while one
        // waits for this worker to be idle, claim nothing else.
        let quarantine = self.recovery_running.load(Ordering::Relaxed) || self.recovery_waiting;
        let free = if quarantine && !idle {
            0
        } else {
            self.semaphore
                .available_permits()
                .min(burst_left.unwrap_or(usize::MAX))
        };
        // With every slot busy, or the claim filling every free slot, more work is likely
        // waiting: poll again as soon as a slot frees instead of after poll_delay.
        let mut backlog = free == 0;
        if free > 0 {
            self.claim_seq += 1;
            let req = ClaimRequest {
                queue: self.queue.clone(),
                limit: free,
                scan_limit: self.settings.read_limit(),
                token_prefix: self.worker_id.clone(),
                seq: self.claim_seq,
                lease_ms: crate::time::duration_ms(self.settings.lease),
                check_abort: self.settings.allow_abort_jobs,
                idle,
                alone_from_try: RECOVERY_ALONE_FROM_TRY,
                events: self.pool.events_max_len(),
            };
            let sent = Instant::now();
            match self.pool.backend().claim(&req).await {
                Ok(claimed) => {
                    failpoint::hit("after_claim");
                    self.error_backoff = Duration::ZERO;
                    self.recovery_waiting = claimed.recovery_waiting;
                    backlog = claimed.jobs.len() == free || self.recovery_waiting;
                    for job in claimed.jobs {
                        self.start_job(job, sent);
                    }
                }
                Err(e) => {
                    self.error_backoff = (self.error_backoff * 2)
                        .max(self.settings.poll_delay)
                        .min(Duration::from_secs(5));
                    tracing::error!(
                        queue = %self.queue,
                        "claiming jobs failed, retrying in {:?}: {e}",
                        self.error_backoff
                    );
                }
            }
        }
        ClaimTurn { backlog, began }
    }

    /// Under a backlog, claims in batches: when a slot frees, gives the jobs finishing with
    /// it a moment (at most 1 ms) to free theirs, until half the slots are free.
    async fn gather_slots(&self) {
        if !self.last_backlog {
            return;
        }
        let half = (self.settings.max_jobs / 2).max(1);
        let deadline = tokio::time::Instant::now() + Duration::from_millis(1);
        while self.semaphore.available_permits() < half && !self.tracker.is_empty() {
            tokio::select! {
                _ = self.slot_freed.notified() => {}
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
    }

    /// Starts one claimed job as its own task, holding a slot; a job that will run is
    /// registered for the heartbeat and for abort requests until it ends.
    fn start_job(&self, job: ClaimedJob, claim_sent: Instant) {
        self.counters.started.fetch_add(1, Ordering::Relaxed);
        let alone = job.alone.then(|| {
            self.recovery_running.store(true, Ordering::Relaxed);
            self.recovery_running.clone()
        });
        let plan = self.runner.plan(job);
        let permit = self
            .semaphore
            .clone()
            .try_acquire_owned()
            .expect("claimed no more jobs than free slots");
        let registered = match &plan {
            Plan::Run(run) => {
                let id = run.claimed.job_id.clone();
                self.held.lock().unwrap().insert(
                    id.clone(),
                    Held {
                        token: run.claimed.token.clone(),
                        enqueue_ms: run.record.enqueue_time_ms,
                        abort: run.abort.clone(),
                        lease_lost: run.lease_lost.clone(),
                        renewed_at: claim_sent,
                        started: Instant::now(),
                        timeout: run.timeout,
                        overrun_warned: false,
                    },
                );
                Some((id, self.held.clone()))
            }
            Plan::Fail(_) | Plan::PutBack(_) => None,
        };
        let runner: Arc<JobRunner> = self.runner.clone();
        let slot_freed = self.slot_freed.clone();
        // Whatever ends the task, a panic outside the job's own code included (a hook, a
        // bug here), the job stops being held: the heartbeat no longer renews its lease, so
        // it lapses and the job is recovered as a try, instead of being held forever.
        let done = JobDone {
            registered,
            alone,
            permit: Some(permit),
            slot_freed,
        };
        self.tracker.spawn(async move {
            let _done = done;
            runner.execute(plan).await;
        });
    }
}

/// What a job's task gives back when it ends, normally or by a panic.
struct JobDone {
    registered: Option<(String, HeldJobs)>,
    alone: Option<Arc<AtomicBool>>,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    slot_freed: Arc<tokio::sync::Notify>,
}

impl Drop for JobDone {
    fn drop(&mut self) {
        if std::thread::panicking() {
            tracing::error!(
                job_id = self
                    .registered
                    .as_ref()
                    .map(|(id, _)| id.as_str())
                    .unwrap_or(""),
                "a job's task panicked outside the job (in a hook or the worker); its lease \
                 will lapse and the job run again"
            );
        }
        if let Some((id, held)) = self.registered.take() {
            // A poisoned lock (a panic while it was held) still gives the job up.
            let mut held = held.lock().unwrap_or_else(|p| p.into_inner());
            held.remove(&id);
        }
        if let Some(flag) = self.alone.take() {
            flag.store(false, Ordering::Relaxed);
        }
        drop(self.permit.take());
        self.slot_freed.notify_one();
    }
}
