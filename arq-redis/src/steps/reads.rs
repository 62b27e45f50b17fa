//! The steps that are plain commands, not scripts: `Backend::job_record` (`GET`),
//! `Backend::progress_read` (`GET`), `Backend::score` (`ZSCORE`), `Backend::queue_size`
//! (`ZCARD`), and `Inspect::queues` (`SCAN … TYPE zset`), `Inspect::results` (`SCAN` +
//! `MGET`), `Inspect::workers` (`HKEYS` + a `GET` per worker). (`Backend::events_read`, also
//! plain commands, has its own module.)

use crate::reply::{array, bytes_of, protocol, redis_error, score_of, string_of};
use crate::{KeyLayout, RedisBackend};
use arq_core::backend::ResultsPage;
use arq_core::Result;
use bytes::Bytes;
use fred::prelude::*;
use fred::types::Value as RValue;

/// Reads a job record.
pub(crate) async fn job_record(b: &RedisBackend, job_id: &str) -> Result<Option<Bytes>> {
    let pool = b.client();
    let key = b.keys().job(job_id);
    let v: RValue = pool
        .get(&key)
        .await
        .map_err(|e| crate::acl::command_error(e, pool.next(), "GET", &[&key]))?;
    Ok(bytes_of(v))
}

/// Reads a job's last stored progress.
pub(crate) async fn progress_read(b: &RedisBackend, job_id: &str) -> Result<Option<Bytes>> {
    let pool = b.client();
    let key = b.keys().progress(job_id);
    let v: RValue = pool
        .get(&key)
        .await
        .map_err(|e| crate::acl::command_error(e, pool.next(), "GET", &[&key]))?;
    Ok(bytes_of(v))
}

/// Reads a job's score in a queue.
pub(crate) async fn score(b: &RedisBackend, queue: &str, job_id: &str) -> Result<Option<i64>> {
    let v: RValue = b
        .client()
        .zscore(b.keys().queue(queue), job_id)
        .await
        .map_err(redis_error)?;
    Ok(score_of(&v))
}

/// Counts a queue's entries.
pub(crate) async fn queue_size(b: &RedisBackend, queue: &str) -> Result<u64> {
    let pool = b.client();
    let n: u64 = pool
        .zcard(b.keys().queue(queue))
        .await
        .map_err(|e| crate::acl::command_error(e, pool.next(), "ZCARD", &[queue]))?;
    Ok(n)
}

