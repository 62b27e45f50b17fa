//! The worker: polls a queue, claims due jobs in batches, runs them under their timeouts and
//! stores their outcomes.
//!
//! The steps have one name each, here and in the backend contract: [`Worker::run`] turns a
//! loop of health → claim (`claim.rs`) → abort requests → cron tick → wait; each claimed job
//! runs as its own task, execute (`execute.rs`), then finish, retry or release (`finish.rs`),
//! fenced by the token the claim wrote, so a worker that lost a job can never overwrite its
//! successor. The heartbeat (`heartbeat.rs`) renews the leases on its own thread.

mod claim;
mod execute;
mod finish;
mod heartbeat;
mod hooks;
mod settings;

pub(crate) use execute::CatchUnwind;
pub use hooks::FailedJob;
pub use settings::{WorkerSettings, DEFAULT_DEAD_LIMITS, DEFAULT_MAX_SNOOZES};

use crate::backend::{HealthRecord, Watch};
use crate::{Error, Function, Pool, Result, State};
use execute::JobRunner;
use heartbeat::HeldJobs;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
#[non_exhaustive]
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
    ///
    /// Each turn of the loop is the same named steps: write the health record, claim due
    /// jobs (each claimed job then runs as its own task: execute, then finish, retry or
    /// release), look for abort requests, enqueue due cron ticks, and wait for the next poll
    /// or a wake-up.
    pub async fn run(self) -> Result<WorkerStats> {
        let mut w = Running::start(self).await?;
        loop {
            if w.stop.is_cancelled() {
                break;
            }
            w.health().await;
            let claimed = w.claim().await;
            w.abort_requests().await;
            w.cron.poll(&w.pool).await;
            w.hooks_claim().await;
            if w.burst_done(&claimed).await {
                break;
            }
            w.wait(claimed).await;
        }
        Ok(w.shutdown().await)
    }
}

/// What one claim step found, for the rest of the turn.
pub(crate) struct ClaimTurn {
    /// More work is likely waiting (every free slot was filled, or none was free): poll again
    /// as soon as a slot frees.
    backlog: bool,
    /// When the turn began (the poll delay counts from it).
    began: Instant,
}

/// A worker while it runs: what the steps of [`Worker::run`] share.
pub(crate) struct Running {
    pool: Pool,
    settings: WorkerSettings,
    queue: String,
    stop: CancellationToken,
    /// Cancelled when shutdown stops waiting for running jobs (or a second signal comes).
    hard_cancel: CancellationToken,
    signal_name: Arc<Mutex<Option<&'static str>>>,
    state: Arc<State>,
    counters: Arc<Counters>,
    runner: Arc<JobRunner>,
    finisher_task: tokio::task::JoinHandle<()>,
    semaphore: Arc<Semaphore>,
    /// Jobs held here: what the heartbeat renews and abort requests cancel.
    held: HeldJobs,
    heartbeat: std::thread::JoinHandle<()>,
    heartbeat_stop: CancellationToken,
    slot_freed: Arc<Notify>,
    enqueued: Arc<Notify>,
    watch_stop: CancellationToken,
    tracker: TaskTracker,
    /// This worker's id: the prefix of its fencing tokens and the name of its health record.
    worker_id: String,
    claim_seq: u64,
    next_abort_check: Instant,
    last_backlog: bool,
    recovery_running: Arc<AtomicBool>,
    recovery_waiting: bool,
    next_health: Instant,
    cron: crate::cron::Scheduler,
    error_backoff: Duration,
    /// When to look for failure hooks a dead worker left; `None`: no hooks are configured.
    next_hooks_check: Option<Instant>,
    /// A hooks claim is running.
    hooks_running: Arc<AtomicBool>,
}

/// How often a worker with failure hooks looks for hooks a dead worker left.
const HOOKS_CHECK_EVERY: Duration = Duration::from_secs(5);

