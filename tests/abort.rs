//! Abort: of queued, deferred and running jobs, of unknown and finished ids, and markers
//! written by Python clients (arq #485).

mod common;

use arq::{Error, JobStatus, Worker};
use common::{fast_settings, TestRedis};
use fred::prelude::*;
use std::sync::Mutex;
use std::time::Duration;

/// Tags of every run that started and of every run that finished (tags are unique per test).
static STARTED: Mutex<Vec<String>> = Mutex::new(Vec::new());
static COMPLETED: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn ran(ledger: &Mutex<Vec<String>>, tag: &str) -> usize {
    ledger.lock().unwrap().iter().filter(|t| *t == tag).count()
}

#[arq::job]
async fn long_job(tag: String, ms: u64) -> String {
    STARTED.lock().unwrap().push(tag.clone());
    tokio::time::sleep(Duration::from_millis(ms)).await;
    COMPLETED.lock().unwrap().push(tag.clone());
    tag
}

async fn abort_set_size(raw: &fred::clients::Client) -> i64 {
    raw.zcard("arq:abort").await.unwrap()
}

async fn run_burst(pool: &arq::Pool) {
    let w = Worker::new(
        pool.clone(),
        fast_settings().functions([long_job::FUNCTION]).burst(true),
    )
    .unwrap();
    tokio::time::timeout(Duration::from_secs(20), w.run())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn queued_and_deferred_jobs_are_removed_and_never_run() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let raw = redis.raw().await;
    let queued = long_job::enqueue(&pool, "q".into(), 0).await.unwrap();
    let deferred = long_job::enqueue(&pool, "d".into(), 0)
        .defer_by(Duration::from_secs(3600))
        .await
        .unwrap();
    let keep = long_job::enqueue(&pool, "keep".into(), 0).await.unwrap();
    assert!(queued.abort(Duration::from_secs(1)).await.unwrap());
    assert!(deferred.abort(Duration::from_secs(1)).await.unwrap());
    // Gone from the queue at once, with an aborted result; no marker is left behind.
    for job in [&queued, &deferred] {
        assert_eq!(job.status().await.unwrap(), JobStatus::Complete);
        match job.result(Duration::from_secs(1)).await {
            Err(Error::JobFailed { failure, .. }) => {
                assert!(failure.is_aborted(), "{failure}");
                assert_eq!(failure.message, "job aborted before start");
            }
            other => panic!("expected an aborted failure, got {other:?}"),
        }
        let info = job.result_info().await.unwrap().unwrap();
        assert_eq!(info.job.function, "long_job");
        // Stored as Python stores an abort, a bare CancelledError (as text with msgpack), with
        // no time between start and finish.
        assert_eq!(info.result, arq::Value::from("CancelledError"));
        assert_eq!(info.start_time, info.finish_time);
        assert_eq!(info.failure().unwrap().message, arq::ABORTED_BEFORE_START);
    }
    assert_eq!(abort_set_size(&raw).await, 0);
    assert_eq!(pool.queue_size("arq:queue").await.unwrap(), 1);
    run_burst(&pool).await;
    // Only the job that was not aborted ran.
    assert_eq!(keep.result(Duration::from_secs(1)).await.unwrap(), "keep");
    assert_eq!(
        (ran(&STARTED, "q"), ran(&STARTED, "d")),
        (0, 0),
        "aborted jobs never start"
    );
    assert_eq!(ran(&STARTED, "keep"), 1);
    // Aborting a finished job says false and changes nothing.
    assert!(!keep.abort(Duration::from_secs(1)).await.unwrap());
    assert_eq!(keep.result(Duration::from_secs(1)).await.unwrap(), "keep");
}

