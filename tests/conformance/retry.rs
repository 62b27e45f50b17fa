//! `Retry`: a delayed retry, and `max_tries` running out.

use crate::backends::Factory;
use crate::flaky;
use crate::support::*;
use arq::JobStatus;
use std::time::Duration;

pub async fn retry_with_delay_then_success(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("retry_with_delay_then_success");
    let pool = &env.pool;
    // Retry after 400 ms on tries 1 and 2, succeed on try 3.
    let job = flaky::enqueue(pool, q.clone(), 3, 400)
        .queue_name(&q)
        .await
        .unwrap();
    let worker = spawn(pool, settings(&q, [flaky::FUNCTION]));
    // Between tries the job waits in the queue, deferred by the retry's delay.
    wait_starts(&q, 1, Duration::from_secs(10)).await;
    wait_status(&job, JobStatus::Deferred, Duration::from_secs(5)).await;
    assert_eq!(job.result(RESULT_WAIT).await.unwrap(), 3);
    let stats = worker.stop().await;
    assert_eq!((stats.complete, stats.failed, stats.retried), (1, 0, 2));

    let runs = starts(&q);
    let tries: Vec<u32> = runs.iter().map(|r| r.job_try).collect();
    assert_eq!(tries, [1, 2, 3], "job_try counts up");
    for pair in runs.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_millis(380),
            "retried after {gap:?}, before its 400 ms delay"
        );
    }
    let r = job.result_info().await.unwrap().expect("a result");
    assert!(r.success);
    assert_eq!(r.job.job_try, Some(3));
}

pub async fn max_tries_exhausted(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("max_tries_exhausted");
    let pool = &env.pool;
    // max_tries = 3 on the function; it never succeeds.
    let job = flaky::enqueue(pool, q.clone(), 100, 0)
        .queue_name(&q)
        .await
        .unwrap();
    let worker = spawn(pool, settings(&q, [flaky::FUNCTION]));
    let failure = failure_of(&job).await;
    assert_eq!(failure.class, "JobExecutionFailed");
    assert_eq!(failure.message, "max 3 retries exceeded");
    let stats = worker.stop().await;
    assert_eq!((stats.complete, stats.failed, stats.retried), (0, 1, 3));
    let tries: Vec<u32> = starts(&q).iter().map(|r| r.job_try).collect();
    assert_eq!(tries, [1, 2, 3], "ran max_tries times, then no more");
    let r = job.result_info().await.unwrap().expect("a result");
    assert!(!r.success);
    assert_eq!(
        r.job.job_try,
        Some(4),
        "failed on the pick after the last try"
    );
    assert_eq!(pool.queue_size(&q).await.unwrap(), 0);
}