/// The queues (sorted sets under the layout's pattern, less the abort set and the queues' dead
/// and hook sets), sorted.
pub(crate) async fn queues(b: &RedisBackend) -> Result<Vec<String>> {
    let k = b.keys();
    let mut cursor = "0".to_owned();
    let mut names = Vec::new();
    loop {
        let reply: RValue = b
            .client()
            .next()
            .custom(
                fred::cmd!("SCAN"),
                vec![
                    cursor.as_str(),
                    "MATCH",
                    k.queue_scan_pattern(),
                    "COUNT",
                    "1000",
                    "TYPE",
                    "zset",
                ],
            )
            .await
            .map_err(redis_error)?;
        let (next, keys) = scan_page(reply)?;
        cursor = next;
        names.extend(keys.into_iter().filter(|key| is_queue(k, key)));
        if cursor == "0" {
            break;
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// Whether a sorted set found by `SCAN` is a queue: not the abort set, a dead set or a hook
/// set.
fn is_queue(k: &KeyLayout, key: &str) -> bool {
    key != k.abort() && !k.is_side_set(key)
}

/// A `SCAN` reply: the next cursor and the keys of this page (keys that are not text are
/// skipped).
fn scan_page(reply: RValue) -> Result<(String, Vec<String>)> {
    let mut r = array(reply, "SCAN")?.into_iter();
    let cursor = r
        .next()
        .and_then(string_of)
        .ok_or_else(|| protocol("SCAN cursor"))?;
    let keys = array(r.next().unwrap_or(RValue::Null), "SCAN keys")?
        .into_iter()
        .filter_map(string_of)
        .collect();
    Ok((cursor, keys))
}

/// One page of the walk over result keys, from `cursor`.
pub(crate) async fn results(
    b: &RedisBackend,
    cursor: Option<&str>,
    count: u64,
) -> Result<ResultsPage> {
    let k = b.keys();
    let reply: RValue = b
        .client()
        .next()
        .custom(
            fred::cmd!("SCAN"),
            vec![
                cursor.unwrap_or("0").to_owned(),
                "MATCH".into(),
                k.result_scan_pattern(),
                "COUNT".into(),
                count.max(1).to_string(),
            ],
        )
        .await
        .map_err(redis_error)?;
    let (next, keys) = scan_page(reply)?;
    // SCAN's cursor 0 ends the walk.
    let next = match next.parse::<i64>() {
        Ok(0) => None,
        Ok(n) => Some(n.to_string()),
        Err(_) => return Err(protocol("SCAN cursor")),
    };
    if keys.is_empty() {
        return Ok(ResultsPage {
            results: Vec::new(),
            next,
        });
    }
    let values: RValue = b
        .client()
        .next()
        .custom(fred::cmd!("MGET"), keys.clone())
        .await
        .map_err(redis_error)?;
    Ok(ResultsPage {
        results: found_results(k, keys, values)?,
        next,
    })
}

/// `(job id, record)` for each result key whose `MGET` value is there.
fn found_results(k: &KeyLayout, keys: Vec<String>, values: RValue) -> Result<Vec<(String, Bytes)>> {
    Ok(keys
        .into_iter()
        .zip(array(values, "MGET")?)
        .filter_map(|(key, v)| Some((k.result_id(&key)?.to_owned(), bytes_of(v)?)))
        .collect())
}

/// The live workers' own health records of a queue, sorted by worker id.
pub(crate) async fn workers(b: &RedisBackend, queue: &str) -> Result<Vec<(String, String)>> {
    let k = b.keys();
    let key = k.health_check(queue);
    let ids: Vec<String> = b
        .client()
        .next()
        .custom(fred::cmd!("HKEYS"), vec![k.worker_health_index(&key)])
        .await
        .map_err(redis_error)?;
    let mut out = Vec::new();
    for id in ids {
        let v: RValue = b
            .client()
            .get(k.worker_health(&key, &id))
            .await
            .map_err(redis_error)?;
        if let Some(record) = string_of(v) {
            out.push((id, record));
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_pages() {
        let reply = RValue::Array(vec![
            "17".into(),
            RValue::Array(vec![
                "a".into(),
                RValue::Bytes(Bytes::from_static(b"\xff")),
                "b".into(),
            ]),
        ]);
        assert_eq!(
            scan_page(reply).unwrap(),
            ("17".to_owned(), vec!["a".to_owned(), "b".to_owned()])
        );
        let last = RValue::Array(vec!["0".into()]);
        assert_eq!(scan_page(last).unwrap(), ("0".to_owned(), vec![]));
        assert!(scan_page(RValue::Array(vec![]))
            .unwrap_err()
            .to_string()
            .contains("SCAN cursor"));
        assert!(scan_page(RValue::from("x")).is_err());
    }

    #[test]
    fn dead_and_hook_sets_are_not_listed_as_queues() {
        let k = KeyLayout::prefixed("t1").unwrap();
        let q = k.default_queue();
        assert!(is_queue(&k, q));
        assert!(is_queue(&k, "t1:emails"));
        assert!(!is_queue(&k, k.abort()));
        assert!(!is_queue(&k, &k.dead(q)));
        assert!(!is_queue(&k, &k.hooks(q)));
    }

    #[test]
    fn results_are_named_by_job_id_and_missing_values_skipped() {
        let k = KeyLayout::prefixed("t1").unwrap();
        let keys = vec![
            "t1:arq:result:a".to_owned(),
            "t1:arq:result:b".to_owned(),
            "other:key".to_owned(),
        ];
        let values = RValue::Array(vec![
            RValue::Bytes(Bytes::from_static(b"ra")),
            RValue::Null,
            RValue::Bytes(Bytes::from_static(b"rx")),
        ]);
        assert_eq!(
            found_results(&k, keys.clone(), values).unwrap(),
            [("a".to_owned(), Bytes::from_static(b"ra"))]
        );
        assert!(found_results(&k, keys, RValue::Integer(1)).is_err());
    }
}