async fn abort_running(max_jobs: usize) {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let raw = redis.raw().await;
    let job = long_job::enqueue(&pool, format!("running-{max_jobs}"), 30_000)
        .await
        .unwrap();
    let worker = Worker::new(
        pool.clone(),
        fast_settings()
            .functions([long_job::FUNCTION])
            .max_jobs(max_jobs)
            .poll_delay(Duration::from_millis(100)),
    )
    .unwrap();
    let stop = worker.shutdown_handle();
    let run = tokio::spawn(worker.run());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while job.status().await.unwrap() != JobStatus::InProgress {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker never started the job"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let asked = std::time::Instant::now();
    assert!(job.abort(Duration::from_secs(5)).await.unwrap());
    // Cancelled within about one poll, not after the job's 30 s.
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
    let failure = job.result(Duration::from_secs(1)).await.unwrap_err();
    let failure = failure.job_failure().unwrap();
    assert!(failure.is_aborted());
    assert_eq!(failure.message, "job aborted while running");
    let info = job.result_info().await.unwrap().unwrap();
    assert_eq!(info.result, arq::Value::from("CancelledError"));
    assert!(info.finish_time > info.start_time);
    assert_eq!(abort_set_size(&raw).await, 0, "marker cleaned up");
    let tag = format!("running-{max_jobs}");
    assert_eq!(
        (ran(&STARTED, &tag), ran(&COMPLETED, &tag)),
        (1, 0),
        "started, never finished"
    );
    let ip: i64 = raw
        .exists(format!("arq:in-progress:{}", job.id()))
        .await
        .unwrap();
    assert_eq!(ip, 0);
    stop.shutdown();
    let stats = run.await.unwrap().unwrap();
    assert_eq!(stats.failed, 1);
}

#[tokio::test]
async fn a_running_job_is_cancelled_within_a_poll() {
    abort_running(10).await;
}

#[tokio::test]
async fn a_running_job_is_cancelled_with_max_jobs_one() {
    // arq's abort check waited for a free slot (arq #290); ours does not.
    abort_running(1).await;
}

#[tokio::test]
async fn an_unknown_id_leaves_nothing_to_poison_a_later_job() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let raw = redis.raw().await;
    let ghost = pool.job::<String>("ghost");
    assert!(!ghost.abort(Duration::from_millis(200)).await.unwrap());
    assert_eq!(abort_set_size(&raw).await, 0);
    let job = long_job::enqueue(&pool, "reused".into(), 0)
        .job_id("ghost")
        .await
        .unwrap();
    run_burst(&pool).await;
    assert_eq!(job.result(Duration::from_secs(1)).await.unwrap(), "reused");
}

#[tokio::test]
async fn python_style_markers_old_ones_are_ignored_fresh_ones_abort() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let raw = redis.raw().await;
    // A Python client's abort of an unknown id leaves a marker forever (arq #485).
    let long_ago = (arq::time::now_ms() - 60_000) as f64;
    let _: () = raw
        .zadd("arq:abort", None, None, false, false, (long_ago, "ghost2"))
        .await
        .unwrap();
    // A job enqueued later with that id, the Python way (no marker cleanup), still runs.
    let old = long_job::enqueue(&pool, "fresh".into(), 0)
        .job_id("ghost2")
        .await
        .unwrap();
    let _: () = raw
        .zadd("arq:abort", None, None, false, false, (long_ago, "ghost2"))
        .await
        .unwrap();
    // A Python client's abort of a queued job: a fresh marker (and the score set to 1).
    let target = long_job::enqueue(&pool, "target".into(), 0).await.unwrap();
    let now = arq::time::now_ms() as f64;
    let _: () = raw
        .zadd("arq:abort", None, None, false, false, (now, target.id()))
        .await
        .unwrap();
    let _: () = raw
        .zadd("arq:queue", None, None, false, false, (1.0, target.id()))
        .await
        .unwrap();
    run_burst(&pool).await;
    assert_eq!(old.result(Duration::from_secs(1)).await.unwrap(), "fresh");
    assert_eq!(ran(&STARTED, "target"), 0);
    let f = target.result(Duration::from_secs(1)).await.unwrap_err();
    assert!(f.job_failure().unwrap().is_aborted(), "{f}");
    // Aborted by the worker before it ran: a bare CancelledError, st == ft.
    assert_eq!(f.job_failure().unwrap().message, arq::ABORTED_BEFORE_START);
    let info = target.result_info().await.unwrap().unwrap();
    assert_eq!(info.result, arq::Value::from("CancelledError"));
    assert_eq!(info.start_time, info.finish_time);
    assert_eq!(abort_set_size(&raw).await, 0, "both markers consumed");
}

#[tokio::test]
async fn enqueue_clears_a_marker_left_for_the_same_id() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let raw = redis.raw().await;
    // A fresh marker (a Python client's abort of an id not in use, a second ago).
    let now = arq::time::now_ms() as f64;
    let _: () = raw
        .zadd("arq:abort", None, None, false, false, (now, "reuse"))
        .await
        .unwrap();
    let job = long_job::enqueue(&pool, "reuse".into(), 0)
        .job_id("reuse")
        .await
        .unwrap();
    assert_eq!(abort_set_size(&raw).await, 0);
    run_burst(&pool).await;
    assert_eq!(job.result(Duration::from_secs(1)).await.unwrap(), "reuse");
}

#[cfg(feature = "pickle")]
#[tokio::test]
async fn with_pickle_an_abort_is_stored_as_a_bare_cancelled_error() {
    let redis = TestRedis::start();
    let pool = redis.pool().await.with_codec(arq::PickleCodec);
    let queued = long_job::enqueue(&pool, "pickled-q".into(), 0)
        .await
        .unwrap();
    assert!(queued.abort(Duration::from_secs(1)).await.unwrap());
    let info = queued.result_info().await.unwrap().unwrap();
    // Python's CancelledError(): no args.
    assert_eq!(
        info.result.get(arq::EXCEPTION_KEY),
        Some(&arq::Value::from("asyncio.exceptions.CancelledError"))
    );
    assert_eq!(info.result.get("args"), Some(&arq::Value::List(vec![])));
    assert_eq!(info.failure().unwrap().message, arq::ABORTED_BEFORE_START);
}
