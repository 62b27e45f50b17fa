//! `DeadLetters::dead_requeue` ↔ `lua/dead_requeue.lua`: put dead jobs back in their queue,
//! due now, as if never run.

use super::{events_len, Call};
use crate::reply::{array, int_of, protocol};
use crate::scripts::scripts;
use crate::{KeyLayout, RedisBackend};
use arq_core::backend::{RequeueOutcome, JOB_EXPIRES_EXTRA_MS};
use arq_core::Result;
use fred::types::Value as RValue;

/// Requeues each id; one outcome per id, in order (none, and no call, for no ids).
pub(crate) async fn dead_requeue(
    b: &RedisBackend,
    queue: &str,
    job_ids: &[String],
    events: Option<u64>,
) -> Result<Vec<RequeueOutcome>> {
    if job_ids.is_empty() {
        return Ok(Vec::new());
    }
    let (keys, args) = call(b.keys(), queue, job_ids, events);
    decode(
        b.eval(&scripts().dead_requeue, keys, args).await?,
        job_ids.len(),
    )
}

/// KEYS dead set, dead data, queue, event stream, then job, try counter, handed-back marker,
/// release count, snooze count and result per id; ARGV event stream length, the job key's
/// TTL, the ids.
fn call(k: &KeyLayout, queue: &str, job_ids: &[String], events: Option<u64>) -> Call {
    let mut keys = Vec::with_capacity(4 + 6 * job_ids.len());
    keys.extend([
        k.dead(queue),
        k.dead_data(queue),
        k.queue(queue).to_owned(),
        k.events(queue),
    ]);
    let mut args: Vec<RValue> = Vec::with_capacity(2 + job_ids.len());
    args.push(events_len(events));
    args.push(JOB_EXPIRES_EXTRA_MS.into());
    for id in job_ids {
        keys.extend([
            k.job(id),
            k.retry(id),
            k.handed_back(id),
            k.releases(id),
            k.snoozes(id),
            k.result(id),
        ]);
        args.push(id.as_str().into());
    }
    (keys, args)
}

/// One code per id: 1 requeued, 0 no letter, 2 the job exists, 3 no job record.
fn decode(reply: RValue, ids: usize) -> Result<Vec<RequeueOutcome>> {
    let codes = array(reply, "dead_requeue")?;
    if codes.len() != ids {
        return Err(protocol("dead_requeue: outcome count"));
    }
    codes
        .iter()
        .map(|c| match int_of(c) {
            Some(1) => Ok(RequeueOutcome::Requeued),
            Some(0) => Ok(RequeueOutcome::NotFound),
            Some(2) => Ok(RequeueOutcome::JobExists),
            Some(3) => Ok(RequeueOutcome::NoRecord),
            _ => Err(protocol(format!("dead_requeue: {c:?}"))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_arguments() {
        let ids = ["a".to_owned(), "b".to_owned()];
        let k = KeyLayout::prefixed("t1").unwrap();
        let (keys, args) = call(&k, "t1:arq:queue", &ids, Some(100));
        assert_eq!(
            keys,
            [
                "t1:arq:queue:dead",
                "t1:arq:queue:dead:data",
                "t1:arq:queue",
                "t1:arq:queue:events",
                "t1:arq:job:a",
                "t1:arq:retry:a",
                "t1:arq:retry:a:clean",
                "t1:arq:retry:a:releases",
                "t1:arq:retry:a:snoozes",
                "t1:arq:result:a",
                "t1:arq:job:b",
                "t1:arq:retry:b",
                "t1:arq:retry:b:clean",
                "t1:arq:retry:b:releases",
                "t1:arq:retry:b:snoozes",
                "t1:arq:result:b"
            ]
        );
        let expected: Vec<RValue> =
            vec!["100".into(), 86_400_000i64.into(), "a".into(), "b".into()];
        assert_eq!(args, expected);
        let (_, args) = call(&k, "t1:arq:queue", &ids, None);
        assert_eq!(args[0], RValue::from(""));
    }

    #[test]
    fn replies() {
        let reply = RValue::Array(vec![1i64.into(), 0i64.into(), 2i64.into(), 3i64.into()]);
        assert_eq!(
            decode(reply.clone(), 4).unwrap(),
            [
                RequeueOutcome::Requeued,
                RequeueOutcome::NotFound,
                RequeueOutcome::JobExists,
                RequeueOutcome::NoRecord
            ]
        );
        assert!(decode(reply, 3)
            .unwrap_err()
            .to_string()
            .contains("outcome count"));
        let e = decode(RValue::Array(vec![9i64.into()]), 1).unwrap_err();
        assert!(e.to_string().contains("dead_requeue"), "{e}");
        assert!(decode(RValue::from("x"), 1).is_err());
    }
}
