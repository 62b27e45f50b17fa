//! Worker settings: Python arq's `WorkerSettings`, with the same names and defaults.

use crate::backend::DeadLimits;
use crate::{BoxError, BoxFuture, Codec, Ctx, FailedJob, Function, RetryPolicy, State};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The default in-progress lease.
pub(crate) const DEFAULT_LEASE: Duration = Duration::from_secs(30);

pub(crate) type StartupHook =
    Arc<dyn Fn(State) -> BoxFuture<'static, Result<State, BoxError>> + Send + Sync>;
pub(crate) type ShutdownHook = Arc<dyn Fn(State) -> BoxFuture<'static, ()> + Send + Sync>;
pub(crate) type JobHook = Arc<dyn Fn(Ctx) -> BoxFuture<'static, ()> + Send + Sync>;
pub(crate) type FailedHook = Arc<dyn Fn(FailedJob) -> BoxFuture<'static, ()> + Send + Sync>;

/// The default bounds of a queue's dead set: 10 000 letters, 30 days.
pub const DEFAULT_DEAD_LIMITS: DeadLimits = DeadLimits {
    max_len: 10_000,
    max_age_ms: 30 * 86_400_000,
};

/// How many times a job may snooze by default.
pub const DEFAULT_MAX_SNOOZES: u32 = 25;

/// How a worker runs: which functions, which queue, how many at once, and its hooks.
///
/// Every knob has Python arq's name and default. Build it with [`WorkerSettings::new`] and the
/// chained setters:
///
/// ```
/// use std::time::Duration;
/// let settings = arq_core::WorkerSettings::new()
///     .queue_name("emails")
///     .max_jobs(50)
///     .job_timeout(Duration::from_secs(60))
///     .burst(true);
/// assert_eq!(settings.get_max_jobs(), 50);
/// ```
#[derive(Clone)]
pub struct WorkerSettings {
    pub(crate) functions: Option<Vec<Function>>,
    pub(crate) queue_name: Option<String>,
    pub(crate) max_jobs: usize,
    pub(crate) job_timeout: Duration,
    pub(crate) keep_result: Duration,
    pub(crate) keep_result_forever: bool,
    pub(crate) max_tries: u32,
    pub(crate) retry_jobs: bool,
    pub(crate) allow_abort_jobs: bool,
    pub(crate) poll_delay: Duration,
    pub(crate) queue_read_limit: Option<usize>,
    pub(crate) burst: bool,
    pub(crate) max_burst_jobs: Option<usize>,
    pub(crate) job_completion_wait: Duration,
    pub(crate) lease: Duration,
    pub(crate) max_result_bytes: usize,
    pub(crate) unknown_function_retry: Option<Duration>,
    pub(crate) health_check_interval: Duration,
    pub(crate) health_check_key: Option<String>,
    pub(crate) handle_signals: bool,
    pub(crate) on_startup: Option<StartupHook>,
    pub(crate) on_shutdown: Option<ShutdownHook>,
    pub(crate) on_job_start: Option<JobHook>,
    pub(crate) on_job_end: Option<JobHook>,
    pub(crate) after_job_end: Option<JobHook>,
    pub(crate) cron: crate::cron::CronSettings,
    pub(crate) codec: Option<Arc<dyn Codec>>,
    pub(crate) retry_policy: Option<RetryPolicy>,
    pub(crate) max_snoozes: u32,
    pub(crate) dead_letters: Option<DeadLimits>,
    pub(crate) on_job_failed: Option<FailedHook>,
    pub(crate) on_tries_exhausted: Option<FailedHook>,
    pub(crate) hook_timeout: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for WorkerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerSettings")
            .field(
                "functions",
                &self
                    .functions
                    .as_ref()
                    .map(|fs| fs.iter().map(|f| f.name).collect::<Vec<_>>()),
            )
            .field("queue_name", &self.queue_name)
            .field("max_jobs", &self.max_jobs)
            .field("job_timeout", &self.job_timeout)
            .field("keep_result", &self.keep_result)
            .field("keep_result_forever", &self.keep_result_forever)
            .field("max_tries", &self.max_tries)
            .field("retry_jobs", &self.retry_jobs)
            .field("poll_delay", &self.poll_delay)
            .field("burst", &self.burst)
            .field("lease", &self.lease)
            .field("codec", &self.codec.as_ref().map(|c| c.name()))
            .finish_non_exhaustive()
    }
}

