//! `Backend::claim` ↔ `lua/claim.lua`: take and start up to `limit` due jobs in one step.

use super::{events_len, flag, Call};
use crate::reply::{array, bytes_of, int_of, protocol, score_of, string_of};
use crate::scripts::scripts;
use crate::{KeyLayout, RedisBackend};
use arq_core::backend::{ClaimRequest, Claimed, ClaimedJob};
use arq_core::Result;
use fred::types::Value as RValue;

/// Claims due jobs of one queue.
pub(crate) async fn claim(b: &RedisBackend, req: &ClaimRequest) -> Result<Claimed> {
    let (keys, args) = call(b.keys(), req);
    decode(b.eval(&scripts().claim, keys, args).await?)
}

/// KEYS queue, abort set, event stream; ARGV limit, scan limit, token prefix, lease, consume
/// markers, the job, in-progress and retry prefixes, claim seq, idle, alone-from try, event
/// stream length.
fn call(k: &KeyLayout, req: &ClaimRequest) -> Call {
    let keys = vec![
        k.queue(&req.queue).to_owned(),
        k.abort().to_owned(),
        k.events(&req.queue),
    ];
    let args = vec![
        (req.limit as i64).into(),
        (req.scan_limit as i64).into(),
        req.token_prefix.as_str().into(),
        req.lease_ms.into(),
        flag(req.check_abort),
        k.job_prefix().into(),
        k.in_progress_prefix().into(),
        k.retry_prefix().into(),
        req.seq.to_string().into(),
        flag(req.idle),
        req.alone_from_try.into(),
        events_len(req.events),
    ];
    (keys, args)
}

/// `{recovery waiting, {{id, score, payload|nil, try, token, abort ms|0, recovered 0|1|2,
/// payload error|''}, …}}`.
fn decode(reply: RValue) -> Result<Claimed> {
    let mut reply = array(reply, "claim")?.into_iter();
    let (Some(waiting), Some(items)) = (reply.next(), reply.next()) else {
        return Err(protocol("claim: short reply"));
    };
    let mut jobs = Vec::new();
    for item in array(items, "claim items")? {
        let mut f = array(item, "claim item")?.into_iter();
        let (Some(id), Some(score), Some(payload), Some(tries), Some(token), Some(ab)) =
            (f.next(), f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            return Err(protocol("claim: short item"));
        };
        let (Some(recovered), Some(bad)) = (f.next(), f.next()) else {
            return Err(protocol("claim: short item"));
        };
        jobs.push(ClaimedJob {
            job_id: string_of(id).ok_or_else(|| protocol("claim: job id"))?,
            score: score_of(&score).ok_or_else(|| protocol("claim: score"))?,
            payload: bytes_of(payload),
            job_try: int_of(&tries).ok_or_else(|| protocol("claim: try"))?,
            token: string_of(token).ok_or_else(|| protocol("claim: token"))?,
            abort_marker_ms: int_of(&ab).filter(|ms| *ms > 0),
            recovered: int_of(&recovered).is_some_and(|r| r >= 1),
            alone: int_of(&recovered) == Some(2),
            payload_error: string_of(bad).filter(|e| !e.is_empty()),
        });
    }
    Ok(Claimed {
        jobs,
        recovery_waiting: int_of(&waiting) == Some(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn keys_and_arguments() {
        let req = ClaimRequest {
            queue: "arq:queue".into(),
            limit: 4,
            scan_limit: 1000,
            token_prefix: "w1".into(),
            seq: 17,
            idle: true,
            alone_from_try: 3,
            lease_ms: 30_000,
            check_abort: false,
            events: None,
        };
        let (keys, args) = call(&KeyLayout::arq(), &req);
        assert_eq!(keys, ["arq:queue", "arq:abort", "arq:queue:events"]);
        let expected: Vec<RValue> = vec![
            4i64.into(),
            1000i64.into(),
            "w1".into(),
            30_000i64.into(),
            "0".into(),
            "arq:job:".into(),
            "arq:in-progress:".into(),
            "arq:retry:".into(),
            "17".into(),
            "1".into(),
            3i64.into(),
            "".into(),
        ];
        assert_eq!(args, expected);
        let (_, args) = call(
            &KeyLayout::arq(),
            &ClaimRequest {
                events: Some(10),
                ..req
            },
        );
        assert_eq!(args[11], RValue::from("10"));
    }

    fn item(id: &str, recovered: i64, payload: RValue, bad: &str) -> RValue {
        RValue::Array(vec![
            id.into(),
            "1700000000000".into(),
            payload,
            2i64.into(),
            format!("w1:17:{id}").into(),
            0i64.into(),
            recovered.into(),
            bad.into(),
        ])
    }

    #[test]
    fn replies() {
        let reply = RValue::Array(vec![
            1i64.into(),
            RValue::Array(vec![
                item("a", 0, RValue::Bytes(Bytes::from_static(b"rec")), ""),
                item("b", 2, RValue::Null, "WRONGTYPE the job key holds a list"),
            ]),
        ]);
        let c = decode(reply).unwrap();
        assert!(c.recovery_waiting);
        let (a, b) = (&c.jobs[0], &c.jobs[1]);
        assert_eq!(
            (a.job_id.as_str(), a.score, a.job_try, a.token.as_str()),
            ("a", 1_700_000_000_000, 2, "w1:17:a")
        );
        assert_eq!(a.payload.as_deref(), Some(&b"rec"[..]));
        assert_eq!(a.abort_marker_ms, None);
        assert!(!a.recovered && !a.alone && a.payload_error.is_none());
        assert!(b.recovered && b.alone && b.payload.is_none());
        assert_eq!(
            b.payload_error.as_deref(),
            Some("WRONGTYPE the job key holds a list")
        );

        let marked = RValue::Array(vec![
            0i64.into(),
            RValue::Array(vec![RValue::Array(vec![
                "c".into(),
                RValue::Double(5.0),
                RValue::Null,
                1i64.into(),
                "t".into(),
                1_234i64.into(),
                1i64.into(),
                "".into(),
            ])]),
        ]);
        let c = decode(marked).unwrap();
        assert!(!c.recovery_waiting);
        assert_eq!(c.jobs[0].abort_marker_ms, Some(1_234));
        assert!(c.jobs[0].recovered && !c.jobs[0].alone);

        // An empty claim; then garbage.
        let none = decode(RValue::Array(vec![0i64.into(), RValue::Array(vec![])])).unwrap();
        assert!(none.jobs.is_empty() && !none.recovery_waiting);
        for bad in [
            RValue::Array(vec![0i64.into()]),
            RValue::from("OK"),
            RValue::Array(vec![
                0i64.into(),
                RValue::Array(vec![RValue::Array(vec![])]),
            ]),
            RValue::Array(vec![
                0i64.into(),
                RValue::Array(vec![RValue::Array(vec![
                    "a".into(),
                    "not a score".into(),
                    RValue::Null,
                    1i64.into(),
                    "t".into(),
                    0i64.into(),
                    0i64.into(),
                    "".into(),
                ])]),
            ]),
        ] {
            let e = decode(bad.clone()).unwrap_err().to_string();
            assert!(
                e.contains("unexpected reply from redis: claim"),
                "{bad:?}: {e}"
            );
        }
    }
}
