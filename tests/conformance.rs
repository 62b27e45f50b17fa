//! The backend conformance suite (issue #12): every client and worker behaviour, one test
//! each, run against every backend, so that a backend cannot drift from Redis's semantics.
//!
//! Each behaviour is an `async fn(&impl Factory)` in one of the modules below, written only
//! against the public API (`Pool`, `Job`, `Worker`, `WorkerSettings`, `#[arq::job]`,
//! `CronJob`, the inspection calls), never against `Backend` methods, so a reshape of the
//! trait does not touch it. [`conformance!`] stamps out one `#[tokio::test]` per behaviour
//! and backend, named `<backend>::<behaviour>` (`cargo test --test conformance redis::`).
//!
//! To add a backend: implement [`backends::Factory`] for it (a fresh, empty store per call,
//! and a `Pool` on it; whatever must live as long as the test goes in the guard), then add a
//! `name => Factory` line to the `conformance!` call at the bottom of this file. To add a
//! behaviour: write the `async fn` in its module and list it in [`behaviours!`]. Every test
//! uses its own queue and ledger tag (both from [`backends::Env::queue`]), so tests run in
//! parallel, and every wait has a deadline.

mod common;

#[path = "conformance/backends.rs"]
mod backends;
#[path = "conformance/support.rs"]
mod support;

#[path = "conformance/abort.rs"]
mod abort;
#[path = "conformance/codec.rs"]
mod codec;
#[path = "conformance/cron.rs"]
mod cron;
#[path = "conformance/enqueue.rs"]
mod enqueue;
#[path = "conformance/failures.rs"]
mod failures;
#[path = "conformance/health.rs"]
mod health;
#[path = "conformance/inspect.rs"]
mod inspect;
#[path = "conformance/leases.rs"]
mod leases;
#[path = "conformance/results.rs"]
mod results;
#[path = "conformance/retry.rs"]
mod retry;

use arq::Ctx;
use std::time::Duration;
use support::{gate_is_open, record, Event};

// ---- the jobs every behaviour runs (each takes the test's tag first) ----

/// A typed result with a nested shape.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Point {
    /// Name.
    pub label: String,
    /// Coordinates.
    pub xy: (i64, i64),
    /// Optional extras.
    pub tags: Vec<String>,
}

/// Records its run and returns its try number after `ms`.
#[arq::job]
async fn work(ctx: &Ctx, tag: String, ms: u64) -> u32 {
    record(&tag, ctx, Event::Started);
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    record(&tag, ctx, Event::Finished);
    ctx.job_try()
}

/// A typed, structured result.
#[arq::job]
async fn make_point(ctx: &Ctx, tag: String, x: i64, y: i64) -> Point {
    record(&tag, ctx, Event::Started);
    Point {
        label: format!("{tag}/{}", ctx.job_id()),
        xy: (x, y),
        tags: vec!["a".into(), "ü".into()],
    }
}

/// Runs until the test opens its gate (at most a minute), recording start and finish.
#[arq::job]
async fn gated(ctx: &Ctx, tag: String) -> u32 {
    record(&tag, ctx, Event::Started);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !gate_is_open(&tag) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    record(&tag, ctx, Event::Finished);
    ctx.job_try()
}

/// Asks to be retried (after `defer_ms`) until try `succeed_on`.
#[arq::job(max_tries = 3)]
async fn flaky(ctx: &Ctx, tag: String, succeed_on: u32, defer_ms: u64) -> anyhow::Result<u32> {
    record(&tag, ctx, Event::Started);
    if ctx.job_try() < succeed_on {
        let retry = if defer_ms == 0 {
            arq::Retry::now()
        } else {
            arq::Retry::after(Duration::from_millis(defer_ms))
        };
        return Err(retry.into());
    }
    record(&tag, ctx, Event::Finished);
    Ok(ctx.job_try())
}

/// Overruns its own 200 ms timeout.
#[arq::job(timeout = "200ms")]
async fn overrun(ctx: &Ctx, tag: String, ms: u64) -> u64 {
    record(&tag, ctx, Event::Started);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    record(&tag, ctx, Event::Finished);
    ms
}

/// Panics.
#[arq::job]
async fn explode(ctx: &Ctx, tag: String) -> u32 {
    record(&tag, ctx, Event::Started);
    if !tag.is_empty() {
        panic!("kaboom in {tag}");
    }
    0
}

/// Its result is kept for one second only.
#[arq::job(keep_result = "1s")]
async fn keep_briefly(ctx: &Ctx, tag: String) -> String {
    record(&tag, ctx, Event::Started);
    format!("brief {tag}")
}

/// Its result is kept forever.
#[arq::job(keep_result_forever = true)]
async fn keep_always(ctx: &Ctx, tag: String) -> String {
    record(&tag, ctx, Event::Started);
    format!("always {tag}")
}

/// Keeps no result at all.
#[arq::job(keep_result = 0)]
async fn keep_nothing(ctx: &Ctx, tag: String) -> String {
    record(&tag, ctx, Event::Started);
    format!("nothing {tag}")
}

