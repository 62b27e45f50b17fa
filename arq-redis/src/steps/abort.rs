//! `Backend::abort` ↔ `lua/abort.lua`: remove a job that has not started, or ask its worker
//! to cancel it; and `Backend::abort_requests`, the worker's side (one `ZMSCORE`).

use super::{events_len, optional_bytes, optional_ms, Call};
use crate::reply::{array, maybe_applied, protocol, redis_error, score_of, string_of};
use crate::scripts::scripts;
use crate::{KeyLayout, RedisBackend};
use arq_core::backend::{AbortOutcome, AbortRequest};
use arq_core::{Error, Result};
use fred::prelude::*;
use fred::types::Value as RValue;

/// Aborts one job. A lost reply is [`Error::OutcomeUnknown`] (aborting again is safe).
pub(crate) async fn abort(b: &RedisBackend, req: &AbortRequest) -> Result<AbortOutcome> {
    let (keys, args) = call(b.keys(), req);
    let reply: RValue = match b.eval_raw(&scripts().abort, keys, args).await {
        Ok(r) => r,
        Err((e, _)) if maybe_applied(&e) && !crate::acl::is_permission_error(&e) => {
            return Err(Error::OutcomeUnknown(format!(
                "abort of job {} may or may not have been applied ({e}); aborting it \
                 again is safe",
                req.job_id
            )))
        }
        Err((_, mapped)) => return Err(mapped),
    };
    decode(reply)
}

/// KEYS queue, abort set, job, result, in-progress, retry, event stream; ARGV id, aborted
/// result (`''` none), its TTL (`''` forever), event stream length.
fn call(k: &KeyLayout, req: &AbortRequest) -> Call {
    let id = &req.job_id;
    let keys = vec![
        k.queue(&req.queue).to_owned(),
        k.abort().to_owned(),
        k.job(id),
        k.result(id),
        k.in_progress(id),
        k.retry(id),
        k.events(&req.queue),
    ];
    let args = vec![
        id.as_str().into(),
        optional_bytes(req.result.as_deref()),
        optional_ms(req.keep_result_ms),
        events_len(req.events),
    ];
    (keys, args)
}

/// `aborted`, `requested`, `finished` or `not_found`.
fn decode(reply: RValue) -> Result<AbortOutcome> {
    match string_of(reply).as_deref() {
        Some("aborted") => Ok(AbortOutcome::Aborted),
        Some("requested") => Ok(AbortOutcome::Requested),
        Some("finished") => Ok(AbortOutcome::Finished),
        Some("not_found") => Ok(AbortOutcome::NotFound),
        other => Err(protocol(format!("abort: {other:?}"))),
    }
}

/// Which of `job_ids` have an abort marker, and since when (ms).
pub(crate) async fn abort_requests(
    b: &RedisBackend,
    job_ids: &[String],
) -> Result<Vec<(String, i64)>> {
    if job_ids.is_empty() {
        return Ok(Vec::new());
    }
    let reply: RValue = b
        .client()
        .next()
        .custom(fred::cmd!("ZMSCORE"), requests_args(b.keys(), job_ids))
        .await
        .map_err(redis_error)?;
    decode_requests(reply, job_ids)
}

/// `ZMSCORE <abort set> <id>…`'s arguments.
fn requests_args(k: &KeyLayout, job_ids: &[String]) -> Vec<RValue> {
    let mut args: Vec<RValue> = Vec::with_capacity(job_ids.len() + 1);
    args.push(k.abort().into());
    args.extend(job_ids.iter().map(|id| RValue::from(id.as_str())));
    args
}

/// One score or nil per id, in order: the ids with a marker.
fn decode_requests(reply: RValue, job_ids: &[String]) -> Result<Vec<(String, i64)>> {
    let scores = array(reply, "ZMSCORE")?;
    Ok(job_ids
        .iter()
        .zip(scores.iter())
        .filter_map(|(id, s)| score_of(s).map(|ms| (id.clone(), ms)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn keys_and_arguments() {
        let req = AbortRequest {
            queue: "q".into(),
            job_id: "a".into(),
            result: Some(b"r".to_vec()),
            keep_result_ms: None,
            events: None,
        };
        let (keys, args) = call(&KeyLayout::arq(), &req);
        assert_eq!(
            keys,
            [
                "q",
                "arq:abort",
                "arq:job:a",
                "arq:result:a",
                "arq:in-progress:a",
                "arq:retry:a",
                "q:events"
            ]
        );
        let expected: Vec<RValue> = vec![
            "a".into(),
            RValue::Bytes(Bytes::from_static(b"r")),
            "".into(),
            "".into(),
        ];
        assert_eq!(args, expected);
        let (_, args) = call(
            &KeyLayout::arq(),
            &AbortRequest {
                events: Some(100),
                ..req
            },
        );
        assert_eq!(args[3], RValue::from("100"));
    }

    #[test]
    fn replies() {
        assert_eq!(decode("aborted".into()).unwrap(), AbortOutcome::Aborted);
        assert_eq!(decode("requested".into()).unwrap(), AbortOutcome::Requested);
        assert_eq!(decode("finished".into()).unwrap(), AbortOutcome::Finished);
        assert_eq!(decode("not_found".into()).unwrap(), AbortOutcome::NotFound);
        let e = decode("maybe".into()).unwrap_err().to_string();
        assert!(e.contains("abort: Some(\"maybe\")"), "{e}");
        assert!(decode(RValue::Null).is_err());
    }

    #[test]
    fn abort_requests_read_one_score_per_id() {
        let ids = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let args = requests_args(&KeyLayout::arq(), &ids);
        let expected: Vec<RValue> = vec!["arq:abort".into(), "a".into(), "b".into(), "c".into()];
        assert_eq!(args, expected);
        let reply = RValue::Array(vec![RValue::Double(1_700.0), RValue::Null, "1800".into()]);
        assert_eq!(
            decode_requests(reply, &ids).unwrap(),
            [("a".to_owned(), 1_700), ("c".to_owned(), 1_800)]
        );
        assert!(decode_requests(RValue::from("x"), &ids).is_err());
    }
}
