//! `Backend::finish` ↔ `lua/finish.lua`: store outcomes and remove the jobs, one script call
//! per queue of the batch.

use super::{event_data, events_len, optional_bytes, optional_ms, Call};
use crate::reply::{array, int_of, protocol};
use crate::scripts::scripts;
use crate::{KeyLayout, RedisBackend};
use arq_core::backend::{EventKind, FinishOutcome, FinishRequest};
use arq_core::Result;
use fred::types::Value as RValue;

/// Finishes a batch; one flag per request, `false` when its token was stale.
pub(crate) async fn finish(b: &RedisBackend, reqs: &[FinishRequest]) -> Result<Vec<bool>> {
    let mut flags = vec![false; reqs.len()];
    for batch in batches(reqs) {
        let (keys, args) = call(b.keys(), reqs, &batch);
        let reply: RValue = b.eval(&scripts().finish, keys, args).await?;
        for (i, done) in batch.iter().zip(decode(reply, batch.len())?) {
            flags[*i] = done;
        }
    }
    Ok(flags)
}

/// The requests grouped by queue (a worker's batch has one queue), as indices, queues sorted.
fn batches(reqs: &[FinishRequest]) -> Vec<Vec<usize>> {
    let mut queues: Vec<&str> = reqs.iter().map(|r| r.queue.as_str()).collect();
    queues.sort_unstable();
    queues.dedup();
    queues
        .into_iter()
        .map(|queue| {
            (0..reqs.len())
                .filter(|&i| reqs[i].queue == queue)
                .collect()
        })
        .collect()
}

/// KEYS in-progress, job, retry, result per job, then the queue's: queue, abort set, event
/// stream, dead set, dead data, hook set, hook data; ARGV the finished channel, then per job
/// the 14 arguments `lua/finish.lua` lists (id, token, result, result TTL, in-progress TTL,
/// event stream length, event kind, try, error, dead set length, dead letter age, hook lease,
/// job record, failure record). `batch` holds indices of `reqs` of one queue.
fn call(k: &KeyLayout, reqs: &[FinishRequest], batch: &[usize]) -> Call {
    let queue = reqs[batch[0]].queue.as_str();
    let mut keys = Vec::with_capacity(4 * batch.len() + 7);
    let mut args: Vec<RValue> = Vec::with_capacity(14 * batch.len() + 1);
    args.push(k.finished_channel(queue).into());
    for &i in batch {
        let req = &reqs[i];
        let id = &req.job_id;
        keys.push(k.in_progress(id));
        keys.push(k.job(id));
        keys.push(k.retry(id));
        keys.push(k.result(id));
        // Owned strings become fred values without another copy.
        args.push(id.clone().into());
        args.push(req.token.clone().into());
        args.push(optional_bytes(req.result.as_deref()));
        args.push(optional_ms(req.keep_result_ms));
        args.push(optional_ms(req.keep_in_progress_ms));
        args.push(events_len(req.events));
        args.push(event_kind(req.outcome).as_str().into());
        args.push(req.job_try.to_string().into());
        args.push(event_data(req.error.as_deref().map(str::as_bytes)));
        let failure = req.failure.as_ref();
        let dead = failure.and_then(|f| f.dead);
        args.push(
            dead.map(|d| d.max_len.to_string())
                .unwrap_or_default()
                .into(),
        );
        args.push(
            dead.map(|d| d.max_age_ms.clamp(-MAX_AGE_MS, MAX_AGE_MS))
                .unwrap_or(0)
                .into(),
        );
        args.push(optional_ms(failure.and_then(|f| f.hook_lease_ms)));
        args.push(event_data(failure.and_then(|f| f.job.as_deref())));
        args.push(optional_bytes(failure.map(|f| f.record.as_slice())));
    }
    keys.push(k.queue(queue).to_owned());
    keys.push(k.abort().to_owned());
    keys.push(k.events(queue));
    keys.push(k.dead(queue));
    keys.push(k.dead_data(queue));
    keys.push(k.hooks(queue));
    keys.push(k.hooks_data(queue));
    (keys, args)
}

/// The largest dead letter age limit sent (about 31 000 years): the script subtracts it from
/// the clock in Lua's doubles, which hold whole numbers exactly only up to 2^53.
const MAX_AGE_MS: i64 = 1_000_000_000_000_000;

/// The event a finish writes for its outcome.
fn event_kind(outcome: FinishOutcome) -> EventKind {
    match outcome {
        FinishOutcome::Completed => EventKind::Completed,
        FinishOutcome::Aborted => EventKind::Aborted,
        // Failed, and any outcome added later: the run did not succeed.
        _ => EventKind::Failed,
    }
}

