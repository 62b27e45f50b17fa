//! `Backend::snooze` ↔ `lua/snooze.lua`: put a held job back to run later without spending a
//! try, up to its snooze limit.

use super::{events_len, Call};
use crate::reply::{array, int_of, protocol};
use crate::scripts::scripts;
use crate::{KeyLayout, RedisBackend};
use arq_core::backend::{SnoozeOutcome, SnoozeRequest};
use arq_core::Result;
use fred::types::Value as RValue;

/// Snoozes the job, or says why not.
pub(crate) async fn snooze(b: &RedisBackend, req: &SnoozeRequest) -> Result<SnoozeOutcome> {
    let (keys, args) = call(b.keys(), req);
    decode(b.eval(&scripts().snooze, keys, args).await?)
}

/// KEYS in-progress, queue, job, handed-back marker, try counter, snooze count, event stream;
/// ARGV id, token, defer ms (as asked; the script applies `max(defer, 1)` to the score and
/// writes that applied deferral as the event's data), snooze limit, try, event stream length.
fn call(k: &KeyLayout, req: &SnoozeRequest) -> Call {
    let id = &req.job_id;
    let keys = vec![
        k.in_progress(id),
        k.queue(&req.queue).to_owned(),
        k.job(id),
        k.handed_back(id),
        k.retry(id),
        k.snoozes(id),
        k.events(&req.queue),
    ];
    let args = vec![
        id.as_str().into(),
        req.token.as_str().into(),
        req.defer_ms.into(),
        i64::from(req.max_snoozes).into(),
        req.job_try.to_string().into(),
        events_len(req.events),
    ];
    (keys, args)
}

/// `{1, count}` snoozed, `{2, count}` limit reached, `{0, 0}` fenced out.
fn decode(reply: RValue) -> Result<SnoozeOutcome> {
    let reply = array(reply, "snooze")?;
    let count = || {
        reply
            .get(1)
            .and_then(int_of)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| protocol(format!("snooze: count in {reply:?}")))
    };
    match reply.first().and_then(int_of) {
        Some(1) => Ok(SnoozeOutcome::Snoozed(count()?)),
        Some(2) => Ok(SnoozeOutcome::LimitReached(count()?)),
        Some(0) => Ok(SnoozeOutcome::Fenced),
        _ => Err(protocol(format!("snooze: {reply:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_arguments() {
        let req = SnoozeRequest {
            queue: "t1:arq:queue".into(),
            job_id: "a".into(),
            token: "w:1:1".into(),
            defer_ms: 0,
            max_snoozes: 5,
            job_try: 2,
            events: None,
        };
        let k = KeyLayout::prefixed("t1").unwrap();
        let (keys, args) = call(&k, &req);
        assert_eq!(
            keys,
            [
                "t1:arq:in-progress:a",
                "t1:arq:queue",
                "t1:arq:job:a",
                "t1:arq:retry:a:clean",
                "t1:arq:retry:a",
                "t1:arq:retry:a:snoozes",
                "t1:arq:queue:events"
            ]
        );
        let expected: Vec<RValue> = vec![
            "a".into(),
            "w:1:1".into(),
            0i64.into(),
            5i64.into(),
            "2".into(),
            "".into(),
        ];
        assert_eq!(args, expected);
        let (_, args) = call(
            &k,
            &SnoozeRequest {
                defer_ms: 5_000,
                events: Some(10),
                ..req
            },
        );
        assert_eq!(args[2], RValue::from(5_000i64));
        assert_eq!(args[5], RValue::from("10"));
    }

    #[test]
    fn replies() {
        let v = |items: Vec<i64>| RValue::Array(items.into_iter().map(RValue::from).collect());
        assert_eq!(decode(v(vec![1, 3])).unwrap(), SnoozeOutcome::Snoozed(3));
        assert_eq!(
            decode(v(vec![2, 5])).unwrap(),
            SnoozeOutcome::LimitReached(5)
        );
        assert_eq!(decode(v(vec![0, 0])).unwrap(), SnoozeOutcome::Fenced);
        for bad in [
            v(vec![1]),
            v(vec![1, -1]),
            v(vec![7, 0]),
            RValue::from("OK"),
        ] {
            let e = decode(bad.clone()).unwrap_err().to_string();
            assert!(
                e.contains("unexpected reply from redis: snooze"),
                "{bad:?}: {e}"
            );
        }
    }
}
