//! Choosing the worker's codec (`WorkerSettings::codec`, `arq::codec::by_name`) and naming the
//! codec of a foreign payload, against a real Redis.
#![cfg(all(feature = "pickle", feature = "json"))]

mod common;

use arq::{PickleCodec, Value, Worker, WorkerSettings};
use common::{fast_settings, TestRedis};
use fred::prelude::*;
use std::time::Duration;

#[arq::job]
async fn codec_add(a: i64, b: i64) -> i64 {
    a + b
}

async fn burst(pool: &arq::Pool, settings: WorkerSettings) -> arq::WorkerStats {
    let worker = Worker::new(pool.clone(), settings.burst(true)).unwrap();
    tokio::time::timeout(Duration::from_secs(30), worker.run())
        .await
        .expect("burst worker finished")
        .unwrap()
}

/// A job record as Python arq's default (pickle) writes it, planted without any Rust client.
async fn plant_pickled_job(redis: &TestRedis, id: &str) {
    let record = arq::wire::JobRecord {
        job_try: None,
        function: "codec_add".into(),
        args: vec![Value::from(1), Value::from(2)],
        kwargs: vec![],
        enqueue_time_ms: arq::time::now_ms(),
    };
    let bytes = arq::Codec::encode(&PickleCodec, &record.to_value()).unwrap();
    assert_eq!(
        &bytes[..2],
        b"\x80\x04",
        "pickle protocol 4, as Python writes"
    );
    let raw = redis.raw().await;
    let _: () = raw
        .set(
            format!("arq:job:{id}"),
            bytes.as_slice(),
            Some(Expiration::PX(600_000)),
            None,
            false,
        )
        .await
        .unwrap();
    let _: () = raw
        .zadd("arq:queue", None, None, false, false, (1.0, id))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_msgpack_worker_names_pickle_when_it_meets_a_pickled_job() {
    let redis = TestRedis::start();
    let pool = redis.pool().await; // msgpack
    plant_pickled_job(&redis, "pickled").await;

    // The listing (arq-cli jobs) says what the record looks like and how to read it.
    let listed = pool.queued_jobs("arq:queue").await.unwrap();
    assert_eq!(listed.len(), 1);
    let problem = listed[0].problem.as_deref().unwrap();
    assert!(listed[0].job.is_none());
    assert!(
        problem.contains("it looks like pickle (Python arq's default)")
            && problem.contains("--codec pickle (ARQ_CODEC=pickle)")
            && problem.contains("Pool::with_codec(arq::PickleCodec)"),
        "{problem}"
    );

    let stats = burst(&pool, fast_settings().functions([codec_add::FUNCTION])).await;
    assert_eq!((stats.complete, stats.failed), (0, 1));
    let failure = pool
        .job::<i64>("pickled")
        .result(Duration::from_secs(1))
        .await
        .unwrap_err()
        .job_failure()
        .cloned()
        .unwrap();
    assert_eq!(failure.class, "DeserializationError");
    assert!(
        failure
            .message
            .starts_with("job pickled: payload could not be decoded (format=msgpack): "),
        "{failure}"
    );
    assert!(
        failure.message.ends_with(
            "; it looks like pickle (Python arq's default): run the worker with --codec pickle \
             (ARQ_CODEC=pickle) or WorkerSettings::codec(arq::PickleCodec)"
        ),
        "{failure}"
    );
}

#[tokio::test]
async fn the_worker_codec_setting_replaces_the_pools() {
    let redis = TestRedis::start();
    let msgpack_pool = redis.pool().await;
    let pickle_pool = redis.pool().await.with_codec(PickleCodec);
    plant_pickled_job(&redis, "planted").await;
    let job = codec_add::enqueue(&pickle_pool, 20, 22).await.unwrap();

    // A worker on a msgpack pool, told to use pickle by name (what `--codec pickle` does).
    let settings = fast_settings()
        .functions([codec_add::FUNCTION])
        .codec(arq::codec::by_name("pickle").unwrap());
    assert_eq!(settings.get_codec().map(|c| c.name()), Some("pickle"));
    let stats = burst(&msgpack_pool, settings).await;
    assert_eq!((stats.complete, stats.failed), (2, 0));
    assert_eq!(job.result(Duration::from_secs(1)).await.unwrap(), 42);
    assert_eq!(
        pickle_pool
            .job::<i64>("planted")
            .result(Duration::from_secs(1))
            .await
            .unwrap(),
        3
    );
    // The results are pickles, so the msgpack client cannot read them, and says why.
    let err = msgpack_pool
        .job::<i64>("planted")
        .result(Duration::from_secs(1))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("it looks like pickle"), "{err}");
}

#[test]
fn unknown_codec_names_are_refused() {
    let err = arq::codec::by_name("yaml").unwrap_err();
    assert!(matches!(err, arq::Error::Config(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "configuration error: unknown codec \"yaml\": the codecs are msgpack, pickle, json"
    );
    assert_eq!(arq::codec::by_name("JSON").unwrap().name(), "json");
}
