//! `DeadLetters::dead_purge` ↔ `lua/dead_purge.lua`: remove a batch of a queue's oldest dead
//! letters.

use super::{count, Call};
use crate::scripts::scripts;
use crate::{KeyLayout, RedisBackend};
use arq_core::Result;

/// The largest batch one call removes.
const MAX_BATCH: u64 = 100_000;

/// Removes up to `batch` of the oldest letters (at most 100 000; 0 removes none, with no
/// call); returns how many.
pub(crate) async fn dead_purge(b: &RedisBackend, queue: &str, batch: u64) -> Result<u64> {
    if batch == 0 {
        return Ok(0);
    }
    let (keys, args) = call(b.keys(), queue, batch);
    let n: i64 = b.eval(&scripts().dead_purge, keys, args).await?;
    Ok(count(n))
}

/// KEYS dead set, dead data; ARGV batch (1 to 100 000).
fn call(k: &KeyLayout, queue: &str, batch: u64) -> Call {
    let args = vec![(batch.clamp(1, MAX_BATCH) as i64).into()];
    (vec![k.dead(queue), k.dead_data(queue)], args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fred::types::Value as RValue;

    #[test]
    fn keys_and_arguments() {
        let (keys, args) = call(&KeyLayout::arq(), "q", 10);
        assert_eq!(keys, ["q:dead", "q:dead:data"]);
        assert_eq!(args, vec![RValue::from(10i64)]);
        let (_, args) = call(&KeyLayout::arq(), "q", u64::MAX);
        assert_eq!(args, vec![RValue::from(100_000i64)]);
    }
}
