//! `Backend::health` ↔ `lua/health.lua`, `Backend::health_close` ↔ `lua/health_close.lua`,
//! and `Backend::health_read` (one `GET`): the workers' health records.

use super::{count, Call};
use crate::reply::{redis_error, string_of};
use crate::scripts::scripts;
use crate::{KeyLayout, RedisBackend};
use arq_core::backend::HealthRecord;
use arq_core::Result;
use fred::prelude::*;
use fred::types::Value as RValue;

/// Writes the shared and the worker's own record; returns the queue size.
pub(crate) async fn health(b: &RedisBackend, rec: &HealthRecord) -> Result<u64> {
    let (keys, args) = call(b.keys(), rec);
    let n: i64 = b.eval(&scripts().health, keys, args).await?;
    Ok(count(n))
}

/// KEYS shared record, queue, own record, workers hash; ARGV text, TTL (at least 1 ms),
/// worker id.
fn call(k: &KeyLayout, rec: &HealthRecord) -> Call {
    let key = k.health_key(&rec.queue, rec.check_key.as_deref());
    let own = k.worker_health(&key, &rec.worker_id);
    let index = k.worker_health_index(&key);
    let keys = vec![key, k.queue(&rec.queue).to_owned(), own, index];
    let args = vec![
        rec.text.as_str().into(),
        rec.ttl_ms.max(1).into(),
        rec.worker_id.as_str().into(),
    ];
    (keys, args)
}

/// Removes this worker's record (and the shared one when no other live worker remains);
/// returns how many other live workers remain.
pub(crate) async fn health_close(
    b: &RedisBackend,
    queue: &str,
    check_key: Option<&str>,
    worker_id: &str,
) -> Result<u64> {
    let (keys, args) = close_call(b.keys(), queue, check_key, worker_id);
    let n: i64 = b.eval(&scripts().health_close, keys, args).await?;
    Ok(count(n))
}

/// KEYS shared record, own record, workers hash; ARGV worker id.
fn close_call(k: &KeyLayout, queue: &str, check_key: Option<&str>, worker_id: &str) -> Call {
    let key = k.health_key(queue, check_key);
    let own = k.worker_health(&key, worker_id);
    let index = k.worker_health_index(&key);
    (vec![key, own, index], vec![worker_id.into()])
}

/// Reads a queue's shared health record.
pub(crate) async fn health_read(b: &RedisBackend, queue: &str) -> Result<Option<String>> {
    let v: RValue = b
        .client()
        .get(b.keys().health_check(queue))
        .await
        .map_err(redis_error)?;
    Ok(string_of(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_arguments() {
        let mut rec = HealthRecord {
            queue: "q".into(),
            check_key: None,
            worker_id: "w1".into(),
            text: "j_complete=1".into(),
            ttl_ms: 0,
        };
        let (keys, args) = call(&KeyLayout::arq(), &rec);
        assert_eq!(
            keys,
            [
                "q:health-check",
                "q",
                "q:health-check:w1",
                "q:health-check:workers"
            ]
        );
        let expected: Vec<RValue> = vec!["j_complete=1".into(), 1i64.into(), "w1".into()];
        assert_eq!(args, expected);
        rec.check_key = Some("hc".into());
        let (keys, _) = call(&KeyLayout::arq(), &rec);
        assert_eq!(keys, ["hc", "q", "hc:w1", "hc:workers"]);
    }

    #[test]
    fn close_keys_and_arguments() {
        let (keys, args) = close_call(&KeyLayout::arq(), "q", None, "w1");
        assert_eq!(
            keys,
            [
                "q:health-check",
                "q:health-check:w1",
                "q:health-check:workers"
            ]
        );
        assert_eq!(args, vec![RValue::from("w1")]);
        let (keys, _) = close_call(&KeyLayout::arq(), "q", Some("hc"), "w1");
        assert_eq!(keys, ["hc", "hc:w1", "hc:workers"]);
    }
}
