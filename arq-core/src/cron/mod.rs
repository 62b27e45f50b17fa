//! Cron jobs: functions the workers enqueue by themselves on a schedule (Python arq's
//! `cron(...)` / `WorkerSettings.cron_jobs`).
//!
//! A cron job is a job function named `cron:<name>` plus a [`CronSchedule`]. Every worker that
//! has it enqueues each tick as the job `cron:<name>:<tick ms>` (Python arq's ids, so Rust and
//! Python workers de-duplicate against each other), and any worker runs it.
//!
//! Each tick runs once across any number of workers, whatever their clocks say:
//!
//! - which tick is due is decided on Redis's clock (`TIME`), never the worker's (reliability
//!   D3): the scheduler reads it with every enqueue step and counts forward from it on the
//!   monotonic clock in between;
//! - a tick is claimed with a marker key written in the same atomic step as the enqueue
//!   (`SET NX`, living longer than the schedule's period plus any skew, reliability D7), so a
//!   slow worker cannot enqueue a tick again after its job finished and left no key (Python
//!   arq's #196/#459 duplicates).
//!
//! `run_at_startup` enqueues the tick due at start-up (the latest tick at or before now), so
//! workers that start together run it once, not once each.
//!
//! Ticks more than the look-ahead window late (a worker stalled, or Redis was unreachable) are
//! skipped, not caught up.

mod schedule;
mod scheduler;
mod tick;

pub use schedule::{
    weekday_from_name, CronSchedule, CronValue, IntoCronValues, DEFAULT_MICROSECOND,
};
#[doc(hidden)]
pub use schedule::{__FIELD_RANGES, __MONTH_DAYS};
pub(crate) use scheduler::Scheduler;
pub use tick::{CronTick, CronTickOutcome, CronTickReply, CronTickRequest};

use crate::{Error, Function, Handler, JobOptions, Result, WorkerSettings};
use chrono::{DateTime, Utc};
use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

/// The prefix of every cron job's function name (and of its job ids).
pub const CRON_PREFIX: &str = "cron:";

/// How long a cron job's in-progress key is kept after it finishes (Python arq's
/// `keep_cronjob_progress`, `PEXPIRE 60000`).
pub const KEEP_CRON_IN_PROGRESS_MS: i64 = 60_000;

/// Python arq's per-function defaults of a cron job: one try, no result kept, the worker's
/// timeout.
pub const CRON_JOB_OPTIONS: JobOptions = JobOptions {
    max_tries: Some(1),
    timeout: None,
    keep_result: Some(Duration::ZERO),
    keep_result_forever: None,
    queue: None,
    retry: None,
    max_snoozes: None,
    dead_letter: None,
    on_failed: None,
    on_tries_exhausted: None,
};

/// A job the workers enqueue by themselves on a schedule.
///
/// `#[arq::cron(...)]` builds one as `<fn>::CRON` and registers it, so every worker linked with
/// it schedules it (see [`CronJob::registered`]). One can also be built at run time:
///
/// ```
/// use arq_core::{CronJob, CronSchedule, Value};
/// use std::time::Duration;
///
/// let job = CronJob::new(
///     "nightly_report",
///     CronSchedule::new().hour(2)?.minute(30)?,
///     |ctx, _args| Box::pin(async move {
///         println!("running {}", ctx.job_id());
///         Ok(Value::Nil)
///     }),
/// )
/// .timezone("Europe/London")?
/// .timeout(Duration::from_secs(600));
/// assert_eq!(job.function_name(), "cron:nightly_report");
///
/// let settings = arq_core::WorkerSettings::new().cron_jobs([job]);
/// # Ok::<(), arq_core::Error>(())
/// ```
///
/// Defaults are Python arq's: `unique`, not `run_at_startup`, one try (`max_tries = 1`), no
/// result kept (`keep_result = 0`), the worker's timeout, and the system's local time zone.
#[derive(Clone)]
pub struct CronJob {
    function: Function,
    schedule: CronSchedule,
    timezone: Option<Cow<'static, str>>,
    run_at_startup: bool,
    unique: bool,
}

