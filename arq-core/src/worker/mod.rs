//! The worker: polls a queue, claims due jobs in batches, runs them under their timeouts and
//! stores their outcomes.
//!
//! One poll loop claims up to the free slots of a `max_jobs` semaphore in one backend step;
//! each claimed job runs as its own task. Outcomes are written by the job's task, fenced by the
//! token the claim wrote, so a worker that lost a job can never overwrite its successor.

mod execute;
mod finisher;
mod heartbeat;
mod settings;

pub use settings::WorkerSettings;

use crate::backend::{ClaimRequest, HealthRecord, Watch, RECOVERY_ALONE_FROM_TRY};
use crate::{failpoint, Error, Function, Pool, Result, State};
use execute::{JobRunner, Prepared};
use heartbeat::{Held, HeldJobs};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Counters of one worker's lifetime (what the health record reports).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) complete: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) started: AtomicU64,
}

/// What a worker did, returned when it stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WorkerStats {
    /// Jobs that succeeded.
    pub complete: u64,
    /// Jobs that failed for good (including failures before they ran).
    pub failed: u64,
    /// Runs that asked to be retried.
    pub retried: u64,
    /// Jobs claimed and started.
    pub started: u64,
}

/// A cloneable handle that stops a running worker, as SIGTERM would.
#[derive(Debug, Clone)]
pub struct ShutdownHandle(CancellationToken);

impl ShutdownHandle {
    /// Asks the worker to stop: it claims nothing more, waits `job_completion_wait` for
    /// running jobs, then cancels them (they go back to the queue).
    pub fn shutdown(&self) {
        self.0.cancel();
    }
}

/// A job worker (Python arq's `Worker`).
///
/// ```no_run
/// # async fn demo(pool: arq_core::Pool) -> arq_core::Result<()> {
/// let worker = arq_core::Worker::new(pool, arq_core::WorkerSettings::new().burst(true))?;
/// let stats = worker.run().await?;
/// println!("{} jobs complete", stats.complete);
/// # Ok(()) }
/// ```
pub struct Worker {
    pool: Pool,
    settings: WorkerSettings,
    functions: Arc<HashMap<&'static str, Function>>,
    queue: String,
    stop: CancellationToken,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("queue", &self.queue)
            .field("functions", &self.functions.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker on `pool` with `settings`. Fails when two functions share a name. With
    /// [`WorkerSettings::codec`], the worker uses that codec instead of the pool's.
    pub fn new(pool: Pool, settings: WorkerSettings) -> Result<Self> {
        let pool = match &settings.codec {
            Some(codec) => pool.with_codec_arc(codec.clone()),
            None => pool,
        };
        let list: Vec<Function> = match &settings.functions {
            Some(fs) => fs.clone(),
            None => Function::registered().copied().collect(),
        };
        let list = crate::cron::with_cron_functions(list, &settings)?;
        let mut functions = HashMap::new();
        for f in list {
            if functions.insert(f.name, f).is_some() {
                return Err(Error::Config(format!(
                    "two job functions are registered under the name {:?}; give one of them \
                     another name with #[arq::job(name = \"...\")]",
                    f.name
                )));
            }
        }
        let queue = settings
            .queue_name
            .clone()
            .unwrap_or_else(|| pool.default_queue_name().to_owned());
        Ok(Worker {
            pool,
            settings,
            functions: Arc::new(functions),
            queue,
            stop: CancellationToken::new(),
        })
    }

    /// The queue this worker serves.
    pub fn queue_name(&self) -> &str {
        &self.queue
    }

    /// Names of the functions this worker runs, sorted.
    pub fn function_names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.functions.keys().copied().collect();
        names.sort_unstable();
        names
    }

