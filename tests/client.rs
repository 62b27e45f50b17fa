//! Enqueue, de-duplication, scores, TTLs, status and the stored record, against a real Redis.

mod common;

use arq::{Error, JobStatus, Value};
use common::TestRedis;
use fred::prelude::*;
use std::time::Duration;

#[arq::job]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[arq::job(queue = "client:other")]
async fn other_queue(x: String) -> String {
    x
}

fn now_ms() -> i64 {
    arq::time::now_ms()
}

fn rmpv_str(v: &rmpv::Value) -> &str {
    v.as_str().expect("msgpack str")
}

#[tokio::test]
async fn stored_record_matches_python_arq_byte_layout() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let raw = redis.raw().await;
    let before = now_ms();
    let job = add::enqueue(&pool, 1, 2).job_id("job-1").await.unwrap();
    let after = now_ms();
    assert_eq!(job.id(), "job-1");

    // Key names and types exactly as Python arq's.
    let keys: Vec<String> = raw.custom(fred::cmd!("KEYS"), vec!["*"]).await.unwrap();
    let mut keys = keys;
    keys.sort();
    assert_eq!(
        keys,
        vec!["arq:job:job-1".to_string(), "arq:queue".to_string()]
    );
    let bytes: Vec<u8> = raw.get("arq:job:job-1").await.unwrap();

    // Decode with a generic msgpack reader and check every field, in Python's order.
    let v = rmpv::decode::read_value(&mut &bytes[..]).unwrap();
    let map = v.as_map().expect("a map");
    let names: Vec<&str> = map.iter().map(|(k, _)| rmpv_str(k)).collect();
    assert_eq!(names, ["t", "f", "a", "k", "et"]);
    assert!(map[0].1.is_nil());
    assert_eq!(rmpv_str(&map[1].1), "add");
    assert_eq!(
        map[2].1,
        rmpv::Value::Array(vec![rmpv::Value::from(1), rmpv::Value::from(2)])
    );
    assert_eq!(map[3].1, rmpv::Value::Map(vec![]));
    let et = map[4].1.as_i64().unwrap();
    assert!(
        (before..=after).contains(&et),
        "et {et} not in [{before}, {after}]"
    );
    // Timestamps are msgpack uint64 (0xcf), keys are fixstr (0xa1..), as msgpack.packb writes.
    assert_eq!(&bytes[..4], &[0x85, 0xa1, b't', 0xc0]);
    let et_pos = bytes.len() - 9;
    assert_eq!(bytes[et_pos], 0xcf);

    // Score: the enqueue time in ms, as Python's (et, since it agrees with Redis's clock).
    let score: f64 = raw.zscore("arq:queue", "job-1").await.unwrap();
    assert_eq!(score as i64, et, "score {score} vs et {et}");
    assert_eq!(score.fract(), 0.0);
    // TTL: PSETEX with expires_extra_ms (one day) for a job due now.
    let pttl: i64 = raw.pttl("arq:job:job-1").await.unwrap();
    assert!((86_390_000..=86_400_000).contains(&pttl), "pttl {pttl}");
}

