//! Results: status, the stored records, retention, timeouts and panics.

use crate::backends::Factory;
use crate::support::*;
use crate::{explode, gated, keep_always, keep_briefly, overrun, work};
use arq::{Error, JobStatus, Value};
use std::time::{Duration, Instant};

pub async fn status_in_each_of_the_five_states(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("status_in_each_of_the_five_states");
    let pool = &env.pool;
    let unknown = pool.job::<u32>(env.id("status", "unknown")).in_queue(&q);
    assert_eq!(unknown.status().await.unwrap(), JobStatus::NotFound);
    assert_eq!(JobStatus::NotFound.as_str(), "not_found");

    let deferred = gated::enqueue(pool, q.clone())
        .queue_name(&q)
        .defer_by(Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(deferred.status().await.unwrap(), JobStatus::Deferred);
    let job = gated::enqueue(pool, q.clone())
        .queue_name(&q)
        .await
        .unwrap();
    assert_eq!(job.status().await.unwrap(), JobStatus::Queued);

    let worker = spawn(pool, settings(&q, [gated::FUNCTION]));
    wait_status(&job, JobStatus::InProgress, Duration::from_secs(10)).await;
    // Claimed first, then started: wait for the function itself.
    wait_starts(&q, 1, Duration::from_secs(10)).await;
    assert_eq!(job.status().await.unwrap(), JobStatus::InProgress);
    assert_eq!(deferred.status().await.unwrap(), JobStatus::Deferred);
    open_gate(&q);
    assert_eq!(job.result(RESULT_WAIT).await.unwrap(), 1);
    assert_eq!(job.status().await.unwrap(), JobStatus::Complete);
    assert_eq!(deferred.status().await.unwrap(), JobStatus::Deferred);
    assert_eq!(unknown.status().await.unwrap(), JobStatus::NotFound);
    let stats = worker.stop().await;
    assert_eq!(stats.complete, 1);
    // A handle on the wrong queue does not see the job's queue entry.
    assert_eq!(
        pool.job::<u32>(deferred.id())
            .in_queue(format!("{q}:elsewhere"))
            .status()
            .await
            .unwrap(),
        JobStatus::NotFound
    );
}

pub async fn info_and_result_info_fields(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("info_and_result_info_fields");
    let pool = &env.pool;
    let id = env.id("info", "1");
    let before = arq::time::now_ms();
    let job = pool
        .enqueue_job("work", vec![Value::from(q.clone())])
        .kwarg("ms", 5)
        .queue_name(&q)
        .job_id(&id)
        .await
        .unwrap()
        .typed::<u32>();
    let after = arq::time::now_ms();
    assert!(job.result_info().await.unwrap().is_none(), "no result yet");
    let info = job.info().await.unwrap().expect("the job's record");
    assert_eq!(info.function, "work");
    assert_eq!(info.args, vec![Value::from(q.clone())]);
    assert_eq!(info.kwargs, vec![("ms".to_string(), Value::Int(5))]);
    assert_eq!(info.job_try, None);
    let et = info.enqueue_time.timestamp_millis();
    assert!(
        (before..=after).contains(&et),
        "et {et} in [{before}, {after}]"
    );
    assert_eq!(info.score, Some(et), "due at once: scored at et");

    burst(pool, settings(&q, [work::FUNCTION])).await;
    assert_eq!(job.result(RESULT_WAIT).await.unwrap(), 1);
    let r = job.result_info().await.unwrap().expect("a result");
    assert!(r.success);
    assert_eq!(r.result, Value::Int(1));
    assert!(r.failure().is_none());
    assert_eq!(r.job_id, id);
    assert_eq!(r.queue_name, q);
    assert_eq!(r.job.function, "work");
    assert_eq!(r.job.args, info.args);
    assert_eq!(r.job.kwargs, info.kwargs);
    assert_eq!(r.job.job_try, Some(1));
    assert_eq!(r.job.enqueue_time, info.enqueue_time);
    assert_eq!(r.job.score, None, "a finished job has left the queue");
    assert!(r.start_time >= r.job.enqueue_time);
    assert!(r.finish_time >= r.start_time + chrono::Duration::milliseconds(5));
    assert!(r.finish_time.timestamp_millis() <= arq::time::now_ms());
    // The worker's default keep_result: an hour after the finish.
    let left = (r.expires_at.expect("an expiry") - r.finish_time).num_milliseconds();
    assert!(
        (3_590_000..=3_600_100).contains(&left),
        "result kept {left} ms"
    );
    // info() of a finished job comes from its result.
    assert_eq!(job.info().await.unwrap(), Some(r.job.clone()));
}

pub async fn keep_result_expires(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("keep_result_expires");
    let pool = &env.pool;
    let job = keep_briefly::enqueue(pool, q.clone())
        .queue_name(&q)
        .await
        .unwrap();
    burst(pool, settings(&q, [keep_briefly::FUNCTION])).await;
    let r = job.result_info().await.unwrap().expect("a result, for now");
    let left = (r.expires_at.expect("an expiry") - r.finish_time).num_milliseconds();
    assert!((0..=1_100).contains(&left), "keep_result 1s: {left} ms");
    assert_eq!(job.status().await.unwrap(), JobStatus::Complete);
    // Gone after its TTL.
    wait_status(&job, JobStatus::NotFound, Duration::from_secs(10)).await;
    assert!(
        arq::time::now_ms() >= r.finish_time.timestamp_millis() + 900,
        "gone before its TTL"
    );
    assert!(job.result_info().await.unwrap().is_none());
    assert!(job.info().await.unwrap().is_none());
    match job.result(Duration::from_secs(1)).await {
        Err(Error::NotFound { job_id, .. }) => assert_eq!(job_id, job.id()),
        other => panic!("expected NotFound, got {other:?}"),
    }
    // With nothing kept, the id is free again.
    keep_briefly::enqueue(pool, q.clone())
        .queue_name(&q)
        .job_id(job.id())
        .await
        .unwrap();
}

pub async fn keep_result_forever_has_no_expiry(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("keep_result_forever_has_no_expiry");
    let pool = &env.pool;
    let job = keep_always::enqueue(pool, q.clone())
        .queue_name(&q)
        .await
        .unwrap();
    // A worker-wide keep_result that would otherwise drop it at once.
    burst(
        pool,
        settings(&q, [keep_always::FUNCTION]).keep_result(Duration::from_millis(100)),
    )
    .await;
    assert_eq!(
        job.result(RESULT_WAIT).await.unwrap(),
        format!("always {q}")
    );
    let r = job.result_info().await.unwrap().expect("a result");
    assert_eq!(r.expires_at, None, "kept forever");
    assert_eq!(job.status().await.unwrap(), JobStatus::Complete);
}

pub async fn job_timeout_is_a_timeout_error(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("job_timeout_is_a_timeout_error");
    let pool = &env.pool;
    let slow = overrun::enqueue(pool, q.clone(), 20_000)
        .queue_name(&q)
        .await
        .unwrap();
    let quick = overrun::enqueue(pool, q.clone(), 10)
        .queue_name(&q)
        .await
        .unwrap();
    let started = Instant::now();
    let stats = burst(pool, settings(&q, [overrun::FUNCTION])).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the timeout cut the job short: {:?}",
        started.elapsed()
    );
    assert_eq!((stats.complete, stats.failed, stats.retried), (1, 1, 0));
    let failure = failure_of(&slow).await;
    assert!(failure.is_timeout(), "{failure}");
    assert_eq!(failure.class, "TimeoutError");
    assert_eq!(
        failure.message,
        format!("job {} timed out after 0.2s", slow.id())
    );
    assert_eq!(quick.result(RESULT_WAIT).await.unwrap(), 10);
    // Final: not retried, gone from the queue.
    assert_eq!(start_counts(&q).get(slow.id()), Some(&1));
    assert_eq!(
        events(&q, crate::support::Event::Finished).len(),
        1,
        "only the quick job reached its end"
    );
    assert_eq!(slow.status().await.unwrap(), JobStatus::Complete);
    assert_eq!(pool.queue_size(&q).await.unwrap(), 0);
}