    /// A handle that stops the worker from another task.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.stop.clone())
    }

    /// Runs until shut down (signal or [`ShutdownHandle`]), or in burst mode until the queue
    /// is empty. Backend errors while polling are logged and retried; they never stop it.
    pub async fn run(self) -> Result<WorkerStats> {
        let Worker {
            pool,
            settings,
            functions,
            queue,
            stop,
        } = self;
        let hard_cancel = CancellationToken::new();
        let signal_name: Arc<Mutex<Option<&'static str>>> = Arc::default();
        if settings.handle_signals {
            spawn_signal_listener(stop.clone(), hard_cancel.clone(), signal_name.clone());
        }
        match pool.backend().describe().await {
            Ok(d) => tracing::info!(queue = %queue, "worker starting: {d}"),
            Err(e) => {
                tracing::warn!(queue = %queue, "worker starting; server info unavailable: {e}")
            }
        }
        match pool.backend().config_warnings().await {
            Ok(warnings) => {
                for w in warnings {
                    tracing::warn!(queue = %queue, "{w}");
                }
            }
            Err(e) => tracing::warn!("could not check the redis configuration: {e}"),
        }
        let mut state = State::with_pool(pool.clone());
        if let Some(h) = &settings.on_startup {
            state = h(state)
                .await
                .map_err(|e| Error::Config(format!("on_startup failed: {e}")))?;
        }
        let state = Arc::new(state);
        let counters = Arc::new(Counters::default());
        let (finisher, finisher_task) = finisher::Finisher::spawn(pool.clone());
        let runner = Arc::new(JobRunner {
            pool: pool.clone(),
            queue: queue.clone(),
            functions: functions.clone(),
            settings: settings.clone(),
            state: state.clone(),
            counters: counters.clone(),
            cancel: hard_cancel.clone(),
            finisher,
        });
        let semaphore = Arc::new(Semaphore::new(settings.max_jobs));
        // Jobs held here: what the heartbeat renews and abort requests cancel.
        let held: HeldJobs = Arc::default();
        let heartbeat_stop = CancellationToken::new();
        let heartbeat = heartbeat::spawn(
            pool.clone(),
            held.clone(),
            settings.lease,
            settings.heartbeat_interval(),
            heartbeat_stop.clone(),
        )
        .map_err(|e| Error::Config(format!("could not start the heartbeat thread: {e}")))?;
        let slot_freed = Arc::new(Notify::new());
        // Push wake-ups: an enqueue by this crate's client wakes an idle worker at once; jobs
        // from Python clients and deferred jobs are found by polling.
        let enqueued = Arc::new(Notify::new());
        let watch_stop = CancellationToken::new();
        let wake = enqueued.clone();
        match pool
            .backend()
            .watch(
                &Watch::Enqueued(queue.clone()),
                Arc::new(move |_| wake.notify_one()),
                watch_stop.clone(),
            )
            .await
        {
            Ok(()) => tracing::debug!(queue = %queue, "push wake-ups on"),
            Err(e) => tracing::info!(
                queue = %queue,
                "no push wake-ups ({e}); polling every {:?}",
                settings.poll_delay
            ),
        }
        let tracker = TaskTracker::new();
        let token_prefix = uuid::Uuid::new_v4().simple().to_string()[..16].to_owned();
        let mut claim_seq: u64 = 0;
        let mut next_abort_check = Instant::now();
        let mut last_backlog = false;
        let recovery_running = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut recovery_waiting = false;
        let lease_ms = crate::time::duration_ms(settings.lease);
        let mut next_health = Instant::now();
        let mut cron = crate::cron::Scheduler::new(&settings, &queue)?;
        let mut error_backoff = Duration::ZERO;
        tracing::info!(
            queue = %queue,
            functions = ?{ let mut v: Vec<_> = functions.keys().collect(); v.sort(); v },
            "worker ready"
        );

        loop {
            if stop.is_cancelled() {
                break;
            }
            if Instant::now() >= next_health {
                let text =
                    health_text(&counters, settings.max_jobs - semaphore.available_permits());
                let ttl =
                    (settings.health_check_interval + Duration::from_secs(1)).as_millis() as i64;
                let record = HealthRecord {
                    queue: queue.clone(),
                    check_key: settings.health_check_key.clone(),
                    worker_id: token_prefix.clone(),
                    text,
                    ttl_ms: ttl,
                };
                match pool.backend().health(&record).await
                {
                    Ok(_) => next_health = Instant::now() + settings.health_check_interval,
                    Err(e) => tracing::warn!("writing the health check failed: {e}"),
                }
            }

            // Under a backlog, claim in batches: when a slot frees, give the jobs finishing
            // with it a moment (at most 1 ms) to free theirs, until half the slots are free.
            if last_backlog {
                let half = (settings.max_jobs / 2).max(1);
                let deadline = tokio::time::Instant::now() + Duration::from_millis(1);
                while semaphore.available_permits() < half && !tracker.is_empty() {
                    tokio::select! {
                        _ = slot_freed.notified() => {}
                        _ = tokio::time::sleep_until(deadline) => break,
                    }
                }
            }
            let iteration = Instant::now();
            let started = counters.started.load(Ordering::Relaxed) as usize;
            let burst_left = settings
                .max_burst_jobs
                .filter(|_| settings.burst)
                .map(|m| m.saturating_sub(started));
            let idle = semaphore.available_permits() == settings.max_jobs;
            // A recovery (a job whose last worker died) runs alone: while one runs, or while
            // one waits for this worker to be idle, claim nothing else.
            let quarantine = recovery_running.load(Ordering::Relaxed) || recovery_waiting;
            let free = if quarantine && !idle {
                0
            } else {
                semaphore
                    .available_permits()
                    .min(burst_left.unwrap_or(usize::MAX))
            };
            // With every slot busy, or the last claim filling every free slot, more work is
            // likely waiting: poll again as soon as a slot frees instead of after poll_delay.
            let mut backlog = free == 0;
            if free > 0 {
                let req = ClaimRequest {
                    queue: queue.clone(),
                    limit: free,
                    scan_limit: settings.read_limit(),
                    token_prefix: token_prefix.clone(),
                    seq: {
                        claim_seq += 1;
                        claim_seq
                    },
                    lease_ms,
                    check_abort: settings.allow_abort_jobs,
                    idle,
                    alone_from_try: RECOVERY_ALONE_FROM_TRY,
                };
                let claim_sent = Instant::now();
                match pool.backend().claim(&req).await {
                    Ok(claimed) => {
                        failpoint::hit("after_claim");
                        error_backoff = Duration::ZERO;
                        recovery_waiting = claimed.recovery_waiting;
                        backlog = claimed.jobs.len() == free || recovery_waiting;
                        for job in claimed.jobs {
                            counters.started.fetch_add(1, Ordering::Relaxed);
                            let recovery = job.alone.then(|| {
                                recovery_running.store(true, Ordering::Relaxed);
                                recovery_running.clone()
                            });
                            let prepared = runner.prepare(job);
                            let permit = semaphore
                                .clone()
                                .try_acquire_owned()
                                .expect("claimed no more jobs than free slots");
                            let runner = runner.clone();
                            let slot_freed = slot_freed.clone();
                            let registered = match &prepared {
                                Prepared::Run(run) => {
                                    let id = run.claimed.job_id.clone();
                                    held.lock().unwrap().insert(
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
                                    Some((id, held.clone()))
                                }
                                Prepared::Fail(_) | Prepared::PutBack(_) => None,
                            };
                            tracker.spawn(async move {
                                runner.execute(prepared).await;
                                if let Some((id, held)) = registered {
                                    held.lock().unwrap().remove(&id);
                                }
                                if let Some(flag) = recovery {
                                    flag.store(false, Ordering::Relaxed);
                                }
                                drop(permit);
                                slot_freed.notify_one();
                            });
                        }
                    }
                    Err(e) => {
                        error_backoff = (error_backoff * 2)
                            .max(settings.poll_delay)
                            .min(Duration::from_secs(5));
                        tracing::error!(queue = %queue, "claiming jobs failed, retrying in {error_backoff:?}: {e}");
                    }
                }
            }

            // Abort requests are looked for once per poll, however often the loop turns.
            if settings.allow_abort_jobs && Instant::now() >= next_abort_check {
                next_abort_check = Instant::now() + settings.poll_delay;
                check_aborts(&pool, &held).await;
            }

            cron.poll(&pool).await;

            let limit_hit = settings.burst
                && settings
                    .max_burst_jobs
                    .is_some_and(|m| counters.started.load(Ordering::Relaxed) as usize >= m);
            // The queue can only be empty when the last claim came back short.
            if settings.burst && (limit_hit || !backlog) {
                let empty = if limit_hit {
                    true
                } else {
                    match pool.backend().queue_size(&queue).await {
                        Ok(n) => n == 0,
                        Err(e) => {
                            tracing::warn!("reading the queue size failed: {e}");
                            false
                        }
                    }
                };
                if empty {
                    tracing::info!(queue = %queue, "burst: queue empty, waiting for running jobs");
                    break;
                }
            }

            last_backlog = backlog;
            let wait = if error_backoff > Duration::ZERO {
                error_backoff
            } else {
                settings.poll_delay.saturating_sub(iteration.elapsed())
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.cancelled() => {}
                _ = slot_freed.notified(), if backlog => {}
                _ = enqueued.notified() => {}
            }
        }

        // Shut down: claim nothing more, give running jobs their grace (a second signal ends
        // it), then cancel them; they are handed back to the queue without spending a try.
        tracker.close();
        if stop.is_cancelled() {
            let reason = signal_name
                .lock()
                .unwrap()
                .map_or_else(|| "request".to_owned(), str::to_owned);
            tracing::info!(
                queue = %queue,
                "shutdown on {reason} ◆ {} jobs complete ◆ {} failed ◆ {} retries ◆ {} ongoing \
                 to cancel{}",
                counters.complete.load(Ordering::Relaxed),
                counters.failed.load(Ordering::Relaxed),
                counters.retried.load(Ordering::Relaxed),
                tracker.len(),
                if settings.job_completion_wait.is_zero() || tracker.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (after waiting up to {:?} for them to finish)",
                        settings.job_completion_wait
                    )
                }
            );
        }
        if !settings.burst && !settings.job_completion_wait.is_zero() {
            tokio::select! {
                _ = tokio::time::timeout(settings.job_completion_wait, tracker.wait()) => {}
                _ = hard_cancel.cancelled() => {}
            }
        }
        if !settings.burst || stop.is_cancelled() {
            hard_cancel.cancel();
        }
        tracker.wait().await;
        hard_cancel.cancel(); // ends the signal listener
        watch_stop.cancel();
        heartbeat_stop.cancel();
        let _ = tokio::task::spawn_blocking(move || heartbeat.join()).await;
        if let Err(e) = pool
            .backend()
            .health_close(
                &queue,
                settings.health_check_key.as_deref(),
                &token_prefix,
            )
            .await
        {
            tracing::warn!("removing the health check failed: {e}");
        }
        drop(runner);
        let _ = finisher_task.await;
        if let Some(h) = &settings.on_shutdown {
            let state = Arc::try_unwrap(state).unwrap_or_else(|shared| (*shared).clone());
            h(state).await;
        }
        let stats = WorkerStats {
            complete: counters.complete.load(Ordering::Relaxed),
            failed: counters.failed.load(Ordering::Relaxed),
            retried: counters.retried.load(Ordering::Relaxed),
            started: counters.started.load(Ordering::Relaxed),
        };
        tracing::info!(queue = %queue, ?stats, "worker stopped");
        Ok(stats)
    }
}