#[tokio::test]
async fn a_deferred_score_is_the_enqueue_time_plus_the_defer() {
    // Python arq: score = enqueue_time_ms + defer_by_ms, both from one clock reading, and the
    // job key lives defer + one day. Rust used Redis's TIME at the script, a ms or so later.
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let raw = redis.raw().await;
    for (i, defer_ms) in [1u64, 250, 1_234, 60_000, 3_600_000]
        .into_iter()
        .cycle()
        .take(20)
        .enumerate()
    {
        let id = format!("deferred-{i}");
        let job = add::enqueue(&pool, 1, 1)
            .job_id(&id)
            .defer_by(Duration::from_millis(defer_ms))
            .await
            .unwrap();
        let et = job
            .info()
            .await
            .unwrap()
            .unwrap()
            .enqueue_time
            .timestamp_millis();
        let score: f64 = raw.zscore("arq:queue", id.as_str()).await.unwrap();
        assert_eq!(
            score as i64 - et,
            defer_ms as i64,
            "job {id}: score {score}, et {et}"
        );
        let pttl: i64 = raw.pttl(format!("arq:job:{id}")).await.unwrap();
        let ttl = 86_400_000 + defer_ms as i64;
        assert!(
            (ttl - 1_000..=ttl).contains(&pttl),
            "job {id}: pttl {pttl}, want {ttl}"
        );
    }
    // Due at once: scored at et itself.
    for i in 0..10 {
        let id = format!("now-{i}");
        let job = add::enqueue(&pool, 1, 1).job_id(&id).await.unwrap();
        let et = job
            .info()
            .await
            .unwrap()
            .unwrap()
            .enqueue_time
            .timestamp_millis();
        let score: f64 = raw.zscore("arq:queue", id.as_str()).await.unwrap();
        assert_eq!(score as i64, et, "job {id}");
    }
}

#[tokio::test]
async fn defer_by_defer_until_expires_and_job_try() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let raw = redis.raw().await;

    add::enqueue(&pool, 1, 1)
        .job_id("by")
        .defer_by(Duration::from_secs(60))
        .await
        .unwrap();
    let score: f64 = raw.zscore("arq:queue", "by").await.unwrap();
    let delta = score as i64 - now_ms();
    assert!((59_000..=60_500).contains(&delta), "defer_by delta {delta}");
    let pttl: i64 = raw.pttl("arq:job:by").await.unwrap();
    assert!(
        (86_400_000 + 59_000..=86_460_000).contains(&pttl),
        "pttl {pttl}"
    );

    let at = chrono::Utc::now() + chrono::Duration::seconds(3600);
    add::enqueue(&pool, 1, 1)
        .job_id("until")
        .defer_until(at)
        .await
        .unwrap();
    let score: f64 = raw.zscore("arq:queue", "until").await.unwrap();
    assert_eq!(score as i64, at.timestamp_millis());

    add::enqueue(&pool, 1, 1)
        .job_id("exp")
        .expires(Duration::from_secs(30))
        .job_try(3)
        .await
        .unwrap();
    let pttl: i64 = raw.pttl("arq:job:exp").await.unwrap();
    assert!((29_000..=30_000).contains(&pttl), "pttl {pttl}");
    let job = pool.job::<i64>("exp");
    assert_eq!(job.info().await.unwrap().unwrap().job_try, Some(3));

    // Both defers at once: refused before anything is sent.
    let err = add::enqueue(&pool, 1, 1)
        .job_id("both")
        .defer_by(Duration::from_secs(1))
        .defer_until(at)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    let exists: i64 = raw.exists("arq:job:both").await.unwrap();
    assert_eq!(exists, 0);

    // A defer_until more than a day in the past: refused, and no orphan queue entry (arq bug).
    let long_ago = chrono::Utc::now() - chrono::Duration::days(2);
    let err = add::enqueue(&pool, 1, 1)
        .job_id("past")
        .defer_until(long_ago)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    let score: Option<f64> = raw.zscore("arq:queue", "past").await.unwrap();
    assert_eq!(score, None);

    // The function's queue option, and an explicit queue.
    let j = other_queue::enqueue(&pool, "x".into()).await.unwrap();
    assert_eq!(j.queue_name(), "client:other");
    let n: i64 = raw.zcard("client:other").await.unwrap();
    assert_eq!(n, 1);
    let j = add::enqueue(&pool, 1, 1).queue_name("q2").await.unwrap();
    assert_eq!(j.status().await.unwrap(), JobStatus::Queued);
}

