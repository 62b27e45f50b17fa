//! `Backend::finish` ↔ `lua/finish.lua`: store outcomes and remove the jobs, one script call
//! per queue of the batch.

use super::{optional_bytes, optional_ms, Call};
use crate::reply::{array, int_of, protocol};
use crate::scripts::scripts;
use crate::{KeyLayout, RedisBackend};
use arq_core::backend::FinishRequest;
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

/// KEYS in-progress, job, retry, result per job, then the queue and the abort set; ARGV the
/// finished channel, then id, token, result (`''` none), result TTL and in-progress TTL
/// (`''` none) per job. `batch` holds indices of `reqs` of one queue.
fn call(k: &KeyLayout, reqs: &[FinishRequest], batch: &[usize]) -> Call {
    let queue = reqs[batch[0]].queue.as_str();
    let mut keys = Vec::with_capacity(4 * batch.len() + 2);
    let mut args: Vec<RValue> = Vec::with_capacity(5 * batch.len() + 1);
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
    }
    keys.push(k.queue(queue).to_owned());
    keys.push(k.abort().to_owned());
    (keys, args)
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
                "arq:abort"
            ]
        );
        let expected: Vec<RValue> = vec![
            "q:finished".into(),
            "a".into(),
            "t-a".into(),
            RValue::Bytes(Bytes::from_static(b"res")),
            "1".into(),
            "".into(),
            "c".into(),
            "t-c".into(),
            "".into(),
            "".into(),
            "60000".into(),
        ];
        assert_eq!(args, expected);
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