fn hook<F, Fut>(f: F) -> JobHook
where
    F: Fn(Ctx) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move |ctx| Box::pin(f(ctx)))
}

impl WorkerSettings {
    /// Python arq's defaults; functions: every `#[arq::job]` linked into the binary.
    pub fn new() -> Self {
        WorkerSettings {
            functions: None,
            queue_name: None,
            max_jobs: 10,
            job_timeout: Duration::from_secs(300),
            keep_result: Duration::from_secs(3600),
            keep_result_forever: false,
            max_tries: 5,
            retry_jobs: true,
            allow_abort_jobs: true,
            poll_delay: Duration::from_millis(500),
            queue_read_limit: None,
            burst: false,
            max_burst_jobs: None,
            job_completion_wait: Duration::ZERO,
            lease: DEFAULT_LEASE,
            max_result_bytes: 16 * 1024 * 1024,
            unknown_function_retry: None,
            health_check_interval: Duration::from_secs(3600),
            health_check_key: None,
            handle_signals: true,
            on_startup: None,
            on_shutdown: None,
            on_job_start: None,
            on_job_end: None,
            after_job_end: None,
            cron: Default::default(),
            codec: None,
            retry_policy: None,
            max_snoozes: DEFAULT_MAX_SNOOZES,
            dead_letters: Some(DEFAULT_DEAD_LIMITS),
            on_job_failed: None,
            on_tries_exhausted: None,
            hook_timeout: Duration::from_secs(60),
        }
    }

    /// Runs only these functions instead of the whole compile-time table
    /// (`[send_email::FUNCTION, ...]`).
    pub fn functions(mut self, functions: impl IntoIterator<Item = Function>) -> Self {
        self.functions = Some(functions.into_iter().collect());
        self
    }

    /// Adds one function to an explicit list (starting from an empty list).
    pub fn function(mut self, function: Function) -> Self {
        self.functions.get_or_insert_with(Vec::new).push(function);
        self
    }

    /// The queue to serve (default: the pool's default queue, `arq:queue`).
    pub fn queue_name(mut self, queue: impl Into<String>) -> Self {
        self.queue_name = Some(queue.into());
        self
    }

    /// How many jobs run at once (default 10).
    pub fn max_jobs(mut self, n: usize) -> Self {
        self.max_jobs = n.max(1);
        self
    }

    /// The configured `max_jobs`.
    pub fn get_max_jobs(&self) -> usize {
        self.max_jobs
    }

    /// Timeout of one run for functions that set none (default 300 s).
    pub fn job_timeout(mut self, t: Duration) -> Self {
        self.job_timeout = t;
        self
    }

    /// How long results are kept (default 3600 s; zero keeps none).
    pub fn keep_result(mut self, d: Duration) -> Self {
        self.keep_result = d;
        self
    }

    /// Keep results without expiry (default false).
    pub fn keep_result_forever(mut self, yes: bool) -> Self {
        self.keep_result_forever = yes;
        self
    }

    /// How many runs a job gets at most (default 5).
    pub fn max_tries(mut self, n: u32) -> Self {
        self.max_tries = n;
        self
    }

    /// Whether `Retry` reschedules (default true); when false it is a plain failure.
    pub fn retry_jobs(mut self, yes: bool) -> Self {
        self.retry_jobs = yes;
        self
    }

    /// Whether abort requests are honoured (default true).
    pub fn allow_abort_jobs(mut self, yes: bool) -> Self {
        self.allow_abort_jobs = yes;
        self
    }

    /// The gap between polls of the queue (default 0.5 s).
    pub fn poll_delay(mut self, d: Duration) -> Self {
        self.poll_delay = d;
        self
    }

    /// How many due entries one poll looks at (default `max(max_jobs * 5, 100)`).
    pub fn queue_read_limit(mut self, n: usize) -> Self {
        self.queue_read_limit = Some(n.max(1));
        self
    }

