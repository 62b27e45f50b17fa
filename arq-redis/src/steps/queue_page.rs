//! `Inspect::queue_page` ↔ `lua/queue_page.lua`: one page of a queue in score order.

use super::Call;
use crate::reply::{array, bytes_of, int_of, protocol, score_of, string_of};
use crate::scripts::scripts;
use crate::{KeyLayout, RedisBackend};
use arq_core::backend::{QueueEntry, QueuePage};
use arq_core::Result;
use fred::types::Value as RValue;

/// Reads `limit` entries from `offset`; an empty page (and no call) for `limit` 0.
pub(crate) async fn queue_page(
    b: &RedisBackend,
    queue: &str,
    offset: u64,
    limit: u64,
) -> Result<QueuePage> {
    if limit == 0 {
        return Ok(QueuePage {
            now_ms: 0,
            entries: Vec::new(),
        });
    }
    let (keys, args) = call(b.keys(), queue, offset, limit);
    decode(b.eval(&scripts().queue_page, keys, args).await?)
}

/// KEYS queue; ARGV offset, count, job prefix, in-progress prefix.
fn call(k: &KeyLayout, queue: &str, offset: u64, limit: u64) -> Call {
    let args = vec![
        (offset as i64).into(),
        (limit.min(i64::MAX as u64) as i64).into(),
        k.job_prefix().into(),
        k.in_progress_prefix().into(),
    ];
    (vec![k.queue(queue).to_owned()], args)
}

/// `{now, {id, score, payload|nil, running 0|1}…}`; a missing record is listed (arq #466).
fn decode(reply: RValue) -> Result<QueuePage> {
    let mut items = array(reply, "queue_page")?.into_iter();
    let now_ms = items
        .next()
        .as_ref()
        .and_then(int_of)
        .ok_or_else(|| protocol("queue_page: time"))?;
    let mut entries = Vec::new();
    for item in items {
        let mut f = array(item, "queue_page item")?.into_iter();
        let (Some(id), Some(score), Some(payload), Some(running)) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            return Err(protocol("queue_page: short item"));
        };
        entries.push(QueueEntry {
            job_id: string_of(id).ok_or_else(|| protocol("queue_page: id"))?,
            score: score_of(&score).unwrap_or(0),
            payload: bytes_of(payload),
            in_progress: int_of(&running) == Some(1),
        });
    }
    Ok(QueuePage { now_ms, entries })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn keys_and_arguments() {
        let (keys, args) = call(&KeyLayout::arq(), "q", 20, u64::MAX);
        assert_eq!(keys, ["q"]);
        let expected: Vec<RValue> = vec![
            20i64.into(),
            i64::MAX.into(),
            "arq:job:".into(),
            "arq:in-progress:".into(),
        ];
        assert_eq!(args, expected);
    }

    #[test]
    fn replies() {
        let reply = RValue::Array(vec![
            9i64.into(),
            RValue::Array(vec![
                "a".into(),
                "100".into(),
                RValue::Bytes(Bytes::from_static(b"rec")),
                1i64.into(),
            ]),
            RValue::Array(vec!["b".into(), "x".into(), RValue::Null, 0i64.into()]),
        ]);
        let page = decode(reply).unwrap();
        assert_eq!(page.now_ms, 9);
        let (a, b) = (&page.entries[0], &page.entries[1]);
        assert_eq!(
            (a.job_id.as_str(), a.score, a.in_progress),
            ("a", 100, true)
        );
        assert_eq!(a.payload.as_deref(), Some(&b"rec"[..]));
        // A missing record is listed; an unreadable score reads as 0.
        assert_eq!((b.job_id.as_str(), b.score, b.in_progress), ("b", 0, false));
        assert!(b.payload.is_none());

        let short = RValue::Array(vec![9i64.into(), RValue::Array(vec!["a".into()])]);
        assert!(decode(short)
            .unwrap_err()
            .to_string()
            .contains("queue_page: short item"));
        assert!(decode(RValue::Null)
            .unwrap_err()
            .to_string()
            .contains("queue_page: time"));
    }
}
