//! `DeadLetters::dead_read` ↔ `lua/dead_read.lua`: one dead letter with its records.

use super::Call;
use crate::reply::{array, bytes_of, protocol, score_of};
use crate::scripts::scripts;
use crate::{KeyLayout, RedisBackend};
use arq_core::backend::DeadEntry;
use arq_core::Result;
use fred::types::Value as RValue;

/// Reads the letter of `job_id`, if there is one.
pub(crate) async fn dead_read(
    b: &RedisBackend,
    queue: &str,
    job_id: &str,
) -> Result<Option<DeadEntry>> {
    let (keys, args) = call(b.keys(), queue, job_id);
    decode(b.eval(&scripts().dead_read, keys, args).await?, job_id)
}

/// KEYS dead set, dead data; ARGV id.
fn call(k: &KeyLayout, queue: &str, job_id: &str) -> Call {
    (vec![k.dead(queue), k.dead_data(queue)], vec![job_id.into()])
}

/// `{}` none; `{died, job|nil, record|nil}`.
fn decode(reply: RValue, job_id: &str) -> Result<Option<DeadEntry>> {
    let mut f = array(reply, "dead_read")?.into_iter();
    let Some(died) = f.next() else {
        return Ok(None);
    };
    let (Some(job), Some(record)) = (f.next(), f.next()) else {
        return Err(protocol("dead_read: short reply"));
    };
    Ok(Some(DeadEntry {
        job_id: job_id.to_owned(),
        died_ms: score_of(&died).ok_or_else(|| protocol("dead_read: score"))?,
        job: bytes_of(job),
        record: bytes_of(record),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn keys_and_arguments() {
        let (keys, args) = call(&KeyLayout::arq(), "q", "a");
        assert_eq!(keys, ["q:dead", "q:dead:data"]);
        assert_eq!(args, vec![RValue::from("a")]);
    }

    #[test]
    fn replies() {
        assert!(decode(RValue::Array(vec![]), "a").unwrap().is_none());
        let e = decode(
            RValue::Array(vec![
                "12".into(),
                RValue::Null,
                RValue::Bytes(Bytes::from_static(b"res")),
            ]),
            "a",
        )
        .unwrap()
        .unwrap();
        assert_eq!((e.job_id.as_str(), e.died_ms), ("a", 12));
        assert!(e.job.is_none());
        assert_eq!(e.record.as_deref(), Some(&b"res"[..]));
        assert!(decode(RValue::Array(vec!["12".into()]), "a").is_err());
        assert!(decode(RValue::from("x"), "a").is_err());
    }
}