    /// Exit once the queue is empty (default false).
    pub fn burst(mut self, yes: bool) -> Self {
        self.burst = yes;
        self
    }

    /// In burst mode, exit after starting this many jobs.
    pub fn max_burst_jobs(mut self, n: usize) -> Self {
        self.max_burst_jobs = Some(n);
        self
    }

    /// On shutdown, wait up to this long for running jobs before cancelling them (default 0).
    pub fn job_completion_wait(mut self, d: Duration) -> Self {
        self.job_completion_wait = d;
        self
    }

    /// How often the health-check record is written (default 3600 s).
    pub fn health_check_interval(mut self, d: Duration) -> Self {
        self.health_check_interval = d;
        self
    }

    /// The health-check key (default `<queue>:health-check`).
    pub fn health_check_key(mut self, key: impl Into<String>) -> Self {
        self.health_check_key = Some(key.into());
        self
    }

    /// Whether `run` stops on SIGINT/SIGTERM (default true).
    pub fn handle_signals(mut self, yes: bool) -> Self {
        self.handle_signals = yes;
        self
    }

    /// Builds the shared state before the first job: receives the state (with the pool) and
    /// returns it with your values inserted. Any error converts with `?`; the worker then
    /// does not start.
    ///
    /// ```
    /// # struct Db;
    /// # impl Db { async fn connect() -> Result<Db, std::io::Error> { Ok(Db) } }
    /// let settings = arq_core::WorkerSettings::new().on_startup(|mut state| async move {
    ///     state.insert(Db::connect().await?);
    ///     Ok(state)
    /// });
    /// ```
    pub fn on_startup<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(State) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<State, BoxError>> + Send + 'static,
    {
        self.on_startup = Some(Arc::new(move |s| Box::pin(f(s))));
        self
    }

