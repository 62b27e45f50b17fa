//! `Backend::status` ↔ `lua/status.lua`: what `Job.status()` decides from, read atomically.

use super::Call;
use crate::reply::{array, int_of, protocol, score_of};
use crate::scripts::scripts;
use crate::{KeyLayout, RedisBackend};
use arq_core::backend::RawStatus;
use arq_core::Result;
use fred::types::Value as RValue;

/// Reads a job's status facts.
pub(crate) async fn status(b: &RedisBackend, queue: &str, job_id: &str) -> Result<RawStatus> {
    let (keys, args) = call(b.keys(), queue, job_id);
    decode(b.eval(&scripts().status, keys, args).await?)
}

/// KEYS result, in-progress, queue; ARGV id.
fn call(k: &KeyLayout, queue: &str, job_id: &str) -> Call {
    let keys = vec![
        k.result(job_id),
        k.in_progress(job_id),
        k.queue(queue).to_owned(),
    ];
    (keys, vec![job_id.into()])
}

/// `{result exists, in-progress exists, score|nil, now}`.
fn decode(reply: RValue) -> Result<RawStatus> {
    let r = array(reply, "status")?;
    if r.len() < 4 {
        return Err(protocol("status: short reply"));
    }
    Ok(RawStatus {
        result_exists: int_of(&r[0]) == Some(1),
        in_progress: int_of(&r[1]) == Some(1),
        score: score_of(&r[2]),
        now_ms: int_of(&r[3]).ok_or_else(|| protocol("status: time"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_arguments_and_replies() {
        let (keys, args) = call(&KeyLayout::arq(), "q", "a");
        assert_eq!(keys, ["arq:result:a", "arq:in-progress:a", "q"]);
        assert_eq!(args, vec![RValue::from("a")]);

        let reply = RValue::Array(vec![
            0i64.into(),
            1i64.into(),
            "1500".into(),
            2_000i64.into(),
        ]);
        assert_eq!(
            decode(reply).unwrap(),
            RawStatus {
                result_exists: false,
                in_progress: true,
                score: Some(1_500),
                now_ms: 2_000
            }
        );
        // Not queued: the score is nil (RESP2 Lua false).
        let reply = RValue::Array(vec![1i64.into(), 0i64.into(), RValue::Null, 7i64.into()]);
        let s = decode(reply).unwrap();
        assert!(s.result_exists && !s.in_progress && s.score.is_none());
        assert!(decode(RValue::Array(vec![1i64.into()]))
            .unwrap_err()
            .to_string()
            .contains("status: short reply"));
        let no_time = RValue::Array(vec![0i64.into(), 0i64.into(), RValue::Null, "x".into()]);
        assert!(decode(no_time)
            .unwrap_err()
            .to_string()
            .contains("status: time"));
    }
}
