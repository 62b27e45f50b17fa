//! `Backend::release` ↔ `lua/release.lua`: hand a held job back at shutdown.

use super::Call;
use crate::scripts::scripts;
use crate::{KeyLayout, RedisBackend};
use arq_core::backend::ReleaseRequest;
use arq_core::Result;

/// Drops the lease, giving the try back for the first `free_releases` releases; `false`
/// when the token is stale.
pub(crate) async fn release(b: &RedisBackend, req: &ReleaseRequest) -> Result<bool> {
    let (keys, args) = call(b.keys(), req);
    let n: i64 = b.eval(&scripts().release, keys, args).await?;
    let (released, counted) = decode(n);
    if counted {
        tracing::warn!(
            job_id = req.job_id.as_str(),
            "job released by more than {} shutdowns; this try counts",
            req.free_releases
        );
    }
    Ok(released)
}

/// KEYS in-progress, retry counter, handed-back marker, release count; ARGV token, free
/// releases.
fn call(k: &KeyLayout, req: &ReleaseRequest) -> Call {
    let id = req.job_id.as_str();
    let keys = vec![
        k.in_progress(id),
        k.retry(id),
        k.handed_back(id),
        k.releases(id),
    ];
    let args = vec![
        req.token.as_str().into(),
        i64::from(req.free_releases).into(),
    ];
    (keys, args)
}

/// 0 not held, 1 released with the try given back, 2 released with the try counted:
/// `(released, try counted)`.
fn decode(n: i64) -> (bool, bool) {
    (n > 0, n == 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fred::types::Value as RValue;

    #[test]
    fn keys_arguments_and_replies() {
        let req = ReleaseRequest {
            job_id: "a".into(),
            token: "t".into(),
            free_releases: 3,
        };
        let (keys, args) = call(&KeyLayout::prefixed("t1").unwrap(), &req);
        assert_eq!(
            keys,
            [
                "t1:arq:in-progress:a",
                "t1:arq:retry:a",
                "t1:arq:retry:a:clean",
                "t1:arq:retry:a:releases"
            ]
        );
        let expected: Vec<RValue> = vec!["t".into(), 3i64.into()];
        assert_eq!(args, expected);
        assert_eq!(decode(0), (false, false));
        assert_eq!(decode(1), (true, false));
        assert_eq!(decode(2), (true, true));
    }
}
