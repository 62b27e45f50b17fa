//! `Backend::result` ↔ `lua/result.lua`: a job's result record, its TTL and its score.

use super::Call;
use crate::reply::{array, bytes_of, int_of, score_of};
use crate::scripts::scripts;
use crate::{KeyLayout, RedisBackend};
use arq_core::backend::{ResultRead, ResultTtl};
use arq_core::Result;
use fred::types::Value as RValue;

/// Reads a job's result, its time to live and its queue score in one call.
pub(crate) async fn result(b: &RedisBackend, queue: &str, job_id: &str) -> Result<ResultRead> {
    let (keys, args) = call(b.keys(), queue, job_id);
    decode(b.eval(&scripts().result, keys, args).await?)
}

/// KEYS result, queue; ARGV id.
fn call(k: &KeyLayout, queue: &str, job_id: &str) -> Call {
    (
        vec![k.result(job_id), k.queue(queue).to_owned()],
        vec![job_id.into()],
    )
}

/// `{result|nil, score|nil, pttl|nil}`: PTTL -1 is kept forever, nil (or no result) unknown.
fn decode(reply: RValue) -> Result<ResultRead> {
    let mut r = array(reply, "result")?.into_iter();
    let result = r.next().and_then(bytes_of);
    let score = r.next().as_ref().and_then(score_of);
    let ttl = match r.next().as_ref().and_then(int_of) {
        _ if result.is_none() => ResultTtl::Unknown,
        Some(-1) => ResultTtl::Forever,
        Some(ms) if ms >= 0 => ResultTtl::Ms(ms),
        _ => ResultTtl::Unknown,
    };
    Ok(ResultRead { result, ttl, score })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn keys_arguments_and_replies() {
        let (keys, args) = call(&KeyLayout::arq(), "q", "a");
        assert_eq!(keys, ["arq:result:a", "q"]);
        assert_eq!(args, vec![RValue::from("a")]);

        let rec = || RValue::Bytes(Bytes::from_static(b"res"));
        let read = |ttl: RValue| decode(RValue::Array(vec![rec(), RValue::Null, ttl])).unwrap();
        assert_eq!(read(5_000i64.into()).ttl, ResultTtl::Ms(5_000));
        assert_eq!(read((-1i64).into()).ttl, ResultTtl::Forever);
        // PTTL refused (the script's `false`), or a key gone meanwhile (-2).
        assert_eq!(read(RValue::Null).ttl, ResultTtl::Unknown);
        assert_eq!(read((-2i64).into()).ttl, ResultTtl::Unknown);
        let r = read(1i64.into());
        assert_eq!(r.result.as_deref(), Some(&b"res"[..]));
        assert_eq!(r.score, None);

        let queued = decode(RValue::Array(vec![
            RValue::Null,
            "1700".into(),
            RValue::Null,
        ]));
        assert_eq!(
            queued.unwrap(),
            ResultRead {
                result: None,
                ttl: ResultTtl::Unknown,
                score: Some(1_700)
            }
        );
        assert_eq!(decode(RValue::Null).unwrap(), ResultRead::default());
        assert!(decode(RValue::Integer(3)).is_err());
    }
}
