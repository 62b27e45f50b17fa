//! `Backend::set_try`: one `SET arq:retry:<id> <try> EX 88400` (no script).

use crate::keys::RETRY_KEY_TTL_S;
use crate::reply::redis_error;
use crate::RedisBackend;
use arq_core::backend::SetTryRequest;
use arq_core::Result;
use fred::prelude::*;

/// Stores the try a run counts as, with Python arq's retry-key TTL.
pub(crate) async fn set_try(b: &RedisBackend, req: &SetTryRequest) -> Result<()> {
    b.client()
        .set::<(), _, _>(
            b.keys().retry(&req.job_id),
            req.job_try,
            Some(Expiration::EX(RETRY_KEY_TTL_S)),
            None,
            false,
        )
        .await
        .map_err(redis_error)
}
