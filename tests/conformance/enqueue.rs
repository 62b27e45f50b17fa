//! Enqueue: typed results, de-duplication by id, deferral and expiry.

use crate::backends::{Env, Factory};
use crate::support::*;
use crate::{keep_nothing, make_point, work, Point};
use arq::{Job, JobStatus, Value};
use std::time::Duration;

pub async fn enqueue_and_typed_result(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("enqueue_and_typed_result");
    let pool = &env.pool;
    let id = env.id("typed", "1");
    let job = make_point::enqueue(pool, q.clone(), 3, -4)
        .queue_name(&q)
        .job_id(&id)
        .await
        .unwrap();
    assert_eq!((job.id(), job.queue_name()), (id.as_str(), q.as_str()));
    assert_eq!(job.status().await.unwrap(), JobStatus::Queued);

    let stats = burst(pool, settings(&q, [make_point::FUNCTION])).await;
    assert_eq!((stats.complete, stats.failed, stats.retried), (1, 0, 0));
    let point: Point = job.result(RESULT_WAIT).await.unwrap();
    assert_eq!(
        point,
        Point {
            label: format!("{q}/{id}"),
            xy: (3, -4),
            tags: vec!["a".into(), "ü".into()],
        }
    );
    assert_eq!(job.status().await.unwrap(), JobStatus::Complete);
    // The same result read untyped by id: a map with string keys.
    let untyped = pool.job::<Value>(&id).in_queue(&q);
    let v = untyped.result(RESULT_WAIT).await.unwrap();
    assert_eq!(v.get("label"), Some(&Value::from(format!("{q}/{id}"))));
    assert_eq!(
        v.get("xy"),
        Some(&Value::List(vec![Value::Int(3), Value::Int(-4)]))
    );
    assert_eq!(starts(&q).len(), 1, "ran once");
}

pub async fn duplicate_id_refused_while_queued(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("duplicate_id_refused_while_queued");
    let pool = &env.pool;
    let id = env.id("dup-queued", "1");
    let job = work::enqueue(pool, q.clone(), 1)
        .queue_name(&q)
        .job_id(&id)
        .await
        .unwrap();
    let err = work::enqueue(pool, q.clone(), 2)
        .queue_name(&q)
        .job_id(&id)
        .await
        .unwrap_err();
    assert!(err.is_duplicate(), "{err}");
    // Ids are global, not per queue.
    let err = work::enqueue(pool, q.clone(), 3)
        .queue_name(format!("{q}:other"))
        .job_id(&id)
        .await
        .unwrap_err();
    assert!(err.is_duplicate(), "another queue: {err}");
    assert_eq!(pool.queue_size(&format!("{q}:other")).await.unwrap(), 0);
    // The first job is untouched.
    let info = job.info().await.unwrap().expect("the job");
    assert_eq!(info.args, vec![Value::from(q.clone()), Value::Int(1)]);
    assert_eq!(pool.queue_size(&q).await.unwrap(), 1);

    burst(pool, settings(&q, [work::FUNCTION])).await;
    assert_eq!(job.result(RESULT_WAIT).await.unwrap(), 1);
    assert_eq!(start_counts(&q).get(&id), Some(&1), "ran once");
}

pub async fn duplicate_id_refused_while_result_kept(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("duplicate_id_refused_while_result_kept");
    let pool = &env.pool;
    let id = env.id("dup-result", "1");
    let job = work::enqueue(pool, q.clone(), 0)
        .queue_name(&q)
        .job_id(&id)
        .await
        .unwrap();
    burst(pool, settings(&q, [work::FUNCTION])).await;
    assert_eq!(job.result(RESULT_WAIT).await.unwrap(), 1);
    assert_eq!(pool.queue_size(&q).await.unwrap(), 0);

    let err = work::enqueue(pool, q.clone(), 0)
        .queue_name(&q)
        .job_id(&id)
        .await
        .unwrap_err();
    assert!(err.is_duplicate(), "with only the result left: {err}");
    assert_eq!(pool.queue_size(&q).await.unwrap(), 0, "nothing queued");
    assert_eq!(job.status().await.unwrap(), JobStatus::Complete);
    let stats = burst(pool, settings(&q, [work::FUNCTION])).await;
    assert_eq!(stats.started, 0);
    assert_eq!(starts(&q).len(), 1, "ran once");
}

