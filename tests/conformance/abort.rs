//! Abort of queued, deferred, running and unknown jobs.

use crate::backends::Factory;
use crate::support::*;
use crate::{gated, work};
use arq::{Job, JobStatus, Value};
use std::time::{Duration, Instant};

/// Checks the stored result of a job aborted before it started.
async fn assert_aborted_before_start(job: &Job<u32>) {
    assert_eq!(job.status().await.unwrap(), JobStatus::Complete);
    let failure = failure_of(job).await;
    assert!(failure.is_aborted(), "{failure}");
    assert_eq!(failure.message, arq::ABORTED_BEFORE_START);
    let r = job.result_info().await.unwrap().expect("an aborted result");
    assert!(!r.success);
    assert_eq!(r.job.function, "work");
    assert_eq!(r.result, Value::from("CancelledError"));
    assert_eq!(r.start_time, r.finish_time);
    assert_eq!(r.queue_name, job.queue_name());
}

pub async fn abort_queued_job(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("abort_queued_job");
    let pool = &env.pool;
    let job = work::enqueue(pool, q.clone(), 0)
        .queue_name(&q)
        .await
        .unwrap();
    let keep = work::enqueue(pool, q.clone(), 0)
        .queue_name(&q)
        .await
        .unwrap();
    assert!(job.abort(Duration::from_secs(1)).await.unwrap());
    assert_aborted_before_start(&job).await;
    assert_eq!(pool.queue_size(&q).await.unwrap(), 1, "removed at once");

    let stats = burst(pool, settings(&q, [work::FUNCTION])).await;
    assert_eq!((stats.started, stats.complete), (1, 1));
    assert_eq!(keep.result(RESULT_WAIT).await.unwrap(), 1);
    assert_eq!(start_counts(&q).get(job.id()), None, "never ran");
    assert_aborted_before_start(&job).await;
    // Aborting a finished job says false and changes nothing.
    assert!(!keep.abort(Duration::from_secs(1)).await.unwrap());
    assert_eq!(keep.result(RESULT_WAIT).await.unwrap(), 1);
}

pub async fn abort_deferred_job(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("abort_deferred_job");
    let pool = &env.pool;
    // Due in 1.5 s: if the abort only left a marker, a worker would run it once due.
    let job = work::enqueue(pool, q.clone(), 0)
        .queue_name(&q)
        .defer_by(Duration::from_millis(1_500))
        .await
        .unwrap();
    assert_eq!(job.status().await.unwrap(), JobStatus::Deferred);
    assert!(job.abort(Duration::from_secs(1)).await.unwrap());
    assert_aborted_before_start(&job).await;
    let info = pool.queue_info(&q).await.unwrap();
    assert_eq!((info.total, info.deferred), (0, 0), "removed at once");

    let worker = spawn(pool, settings(&q, [work::FUNCTION]));
    // A job enqueued after the deferred one's due time runs; the aborted one does not.
    let due = job.result_info().await.unwrap().unwrap().job.enqueue_time
        + chrono::Duration::milliseconds(1_500);
    wait_for(
        "the aborted job's due time",
        Duration::from_secs(10),
        || async { (chrono::Utc::now() > due).then_some(()) },
    )
    .await;
    let later = work::enqueue(pool, q.clone(), 0)
        .queue_name(&q)
        .await
        .unwrap();
    assert_eq!(later.result(RESULT_WAIT).await.unwrap(), 1);
    let stats = worker.stop().await;
    assert_eq!((stats.started, stats.complete), (1, 1));
    assert_eq!(start_counts(&q).get(job.id()), None, "never ran");
    assert_aborted_before_start(&job).await;
}

pub async fn abort_running_job(f: &impl Factory) {
    abort_running(f, "abort_running_job", 10).await;
}

/// With every slot taken, the abort is still seen (arq #290: Python's check waited for a
/// free slot).
pub async fn abort_running_job_with_max_jobs_one(f: &impl Factory) {
    abort_running(f, "abort_running_job_with_max_jobs_one", 1).await;
}

async fn abort_running(f: &impl Factory, test: &str, max_jobs: usize) {
    let env = f.start().await;
    let q = env.queue(test);
    let pool = &env.pool;
    let job = gated::enqueue(pool, q.clone())
        .queue_name(&q)
        .await
        .unwrap();
    let worker = spawn(
        pool,
        settings(&q, [gated::FUNCTION, work::FUNCTION])
            .poll_delay(Duration::from_millis(100))
            .max_jobs(max_jobs),
    );
    wait_status(&job, JobStatus::InProgress, Duration::from_secs(10)).await;
    wait_starts(&q, 1, Duration::from_secs(10)).await;
    let asked = Instant::now();
    assert!(job.abort(Duration::from_secs(5)).await.unwrap());
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "cancelled within about a poll, took {:?}",
        asked.elapsed()
    );
    let failure = failure_of(&job).await;
    assert!(failure.is_aborted(), "{failure}");
    assert_eq!(failure.message, arq::ABORTED_WHILE_RUNNING);
    let r = job.result_info().await.unwrap().expect("a result");
    assert_eq!(r.result, Value::from("CancelledError"));
    assert!(r.finish_time > r.start_time);
    assert_eq!(job.status().await.unwrap(), JobStatus::Complete);
    assert_eq!(starts(&q).len(), 1);
    assert!(
        events(&q, Event::Finished).is_empty(),
        "cancelled, never reached its end"
    );
    // The worker goes on.
    let next = work::enqueue(pool, q.clone(), 0)
        .queue_name(&q)
        .await
        .unwrap();
    assert_eq!(next.result(RESULT_WAIT).await.unwrap(), 1);
    let stats = worker.stop().await;
    assert_eq!((stats.complete, stats.failed), (1, 1));
    open_gate(&q);
}

pub async fn abort_unknown_id(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("abort_unknown_id");
    let pool = &env.pool;
    let id = env.id("abort", "ghost");
    let ghost = pool.job::<u32>(&id).in_queue(&q);
    assert!(!ghost.abort(Duration::from_millis(300)).await.unwrap());
    assert_eq!(ghost.status().await.unwrap(), JobStatus::NotFound);
    assert!(
        ghost.result_info().await.unwrap().is_none(),
        "no result stored"
    );
    assert_eq!(pool.queue_info(&q).await.unwrap().total, 0);
    // No marker left behind: a later job with that id runs.
    let job = work::enqueue(pool, q.clone(), 0)
        .queue_name(&q)
        .job_id(&id)
        .await
        .unwrap();
    let stats = burst(pool, settings(&q, [work::FUNCTION])).await;
    assert_eq!((stats.complete, stats.failed), (1, 0));
    assert_eq!(job.result(RESULT_WAIT).await.unwrap(), 1);
    assert_eq!(start_counts(&q).get(&id), Some(&1));
}
