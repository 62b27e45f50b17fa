//! Queue inspection and steering through the pool: listings that survive missing records,
//! results found with SCAN, delete, purge and re-running a finished job.

mod common;

use arq::{JobStatus, Value, Worker};
use common::{fast_settings, TestRedis};
use fred::prelude::*;
use std::time::Duration;

#[arq::job]
async fn double(x: i64) -> i64 {
    x * 2
}

#[tokio::test]
async fn queued_jobs_lists_states_and_survives_missing_records() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let raw = redis.raw().await;
    let queued = double::enqueue(&pool, 1).job_id("a").await.unwrap();
    double::enqueue(&pool, 2)
        .job_id("b")
        .defer_by(Duration::from_secs(600))
        .await
        .unwrap();
    double::enqueue(&pool, 3).job_id("c").await.unwrap();
    // c is running somewhere; a's record vanished (arq's queued_jobs raised here, #466)
    let _: () = raw
        .set("arq:in-progress:c", "1", None, None, false)
        .await
        .unwrap();
    let _: () = raw.del("arq:job:a").await.unwrap();

    let jobs = pool.queued_jobs("arq:queue").await.unwrap();
    let summary: Vec<(&str, JobStatus, Option<&str>)> = jobs
        .iter()
        .map(|j| {
            (
                j.job_id.as_str(),
                j.status,
                j.job.as_ref().map(|d| d.function.as_str()),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("a", JobStatus::Queued, None),
            ("c", JobStatus::InProgress, Some("double")),
            ("b", JobStatus::Deferred, Some("double")),
        ]
    );
    assert!(jobs[0].problem.as_deref().unwrap().contains("missing"));
    assert_eq!(jobs[1].job.as_ref().unwrap().args, vec![Value::Int(3)]);
    assert!(queued.info().await.unwrap().is_none());

    // paging
    let page = pool.queued_jobs_page("arq:queue", 1, 1).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].job_id, "c");

    let info = pool.queue_info("arq:queue").await.unwrap();
    assert_eq!((info.total, info.deferred, info.running), (3, 1, 1));
    assert!(info.oldest_score.is_some());
    assert_eq!(pool.queues().await.unwrap(), vec!["arq:queue".to_string()]);
}

#[tokio::test]
async fn all_job_results_scans_and_skips_bad_records() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let raw = redis.raw().await;
    let mut jobs = Vec::new();
    for i in 0..30 {
        jobs.push(double::enqueue(&pool, i).await.unwrap());
    }
    let w = Worker::new(
        pool.clone(),
        fast_settings().functions([double::FUNCTION]).burst(true),
    )
    .unwrap();
    w.run().await.unwrap();
    let _: () = raw
        .set("arq:result:garbage", b"\xc1".as_slice(), None, None, false)
        .await
        .unwrap();
    let results = pool.all_job_results().await.unwrap();
    assert_eq!(
        results.len(),
        30,
        "the undecodable one is skipped, not fatal"
    );
    assert!(results
        .windows(2)
        .all(|w| w[0].job.enqueue_time <= w[1].job.enqueue_time));
    let mut values: Vec<i64> = results.iter().map(|r| r.result.as_i64().unwrap()).collect();
    values.sort();
    assert_eq!(values, (0..30).map(|i| i * 2).collect::<Vec<_>>());
}

#[tokio::test]
async fn delete_purge_and_retry() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let raw = redis.raw().await;
    // retry: a finished job runs again under its id with its stored arguments
    let job = double::enqueue(&pool, 21).job_id("again").await.unwrap();
    let w = Worker::new(
        pool.clone(),
        fast_settings().functions([double::FUNCTION]).burst(true),
    )
    .unwrap();
    w.run().await.unwrap();
    assert_eq!(job.result(Duration::from_secs(1)).await.unwrap(), 42);
    let again = pool.rerun_job("arq:queue", "again").await.unwrap();
    assert_eq!(again.status().await.unwrap(), JobStatus::Queued);
    // a queued job cannot be "retried"
    assert!(pool.rerun_job("arq:queue", "again").await.is_err());
    let w = Worker::new(
        pool.clone(),
        fast_settings().functions([double::FUNCTION]).burst(true),
    )
    .unwrap();
    let stats = w.run().await.unwrap();
    assert_eq!(stats.complete, 1);
    assert_eq!(job.result(Duration::from_secs(1)).await.unwrap(), 42);
    let info = job.result_info().await.unwrap().unwrap();
    assert_eq!(info.job.job_try, Some(1), "tries start over");

    // delete
    assert!(pool.delete_job("arq:queue", "again").await.unwrap());
    assert_eq!(job.status().await.unwrap(), JobStatus::NotFound);
    assert!(!pool.delete_job("arq:queue", "again").await.unwrap());

    // purge leaves running jobs alone
    for i in 0..2500 {
        double::enqueue(&pool, i).await.unwrap();
    }
    let running = double::enqueue(&pool, -1).job_id("busy").await.unwrap();
    let _: () = raw
        .set("arq:in-progress:busy", "1", None, None, false)
        .await
        .unwrap();
    assert_eq!(pool.purge_queue("arq:queue").await.unwrap(), 2500);
    assert_eq!(pool.queue_size("arq:queue").await.unwrap(), 1);
    assert_eq!(running.status().await.unwrap(), JobStatus::InProgress);
    let keys: Vec<String> = raw
        .custom(fred::cmd!("KEYS"), vec!["arq:job:*"])
        .await
        .unwrap();
    assert_eq!(keys, vec!["arq:job:busy".to_string()]);
}