/// One flag per job of the batch: 1 written, 0 fenced out.
fn decode(reply: RValue, jobs: usize) -> Result<Vec<bool>> {
    let done = array(reply, "finish")?;
    if done.len() != jobs {
        return Err(protocol("finish: flag count"));
    }
    Ok(done.iter().map(|v| int_of(v) == Some(1)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arq_core::backend::{DeadLimits, FinalFailure};
    use bytes::Bytes;

    fn req(queue: &str, id: &str) -> FinishRequest {
        FinishRequest {
            queue: queue.into(),
            job_id: id.into(),
            token: format!("t-{id}"),
            result: None,
            keep_result_ms: None,
            keep_in_progress_ms: None,
            outcome: Default::default(),
            job_try: 1,
            failure: None,
            events: None,
            error: None,
        }
    }

    #[test]
    fn one_call_per_queue() {
        let reqs = [req("q2", "a"), req("q1", "b"), req("q2", "c")];
        assert_eq!(batches(&reqs), [vec![1], vec![0, 2]]);
        assert!(batches(&[]).is_empty());
    }

    #[test]
    fn keys_and_arguments() {
        let mut a = req("q", "a");
        a.result = Some(b"res".to_vec());
        a.keep_result_ms = Some(0);
        let mut c = req("q", "c");
        c.keep_in_progress_ms = Some(60_000);
        let reqs = [a, c];
        let (keys, args) = call(&KeyLayout::arq(), &reqs, &[0, 1]);
        assert_eq!(
            keys,
            [
                "arq:in-progress:a",
                "arq:job:a",
                "arq:retry:a",
                "arq:result:a",
                "arq:in-progress:c",
                "arq:job:c",
                "arq:retry:c",
                "arq:result:c",
                "q",
                "arq:abort",
                "q:events",
                "q:dead",
                "q:dead:data",
                "q:hooks",
                "q:hooks:data"
            ]
        );
        // No events, no failure: the extra arguments are empty.
        let quiet = |id: &str, token: &str, result: RValue, ttl: &str, keep: &str| {
            let v: Vec<RValue> = vec![
                id.into(),
                token.into(),
                result,
                ttl.into(),
                keep.into(),
                "".into(),
                "completed".into(),
                "1".into(),
                "".into(),
                "".into(),
                0i64.into(),
                "".into(),
                "".into(),
                "".into(),
            ];
            v
        };
        let mut expected: Vec<RValue> = vec!["q:finished".into()];
        expected.extend(quiet(
            "a",
            "t-a",
            RValue::Bytes(Bytes::from_static(b"res")),
            "1",
            "",
        ));
        expected.extend(quiet("c", "t-c", "".into(), "", "60000"));
        assert_eq!(args, expected);
    }

    #[test]
    fn a_final_failure_sends_its_event_dead_letter_and_hook() {
        let mut f = req("q", "f");
        f.result = Some(b"res".to_vec());
        f.outcome = FinishOutcome::Failed;
        f.job_try = 3;
        f.events = Some(1000);
        f.error = Some("ValueError: bad".into());
        f.failure = Some(FinalFailure {
            job: Some(Bytes::from_static(b"job")),
            record: b"res".to_vec(),
            dead: Some(DeadLimits {
                max_len: 50,
                max_age_ms: i64::MAX,
            }),
            hook_lease_ms: Some(30_000),
        });
        let (_, args) = call(&KeyLayout::arq(), std::slice::from_ref(&f), &[0]);
        let expected: Vec<RValue> = vec![
            "1000".into(),
            "failed".into(),
            "3".into(),
            RValue::Bytes(Bytes::from_static(b"+ValueError: bad")),
            "50".into(),
            MAX_AGE_MS.into(),
            "30000".into(),
            RValue::Bytes(Bytes::from_static(b"+job")),
            RValue::Bytes(Bytes::from_static(b"res")),
        ];
        assert_eq!(args[6..], expected[..]);

        // No job record, no dead set, no hook.
        f.failure = Some(FinalFailure {
            job: None,
            record: b"res".to_vec(),
            dead: None,
            hook_lease_ms: None,
        });
        f.outcome = FinishOutcome::Aborted;
        f.error = None;
        let (_, args) = call(&KeyLayout::arq(), std::slice::from_ref(&f), &[0]);
        assert_eq!(args[7], RValue::from("aborted"));
        assert_eq!(args[9], RValue::from(""));
        assert_eq!(args[10], RValue::from(""));
        assert_eq!(args[12], RValue::from(""));
        assert_eq!(args[13], RValue::from(""));
        assert_eq!(event_kind(FinishOutcome::Completed), EventKind::Completed);
    }

    #[test]
    fn the_script_strides_match() {
        // 14 arguments per job after the channel, 7 queue keys after the 4 per job.
        let lua = include_str!("../../lua/finish.lua");
        assert!(lua.contains("local n = (#KEYS - 7) / 4"));
        assert!(lua.contains("i * 14 + 1"));
        let reqs = [req("q", "a"), req("q", "b")];
        let (keys, args) = call(&KeyLayout::arq(), &reqs, &[0, 1]);
        assert_eq!((keys.len(), args.len()), (4 * 2 + 7, 14 * 2 + 1));
    }

    #[test]
    fn replies() {
        let reply = RValue::Array(vec![1i64.into(), 0i64.into()]);
        assert_eq!(decode(reply.clone(), 2).unwrap(), [true, false]);
        assert!(decode(reply, 1)
            .unwrap_err()
            .to_string()
            .contains("finish: flag count"));
        assert!(decode(RValue::from("OK"), 1).is_err());
    }
}
