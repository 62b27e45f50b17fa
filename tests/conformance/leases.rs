//! Claims and leases: two workers share a queue without running a job twice, and a worker
//! stopped mid-job hands it back without spending a try.

use crate::backends::Factory;
use crate::support::*;
use crate::{gated, work};
use arq::JobStatus;
use std::time::Duration;

pub async fn two_workers_run_each_job_once(f: &impl Factory) {
    const N: usize = 60;
    let env = f.start().await;
    let q = env.queue("two_workers_run_each_job_once");
    let pool = &env.pool;
    let mut jobs = Vec::new();
    for i in 0..N {
        let job = work::enqueue(pool, q.clone(), 5)
            .queue_name(&q)
            .job_id(env.id("two-workers", &i.to_string()))
            .await
            .unwrap();
        jobs.push(job);
    }
    let a = spawn(pool, settings(&q, [work::FUNCTION]).max_jobs(4));
    let other = env.other_pool().await;
    let b = spawn(&other, settings(&q, [work::FUNCTION]).max_jobs(4));
    for job in &jobs {
        assert_eq!(job.result(Duration::from_secs(30)).await.unwrap(), 1);
    }
    let (sa, sb) = (a.stop().await, b.stop().await);
    assert_eq!(sa.complete + sb.complete, N as u64, "{sa:?} {sb:?}");
    assert_eq!(sa.started + sb.started, N as u64, "no job claimed twice");
    let counts = start_counts(&q);
    assert_eq!(counts.len(), N, "every job ran");
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "jobs run more than once: {twice:?}");
    assert_eq!(pool.queue_size(&q).await.unwrap(), 0);
}

pub async fn shutdown_hands_the_job_back_without_a_try(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("shutdown_hands_the_job_back_without_a_try");
    let pool = &env.pool;
    let job = gated::enqueue(pool, q.clone())
        .queue_name(&q)
        .await
        .unwrap();
    let first = spawn(pool, settings(&q, [gated::FUNCTION]));
    wait_status(&job, JobStatus::InProgress, Duration::from_secs(10)).await;
    wait_starts(&q, 1, Duration::from_secs(10)).await;
    let stats = first.stop().await;
    assert_eq!((stats.complete, stats.failed), (0, 0), "{stats:?}");
    // Back in the queue, its record intact, nobody holding it.
    assert_eq!(job.status().await.unwrap(), JobStatus::Queued);
    let info = job.info().await.unwrap().expect("the job's record");
    assert_eq!(info.function, "gated");
    assert!(events(&q, Event::Finished).is_empty(), "cancelled mid-job");

    open_gate(&q);
    let stats = burst(pool, settings(&q, [gated::FUNCTION])).await;
    assert_eq!(stats.complete, 1);
    assert_eq!(job.result(RESULT_WAIT).await.unwrap(), 1, "try 1 again");
    let tries: Vec<u32> = starts(&q).iter().map(|r| r.job_try).collect();
    assert_eq!(tries, [1, 1], "the shutdown gave the try back");
    let r = job.result_info().await.unwrap().expect("a result");
    assert_eq!(r.job.job_try, Some(1));
}

/// The most runs of `tag` in flight at once, from the ledger's start and finish times.
fn peak_concurrency(tag: &str) -> usize {
    let mut edges: Vec<(std::time::Instant, i32)> = starts(tag)
        .into_iter()
        .map(|r| (r.at, 1))
        .chain(events(tag, Event::Finished).into_iter().map(|r| (r.at, -1)))
        .collect();
    // A finish and a start at the same instant: count the finish first.
    edges.sort_by_key(|&(at, d)| (at, d));
    let (mut now, mut peak) = (0i32, 0i32);
    for (_, d) in edges {
        now += d;
        peak = peak.max(now);
    }
    peak as usize
}

pub async fn max_jobs_bounds_concurrency(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("max_jobs_bounds_concurrency");
    let pool = &env.pool;
    let mut jobs = Vec::new();
    for _ in 0..9 {
        jobs.push(
            work::enqueue(pool, q.clone(), 150)
                .queue_name(&q)
                .await
                .unwrap(),
        );
    }
    let stats = burst(pool, settings(&q, [work::FUNCTION]).max_jobs(3)).await;
    assert_eq!(stats.complete, 9);
    for job in &jobs {
        assert_eq!(job.result(RESULT_WAIT).await.unwrap(), 1);
    }
    assert_eq!(
        peak_concurrency(&q),
        3,
        "max_jobs = 3, and all 3 slots used"
    );
}

pub async fn max_burst_jobs_stops_after_n(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("max_burst_jobs_stops_after_n");
    let pool = &env.pool;
    for _ in 0..5 {
        work::enqueue(pool, q.clone(), 0)
            .queue_name(&q)
            .await
            .unwrap();
    }
    let stats = burst(
        pool,
        settings(&q, [work::FUNCTION]).max_jobs(1).max_burst_jobs(2),
    )
    .await;
    assert_eq!((stats.started, stats.complete), (2, 2));
    assert_eq!(starts(&q).len(), 2);
    assert_eq!(
        pool.queue_size(&q).await.unwrap(),
        3,
        "the rest stay queued"
    );
}
