//! The client side: the pool, enqueueing, and job handles (status, result, info).
//!
//! - `pool.rs`: [`Pool`], the connection plus codec and default queue, and its admin and
//!   inspection methods (queues, listings, delete, purge, rerun).
//! - `enqueue.rs`: the [`Enqueue`] builder that `<fn>::enqueue` and [`Pool::enqueue_job`]
//!   return.
//! - `job.rs`: the [`Job`] handle: status, info, result, abort.
//! - `records.rs`: what the client reads back ([`JobStatus`], [`JobDef`], [`JobResult`],
//!   [`QueuedJob`]) and how they are made from the wire records.
//! - `dead.rs`: a queue's dead letters ([`DeadJob`], [`DeadJobsPage`]): listing, requeue,
//!   delete, purge.
//! - `events.rs`: a queue's event stream ([`EventStream`] of [`JobEvent`]s), and the reader
//!   the result waiters share.
//!
//! Stored records are decoded by `wire::decode_job` and `wire::decode_result`, as the worker
//! decodes them.

mod dead;
mod enqueue;
pub(crate) mod events;
mod job;
mod pool;
mod records;

pub use dead::{DeadJob, DeadJobsPage, RequeueOutcome};
pub(crate) use enqueue::arg_value;
pub use enqueue::Enqueue;
pub use events::{EventKind, EventStream, JobEvent};
pub use job::Job;
pub use pool::{Pool, DEFAULT_EVENTS_MAX_LEN, DEFAULT_MAX_PAYLOAD_BYTES};
pub use records::{JobDef, JobResult, JobStatus, QueuedJob};