/// Echoes a value tree (for the codec round trips).
#[arq::job]
async fn echo(ctx: &Ctx, tag: String, value: arq::Value) -> arq::Value {
    record(&tag, ctx, Event::Started);
    value
}

/// Fails with an ordinary error until try `succeed_on`; its policy retries after 300 ms.
#[arq::job(max_tries = 3, retry = fixed("300ms", jitter = false))]
async fn policy_flaky(ctx: &Ctx, tag: String, succeed_on: u32) -> anyhow::Result<u32> {
    record(&tag, ctx, Event::Started);
    if ctx.job_try() < succeed_on {
        anyhow::bail!("transient failure on try {}", ctx.job_try());
    }
    Ok(ctx.job_try())
}

/// Fails for good at once, though its policy would retry an ordinary error.
#[arq::job(max_tries = 3, retry = fixed("50ms"))]
async fn policy_permanent(ctx: &Ctx, tag: String) -> anyhow::Result<u32> {
    record(&tag, ctx, Event::Started);
    Err(arq::Permanent::new(std::io::Error::other("no such account")).into())
}

/// Snoozes (100 ms) on its first `times` runs, then returns its try.
#[arq::job(max_tries = 2, max_snoozes = 3)]
async fn snoozer(ctx: &Ctx, tag: String, times: usize) -> anyhow::Result<u32> {
    record(&tag, ctx, Event::Started);
    if support::starts(&tag).len() <= times {
        return Err(arq::Snooze::after(Duration::from_millis(100)).into());
    }
    Ok(ctx.job_try())
}

/// Fails on its first run under `tag`, succeeds after.
#[arq::job]
async fn fail_once(ctx: &Ctx, tag: String) -> anyhow::Result<u32> {
    record(&tag, ctx, Event::Started);
    if support::starts(&tag).len() == 1 {
        anyhow::bail!("first run fails");
    }
    Ok(ctx.job_try())
}

/// Stamps one `#[tokio::test]` per behaviour for one backend (the list of behaviours).
macro_rules! behaviours {
    ($factory:expr) => {
        behaviours!(@each $factory;
            enqueue::enqueue_and_typed_result,
            enqueue::duplicate_id_refused_while_queued,
            enqueue::duplicate_id_refused_while_result_kept,
            enqueue::defer_by_runs_no_earlier,
            enqueue::defer_until_runs_no_earlier,
            enqueue::expired_job_fails_without_running,
            enqueue::job_try_set_at_enqueue,
            enqueue::no_result_kept_frees_the_id,
            enqueue::defer_until_long_past_is_refused,
            enqueue::due_jobs_run_in_score_order,
            results::status_in_each_of_the_five_states,
            results::info_and_result_info_fields,
            results::keep_result_expires,
            results::keep_result_forever_has_no_expiry,
            results::job_timeout_is_a_timeout_error,
            results::panic_fails_that_job_alone,
            results::result_wait_times_out_and_unknown_is_not_found,
            results::unknown_function_fails_that_job,
            results::worker_keep_result_forever_covers_early_failures,
            retry::retry_with_delay_then_success,
            retry::max_tries_exhausted,
            failures::policy_retries_errors_with_backoff,
            failures::policy_exhausted_is_dead_and_hooked_once,
            failures::permanent_errors_are_not_retried,
            failures::snooze_spends_no_try,
            failures::snooze_limit_fails_the_job,
            failures::dead_letter_requeue_runs_the_job_again,
            abort::abort_queued_job,
            abort::abort_deferred_job,
            abort::abort_running_job,
            abort::abort_running_job_with_max_jobs_one,
            abort::abort_unknown_id,
            leases::two_workers_run_each_job_once,
            leases::shutdown_hands_the_job_back_without_a_try,
            leases::max_jobs_bounds_concurrency,
            leases::max_burst_jobs_stops_after_n,
            health::health_record_while_running_and_gone_after_burst,
            cron::cron_ticks_once_per_tick_with_two_workers,
            cron::cron_ticks_once_with_skewed_worker_clocks,
            inspect::queued_jobs_and_queue_info_count_states,
            inspect::delete_job_and_purge_queue,
            inspect::delete_running_job_discards_its_outcome,
            inspect::rerun_job_runs_a_finished_job_again,
            inspect::all_job_results_lists_finished_jobs,
            inspect::listings_page_through_long_queues,
            codec::msgpack_round_trip,
        );
        #[cfg(feature = "pickle")]
        behaviours!(@each $factory; codec::pickle_round_trip);
        #[cfg(feature = "json")]
        behaviours!(@each $factory; codec::json_round_trip);
    };
    (@each $factory:expr; $($module:ident :: $name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                crate::common::init_tracing();
                crate::$module::$name(&$factory).await
            }
        )*
    };
}

/// `conformance!(name => Factory, …)`: a module of tests per backend.
macro_rules! conformance {
    ($($backend:ident => $factory:expr),* $(,)?) => {
        $(
            mod $backend {
                behaviours!($factory);
            }
        )*
    };
}

conformance!(
    redis => crate::backends::RedisFactory,
    memory => crate::backends::MemoryFactory,
);
