#![doc = include_str!("lib.md")]

// The README's examples compile as doctests too (the README is not the crate page: its
// relative links and contributor sections belong to the repository).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

// Jobs: the macros, and what a job function sees and returns.
pub use arq_core::{
    Args, Ctx, FailureHook, Function, Handler, JobError, JobOptions, Permanent, Retry, Snooze,
    State, StateMissing,
};
// Retry policies (opt-in per job or per worker).
pub use arq_core::{Backoff, RetryPolicy};
pub use arq_macros::{cron, job};

// The client: a pool, the enqueue builder, a job's handle and what it reads.
pub use arq_core::{
    Enqueue, Job, JobDef, JobFailure, JobResult, JobStatus, Pool, QueueStats, QueuedJob,
    DEFAULT_QUEUE_NAME,
};
pub use arq_core::{ABORTED_BEFORE_START, ABORTED_WHILE_RUNNING, EXCEPTION_KEY};
// Dead letters and event streams, read and steered through the pool.
pub use arq_core::{DeadJob, DeadJobsPage, EventKind, EventStream, JobEvent, RequeueOutcome};

// The worker.
pub use arq_core::{
    FailedJob, ShutdownHandle, Worker, WorkerSettings, WorkerStats, DEFAULT_DEAD_LIMITS,
    DEFAULT_MAX_SNOOZES,
};

// Cron jobs (more in [`cron`]).
pub use arq_core::{CronJob, CronSchedule};

// Values and codecs (more in [`codec`]).
#[cfg(feature = "json")]
pub use arq_core::JsonCodec;
#[cfg(feature = "pickle")]
pub use arq_core::PickleCodec;
pub use arq_core::{from_value, to_value, Codec, MsgpackCodec, Value, ValueError};

// Errors.
pub use arq_core::{BoxError, Error, Result};

// Where the queue lives: Redis (more in [`redis`]) or this process.
pub use arq_core::MemoryBackend;
pub use arq_redis::{create_pool, RedisSettings, DEFAULT_REDIS_URL};

/// A pool by URL: `memory://` (or `memory://<name>`) for a queue in this process, any other
/// URL for Redis.
///
/// - `memory://` and `memory://<name>` give a pool on an in-process [`MemoryBackend`]. Pools
///   connected with the same name in one process share one store (a process-wide registry,
///   [`MemoryBackend::named`]; `memory://` is the name `""`), so a client and a worker of one
///   process see the same queue. Nothing survives the process.
/// - Anything else is read by [`RedisSettings::from_url`] (`redis://…`, `rediss://…`) and
///   connected with [`create_pool`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> arq::Result<()> {
/// let client = arq::connect("memory://orders").await?;
/// let worker_side = arq::connect("memory://orders").await?;
/// client.enqueue_job("ship", vec!["parcel-1".into()]).await?;
/// // The same store, by name…
/// assert_eq!(worker_side.queue_size(arq::DEFAULT_QUEUE_NAME).await?, 1);
/// // …and another name is another store.
/// let other = arq::connect("memory://invoices").await?;
/// assert_eq!(other.queue_size(arq::DEFAULT_QUEUE_NAME).await?, 0);
/// # Ok(())
/// # }
/// ```
pub async fn connect(url: &str) -> Result<Pool> {
    match memory_store_name(url) {
        Some(name) => Ok(Pool::new(std::sync::Arc::new(MemoryBackend::named(name)))),
        None => create_pool(RedisSettings::from_url(url)?).await,
    }
}

/// The store name of a `memory://<name>` URL (the scheme in any case).
fn memory_store_name(url: &str) -> Option<&str> {
    const SCHEME: &str = "memory://";
    let head = url.get(..SCHEME.len())?;
    head.eq_ignore_ascii_case(SCHEME)
        .then(|| &url[SCHEME.len()..])
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_urls_name_their_store() {
        assert_eq!(super::memory_store_name("memory://"), Some(""));
        assert_eq!(super::memory_store_name("MEMORY://a/b"), Some("a/b"));
        assert_eq!(super::memory_store_name("memory:"), None);
        assert_eq!(super::memory_store_name("redis://127.0.0.1"), None);
        assert_eq!(super::memory_store_name("memory:/é"), None);
    }
}

/// Cron jobs: [`CronJob`], [`CronSchedule`] and what their setters accept.
pub mod cron {
    pub use arq_core::cron::{
        weekday_from_name, CronJob, CronSchedule, CronValue, IntoCronValues, DEFAULT_MICROSECOND,
    };
}

/// The Redis backend itself, for code that needs more than [`create_pool`]: the backend type
/// (its `fred` connection), Python arq's key layout, and the ACL error type.
pub mod redis {
    pub use arq_redis::{
        create_pool, is_permission_error, KeyLayout, PermissionDenied, RedisBackend, RedisSettings,
        DEFAULT_REDIS_URL,
    };
}

/// Python arq's records as stored (`JobRecord` is the job key's `{t, f, a, k, et}`,
/// `ResultRecord` the result key's), for tools that read or write them raw.
pub mod wire {
    pub use arq_core::{JobRecord, ResultRecord};
}

/// Time as the records hold it: milliseconds since the epoch.
pub mod time {
    pub use arq_core::{ms_to_datetime, now_ms};
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

/// Test support for applications: run a job inline through its real handler
/// ([`testing::run`], with a context from [`testing::ctx`]), and [`testing::TestPool`], an
/// in-memory pool that records what was enqueued and runs it in-process.
pub mod testing {
    pub use arq_core::testing::*;
}
