//! Engine of the arq job queue: the job table, the client, the worker, codecs and the
//! backend trait.
//!
//! **This crate is semver-exempt.** Depend on the `arq` facade crate instead, which re-exports
//! the stable surface of this one.
//!
//! Nothing in here talks to Redis directly: every storage step goes through [`Backend`], which
//! `arq-redis` implements on the same keys and records as Python arq, and [`MemoryBackend`]
//! implements in the process.

pub mod backend;
mod client;
pub mod codec;
pub mod cron;
mod ctx;
mod error;
mod failpoint;
mod function;
mod memory;
mod policy;
mod result_watch;
pub mod testing;
mod time;
mod value;
mod wire;
mod worker;
pub use worker::{
    FailedJob, ShutdownHandle, Worker, WorkerSettings, WorkerStats, DEFAULT_DEAD_LIMITS,
    DEFAULT_MAX_SNOOZES,
};

#[doc(hidden)]
pub mod __private;

pub use backend::QueueStats;
pub use backend::{Backend, BoxFuture};
pub use client::{DeadJob, DeadJobsPage, EventKind, EventStream, JobEvent, RequeueOutcome};
pub use client::{
    Enqueue, Job, JobDef, JobResult, JobStatus, Pool, QueuedJob, DEFAULT_EVENTS_MAX_LEN,
    DEFAULT_MAX_PAYLOAD_BYTES,
};
#[cfg(feature = "json")]
pub use codec::JsonCodec;
#[cfg(feature = "pickle")]
pub use codec::PickleCodec;
pub use codec::{Codec, MsgpackCodec};
pub use cron::{CronJob, CronSchedule};
pub use ctx::{Ctx, State, StateMissing};
pub use error::{
    BoxError, Error, JobFailure, Result, ABORTED_BEFORE_START, ABORTED_WHILE_RUNNING, EXCEPTION_KEY,
};
pub use function::{
    Args, FailureHook, Function, Handler, JobError, JobOptions, Permanent, Retry, Snooze,
};
pub use memory::MemoryBackend;
pub use policy::{Backoff, RetryPolicy};
pub use time::{ms_to_datetime, now_ms};
pub use value::{from_value, to_value, Value, ValueError};
pub use wire::{JobRecord, ResultRecord};

/// Python arq's default queue name.
pub const DEFAULT_QUEUE_NAME: &str = "arq:queue";
