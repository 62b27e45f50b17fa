//! `Backend::retry` ↔ `lua/retry.lua`: put a held job back for another try.

use super::Call;
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

/// KEYS in-progress, queue, job, handed-back marker; ARGV id, token, defer ms (at least 0).
fn call(k: &KeyLayout, req: &RetryRequest) -> Call {
    let id = &req.job_id;
    let keys = vec![
        k.in_progress(id),
        k.queue(&req.queue).to_owned(),
        k.job(id),
        k.handed_back(id),
    ];
    let args = vec![
        id.as_str().into(),
        req.token.as_str().into(),
        req.defer_ms.max(0).into(),
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
            ["arq:in-progress:a", "q", "arq:job:a", "arq:retry:a:clean"]
        );
        let expected: Vec<RValue> = vec!["a".into(), "t".into(), 0i64.into()];
        assert_eq!(args, expected);
    }
}
