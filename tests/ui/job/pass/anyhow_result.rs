//! `anyhow::Result<T>` (and other `…::Result<T>` aliases) give `Output = T`.
#![deny(warnings, missing_docs)]

use arq::{Ctx, Enqueue, Pool, Retry};
use std::time::Duration;

/// Doubles a number, asking for a retry on the first run.
#[arq::job(max_tries = 3)]
pub async fn flaky_double(ctx: &Ctx, n: u64) -> anyhow::Result<u64> {
    if ctx.job_try() == 1 {
        return Err(Retry::after(Duration::from_millis(10)).into());
    }
    anyhow::ensure!(n < 1000, "too big: {n}");
    Ok(n * 2)
}

/// `std::io::Result<T>` is a `Result` too.
#[arq::job]
pub async fn read_len(path: String) -> std::io::Result<usize> {
    Ok(path.len())
}

#[allow(dead_code)]
fn type_checks(pool: &Pool) -> (Enqueue<'_, u64>, Enqueue<'_, usize>) {
    (
        flaky_double::enqueue(pool, 21),
        read_len::enqueue(pool, "/tmp".into()),
    )
}

fn main() {
    let n: flaky_double::Output = 42_u64;
    let len: read_len::Output = 4_usize;
    assert_eq!((n, len), (42, 4));
    assert_eq!(flaky_double::FUNCTION.options.max_tries, Some(3));
}
