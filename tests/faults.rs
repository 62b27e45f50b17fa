//! The fault scenarios of reliability.md §3.2, one test binary (so the harness of
//! `tests/common/fault` compiles once): worker crashes, signals, zombies and timeouts
//! ([`crash`], S01–S09), Redis restarts, outages, network faults, failover and maxmemory
//! ([`redis`], S10–S18), bad input, a million deferred jobs and concurrency ([`input`],
//! S19–S28), and cron under clock skew ([`clock`], S29–S30). Test paths are `crash::s05_…`, `redis::s16b_…` and so on.
//!
//! The worker processes are this binary re-executed with `--exact fault_worker_child`
//! (see `tests/common/fault/worker.rs`), which is why that entry point sits here, at the root.

#[path = "common/fault/mod.rs"]
mod fault;

#[path = "faults/clock.rs"]
mod clock;
#[path = "faults/crash.rs"]
mod crash;
#[path = "faults/input.rs"]
mod input;
#[path = "faults/redis.rs"]
mod redis;

/// Not a test of its own: the entry point of the worker processes.
#[test]
fn fault_worker_child() {
    fault::worker::child_main();
}