/// Cancels running jobs whose abort was requested (one backend call for all of them).
async fn check_aborts(pool: &Pool, held: &HeldJobs) {
    let ids: Vec<String> = held.lock().unwrap().keys().cloned().collect();
    if ids.is_empty() {
        return;
    }
    match pool.backend().abort_requests(&ids).await {
        Ok(markers) => {
            let held = held.lock().unwrap();
            for (id, marker_ms) in markers {
                if let Some(h) = held.get(&id) {
                    if execute::marker_applies(marker_ms, h.enqueue_ms) && !h.abort.is_cancelled() {
                        tracing::info!(job_id = %id, "abort requested, cancelling the job");
                        h.abort.cancel();
                    }
                }
            }
        }
        Err(e) => tracing::warn!("checking abort requests failed: {e}"),
    }
}

/// Python arq's health record, without the trailing `queued=N` the backend adds.
fn health_text(c: &Counters, ongoing: usize) -> String {
    format!(
        "{} j_complete={} j_failed={} j_retried={} j_ongoing={}",
        chrono::Local::now().format("%b-%d %H:%M:%S"),
        c.complete.load(Ordering::Relaxed),
        c.failed.load(Ordering::Relaxed),
        c.retried.load(Ordering::Relaxed),
        ongoing
    )
}

/// Listens for SIGTERM and SIGINT: the first stops the worker gracefully, a second one cancels
/// running jobs at once.
fn spawn_signal_listener(
    stop: CancellationToken,
    hard_cancel: CancellationToken,
    name: Arc<Mutex<Option<&'static str>>>,
) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                tracing::warn!("could not install signal handlers");
                return;
            };
            let mut first = true;
            loop {
                let got = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                    _ = hard_cancel.cancelled() => return,
                    _ = stop.cancelled(), if first => return,
                };
                if first {
                    first = false;
                    *name.lock().unwrap() = Some(got);
                    tracing::info!("{got} received, shutting down (send it again to cancel running jobs at once)");
                    stop.cancel();
                } else {
                    tracing::warn!("{got} received again: cancelling running jobs now");
                    hard_cancel.cancel();
                    return;
                }
            }
        }
        #[cfg(not(unix))]
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = stop.cancelled() => return,
            }
            *name.lock().unwrap() = Some("Ctrl-C");
            tracing::info!("Ctrl-C received, shutting down");
            stop.cancel();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => hard_cancel.cancel(),
                _ = hard_cancel.cancelled() => {}
            }
        }
    });
}
