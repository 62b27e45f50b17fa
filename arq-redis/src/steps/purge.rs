//! `Inspect::purge` ↔ `lua/purge.lua`: remove a batch of a queue's entries that are not
//! running.

use super::{count, Call};
use crate::scripts::scripts;
use crate::{KeyLayout, RedisBackend};
use arq_core::Result;

/// The largest batch one call removes.
const MAX_BATCH: u64 = 100_000;

/// Removes up to `batch` entries (1 to 100 000); returns how many.
pub(crate) async fn purge(b: &RedisBackend, queue: &str, batch: u64) -> Result<u64> {
    let (keys, args) = call(b.keys(), queue, batch);
    let n: i64 = b.eval(&scripts().purge, keys, args).await?;
    Ok(count(n))
}

/// KEYS queue; ARGV batch, job, in-progress and retry prefixes.
fn call(k: &KeyLayout, queue: &str, batch: u64) -> Call {
    let args = vec![
        (batch.clamp(1, MAX_BATCH) as i64).into(),
        k.job_prefix().into(),
        k.in_progress_prefix().into(),
        k.retry_prefix().into(),
    ];
    (vec![k.queue(queue).to_owned()], args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fred::types::Value as RValue;

    #[test]
    fn keys_and_arguments() {
        let (keys, args) = call(&KeyLayout::arq(), "q", 0);
        assert_eq!(keys, ["q"]);
        let expected: Vec<RValue> = vec![
            1i64.into(),
            "arq:job:".into(),
            "arq:in-progress:".into(),
            "arq:retry:".into(),
        ];
        assert_eq!(args, expected);
        assert_eq!(
            call(&KeyLayout::arq(), "q", u64::MAX).1[0],
            RValue::from(100_000i64)
        );
        assert_eq!(call(&KeyLayout::arq(), "q", 500).1[0], RValue::from(500i64));
    }
}
