//! `Inspect::queue_stats` ↔ `lua/queue_stats.lua`: counts of a queue by state.

use super::{count, Call};
use crate::reply::{array, int_of, protocol, score_of};
use crate::scripts::scripts;
use crate::{KeyLayout, RedisBackend};
use arq_core::backend::QueueStats;
use arq_core::Result;
use fred::types::Value as RValue;

/// How many due entries are looked at for the running count ([`QueueStats::running_capped`]).
const RUNNING_SCAN_CAP: i64 = 10_000;

/// Counts a queue's entries.
pub(crate) async fn queue_stats(b: &RedisBackend, queue: &str) -> Result<QueueStats> {
    let (keys, args) = call(b.keys(), queue);
    decode(b.eval(&scripts().queue_stats, keys, args).await?)
}

/// KEYS queue; ARGV in-progress prefix, scan cap.
fn call(k: &KeyLayout, queue: &str) -> Call {
    (
        vec![k.queue(queue).to_owned()],
        vec![k.in_progress_prefix().into(), RUNNING_SCAN_CAP.into()],
    )
}

/// `{now, total, deferred, running, oldest score|'', capped 0|1}`.
fn decode(reply: RValue) -> Result<QueueStats> {
    let r = array(reply, "queue_stats")?;
    if r.len() < 6 {
        return Err(protocol("queue_stats: short reply"));
    }
    let n = |i: usize| count(int_of(&r[i]).unwrap_or(0));
    Ok(QueueStats {
        now_ms: int_of(&r[0]).unwrap_or(0),
        total: n(1),
        deferred: n(2),
        running: n(3),
        oldest_score: score_of(&r[4]),
        running_capped: n(5) == 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_arguments_and_replies() {
        let (keys, args) = call(&KeyLayout::prefixed("t1").unwrap(), "t1:arq:queue");
        assert_eq!(keys, ["t1:arq:queue"]);
        let expected: Vec<RValue> = vec!["t1:arq:in-progress:".into(), 10_000i64.into()];
        assert_eq!(args, expected);

        let v = |oldest: RValue| {
            RValue::Array(vec![
                50i64.into(),
                4i64.into(),
                1i64.into(),
                2i64.into(),
                oldest,
                1i64.into(),
            ])
        };
        let s = decode(v("40".into())).unwrap();
        assert_eq!(
            s,
            QueueStats {
                now_ms: 50,
                total: 4,
                deferred: 1,
                running: 2,
                oldest_score: Some(40),
                running_capped: true
            }
        );
        // An empty queue has no oldest entry (the script sends '').
        assert_eq!(decode(v("".into())).unwrap().oldest_score, None);
        assert!(decode(RValue::Array(vec![1i64.into()]))
            .unwrap_err()
            .to_string()
            .contains("queue_stats: short reply"));
    }
}