impl std::fmt::Debug for CronJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CronJob")
            .field("name", &self.function.name)
            .field("schedule", &self.schedule.to_string())
            .field("timezone", &self.timezone)
            .field("run_at_startup", &self.run_at_startup)
            .field("unique", &self.unique)
            .field("options", &self.function.options)
            .finish()
    }
}

inventory::collect!(CronJob);

/// `cron:<name>` as a `&'static str` (a job function's name is static). Built once per name
/// and kept for the life of the process.
fn function_name(name: &str) -> &'static str {
    static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let full = format!("{CRON_PREFIX}{name}");
    let mut names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
    let names = names.get_or_insert_with(HashSet::new);
    if let Some(existing) = names.get(full.as_str()) {
        return existing;
    }
    let leaked: &'static str = Box::leak(full.into_boxed_str());
    names.insert(leaked);
    leaked
}

impl CronJob {
    /// A cron job named `name` (its function and job ids are `cron:<name>…`) that runs
    /// `handler` on `schedule`. The handler gets no arguments; a non-capturing closure
    /// `|ctx, _args| Box::pin(async move { … })` fits.
    pub fn new(name: impl AsRef<str>, schedule: CronSchedule, handler: Handler) -> Self {
        CronJob {
            function: Function::new(function_name(name.as_ref()), handler)
                .with_options(CRON_JOB_OPTIONS),
            schedule,
            timezone: None,
            run_at_startup: false,
            unique: true,
        }
    }

    /// What `#[arq::cron]` generates: a function already named `cron:<name>`, with its
    /// options. The time zone is checked when a worker starts.
    #[doc(hidden)]
    pub const fn __from_macro(
        function: Function,
        schedule: CronSchedule,
        timezone: Option<&'static str>,
        run_at_startup: bool,
        unique: bool,
    ) -> Self {
        CronJob {
            function,
            schedule,
            timezone: match timezone {
                Some(tz) => Some(Cow::Borrowed(tz)),
                None => None,
            },
            run_at_startup,
            unique,
        }
    }

    /// Evaluates the schedule in this IANA time zone (`"Europe/London"`) instead of the
    /// system's local one. An unknown name is an error.
    pub fn timezone(mut self, name: impl Into<Cow<'static, str>>) -> Result<Self> {
        let name = name.into();
        schedule::parse_timezone(&name)?;
        self.timezone = Some(name);
        Ok(self)
    }

    /// Also enqueue the tick that is due when a worker starts (the latest tick at or before
    /// that moment). With `unique`, workers that start together run it once.
    pub fn run_at_startup(mut self, yes: bool) -> Self {
        self.run_at_startup = yes;
        self
    }

    /// Whether each tick runs once across all workers (default true). When false, every
    /// worker enqueues every tick under a random id, as Python arq does.
    pub fn unique(mut self, yes: bool) -> Self {
        self.unique = yes;
        self
    }

    /// How long one run may take (default: the worker's `job_timeout`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.function.options.timeout = Some(timeout);
        self
    }

    /// How many runs a tick gets (default 1; `Retry` and lost workers count). At least 1.
    pub fn max_tries(mut self, n: u32) -> Self {
        self.function.options.max_tries = Some(n.max(1));
        self
    }

    /// How long the result is kept (default zero: none).
    pub fn keep_result(mut self, d: Duration) -> Self {
        self.function.options.keep_result = Some(d);
        self
    }

    /// Keep the result without expiry.
    pub fn keep_result_forever(mut self, yes: bool) -> Self {
        self.function.options.keep_result_forever = Some(yes);
        self
    }

    /// The name without the `cron:` prefix.
    pub fn name(&self) -> &str {
        self.function
            .name
            .strip_prefix(CRON_PREFIX)
            .unwrap_or(self.function.name)
    }

    /// The job function's name, `cron:<name>`.
    pub fn function_name(&self) -> &'static str {
        self.function.name
    }

    /// The job function the workers run for each tick.
    pub fn function(&self) -> Function {
        self.function
    }

    /// The schedule.
    pub fn schedule(&self) -> &CronSchedule {
        &self.schedule
    }

    /// The time zone name, if one was set (otherwise the system's local zone is used).
    pub fn timezone_name(&self) -> Option<&str> {
        self.timezone.as_deref()
    }

    /// Whether the tick due at start-up is enqueued too.
    pub fn runs_at_startup(&self) -> bool {
        self.run_at_startup
    }

    /// Whether each tick runs once across workers.
    pub fn is_unique(&self) -> bool {
        self.unique
    }

    /// The job id of the tick at `tick` (for a unique cron job): `cron:<name>:<ms>`.
    pub fn job_id(&self, tick: DateTime<Utc>) -> String {
        format!("{}:{}", self.function.name, tick.timestamp_millis())
    }

    /// The first tick after `after`, in the job's time zone.
    pub fn next_run(&self, after: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
        self.schedule.next_after(self.timezone.as_deref(), after)
    }

    /// Checks what could not be checked when the job was built (the time zone and the
    /// expression given to `#[arq::cron]`); a worker does this at start.
    pub fn validate(&self) -> Result<()> {
        self.compile().map(|_| ())
    }

    pub(crate) fn compile(&self) -> Result<schedule::Compiled> {
        self.schedule
            .compile(self.timezone.as_deref())
            .map_err(|e| match e {
                Error::InvalidArgument(m) | Error::Config(m) => {
                    Error::Config(format!("cron job {:?}: {m}", self.function.name))
                }
                other => other,
            })
    }

    /// Every cron job registered with `#[arq::cron]` in the crates linked into this binary.
    pub fn registered() -> impl Iterator<Item = &'static CronJob> {
        inventory::iter::<CronJob>.into_iter()
    }
}