pub async fn panic_fails_that_job_alone(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("panic_fails_that_job_alone");
    let pool = &env.pool;
    let mut before = Vec::new();
    for _ in 0..3 {
        before.push(
            work::enqueue(pool, q.clone(), 20)
                .queue_name(&q)
                .await
                .unwrap(),
        );
    }
    let bomb = explode::enqueue(pool, q.clone())
        .queue_name(&q)
        .await
        .unwrap();
    let worker = spawn(
        pool,
        settings(&q, [work::FUNCTION, explode::FUNCTION]).max_jobs(2),
    );
    let failure = failure_of(&bomb).await;
    assert_eq!(failure.class, "Panic");
    assert!(
        failure.message.contains(&format!("kaboom in {q}")),
        "{failure}"
    );
    for job in &before {
        assert_eq!(job.result(RESULT_WAIT).await.unwrap(), 1);
    }
    // The worker lives on and runs what comes next.
    assert!(!worker.is_finished(), "the worker died with the job");
    let after = work::enqueue(pool, q.clone(), 0)
        .queue_name(&q)
        .await
        .unwrap();
    assert_eq!(after.result(RESULT_WAIT).await.unwrap(), 1);
    let stats = worker.stop().await;
    assert_eq!((stats.complete, stats.failed), (4, 1));
    assert_eq!(start_counts(&q).get(bomb.id()), Some(&1), "not retried");
}

