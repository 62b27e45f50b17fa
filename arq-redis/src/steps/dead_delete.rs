//! `DeadLetters::dead_delete` ↔ `lua/dead_delete.lua`: remove dead letters with their
//! records.

use super::{count, Call};
use crate::scripts::scripts;
use crate::{KeyLayout, RedisBackend};
use arq_core::Result;

/// Deletes the letters of `job_ids`; how many existed (0, and no call, for no ids).
pub(crate) async fn dead_delete(b: &RedisBackend, queue: &str, job_ids: &[String]) -> Result<u64> {
    if job_ids.is_empty() {
        return Ok(0);
    }
    let (keys, args) = call(b.keys(), queue, job_ids);
    let n: i64 = b.eval(&scripts().dead_delete, keys, args).await?;
    Ok(count(n))
}

/// KEYS dead set, dead data; ARGV the ids.
fn call(k: &KeyLayout, queue: &str, job_ids: &[String]) -> Call {
    let args = job_ids.iter().map(|id| id.as_str().into()).collect();
    (vec![k.dead(queue), k.dead_data(queue)], args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fred::types::Value as RValue;

    #[test]
    fn keys_and_arguments() {
        let (keys, args) = call(&KeyLayout::arq(), "q", &["a".into(), "b".into()]);
        assert_eq!(keys, ["q:dead", "q:dead:data"]);
        assert_eq!(args, vec![RValue::from("a"), "b".into()]);
    }
}