/// A job due at `due_ms`: deferred, and not run by a worker polling before then; queued
/// once due (with no worker running); then run, no earlier than due. (A burst worker waits
/// for deferred jobs, as Python arq's does: it ends when the queue is empty.)
async fn runs_no_earlier(env: &Env, q: &str, job: Job<u32>, due_ms: i64) {
    let pool = &env.pool;
    assert_eq!(job.status().await.unwrap(), JobStatus::Deferred);
    let info = job.info().await.unwrap().expect("the job");
    assert_eq!(info.score, Some(due_ms), "score is the due time");

    let worker = spawn(pool, settings(q, [work::FUNCTION]));
    let mut looks = 0;
    while arq::time::now_ms() < due_ms - 300 {
        assert_eq!(job.status().await.unwrap(), JobStatus::Deferred);
        assert!(starts(q).is_empty(), "run before its due time");
        looks += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = worker.stop().await;
    assert!(looks > 3, "only {looks} looks before the due time");
    assert_eq!(
        stats.started, 0,
        "a worker before the due time runs nothing"
    );
    assert!(starts(q).is_empty(), "not run early");
    assert_eq!(pool.queue_size(q).await.unwrap(), 1, "still in the queue");

    wait_status(&job, JobStatus::Queued, Duration::from_secs(10)).await;
    assert!(arq::time::now_ms() >= due_ms, "queued only once due");
    let stats = burst(pool, settings(q, [work::FUNCTION])).await;
    assert_eq!(stats.complete, 1);
    assert_eq!(job.result(RESULT_WAIT).await.unwrap(), 1);
    assert_eq!(job.status().await.unwrap(), JobStatus::Complete);
    let r = job.result_info().await.unwrap().expect("a result");
    assert!(
        r.start_time.timestamp_millis() >= due_ms,
        "started at {} before its due time {due_ms}",
        r.start_time.timestamp_millis()
    );
    assert_eq!(starts(q).len(), 1);
}

pub async fn defer_by_runs_no_earlier(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("defer_by_runs_no_earlier");
    let job = work::enqueue(&env.pool, q.clone(), 0)
        .queue_name(&q)
        .defer_by(Duration::from_millis(1_500))
        .await
        .unwrap();
    let et = job.info().await.unwrap().unwrap().enqueue_time;
    runs_no_earlier(&env, &q, job, et.timestamp_millis() + 1_500).await;
}

pub async fn defer_until_runs_no_earlier(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("defer_until_runs_no_earlier");
    let at = chrono::Utc::now() + chrono::Duration::milliseconds(1_500);
    let job = work::enqueue(&env.pool, q.clone(), 0)
        .queue_name(&q)
        .defer_until(at)
        .await
        .unwrap();
    runs_no_earlier(&env, &q, job, at.timestamp_millis()).await;
}

pub async fn expired_job_fails_without_running(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("expired_job_fails_without_running");
    let pool = &env.pool;
    let job = work::enqueue(pool, q.clone(), 0)
        .queue_name(&q)
        .expires(Duration::from_millis(300))
        .await
        .unwrap();
    assert!(job.info().await.unwrap().is_some());
    // The record expires; its queue entry stays until a worker meets it.
    wait_for(
        "the job record to expire",
        Duration::from_secs(10),
        || async { job.info().await.unwrap().is_none().then_some(()) },
    )
    .await;
    assert_eq!(pool.queue_size(&q).await.unwrap(), 1);

    let stats = burst(pool, settings(&q, [work::FUNCTION])).await;
    assert_eq!((stats.complete, stats.failed), (0, 1));
    let failure = failure_of(&job).await;
    assert_eq!(failure.class, "JobExecutionFailed");
    assert_eq!(failure.message, format!("job {} expired", job.id()));
    assert!(starts(&q).is_empty(), "an expired job never runs");
    assert_eq!(pool.queue_size(&q).await.unwrap(), 0);
}

pub async fn job_try_set_at_enqueue(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("job_try_set_at_enqueue");
    let pool = &env.pool;
    // Python's `_job_try`: the first run is that try.
    let job = work::enqueue(pool, q.clone(), 0)
        .queue_name(&q)
        .job_try(3)
        .await
        .unwrap();
    assert_eq!(job.info().await.unwrap().unwrap().job_try, Some(3));
    burst(pool, settings(&q, [work::FUNCTION])).await;
    assert_eq!(job.result(RESULT_WAIT).await.unwrap(), 3);
    let tries: Vec<u32> = starts(&q).iter().map(|r| r.job_try).collect();
    assert_eq!(tries, [3]);
    assert_eq!(
        job.result_info().await.unwrap().unwrap().job.job_try,
        Some(3)
    );
}

pub async fn no_result_kept_frees_the_id(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("no_result_kept_frees_the_id");
    let pool = &env.pool;
    let id = env.id("keep-nothing", "1");
    let job = keep_nothing::enqueue(pool, q.clone())
        .queue_name(&q)
        .job_id(&id)
        .await
        .unwrap();
    let stats = burst(pool, settings(&q, [keep_nothing::FUNCTION])).await;
    assert_eq!(stats.complete, 1);
    assert_eq!(starts(&q).len(), 1, "it ran");
    assert_eq!(job.status().await.unwrap(), JobStatus::NotFound);
    assert!(job.result_info().await.unwrap().is_none());
    assert_eq!(pool.queue_size(&q).await.unwrap(), 0);
    // With neither a job nor a result left, the id may be used again (as in arq).
    keep_nothing::enqueue(pool, q.clone())
        .queue_name(&q)
        .job_id(&id)
        .await
        .unwrap();
    burst(pool, settings(&q, [keep_nothing::FUNCTION])).await;
    assert_eq!(start_counts(&q).get(&id), Some(&2));
}

pub async fn defer_until_long_past_is_refused(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("defer_until_long_past_is_refused");
    let pool = &env.pool;
    // More than a day ago: it would expire at once; refused, with no orphan queue entry.
    let err = work::enqueue(pool, q.clone(), 0)
        .queue_name(&q)
        .job_id(env.id("past", "1"))
        .defer_until(chrono::Utc::now() - chrono::Duration::days(2))
        .await
        .unwrap_err();
    assert!(matches!(err, arq::Error::InvalidArgument(_)), "{err}");
    assert_eq!(pool.queue_size(&q).await.unwrap(), 0);
    let job = pool.job::<u32>(env.id("past", "1")).in_queue(&q);
    assert_eq!(job.status().await.unwrap(), JobStatus::NotFound);
    assert!(job.info().await.unwrap().is_none());
    // A little in the past: due at once, and runs.
    let job = work::enqueue(pool, q.clone(), 0)
        .queue_name(&q)
        .defer_until(chrono::Utc::now() - chrono::Duration::seconds(5))
        .await
        .unwrap();
    assert_eq!(job.status().await.unwrap(), JobStatus::Queued);
    burst(pool, settings(&q, [work::FUNCTION])).await;
    assert_eq!(job.result(RESULT_WAIT).await.unwrap(), 1);
}

pub async fn due_jobs_run_in_score_order(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("due_jobs_run_in_score_order");
    let pool = &env.pool;
    let mut expected = Vec::new();
    // Enqueued newest-due first: the order of due times, not of enqueues, decides.
    for i in 0..6i64 {
        let job = work::enqueue(pool, q.clone(), 0)
            .queue_name(&q)
            .defer_until(chrono::Utc::now() - chrono::Duration::seconds(i + 1))
            .await
            .unwrap();
        expected.insert(0, job.id().to_owned());
    }
    let stats = burst(pool, settings(&q, [work::FUNCTION]).max_jobs(1)).await;
    assert_eq!(stats.complete, 6);
    let order: Vec<String> = starts(&q).into_iter().map(|r| r.job_id).collect();
    assert_eq!(order, expected, "oldest score first");
}