pub async fn result_wait_times_out_and_unknown_is_not_found(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("result_wait_times_out_and_unknown_is_not_found");
    let pool = &env.pool;
    let queued = work::enqueue(pool, q.clone(), 0)
        .queue_name(&q)
        .await
        .unwrap();
    let started = Instant::now();
    match queued.result(Duration::from_millis(200)).await {
        Err(Error::ResultTimeout { job_id, .. }) => assert_eq!(job_id, queued.id()),
        other => panic!("expected ResultTimeout, got {other:?}"),
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(200) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    let unknown = pool.job::<u32>(env.id("wait", "unknown")).in_queue(&q);
    match unknown.result(Duration::from_secs(5)).await {
        Err(Error::NotFound { job_id, queue }) => {
            assert_eq!(
                (job_id.as_str(), queue.as_str()),
                (unknown.id(), q.as_str())
            )
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(unknown.info().await.unwrap().is_none());
    assert!(unknown.result_info().await.unwrap().is_none());
    // A waiter started before the run gets the result when it lands.
    let waiter = {
        let job = queued.clone();
        tokio::spawn(async move { job.result(RESULT_WAIT).await })
    };
    burst(pool, settings(&q, [work::FUNCTION])).await;
    let got = tokio::time::timeout(RESULT_WAIT, waiter)
        .await
        .expect("the waiter returned")
        .unwrap();
    assert_eq!(got.unwrap(), 1);
}

pub async fn unknown_function_fails_that_job(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("unknown_function_fails_that_job");
    let pool = &env.pool;
    let unknown = pool
        .enqueue_job("no_such_function", vec![Value::from(1)])
        .queue_name(&q)
        .await
        .unwrap();
    let good = work::enqueue(pool, q.clone(), 0)
        .queue_name(&q)
        .await
        .unwrap();
    let stats = burst(pool, settings(&q, [work::FUNCTION])).await;
    assert_eq!((stats.complete, stats.failed), (1, 1));
    let failure = failure_of(&unknown).await;
    assert_eq!(failure.class, "JobExecutionFailed");
    assert_eq!(failure.message, "function 'no_such_function' not found");
    let r = unknown.result_info().await.unwrap().expect("a result");
    assert_eq!(r.job.function, "no_such_function");
    assert_eq!(r.job.args, vec![Value::Int(1)]);
    assert_eq!(good.result(RESULT_WAIT).await.unwrap(), 1);
    assert_eq!(pool.queue_size(&q).await.unwrap(), 0);
}

pub async fn worker_keep_result_forever_covers_early_failures(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("worker_keep_result_forever_covers_early_failures");
    let pool = &env.pool;
    // A failure before any run (unknown function) keeps its result as the worker says.
    let job = pool
        .enqueue_job("not_here", vec![])
        .queue_name(&q)
        .await
        .unwrap();
    let done = work::enqueue(pool, q.clone(), 0)
        .queue_name(&q)
        .await
        .unwrap();
    burst(
        pool,
        settings(&q, [work::FUNCTION]).keep_result_forever(true),
    )
    .await;
    let r = job
        .result_info()
        .await
        .unwrap()
        .expect("the failure is kept");
    assert!(!r.success);
    assert_eq!(r.expires_at, None, "kept forever");
    let r = done.result_info().await.unwrap().expect("a result");
    assert!(r.success);
    assert_eq!(r.expires_at, None, "kept forever");
}
