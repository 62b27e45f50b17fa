//! `Backend::retry` ↔ `lua/retry.lua`: put a held job back for another try.

use super::{event_data, events_len, Call};
use crate::scripts::scripts;
use crate::{KeyLayout, RedisBackend};
use arq_core::backend::RetryRequest;
use arq_core::Result;

/// Reschedules the job; `false` when the token is stale.
pub(crate) async fn retry(b: &RedisBackend, req: &RetryRequest) -> Result<bool> {
    let (keys, args) = call(b.keys(), req);
    let n: i64 = b.eval(&scripts().retry, keys, args).await?;
    Ok(n == 1)
}

/// KEYS in-progress, queue, job, handed-back marker, event stream; ARGV id, token, defer ms
/// (at least 0), event stream length, try, error.
fn call(k: &KeyLayout, req: &RetryRequest) -> Call {
    let id = &req.job_id;
    let keys = vec![
        k.in_progress(id),
        k.queue(&req.queue).to_owned(),
        k.job(id),
        k.handed_back(id),
        k.events(&req.queue),
    ];
    let args = vec![
        id.as_str().into(),
        req.token.as_str().into(),
        req.defer_ms.max(0).into(),
        events_len(req.events),
        req.job_try.to_string().into(),
        event_data(req.error.as_deref().map(str::as_bytes)),
    ];
    (keys, args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fred::types::Value as RValue;

    #[test]
    fn keys_and_arguments() {
        let req = RetryRequest {
            queue: "q".into(),
            job_id: "a".into(),
            token: "t".into(),
            defer_ms: -5,
            job_try: 1,
            events: None,
            error: None,
        };
        let (keys, args) = call(&KeyLayout::arq(), &req);
        assert_eq!(
            keys,
            [
                "arq:in-progress:a",
                "q",
                "arq:job:a",
                "arq:retry:a:clean",
                "q:events"
            ]
        );
        let expected: Vec<RValue> = vec![
            "a".into(),
            "t".into(),
            0i64.into(),
            "".into(),
            "1".into(),
            "".into(),
        ];
        assert_eq!(args, expected);
        let (_, args) = call(
            &KeyLayout::arq(),
            &RetryRequest {
                events: Some(7),
                job_try: 2,
                error: Some("Retry: later".into()),
                ..req
            },
        );
        let expected: Vec<RValue> = vec![
            "7".into(),
            "2".into(),
            RValue::Bytes(bytes::Bytes::from_static(b"+Retry: later")),
        ];
        assert_eq!(args[3..], expected[..]);
    }
}
