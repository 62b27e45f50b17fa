//! `Backend::cron_tick` ↔ `lua/cron_tick.lua`: enqueue cron ticks, each at most once.

use super::{optional_ms, Call};
use crate::reply::{array, int_of, protocol};
use crate::scripts::scripts;
use crate::{KeyLayout, RedisBackend};
use arq_core::backend::{CronTickOutcome, CronTickReply, CronTickRequest};
use arq_core::Result;
use bytes::Bytes;
use fred::types::Value as RValue;

/// Enqueues the ticks of `req` (none: only reads Redis's clock).
pub(crate) async fn cron_tick(b: &RedisBackend, req: &CronTickRequest) -> Result<CronTickReply> {
    let (keys, args) = call(b.keys(), req);
    decode(b.eval(&scripts().cron_tick, keys, args).await?)
}

/// KEYS queue, abort set, then marker, job and result per tick; ARGV id, payload, tick ms
/// and marker TTL (`''`: no marker) per tick.
fn call(k: &KeyLayout, req: &CronTickRequest) -> Call {
    let mut keys = Vec::with_capacity(2 + 3 * req.ticks.len());
    keys.push(k.queue(&req.queue).to_owned());
    keys.push(k.abort().to_owned());
    let mut args: Vec<RValue> = Vec::with_capacity(4 * req.ticks.len());
    for t in &req.ticks {
        keys.push(k.cron_tick(&t.job_id));
        keys.push(k.job(&t.job_id));
        keys.push(k.result(&t.job_id));
        args.push(t.job_id.as_str().into());
        args.push(RValue::Bytes(Bytes::copy_from_slice(&t.payload)));
        args.push(t.tick_ms.into());
        args.push(optional_ms(t.claim_ttl_ms));
    }
    (keys, args)
}

/// `{now, outcome…}`: 1 enqueued, 0 already claimed, 2 job or result exists.
fn decode(reply: RValue) -> Result<CronTickReply> {
    let mut items = array(reply, "cron_tick")?.into_iter();
    let now_ms = items
        .next()
        .as_ref()
        .and_then(int_of)
        .ok_or_else(|| protocol("cron_tick: time"))?;
    let outcomes = items
        .map(|v| match int_of(&v) {
            Some(1) => Ok(CronTickOutcome::Enqueued),
            Some(0) => Ok(CronTickOutcome::AlreadyClaimed),
            Some(2) => Ok(CronTickOutcome::JobExists),
            _ => Err(protocol(format!("cron_tick: outcome {v:?}"))),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(CronTickReply { now_ms, outcomes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arq_core::backend::CronTick;

    #[test]
    fn keys_and_arguments() {
        let tick = |id: &str, ttl| CronTick {
            job_id: id.into(),
            tick_ms: 60_000,
            payload: b"p".to_vec(),
            claim_ttl_ms: ttl,
        };
        let req = CronTickRequest {
            queue: "q".into(),
            ticks: vec![tick("cron:f:60000", Some(120_000)), tick("r1", None)],
        };
        let (keys, args) = call(&KeyLayout::arq(), &req);
        assert_eq!(
            keys,
            [
                "q",
                "arq:abort",
                "arq:cron-tick:cron:f:60000",
                "arq:job:cron:f:60000",
                "arq:result:cron:f:60000",
                "arq:cron-tick:r1",
                "arq:job:r1",
                "arq:result:r1"
            ]
        );
        let p = || RValue::Bytes(Bytes::from_static(b"p"));
        let expected: Vec<RValue> = vec![
            "cron:f:60000".into(),
            p(),
            60_000i64.into(),
            "120000".into(),
            "r1".into(),
            p(),
            60_000i64.into(),
            "".into(),
        ];
        assert_eq!(args, expected);
        let empty = CronTickRequest {
            queue: "q".into(),
            ticks: vec![],
        };
        assert_eq!(
            call(&KeyLayout::arq(), &empty),
            (vec!["q".into(), "arq:abort".into()], vec![])
        );
    }

    #[test]
    fn replies() {
        let v = |items: Vec<i64>| RValue::Array(items.into_iter().map(RValue::from).collect());
        let r = decode(v(vec![5, 1, 0, 2])).unwrap();
        assert_eq!(r.now_ms, 5);
        assert_eq!(
            r.outcomes,
            [
                CronTickOutcome::Enqueued,
                CronTickOutcome::AlreadyClaimed,
                CronTickOutcome::JobExists
            ]
        );
        assert!(decode(v(vec![5])).unwrap().outcomes.is_empty());
        assert!(decode(v(vec![5, 3]))
            .unwrap_err()
            .to_string()
            .contains("cron_tick: outcome"));
        assert!(decode(v(vec![]))
            .unwrap_err()
            .to_string()
            .contains("cron_tick: time"));
    }
}
