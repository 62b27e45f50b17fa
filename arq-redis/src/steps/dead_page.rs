//! `DeadLetters::dead_page` ↔ `lua/dead_page.lua`: one page of a queue's dead letters, newest
//! first.

use super::{count, Call};
use crate::reply::{array, bytes_of, int_of, protocol, score_of, string_of};
use crate::scripts::scripts;
use crate::{KeyLayout, RedisBackend};
use arq_core::backend::{DeadEntry, DeadPage};
use arq_core::Result;
use fred::types::Value as RValue;

/// The largest page one call reads.
const MAX_LIMIT: u64 = 100_000;

/// The largest offset sent (the script adds to it in Lua's doubles, and Redis reads the sum
/// back as an integer).
const MAX_OFFSET: u64 = 1_000_000_000_000;

/// Reads `limit` letters (at most 100 000) from `offset`; `limit` 0 reads only the count and
/// the clock.
pub(crate) async fn dead_page(
    b: &RedisBackend,
    queue: &str,
    offset: u64,
    limit: u64,
) -> Result<DeadPage> {
    let (keys, args) = call(b.keys(), queue, offset, limit);
    decode(b.eval(&scripts().dead_page, keys, args).await?)
}

/// KEYS dead set, dead data; ARGV offset, count.
fn call(k: &KeyLayout, queue: &str, offset: u64, limit: u64) -> Call {
    let keys = vec![k.dead(queue), k.dead_data(queue)];
    let args = vec![
        (offset.min(MAX_OFFSET) as i64).into(),
        (limit.min(MAX_LIMIT) as i64).into(),
    ];
    (keys, args)
}

/// `{now, total, {id, died, job|nil, record|nil}…}`.
fn decode(reply: RValue) -> Result<DeadPage> {
    let mut items = array(reply, "dead_page")?.into_iter();
    let (Some(now), Some(total)) = (items.next(), items.next()) else {
        return Err(protocol("dead_page: short reply"));
    };
    let entries = items.map(entry).collect::<Result<Vec<_>>>()?;
    Ok(DeadPage {
        now_ms: int_of(&now).ok_or_else(|| protocol("dead_page: time"))?,
        total: count(int_of(&total).ok_or_else(|| protocol("dead_page: total"))?),
        entries,
    })
}

/// One letter of the page.
fn entry(item: RValue) -> Result<DeadEntry> {
    let mut f = array(item, "dead_page item")?.into_iter();
    let (Some(id), Some(died), Some(job), Some(record)) = (f.next(), f.next(), f.next(), f.next())
    else {
        return Err(protocol("dead_page: short item"));
    };
    Ok(DeadEntry {
        job_id: string_of(id).ok_or_else(|| protocol("dead_page: job id"))?,
        died_ms: score_of(&died).ok_or_else(|| protocol("dead_page: score"))?,
        job: bytes_of(job),
        record: bytes_of(record),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn keys_and_arguments() {
        let (keys, args) = call(&KeyLayout::arq(), "q", 20, 10);
        assert_eq!(keys, ["q:dead", "q:dead:data"]);
        assert_eq!(args, vec![RValue::from(20i64), 10i64.into()]);
        let (_, args) = call(&KeyLayout::arq(), "q", u64::MAX, u64::MAX);
        assert_eq!(
            args,
            vec![RValue::from(1_000_000_000_000i64), 100_000i64.into()]
        );
    }

    #[test]
    fn replies() {
        let reply = RValue::Array(vec![
            1_000i64.into(),
            2i64.into(),
            RValue::Array(vec![
                "b".into(),
                "900".into(),
                RValue::Bytes(Bytes::from_static(b"job")),
                RValue::Bytes(Bytes::from_static(b"res")),
            ]),
            RValue::Array(vec!["a".into(), "800".into(), RValue::Null, RValue::Null]),
        ]);
        let page = decode(reply).unwrap();
        assert_eq!((page.now_ms, page.total), (1_000, 2));
        let (b, a) = (&page.entries[0], &page.entries[1]);
        assert_eq!((b.job_id.as_str(), b.died_ms), ("b", 900));
        assert_eq!(b.job.as_deref(), Some(&b"job"[..]));
        assert_eq!(b.record.as_deref(), Some(&b"res"[..]));
        assert_eq!((a.job_id.as_str(), a.died_ms), ("a", 800));
        assert!(a.job.is_none() && a.record.is_none());

        let empty = decode(RValue::Array(vec![5i64.into(), 0i64.into()])).unwrap();
        assert!(empty.entries.is_empty() && empty.total == 0);
        for bad in [
            RValue::Array(vec![5i64.into()]),
            RValue::Array(vec![5i64.into(), 1i64.into(), RValue::Array(vec![])]),
            RValue::from("x"),
        ] {
            let e = decode(bad.clone()).unwrap_err().to_string();
            assert!(
                e.contains("unexpected reply from redis: dead_page"),
                "{bad:?}: {e}"
            );
        }
    }
}
