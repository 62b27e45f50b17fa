//! Shared helpers: the run ledger, gates, workers with deadlines, bounded polling.

use arq::{
    Ctx, Function, Job, JobStatus, Pool, ShutdownHandle, Worker, WorkerSettings, WorkerStats,
};
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a job recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The function started.
    Started,
    /// The function reached its end.
    Finished,
}

/// One entry of the ledger.
#[derive(Debug, Clone)]
pub struct Run {
    /// The job id.
    pub job_id: String,
    /// `ctx.job_try()`.
    pub job_try: u32,
    /// When it was recorded.
    pub at: Instant,
    /// What happened.
    pub event: Event,
}

/// Every run of every job of this process, keyed by the test's tag (its queue name).
static LEDGER: Mutex<Vec<(String, Run)>> = Mutex::new(Vec::new());
/// Tags whose `gated` jobs may finish.
static OPEN_GATES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Called by the jobs.
pub fn record(tag: &str, ctx: &Ctx, event: Event) {
    LEDGER.lock().unwrap().push((
        tag.to_owned(),
        Run {
            job_id: ctx.job_id().to_owned(),
            job_try: ctx.job_try(),
            at: Instant::now(),
            event,
        },
    ));
}

/// The runs recorded under `tag` with this event, in order.
pub fn events(tag: &str, event: Event) -> Vec<Run> {
    LEDGER
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, r)| t == tag && r.event == event)
        .map(|(_, r)| r.clone())
        .collect()
}

/// The starts recorded under `tag`.
pub fn starts(tag: &str) -> Vec<Run> {
    events(tag, Event::Started)
}

/// How many times each job id started under `tag`.
pub fn start_counts(tag: &str) -> std::collections::HashMap<String, usize> {
    let mut m = std::collections::HashMap::new();
    for r in starts(tag) {
        *m.entry(r.job_id).or_default() += 1;
    }
    m
}

/// Lets the `gated` jobs of `tag` finish.
pub fn open_gate(tag: &str) {
    OPEN_GATES.lock().unwrap().push(tag.to_owned());
}

/// Whether `open_gate(tag)` was called.
pub fn gate_is_open(tag: &str) -> bool {
    OPEN_GATES.lock().unwrap().iter().any(|t| t == tag)
}

/// The usual settings for a test's worker: its queue, these functions, a 20 ms poll.
pub fn settings(queue: &str, functions: impl IntoIterator<Item = Function>) -> WorkerSettings {
    WorkerSettings::new()
        .functions(functions)
        .queue_name(queue)
        .poll_delay(Duration::from_millis(20))
        .handle_signals(false)
}

/// Runs a burst worker to its end (within 30 s).
pub async fn burst(pool: &Pool, settings: WorkerSettings) -> WorkerStats {
    let worker = Worker::new(pool.clone(), settings.burst(true)).expect("worker");
    tokio::time::timeout(Duration::from_secs(30), worker.run())
        .await
        .expect("the burst worker finished within 30 s")
        .expect("the burst worker ran")
}

/// A worker running in the background.
pub struct Running {
    stop: ShutdownHandle,
    task: tokio::task::JoinHandle<arq::Result<WorkerStats>>,
}

impl Running {
    /// Whether the worker task has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops the worker and waits (at most 10 s) for it to end.
    pub async fn stop(self) -> WorkerStats {
        self.stop.shutdown();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the worker stopped within 10 s")
            .expect("the worker task did not panic")
            .expect("the worker ran")
    }
}

/// Starts a (non-burst) worker in the background.
pub fn spawn(pool: &Pool, settings: WorkerSettings) -> Running {
    let worker = Worker::new(pool.clone(), settings).expect("worker");
    Running {
        stop: worker.shutdown_handle(),
        task: tokio::spawn(worker.run()),
    }
}

/// Polls `check` every 10 ms until it gives `Some`, failing the test after `within`.
pub async fn wait_for<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the job has `status` (within `within`).
pub async fn wait_status<T>(job: &Job<T>, status: JobStatus, within: Duration) {
    let what = format!("job {} to be {status}", job.id());
    wait_for(&what, within, || async {
        (job.status().await.expect("status") == status).then_some(())
    })
    .await
}

/// Waits until `tag` has at least `n` starts recorded (within `within`).
pub async fn wait_starts(tag: &str, n: usize, within: Duration) -> Vec<Run> {
    let what = format!("{n} starts under {tag}");
    wait_for(&what, within, || async {
        let s = starts(tag);
        (s.len() >= n).then_some(s)
    })
    .await
}

/// The stored failure of a job that must have failed.
pub async fn failure_of<T: serde::de::DeserializeOwned + std::fmt::Debug>(
    job: &Job<T>,
) -> arq::JobFailure {
    match job.result(Duration::from_secs(10)).await {
        Err(arq::Error::JobFailed { failure, .. }) => failure,
        other => panic!("job {}: expected a failure, got {other:?}", job.id()),
    }
}

/// A deadline for results of jobs that are due now.
pub const RESULT_WAIT: Duration = Duration::from_secs(10);