/// The cron part of [`WorkerSettings`].
#[derive(Debug, Clone, Default)]
pub(crate) struct CronSettings {
    /// `None`: every registered cron job when the worker also runs every registered function,
    /// none when it was given an explicit function list.
    jobs: Option<Vec<CronJob>>,
    /// Added to the scheduler's clock (a testing aid).
    clock_skew_ms: i64,
}

impl WorkerSettings {
    /// Schedules only these cron jobs instead of every `#[arq::cron]` linked into the binary
    /// (`[report::CRON, ...]`, or jobs built with [`CronJob::new`]); an empty list schedules
    /// none. (Without this, a worker given an explicit `functions` list schedules no cron job,
    /// and one running the whole job table schedules every registered cron job.) Their functions (`cron:<name>`) are added to the worker's functions.
    pub fn cron_jobs(mut self, jobs: impl IntoIterator<Item = CronJob>) -> Self {
        self.cron.jobs = Some(jobs.into_iter().collect());
        self
    }

    /// Adds one cron job to an explicit list (starting from an empty list).
    pub fn cron_job(mut self, job: CronJob) -> Self {
        self.cron.jobs.get_or_insert_with(Vec::new).push(job);
        self
    }

    /// **Testing aid.** Shifts the clock the cron scheduler reads by `ms`, as a worker whose
    /// clock is off by that much would schedule, to test that each tick still runs once.
    /// The scheduler otherwise reads Redis's clock; leave this at 0.
    #[doc(hidden)]
    pub fn cron_clock_skew_ms(mut self, ms: i64) -> Self {
        self.cron.clock_skew_ms = ms;
        self
    }

    /// The cron jobs this worker schedules: the explicit list; else every registered cron
    /// job, unless the worker was given an explicit function list (then a cron job runs only
    /// when listed, as in Python arq).
    pub(crate) fn cron_job_list(&self) -> Vec<CronJob> {
        match (&self.cron.jobs, &self.functions) {
            (Some(jobs), _) => jobs.clone(),
            (None, None) => CronJob::registered().cloned().collect(),
            (None, Some(_)) => Vec::new(),
        }
    }
}

/// The worker's function list plus the functions of its cron jobs, whose schedules and time
/// zones are checked here (so a bad one stops the worker at start, with the job's name).
pub(crate) fn with_cron_functions(
    mut functions: Vec<Function>,
    settings: &WorkerSettings,
) -> Result<Vec<Function>> {
    for job in settings.cron_job_list() {
        job.validate()?;
        functions.push(job.function);
    }
    Ok(functions)
}

