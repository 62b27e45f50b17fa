//! The ledger jobs the worker processes run. Each writes `start` when it begins, `end` when
//! it returns, and `cancel` when its future is dropped first (see [`super::ledger`]).

use super::ledger::Entry;
use arq::{Ctx, Retry};
use std::time::{Duration, Instant};

/// A job's own error, so its class and text are known.
#[derive(Debug)]
pub struct LedgerError(pub String);

impl std::fmt::Display for LedgerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ledger failure: {}", self.0)
    }
}

impl std::error::Error for LedgerError {}

/// Async, yields: sleeps `ms`.
#[arq::job]
pub async fn ledger_sleep(ctx: &Ctx, ms: u64) -> u64 {
    let e = Entry::start(ctx);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    e.end();
    ms
}

/// Blocks its runtime thread for `ms` with `std::thread::sleep` (never yields).
#[arq::job]
pub async fn ledger_cpu(ctx: &Ctx, ms: u64) -> u64 {
    let e = Entry::start(ctx);
    std::thread::sleep(Duration::from_millis(ms));
    e.end();
    ms
}

/// Busy-loops on its runtime thread for `ms` (never yields).
#[arq::job]
pub async fn ledger_cpu_busy(ctx: &Ctx, ms: u64) -> u64 {
    let e = Entry::start(ctx);
    let until = Instant::now() + Duration::from_millis(ms);
    let mut x: u64 = 0;
    while Instant::now() < until {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    e.end();
    ms
}

/// Sleeps `ms` on tokio's blocking pool and awaits it.
#[arq::job]
pub async fn ledger_blocking_pool(ctx: &Ctx, ms: u64) -> u64 {
    let e = Entry::start(ctx);
    tokio::task::spawn_blocking(move || std::thread::sleep(Duration::from_millis(ms)))
        .await
        .expect("blocking task");
    e.end();
    ms
}

/// Fails with `ledger failure: <msg>`.
#[arq::job]
pub async fn ledger_fail(ctx: &Ctx, msg: String) -> Result<(), LedgerError> {
    let e = Entry::start(ctx);
    e.end();
    Err(LedgerError(msg))
}

/// Asks to be retried in `defer_ms` until try `succeed_on`; returns the try it succeeded on.
#[arq::job]
pub async fn ledger_retry(ctx: &Ctx, defer_ms: u64, succeed_on: u32) -> anyhow::Result<u32> {
    let e = Entry::start(ctx);
    e.end();
    if ctx.job_try() < succeed_on {
        return Err(Retry::after(Duration::from_millis(defer_ms)).into());
    }
    Ok(ctx.job_try())
}

/// Sleeps `ms`, then asks to be retried in `defer_ms` on its first try; later tries return
/// their try number.
#[arq::job]
pub async fn ledger_sleep_retry(ctx: &Ctx, ms: u64, defer_ms: u64) -> anyhow::Result<u32> {
    let e = Entry::start(ctx);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    e.end();
    if ctx.job_try() < 2 {
        return Err(Retry::after(Duration::from_millis(defer_ms)).into());
    }
    Ok(ctx.job_try())
}

/// Panics with `ledger panic: <msg>` after a first await (so the panic happens inside a
/// poll of the job's future, not while it is built).
#[arq::job]
pub async fn ledger_panic(ctx: &Ctx, msg: String) -> u64 {
    let e = Entry::start(ctx);
    tokio::task::yield_now().await;
    e.end();
    panic!("ledger panic: {msg}");
}

/// Kills its own worker process with `std::process::abort`.
#[arq::job]
pub async fn ledger_abort_process(ctx: &Ctx) {
    let _e = Entry::start(ctx);
    std::process::abort();
}

/// Returns a string of `bytes` bytes.
#[arq::job]
pub async fn ledger_big_result(ctx: &Ctx, bytes: usize) -> String {
    let e = Entry::start(ctx);
    e.end();
    "x".repeat(bytes)
}

/// Returns the length of its argument (for big payloads).
#[arq::job]
pub async fn ledger_len(ctx: &Ctx, data: String) -> usize {
    let e = Entry::start(ctx);
    e.end();
    data.len()
}

/// Every ledger job.
pub fn functions() -> Vec<arq::Function> {
    vec![
        ledger_sleep::FUNCTION,
        ledger_cpu::FUNCTION,
        ledger_cpu_busy::FUNCTION,
        ledger_blocking_pool::FUNCTION,
        ledger_fail::FUNCTION,
        ledger_retry::FUNCTION,
        ledger_sleep_retry::FUNCTION,
        ledger_panic::FUNCTION,
        ledger_abort_process::FUNCTION,
        ledger_big_result::FUNCTION,
        ledger_len::FUNCTION,
    ]
}

/// The per-second cron job of the cron scenarios: a 5 ms job, no result kept.
pub fn tick_cron() -> arq::CronJob {
    arq::CronJob::new(
        "fault_tick",
        arq::CronSchedule::new().second(0..60).unwrap(),
        |ctx, _args| {
            Box::pin(async move {
                let e = Entry::start(&ctx);
                tokio::time::sleep(Duration::from_millis(5)).await;
                e.end();
                Ok(arq::Value::Nil)
            })
        },
    )
    .keep_result(Duration::ZERO)
}