impl Running {
    /// Start-up: server checks, `on_startup`, the finisher, the heartbeat thread and push
    /// wake-ups.
    async fn start(worker: Worker) -> Result<Self> {
        let Worker {
            pool,
            settings,
            functions,
            queue,
            stop,
        } = worker;
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
            Err(e) => tracing::warn!("could not check the server's configuration: {e}"),
        }
        let mut state = State::with_pool(pool.clone());
        if let Some(h) = &settings.on_startup {
            state = h(state)
                .await
                .map_err(|e| Error::Config(format!("on_startup failed: {e}")))?;
        }
        let state = Arc::new(state);
        let counters = Arc::new(Counters::default());
        let (finisher, finisher_task) = finish::Finisher::spawn(pool.clone());
        let dead_letters = match (settings.dead_letters, pool.backend().dead_letters()) {
            (Some(limits), Some(_)) => Some(limits),
            (Some(_), None) => {
                tracing::warn!(
                    queue = %queue,
                    "the {} backend keeps no dead letters: jobs that fail for good keep only \
                     their result",
                    pool.backend().name()
                );
                None
            }
            (None, _) => None,
        };
        let hooks_anywhere = settings.on_job_failed.is_some()
            || settings.on_tries_exhausted.is_some()
            || functions
                .values()
                .any(|f| f.options.on_failed.is_some() || f.options.on_tries_exhausted.is_some());
        let runner = Arc::new(JobRunner {
            pool: pool.clone(),
            queue: queue.clone(),
            functions: functions.clone(),
            settings: settings.clone(),
            state: state.clone(),
            counters: counters.clone(),
            cancel: hard_cancel.clone(),
            finisher,
            dead_letters,
        });
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
        let cron = crate::cron::Scheduler::new(&settings, &queue)?;
        tracing::info!(
            queue = %queue,
            functions = ?{ let mut v: Vec<_> = functions.keys().collect(); v.sort(); v },
            "worker ready"
        );
        Ok(Running {
            semaphore: Arc::new(Semaphore::new(settings.max_jobs)),
            pool,
            settings,
            queue,
            stop,
            hard_cancel,
            signal_name,
            state,
            counters,
            runner,
            finisher_task,
            held,
            heartbeat,
            heartbeat_stop,
            slot_freed: Arc::new(Notify::new()),
            enqueued,
            watch_stop,
            tracker: TaskTracker::new(),
            worker_id: uuid::Uuid::new_v4().simple().to_string()[..16].to_owned(),
            claim_seq: 0,
            next_abort_check: Instant::now(),
            last_backlog: false,
            recovery_running: Arc::new(AtomicBool::new(false)),
            recovery_waiting: false,
            next_health: Instant::now(),
            cron,
            error_backoff: Duration::ZERO,
            next_hooks_check: hooks_anywhere.then(Instant::now),
            hooks_running: Arc::default(),
        })
    }

    /// Hooks claim: every [`HOOKS_CHECK_EVERY`], when any failure hook is configured, runs
    /// the pending hooks a dead worker left (in the background, one batch at a time).
    async fn hooks_claim(&mut self) {
        let Some(next) = self.next_hooks_check else {
            return;
        };
        if Instant::now() < next || self.stop.is_cancelled() {
            return;
        }
        self.next_hooks_check = Some(Instant::now() + HOOKS_CHECK_EVERY);
        if self.hooks_running.swap(true, Ordering::AcqRel) {
            return;
        }
        let runner = self.runner.clone();
        let running = self.hooks_running.clone();
        self.tracker.spawn(async move {
            runner.recover_hooks().await;
            running.store(false, Ordering::Release);
        });
    }

    /// Health: writes this worker's health record every `health_check_interval`.
    async fn health(&mut self) {
        if Instant::now() < self.next_health {
            return;
        }
        let ongoing = self.settings.max_jobs - self.semaphore.available_permits();
        let ttl = self.settings.health_check_interval + Duration::from_secs(1);
        let record = HealthRecord {
            queue: self.queue.clone(),
            check_key: self.settings.health_check_key.clone(),
            worker_id: self.worker_id.clone(),
            text: health_text(&self.counters, ongoing),
            ttl_ms: crate::time::duration_ms(ttl),
        };
        match self.pool.backend().health(&record).await {
            Ok(_) => self.next_health = Instant::now() + self.settings.health_check_interval,
            Err(e) => tracing::warn!("writing the health check failed: {e}"),
        }
    }

    /// Abort requests: cancels running jobs whose abort was requested, once per poll however
    /// often the loop turns (one backend call for all of them).
    async fn abort_requests(&mut self) {
        if !self.settings.allow_abort_jobs || Instant::now() < self.next_abort_check {
            return;
        }
        self.next_abort_check = Instant::now() + self.settings.poll_delay;
        let ids: Vec<String> = self.held.lock().unwrap().keys().cloned().collect();
        if ids.is_empty() {
            return;
        }
        match self.pool.backend().abort_requests(&ids).await {
            Ok(requests) => {
                let held = self.held.lock().unwrap();
                for (id, marker_ms) in requests {
                    if let Some(h) = held.get(&id) {
                        if execute::marker_applies(marker_ms, h.enqueue_ms)
                            && !h.abort.is_cancelled()
                        {
                            tracing::info!(job_id = %id, "abort requested, cancelling the job");
                            h.abort.cancel();
                        }
                    }
                }
            }
            Err(e) => tracing::warn!("checking abort requests failed: {e}"),
        }
    }

    /// In burst mode: whether the queue is empty (or `max_burst_jobs` reached), so the worker
    /// stops.
    async fn burst_done(&self, turn: &ClaimTurn) -> bool {
        if !self.settings.burst {
            return false;
        }
        let limit_hit = self
            .settings
            .max_burst_jobs
            .is_some_and(|m| self.counters.started.load(Ordering::Relaxed) as usize >= m);
        // The queue can only be empty when the last claim came back short.
        if !limit_hit && turn.backlog {
            return false;
        }
        let empty = limit_hit
            || match self.pool.backend().queue_size(&self.queue).await {
                Ok(n) => n == 0,
                Err(e) => {
                    tracing::warn!("reading the queue size failed: {e}");
                    false
                }
            };
        if empty {
            tracing::info!(queue = %self.queue, "burst: queue empty, waiting for running jobs");
        }
        empty
    }

    /// Waits for the next turn: the poll delay (or the error back-off), a freed slot under a
    /// backlog, an enqueue wake-up, or shutdown.
    async fn wait(&mut self, turn: ClaimTurn) {
        self.last_backlog = turn.backlog;
        let wait = if self.error_backoff > Duration::ZERO {
            self.error_backoff
        } else {
            self.settings
                .poll_delay
                .saturating_sub(turn.began.elapsed())
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = self.stop.cancelled() => {}
            _ = self.slot_freed.notified(), if turn.backlog => {}
            _ = self.enqueued.notified() => {}
        }
    }

    /// Shutdown: claims nothing more, gives running jobs their grace (a second signal ends
    /// it), then cancels them; they are handed back to the queue without spending a try.
    async fn shutdown(self) -> WorkerStats {
        let Running {
            pool,
            settings,
            queue,
            stop,
            hard_cancel,
            signal_name,
            state,
            counters,
            runner,
            finisher_task,
            heartbeat,
            heartbeat_stop,
            watch_stop,
            tracker,
            worker_id,
            ..
        } = self;
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
            .health_close(&queue, settings.health_check_key.as_deref(), &worker_id)
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
        stats
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