/// How long to keep a finished job's in-progress key: 60 s for a cron job (any function named
/// `cron:…`, as Python arq names them), like Python arq; `None` (delete it) otherwise.
pub(crate) fn keep_in_progress_ms(function: Option<&Function>) -> Option<i64> {
    function
        .filter(|f| f.name.starts_with(CRON_PREFIX))
        .map(|_| KEEP_CRON_IN_PROGRESS_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Args, BoxFuture, Ctx, JobError, Value};

    fn handler(_: Ctx, _: Args) -> BoxFuture<'static, std::result::Result<Value, JobError>> {
        Box::pin(async { Ok(Value::Nil) })
    }

    #[test]
    fn built_at_run_time_with_arq_defaults() {
        let job = CronJob::new("report", CronSchedule::new(), handler);
        assert_eq!(job.name(), "report");
        assert_eq!(job.function_name(), "cron:report");
        assert_eq!(job.function().options, CRON_JOB_OPTIONS);
        assert!(job.is_unique() && !job.runs_at_startup());
        assert_eq!(job.timezone_name(), None);
        // Names are interned: building the same job again leaks nothing more.
        let again = CronJob::new("report", CronSchedule::new(), handler);
        assert!(std::ptr::eq(job.function_name(), again.function_name()));

        let job = job
            .timezone("America/New_York")
            .unwrap()
            .run_at_startup(true)
            .unique(false)
            .timeout(Duration::from_secs(5))
            .max_tries(0)
            .keep_result(Duration::from_secs(60));
        assert_eq!(job.timezone_name(), Some("America/New_York"));
        assert!(!job.is_unique() && job.runs_at_startup());
        let o = job.function().options;
        assert_eq!(o.timeout, Some(Duration::from_secs(5)));
        assert_eq!(o.max_tries, Some(1));
        assert_eq!(o.keep_result, Some(Duration::from_secs(60)));
        job.validate().unwrap();
    }

    #[test]
    fn bad_time_zone_at_build_time_and_at_worker_start() {
        let err = CronJob::new("x", CronSchedule::new(), handler)
            .timezone("Nowhere/Land")
            .unwrap_err();
        assert!(err.to_string().contains("unknown time zone"), "{err}");

        const FROM_MACRO: CronJob = CronJob::__from_macro(
            Function::new("cron:bad_tz", handler).with_options(CRON_JOB_OPTIONS),
            CronSchedule::new(),
            Some("Europe/Londn"),
            false,
            true,
        );
        let err = FROM_MACRO.validate().unwrap_err().to_string();
        assert_eq!(
            err,
            "configuration error: cron job \"cron:bad_tz\": unknown time zone \"Europe/Londn\": \
             use an IANA name such as \"Europe/London\", \"America/New_York\" or \"UTC\""
        );
        let settings = WorkerSettings::new().cron_jobs([FROM_MACRO]);
        assert!(with_cron_functions(Vec::new(), &settings).is_err());
    }

    #[test]
    fn ids_and_next_run() {
        let job = CronJob::new("tick", CronSchedule::new().second(0..60).unwrap(), handler)
            .timezone("UTC")
            .unwrap();
        let after = crate::ms_to_datetime(1_795_904_913_500);
        let next = job.next_run(after).unwrap().unwrap();
        assert_eq!(job.job_id(next), "cron:tick:1795904914123");
    }

    #[test]
    fn cron_functions_keep_their_in_progress_key() {
        let cron = CronJob::new("a", CronSchedule::new(), handler).function();
        assert_eq!(keep_in_progress_ms(Some(&cron)), Some(60_000));
        let plain = Function::new("a", handler);
        assert_eq!(keep_in_progress_ms(Some(&plain)), None);
        assert_eq!(keep_in_progress_ms(None), None);
    }

    #[test]
    fn worker_gets_the_cron_functions() {
        let settings = WorkerSettings::new()
            .cron_job(CronJob::new("one", CronSchedule::new(), handler))
            .cron_job(CronJob::new("two", CronSchedule::new(), handler));
        let fs = with_cron_functions(vec![Function::new("plain", handler)], &settings).unwrap();
        let names: Vec<_> = fs.iter().map(|f| f.name).collect();
        assert_eq!(names, ["plain", "cron:one", "cron:two"]);
        let none = WorkerSettings::new().cron_jobs([]);
        assert!(with_cron_functions(Vec::new(), &none).unwrap().is_empty());
    }
}
