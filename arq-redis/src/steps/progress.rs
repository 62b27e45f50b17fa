//! `Backend::progress` ↔ `lua/progress.lua`: store a running job's progress, fenced by its
//! token. (`Backend::progress_read` is a plain `GET`, in `reads.rs`.)

use super::{events_len, Call};
use crate::scripts::scripts;
use crate::{KeyLayout, RedisBackend};
use arq_core::backend::ProgressRequest;
use arq_core::Result;
use bytes::Bytes;
use fred::types::Value as RValue;

/// Stores the progress; `false` when the token is stale.
pub(crate) async fn progress(b: &RedisBackend, req: &ProgressRequest) -> Result<bool> {
    let (keys, args) = call(b.keys(), req);
    let n: i64 = b.eval(&scripts().progress, keys, args).await?;
    Ok(n == 1)
}

/// KEYS in-progress, progress, event stream; ARGV id, token, value, TTL ms (at least 1), event
/// stream length.
fn call(k: &KeyLayout, req: &ProgressRequest) -> Call {
    let id = &req.job_id;
    let keys = vec![k.in_progress(id), k.progress(id), k.events(&req.queue)];
    let args = vec![
        id.as_str().into(),
        req.token.as_str().into(),
        RValue::Bytes(Bytes::copy_from_slice(&req.value)),
        req.ttl_ms.max(1).into(),
        events_len(req.events),
    ];
    (keys, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_arguments() {
        let req = ProgressRequest {
            queue: "q".into(),
            job_id: "a".into(),
            token: "t".into(),
            value: b"\x05".to_vec(),
            ttl_ms: 0,
            events: Some(100),
        };
        let (keys, args) = call(&KeyLayout::arq(), &req);
        assert_eq!(keys, ["arq:in-progress:a", "arq:progress:a", "q:events"]);
        let expected: Vec<RValue> = vec![
            "a".into(),
            "t".into(),
            RValue::Bytes(Bytes::from_static(b"\x05")),
            1i64.into(),
            "100".into(),
        ];
        assert_eq!(args, expected);
    }
}