#[tokio::test]
async fn duplicate_job_id_is_not_enqueued_while_job_or_result_exists() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let raw = redis.raw().await;
    add::enqueue(&pool, 1, 2).job_id("dup").await.unwrap();
    let err = add::enqueue(&pool, 5, 5).job_id("dup").await.unwrap_err();
    assert!(err.is_duplicate(), "{err}");
    // the original job is untouched
    let info = pool.job::<i64>("dup").info().await.unwrap().unwrap();
    assert_eq!(info.args, vec![Value::Int(1), Value::Int(2)]);

    // Only a result left: still refused (arq checks both keys).
    let _: () = raw.del("arq:job:dup").await.unwrap();
    let _: () = raw.zrem("arq:queue", "dup").await.unwrap();
    let _: () = raw
        .set("arq:result:dup", "x", None, None, false)
        .await
        .unwrap();
    assert!(add::enqueue(&pool, 1, 2)
        .job_id("dup")
        .await
        .unwrap_err()
        .is_duplicate());
    // Neither: accepted again.
    let _: () = raw.del("arq:result:dup").await.unwrap();
    add::enqueue(&pool, 1, 2).job_id("dup").await.unwrap();
}

#[tokio::test]
async fn status_of_deferred_queued_in_progress_and_not_found() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let raw = redis.raw().await;
    let deferred = add::enqueue(&pool, 1, 1)
        .defer_by(Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(deferred.status().await.unwrap(), JobStatus::Deferred);
    let queued = add::enqueue(&pool, 1, 1).await.unwrap();
    assert_eq!(queued.status().await.unwrap(), JobStatus::Queued);
    let _: () = raw
        .set(
            format!("arq:in-progress:{}", queued.id()),
            "1",
            None,
            None,
            false,
        )
        .await
        .unwrap();
    assert_eq!(queued.status().await.unwrap(), JobStatus::InProgress);
    let missing = pool.job::<i64>("nope");
    assert_eq!(missing.status().await.unwrap(), JobStatus::NotFound);
    assert!(missing.info().await.unwrap().is_none());
    assert!(missing.result_info().await.unwrap().is_none());
    match missing.result(Duration::from_secs(1)).await {
        Err(Error::NotFound { job_id, .. }) => assert_eq!(job_id, "nope"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    // Waiting on a queued job nobody runs times out.
    match queued.result(Duration::from_millis(100)).await {
        Err(Error::ResultTimeout { .. }) => {}
        other => panic!("expected ResultTimeout, got {other:?}"),
    }
    // A job in another queue reads as not found through a handle on the default queue.
    let elsewhere = add::enqueue(&pool, 1, 1).queue_name("q3").await.unwrap();
    let by_id = pool.job::<i64>(elsewhere.id());
    assert_eq!(by_id.status().await.unwrap(), JobStatus::NotFound);
    assert_eq!(
        by_id.in_queue("q3").status().await.unwrap(),
        JobStatus::Queued
    );
}

#[tokio::test]
async fn untyped_enqueue_with_kwargs_writes_python_shapes() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let job = pool
        .enqueue_job("py_func", vec![Value::from("a"), Value::from(1.5)])
        .kwarg("flag", true)
        .kwarg("items", vec![1, 2, 3])
        .await
        .unwrap();
    let info = job.info().await.unwrap().unwrap();
    assert_eq!(info.function, "py_func");
    assert_eq!(info.args, vec![Value::from("a"), Value::Float(1.5)]);
    assert_eq!(
        info.kwargs,
        vec![
            ("flag".to_string(), Value::Bool(true)),
            (
                "items".to_string(),
                Value::List(vec![Value::Int(1), Value::Int(2), Value::Int(3)])
            )
        ]
    );
    assert!(info.score.is_some());
    assert_eq!(info.job_try, None);
}

#[tokio::test]
async fn password_and_database_from_the_url() {
    let redis = TestRedis::start_with(&["--requirepass", "s3cret"]);
    let url = format!("redis://:s3cret@127.0.0.1:{}/3", redis.port);
    let settings = arq::RedisSettings::from_url(&url).unwrap();
    assert_eq!(settings.database, 3);
    assert_eq!(settings.password.as_deref(), Some("s3cret"));
    // the password is not printed
    assert!(!format!("{settings:?}").contains("s3cret"));
    let pool = arq::create_pool(settings).await.unwrap();
    add::enqueue(&pool, 1, 2).job_id("in-db-3").await.unwrap();

    let raw = fred::prelude::Builder::from_config(fred::prelude::Config::from_url(&url).unwrap())
        .build()
        .unwrap();
    raw.init().await.unwrap();
    let n: i64 = raw.exists("arq:job:in-db-3").await.unwrap();
    assert_eq!(n, 1, "the job is in database 3");
    let _: () = raw.custom(fred::cmd!("SELECT"), vec![0]).await.unwrap();
    let n: i64 = raw.exists("arq:job:in-db-3").await.unwrap();
    assert_eq!(n, 0, "and not in database 0");

    // A wrong password is a clear error, after the configured retries.
    let mut bad =
        arq::RedisSettings::from_url(&format!("redis://:nope@127.0.0.1:{}", redis.port)).unwrap();
    bad.conn_retries = 1;
    bad.conn_retry_delay = Duration::from_millis(10);
    let err = arq::create_pool(bad).await.unwrap_err();
    assert!(matches!(err, Error::Backend(_)), "{err}");
    assert!(err.to_string().contains("after 2 attempts"), "{err}");
}

#[tokio::test]
async fn connecting_to_nothing_fails_after_the_retries() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut settings = arq::RedisSettings::from_url(&format!("redis://127.0.0.1:{port}")).unwrap();
    settings.conn_retries = 2;
    settings.conn_retry_delay = Duration::from_millis(20);
    let started = std::time::Instant::now();
    let err = arq::create_pool(settings).await.unwrap_err();
    assert!(
        err.to_string().contains("could not connect to redis"),
        "{err}"
    );
    assert!(err.to_string().contains("after 3 attempts"), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(40));
}

