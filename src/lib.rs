#![doc = include_str!("lib.md")]

// The README's examples compile as doctests too (the README is not the crate page: its
// relative links and contributor sections belong to the repository).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(feature = "json")]
pub use arq_core::JsonCodec;
#[cfg(feature = "pickle")]
pub use arq_core::PickleCodec;
pub use arq_core::{
    from_value, ms_to_datetime, now_ms, to_value, Args, Backend, BoxError, Codec, Ctx, Enqueue,
    Error, Function, Job, JobDef, JobFailure, JobOptions, JobRecord, JobResult, JobStatus,
    MemoryBackend, MsgpackCodec, Pool, QueueStats, QueuedJob, Result, ResultRecord, Retry, State,
    StateMissing, Value, ValueError, Worker, WorkerSettings, DEFAULT_QUEUE_NAME,
};
pub use arq_core::{CronJob, CronSchedule};
pub use arq_core::{ShutdownHandle, WorkerStats};
pub use arq_core::{ABORTED_BEFORE_START, ABORTED_WHILE_RUNNING, EXCEPTION_KEY};
pub use arq_macros::{cron, job};
pub use arq_redis::{create_pool, RedisBackend, RedisSettings, DEFAULT_REDIS_URL};

/// Cron jobs: [`CronJob`], [`CronSchedule`] and what their setters accept.
pub mod cron {
    pub use arq_core::cron::{
        weekday_from_name, CronJob, CronSchedule, IntoCronValues, CRON_JOB_OPTIONS, CRON_PREFIX,
        DEFAULT_MICROSECOND, KEEP_CRON_IN_PROGRESS_MS,
    };
}

/// Codecs by name, for settings read from a command line or the environment:
/// [`codec::by_name`], [`codec::detect_format`], and the codec types.
pub mod codec {
    pub use arq_core::codec::*;
}

/// The backend contract and its request types, for writing another backend.
pub mod backend {
    pub use arq_core::backend::*;
}

#[doc(hidden)]
pub mod __private {
    pub use arq_core::__private::*;
}
