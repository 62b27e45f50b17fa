//! `Inspect::delete` ↔ `lua/delete.lua`: remove a job and everything about it.

use super::{count, Call};
use crate::scripts::scripts;
use crate::{KeyLayout, RedisBackend};
use arq_core::Result;

/// Deletes a job; returns how many of its queue entry, record and result existed.
pub(crate) async fn delete(b: &RedisBackend, queue: &str, job_id: &str) -> Result<u64> {
    let (keys, args) = call(b.keys(), queue, job_id);
    let n: i64 = b.eval(&scripts().delete, keys, args).await?;
    Ok(count(n))
}

/// KEYS queue, job, retry, result, in-progress, abort set, progress; ARGV id.
fn call(k: &KeyLayout, queue: &str, job_id: &str) -> Call {
    let keys = vec![
        k.queue(queue).to_owned(),
        k.job(job_id),
        k.retry(job_id),
        k.result(job_id),
        k.in_progress(job_id),
        k.abort().to_owned(),
        k.progress(job_id),
    ];
    (keys, vec![job_id.into()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use fred::types::Value as RValue;

    #[test]
    fn keys_and_arguments() {
        let (keys, args) = call(&KeyLayout::arq(), "q", "a");
        assert_eq!(
            keys,
            [
                "q",
                "arq:job:a",
                "arq:retry:a",
                "arq:result:a",
                "arq:in-progress:a",
                "arq:abort",
                "arq:progress:a"
            ]
        );
        assert_eq!(args, vec![RValue::from("a")]);
    }

    #[test]
    fn the_first_call_stays_on_line_5() {
        // tests/acl.rs pins a refusal "script delete.lua, line 5" to this ZREM.
        let lua = include_str!("../../lua/delete.lua");
        assert_eq!(
            lua.lines().nth(4),
            Some("local n = redis.call('ZREM', KEYS[1], ARGV[1])")
        );
    }
}
