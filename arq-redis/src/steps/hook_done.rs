//! `Backend::hook_done` ↔ `lua/hook_done.lua`: remove a pending failure hook once it ran.

use super::Call;
use crate::scripts::scripts;
use crate::{KeyLayout, RedisBackend};
use arq_core::Result;

/// Removes the hook; whether it was pending.
pub(crate) async fn hook_done(b: &RedisBackend, queue: &str, job_id: &str) -> Result<bool> {
    let (keys, args) = call(b.keys(), queue, job_id);
    let n: i64 = b.eval(&scripts().hook_done, keys, args).await?;
    Ok(n == 1)
}

/// KEYS hook set, hook data; ARGV id.
fn call(k: &KeyLayout, queue: &str, job_id: &str) -> Call {
    (
        vec![k.hooks(queue), k.hooks_data(queue)],
        vec![job_id.into()],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use fred::types::Value as RValue;

    #[test]
    fn keys_and_arguments() {
        let k = KeyLayout::prefixed("t1").unwrap();
        let (keys, args) = call(&k, "t1:arq:queue", "a");
        assert_eq!(keys, ["t1:arq:queue:hooks", "t1:arq:queue:hooks:data"]);
        assert_eq!(args, vec![RValue::from("a")]);
    }
}
