//! `Backend::hooks_claim` ↔ `lua/hooks_claim.lua`: lease the pending failure hooks whose
//! lease ran out.

use super::Call;
use crate::reply::{array, bytes_of, protocol, string_of};
use crate::scripts::scripts;
use crate::{KeyLayout, RedisBackend};
use arq_core::backend::PendingHook;
use arq_core::Result;
use fred::types::Value as RValue;

/// Claims up to `limit` hooks for `lease_ms`; none (and no call) for `limit` 0.
pub(crate) async fn hooks_claim(
    b: &RedisBackend,
    queue: &str,
    limit: usize,
    lease_ms: i64,
) -> Result<Vec<PendingHook>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let (keys, args) = call(b.keys(), queue, limit, lease_ms);
    decode(b.eval(&scripts().hooks_claim, keys, args).await?)
}

/// The most hooks one call takes.
const MAX_LIMIT: usize = 100_000;

/// KEYS hook set, hook data; ARGV limit (1 to 100 000), lease ms (at least 1).
fn call(k: &KeyLayout, queue: &str, limit: usize, lease_ms: i64) -> Call {
    let keys = vec![k.hooks(queue), k.hooks_data(queue)];
    let args = vec![
        (limit.clamp(1, MAX_LIMIT) as i64).into(),
        lease_ms.max(1).into(),
    ];
    (keys, args)
}

/// `{{id, record}, …}`.
fn decode(reply: RValue) -> Result<Vec<PendingHook>> {
    array(reply, "hooks_claim")?
        .into_iter()
        .map(|item| {
            let mut f = array(item, "hooks_claim item")?.into_iter();
            let (Some(id), Some(record)) = (f.next(), f.next()) else {
                return Err(protocol("hooks_claim: short item"));
            };
            Ok(PendingHook {
                job_id: string_of(id).ok_or_else(|| protocol("hooks_claim: job id"))?,
                record: bytes_of(record).ok_or_else(|| protocol("hooks_claim: record"))?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn keys_and_arguments() {
        let (keys, args) = call(&KeyLayout::arq(), "q", 10, 0);
        assert_eq!(keys, ["q:hooks", "q:hooks:data"]);
        assert_eq!(args, vec![RValue::from(10i64), 1i64.into()]);
        let (_, args) = call(&KeyLayout::arq(), "q", usize::MAX, 30_000);
        assert_eq!(args, vec![RValue::from(100_000i64), 30_000i64.into()]);
    }

    #[test]
    fn replies() {
        let reply = RValue::Array(vec![RValue::Array(vec![
            "a".into(),
            RValue::Bytes(Bytes::from_static(b"rec")),
        ])]);
        let hooks = decode(reply).unwrap();
        assert_eq!(hooks.len(), 1);
        assert_eq!(hooks[0].job_id, "a");
        assert_eq!(hooks[0].record, Bytes::from_static(b"rec"));
        assert!(decode(RValue::Array(vec![])).unwrap().is_empty());
        for bad in [
            RValue::from("x"),
            RValue::Array(vec![RValue::Array(vec!["a".into()])]),
            RValue::Array(vec![RValue::Array(vec!["a".into(), RValue::Null])]),
        ] {
            let e = decode(bad.clone()).unwrap_err().to_string();
            assert!(
                e.contains("unexpected reply from redis: hooks_claim"),
                "{bad:?}: {e}"
            );
        }
    }
}