    /// Tears the shared state down after the last job (use [`State::remove`] to take values).
    pub fn on_shutdown<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(State) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_shutdown = Some(Arc::new(move |s| Box::pin(f(s))));
        self
    }

    /// Runs before each job function (not for jobs that fail before they start).
    pub fn on_job_start<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_job_start = Some(hook(f));
        self
    }

    /// Runs after each job function, before its outcome is stored.
    pub fn on_job_end<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_job_end = Some(hook(f));
        self
    }

    /// Runs after each job's outcome is stored.
    pub fn after_job_end<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.after_job_end = Some(hook(f));
        self
    }

    /// How long a claimed job stays reserved for this worker without a renewal (default
    /// 30 s, at least 100 ms). A heartbeat on its own thread renews the leases of running jobs
    /// every quarter of it, so a job may run far longer than its lease, and a job that blocks
    /// its thread cannot starve the renewal. When a worker dies, its jobs run again elsewhere
    /// once their leases lapse: within `lease + poll_delay` (Python arq waits for the longest
    /// job timeout + 10 s). A worker that cannot renew a lease before it lapses cancels that
    /// job, since another worker may take it over.
    pub fn lease(mut self, d: Duration) -> Self {
        self.lease = d.max(Duration::from_millis(100));
        self
    }

    /// The largest encoded result this worker stores (default 16 MiB). A larger one is
    /// replaced by a failure saying `result too large`, so the outcome is never lost.
    pub fn max_result_bytes(mut self, bytes: usize) -> Self {
        self.max_result_bytes = bytes;
        self
    }

    /// For rolling deploys: a job naming a function this worker does not know is put back,
    /// due again after `defer`, until it has used `max_tries` (then it fails with Python arq's
    /// `function '<name>' not found`), in case a newer worker knows the function. Default:
    /// such a job fails at once, as in Python arq.
    pub fn unknown_function_retry(mut self, defer: Duration) -> Self {
        self.unknown_function_retry = Some(defer);
        self
    }

    /// The codec this worker reads jobs and writes results with, instead of its pool's (Python
    /// arq's `job_serializer` / `job_deserializer` in `WorkerSettings`). The worker's pool
    /// takes it too, so jobs enqueued from a job's [`Ctx`] and cron jobs use it as well. Every
    /// client of the queue must use the same codec.
    ///
    /// ```
    /// let settings = arq_core::WorkerSettings::new()
    ///     .codec(arq_core::codec::by_name("msgpack").unwrap());
    /// assert_eq!(settings.get_codec().map(|c| c.name()), Some("msgpack"));
    /// ```
    pub fn codec(mut self, codec: impl Codec) -> Self {
        self.codec = Some(Arc::new(codec));
        self
    }

    /// The codec set with [`WorkerSettings::codec`], if any (`None`: the pool's).
    pub fn get_codec(&self) -> Option<&Arc<dyn Codec>> {
        self.codec.as_ref()
    }

    /// Retries ordinary errors of every job (that sets no `retry` of its own) under `policy`,
    /// with its backoff; `max_tries` still bounds them. Default: none, as in Python arq (only
    /// a returned [`Retry`](crate::Retry) runs a job again).
    ///
    /// ```
    /// use std::time::Duration;
    /// let settings = arq_core::WorkerSettings::new().retry_policy(
    ///     arq_core::RetryPolicy::exponential(Duration::from_secs(2)).cap(Duration::from_secs(300)),
    /// );
    /// ```
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = Some(policy);
        self
    }

    /// How many times a job may [`Snooze`](crate::Snooze) (default 25) unless it sets its
    /// own; the snooze past it fails the job for good.
    pub fn max_snoozes(mut self, n: u32) -> Self {
        self.max_snoozes = n;
        self
    }

    /// Whether jobs that fail for good go to their queue's dead set (default: yes, kept up to
    /// 10 000 letters and 30 days), where `Pool::dead_jobs` and `arq-cli dead` list them and
    /// can run them again. Aborted jobs never do. A job can opt out with
    /// `#[arq::job(dead_letter = false)]`.
    pub fn dead_letters(mut self, on: bool) -> Self {
        self.dead_letters = on.then_some(self.dead_letters.unwrap_or(DEFAULT_DEAD_LIMITS));
        self
    }

    /// The dead set's bounds: at most `max_len` letters, none older than `max_age`; the
    /// oldest go first. Turns dead letters on.
    pub fn dead_letter_limits(mut self, max_len: u64, max_age: Duration) -> Self {
        self.dead_letters = Some(DeadLimits {
            max_len,
            max_age_ms: crate::time::duration_ms(max_age),
        });
        self
    }

    /// Runs `f` once for every job that fails for good (not aborted ones), with its context,
    /// its final error and result record: after its outcome is stored, on the worker that
    /// stored it, or — if that worker died first — on another worker of the queue once the
    /// hook's lease (`hook_timeout` + 30 s) runs out. So a hook runs once per final failure,
    /// and at least once across crashes (a crash in the middle of a hook runs it again).
    ///
    /// ```
    /// let settings = arq_core::WorkerSettings::new().on_job_failed(|job| async move {
    ///     tracing::error!("job {} failed for good: {}", job.job_id(), job.failure());
    /// });
    /// ```
    pub fn on_job_failed<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(FailedJob) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_job_failed = Some(Arc::new(move |j| Box::pin(f(j))));
        self
    }

    /// Runs `f` once when a job fails on its last try (`job_try >= max_tries`), as
    /// [`WorkerSettings::on_job_failed`] runs (and besides it).
    pub fn on_tries_exhausted<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(FailedJob) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_tries_exhausted = Some(Arc::new(move |j| Box::pin(f(j))));
        self
    }

    /// How long a failure hook may run (default 60 s); it is cancelled after that.
    pub fn hook_timeout(mut self, d: Duration) -> Self {
        self.hook_timeout = d;
        self
    }

    /// The lease of a pending failure hook: its timeout and 30 s.
    pub(crate) fn hook_lease(&self) -> Duration {
        self.hook_timeout + Duration::from_secs(30)
    }

    /// The heartbeat period: a quarter of the lease.
    pub(crate) fn heartbeat_interval(&self) -> Duration {
        self.lease / 4
    }

    pub(crate) fn read_limit(&self) -> usize {
        self.queue_read_limit
            .unwrap_or_else(|| (self.max_jobs * 5).max(100))
    }
}