#[test]
fn redis_urls_are_parsed_like_python_settings() {
    let s = arq::RedisSettings::from_url("rediss://user:pw@example.com:6380/2").unwrap();
    assert_eq!(
        (s.host.as_str(), s.port, s.database, s.ssl),
        ("example.com", 6380, 2, true)
    );
    assert_eq!(s.username.as_deref(), Some("user"));
    let d = arq::RedisSettings::from_url("redis://localhost").unwrap();
    assert_eq!(
        (d.port, d.database, d.ssl, d.conn_retries),
        (6379, 0, false, 5)
    );
    assert!(arq::RedisSettings::from_url("http://nope").is_err());
}

#[tokio::test]
async fn tls_with_verified_certificates() {
    let certs = common::TestCerts::generate();
    let redis = TestRedis::start_tls(&certs);
    let url = format!("rediss://localhost:{}", redis.port);

    // Verified against the given CA: works end to end.
    let mut settings = arq::RedisSettings::from_url(&url).unwrap();
    assert!(settings.ssl);
    settings.ssl_ca_certs = Some(certs.ca());
    let pool = arq::create_pool(settings.clone()).await.unwrap();
    let job = add::enqueue(&pool, 20, 22).await.unwrap();
    assert_eq!(job.status().await.unwrap(), JobStatus::Queued);

    // Verification is on by default: the system roots do not know this CA.
    let mut untrusted = arq::RedisSettings::from_url(&url).unwrap();
    untrusted.conn_retries = 0;
    let err = arq::create_pool(untrusted).await.unwrap_err();
    assert!(err.to_string().contains("could not connect"), "{err}");

    // Plain TCP to a TLS port fails too, rather than hanging.
    let mut plain =
        arq::RedisSettings::from_url(&format!("redis://localhost:{}", redis.port)).unwrap();
    plain.conn_retries = 0;
    assert!(arq::create_pool(plain).await.is_err());
}
