//! `Backend::enqueue` ↔ `lua/enqueue.lua`: add a job unless its id is taken.

use super::{events_len, flag, Call};
use crate::reply::{array, int_of, maybe_applied, protocol};
use crate::scripts::scripts;
use crate::server::{check_clock, oom_detail, MAX_CLOCK_SKEW_MS};
use crate::{KeyLayout, RedisBackend};
use arq_core::backend::{Defer, EnqueueRequest};
use arq_core::{Error, Result};
use bytes::Bytes;
use fred::types::Value as RValue;

/// Enqueues one job. A lost reply is [`Error::OutcomeUnknown`] (the script is never sent
/// twice); a refusal for want of memory names the server's limit.
pub(crate) async fn enqueue(b: &RedisBackend, req: &EnqueueRequest) -> Result<bool> {
    let (keys, args) = call(b.keys(), req);
    let reply: RValue = match b.eval_raw(&scripts().enqueue, keys, args).await {
        Ok(r) => r,
        Err((e, _)) if e.details().starts_with("OOM") => {
            return Err(Error::backend(format!(
                "redis is out of memory{}: enqueue of job {} rejected ({})",
                oom_detail(b.client()).await,
                req.job_id,
                e.details()
            )))
        }
        Err((e, _)) if maybe_applied(&e) && !crate::acl::is_permission_error(&e) => {
            return Err(Error::OutcomeUnknown(format!(
                "enqueue of job {} may or may not have been applied ({e}); enqueueing \
                 it again with the same id is safe: a repeat of a job that landed is \
                 refused as a duplicate",
                req.job_id
            )))
        }
        Err((_, mapped)) => return Err(mapped),
    };
    let (added, server_ms) = decode(reply, &req.job_id)?;
    if let Some(server_ms) = server_ms {
        check_clock(server_ms);
    }
    Ok(added)
}

/// KEYS job, result, queue, abort set, retry, event stream, snooze count; ARGV as
/// `lua/enqueue.lua` lists them.
fn call(k: &KeyLayout, req: &EnqueueRequest) -> Call {
    let (mode, value) = match req.defer {
        Defer::None => ("n", 0),
        Defer::By(ms) => ("b", ms),
        Defer::At(ms) => ("a", ms),
    };
    let keys = vec![
        k.job(&req.job_id),
        k.result(&req.job_id),
        k.queue(&req.queue).to_owned(),
        k.abort().to_owned(),
        k.retry(&req.job_id),
        k.events(&req.queue),
        k.snoozes(&req.job_id),
    ];
    let args = vec![
        req.job_id.as_str().into(),
        RValue::Bytes(Bytes::copy_from_slice(&req.payload)),
        mode.into(),
        value.into(),
        req.expires_ms
            .map(|e| e.to_string())
            .unwrap_or_default()
            .into(),
        flag(req.replace_result),
        k.enqueued_channel(&req.queue).into(),
        req.enqueue_time_ms.into(),
        MAX_CLOCK_SKEW_MS.into(),
        events_len(req.events),
    ];
    (keys, args)
}

/// `{1, score, now}`: added (with Redis's clock, when sent); `{0, 0}`: the id is taken;
/// `{-1, expires}`: the job would expire before it could run.
fn decode(reply: RValue, job_id: &str) -> Result<(bool, Option<i64>)> {
    let reply = array(reply, "enqueue")?;
    match reply.first().and_then(int_of) {
        Some(1) => Ok((true, reply.get(2).and_then(int_of))),
        Some(0) => Ok((false, None)),
        Some(-1) => Err(Error::InvalidArgument(format!(
            "job {job_id:?} would expire before it could run (defer_until is more than a \
             day in the past, or expires is not positive); nothing was enqueued"
        ))),
        _ => Err(protocol(format!("enqueue: {reply:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(defer: Defer) -> EnqueueRequest {
        EnqueueRequest {
            job_id: "j1".into(),
            queue: "t1:arq:queue".into(),
            payload: b"rec".to_vec(),
            defer,
            enqueue_time_ms: 1_000,
            expires_ms: None,
            replace_result: false,
            events: None,
        }
    }

    #[test]
    fn keys_and_arguments() {
        let k = KeyLayout::prefixed("t1").unwrap();
        let (keys, args) = call(&k, &req(Defer::None));
        assert_eq!(
            keys,
            [
                "t1:arq:job:j1",
                "t1:arq:result:j1",
                "t1:arq:queue",
                "t1:arq:abort",
                "t1:arq:retry:j1",
                "t1:arq:queue:events",
                "t1:arq:retry:j1:snoozes"
            ]
        );
        let expected: Vec<RValue> = vec![
            "j1".into(),
            RValue::Bytes(Bytes::from_static(b"rec")),
            "n".into(),
            0i64.into(),
            "".into(),
            "0".into(),
            "t1:arq:queue:enqueued".into(),
            1_000i64.into(),
            2_000i64.into(),
            "".into(),
        ];
        assert_eq!(args, expected);

        let mut r = req(Defer::By(500));
        r.expires_ms = Some(0);
        r.replace_result = true;
        r.events = Some(500);
        let (_, args) = call(&k, &r);
        assert_eq!(args[9], RValue::from("500"));
        assert_eq!(args[2], RValue::from("b"));
        assert_eq!(args[3], RValue::from(500i64));
        // The TTL goes as given: the script refuses a job that would expire at once.
        assert_eq!(args[4], RValue::from("0"));
        assert_eq!(args[5], RValue::from("1"));
        let (_, args) = call(&k, &req(Defer::At(9)));
        assert_eq!((&args[2], &args[3]), (&"a".into(), &9i64.into()));
    }

    #[test]
    fn replies() {
        let v = |items: Vec<i64>| RValue::Array(items.into_iter().map(RValue::from).collect());
        assert_eq!(decode(v(vec![1, 5, 7]), "j").unwrap(), (true, Some(7)));
        assert_eq!(decode(v(vec![1, 5]), "j").unwrap(), (true, None));
        assert_eq!(decode(v(vec![0, 0]), "j").unwrap(), (false, None));
        let e = decode(v(vec![-1, -3]), "j1").unwrap_err();
        assert!(
            matches!(&e, Error::InvalidArgument(m) if m.contains("\"j1\" would expire")),
            "{e}"
        );
        assert!(decode(v(vec![9]), "j").is_err());
        assert!(decode(RValue::from("OK"), "j")
            .unwrap_err()
            .to_string()
            .contains("unexpected reply from redis"));
    }
}
