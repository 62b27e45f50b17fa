//! Inspection and steering through the pool: listings, counts, delete, purge, rerun_job and
//! all_job_results.

use crate::backends::Factory;
use crate::support::*;
use crate::{gated, work};
use arq::{JobStatus, Value};
use std::collections::HashSet;
use std::time::Duration;

pub async fn queued_jobs_and_queue_info_count_states(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("queued_jobs_and_queue_info_count_states");
    let pool = &env.pool;
    let running = gated::enqueue(pool, q.clone())
        .queue_name(&q)
        .job_id(env.id("inspect", "a-running"))
        .await
        .unwrap();
    // One slot, taken by the gated job: what comes next stays in the queue.
    let worker = spawn(pool, settings(&q, [gated::FUNCTION]).max_jobs(1));
    wait_status(&running, JobStatus::InProgress, Duration::from_secs(10)).await;
    let queued = gated::enqueue(pool, q.clone())
        .queue_name(&q)
        .job_id(env.id("inspect", "b-queued"))
        .await
        .unwrap();
    let deferred = gated::enqueue(pool, q.clone())
        .queue_name(&q)
        .job_id(env.id("inspect", "c-deferred"))
        .defer_by(Duration::from_secs(600))
        .await
        .unwrap();

    let jobs = pool.queued_jobs(&q).await.unwrap();
    let summary: Vec<(&str, JobStatus)> =
        jobs.iter().map(|j| (j.job_id.as_str(), j.status)).collect();
    assert_eq!(
        summary,
        [
            (running.id(), JobStatus::InProgress),
            (queued.id(), JobStatus::Queued),
            (deferred.id(), JobStatus::Deferred),
        ],
        // Equal scores (one ms) sort by id, as in a Redis sorted set; the ids sort as meant.
        "in score order: {:?}",
        jobs.iter().map(|j| j.score).collect::<Vec<_>>()
    );
    for j in &jobs {
        let def = j.job.as_ref().expect("the record");
        assert_eq!(def.function, "gated");
        assert_eq!(def.args, vec![Value::from(q.clone())]);
        assert_eq!(def.score, Some(j.score));
        assert!(j.problem.is_none());
    }
    assert!(jobs[0].score <= jobs[1].score && jobs[1].score < jobs[2].score);
    let page = pool.queued_jobs_page(&q, 1, 1).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].job_id, queued.id());

    let info = pool.queue_info(&q).await.unwrap();
    assert_eq!(
        (info.total, info.deferred, info.running),
        (3, 1, 1),
        "{info:?}"
    );
    assert_eq!(info.oldest_score, Some(jobs[0].score));
    assert_eq!(pool.queue_size(&q).await.unwrap(), 3);
    assert!(pool.queues().await.unwrap().contains(&q));

    open_gate(&q);
    assert_eq!(running.result(RESULT_WAIT).await.unwrap(), 1);
    assert_eq!(queued.result(RESULT_WAIT).await.unwrap(), 1);
    worker.stop().await;
    let info = pool.queue_info(&q).await.unwrap();
    assert_eq!((info.total, info.deferred, info.running), (1, 1, 0));
    assert!(pool
        .queued_jobs(&format!("{q}:empty"))
        .await
        .unwrap()
        .is_empty());
}

pub async fn delete_job_and_purge_queue(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("delete_job_and_purge_queue");
    let pool = &env.pool;
    // delete: a queued job, then a finished one.
    let queued = work::enqueue(pool, q.clone(), 0)
        .queue_name(&q)
        .await
        .unwrap();
    assert!(pool.delete_job(&q, queued.id()).await.unwrap());
    assert_eq!(queued.status().await.unwrap(), JobStatus::NotFound);
    assert!(queued.info().await.unwrap().is_none());
    assert!(!pool.delete_job(&q, queued.id()).await.unwrap());
    assert_eq!(pool.queue_size(&q).await.unwrap(), 0);
    let finished = work::enqueue(pool, q.clone(), 0)
        .queue_name(&q)
        .await
        .unwrap();
    burst(pool, settings(&q, [work::FUNCTION, gated::FUNCTION])).await;
    assert_eq!(finished.status().await.unwrap(), JobStatus::Complete);
    assert!(pool.delete_job(&q, finished.id()).await.unwrap());
    assert_eq!(finished.status().await.unwrap(), JobStatus::NotFound);
    assert!(finished.result_info().await.unwrap().is_none());
    assert_eq!(
        start_counts(&q).get(queued.id()),
        None,
        "a deleted job never runs"
    );

    // purge: everything not running.
    let busy = gated::enqueue(pool, q.clone())
        .queue_name(&q)
        .await
        .unwrap();
    let worker = spawn(pool, settings(&q, [gated::FUNCTION]).max_jobs(1));
    wait_status(&busy, JobStatus::InProgress, Duration::from_secs(10)).await;
    let mut purged = Vec::new();
    for i in 0..7u64 {
        let e = work::enqueue(pool, q.clone(), 0).queue_name(&q);
        let e = if i % 3 == 0 {
            e.defer_by(Duration::from_secs(600))
        } else {
            e
        };
        purged.push(e.await.unwrap());
    }
    assert_eq!(pool.queue_size(&q).await.unwrap(), 8);
    assert_eq!(pool.purge_queue(&q).await.unwrap(), 7);
    assert_eq!(pool.queue_size(&q).await.unwrap(), 1);
    assert_eq!(busy.status().await.unwrap(), JobStatus::InProgress);
    for job in &purged {
        assert_eq!(job.status().await.unwrap(), JobStatus::NotFound);
        assert!(job.info().await.unwrap().is_none(), "record deleted");
    }
    open_gate(&q);
    assert_eq!(busy.result(RESULT_WAIT).await.unwrap(), 1);
    let stats = worker.stop().await;
    assert_eq!(stats.started, 1, "purged jobs never run");
    assert_eq!(pool.purge_queue(&q).await.unwrap(), 0);
}

pub async fn rerun_job_runs_a_finished_job_again(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("rerun_job_runs_a_finished_job_again");
    let pool = &env.pool;
    let id = env.id("rerun-job", "1");
    let job = work::enqueue(pool, q.clone(), 0)
        .queue_name(&q)
        .job_id(&id)
        .await
        .unwrap();
    // Nothing to run again while it is queued, nor for an unknown id.
    assert!(pool.rerun_job(&q, &id).await.is_err());
    assert!(pool
        .rerun_job(&q, &env.id("rerun-job", "unknown"))
        .await
        .is_err());
    burst(pool, settings(&q, [work::FUNCTION])).await;
    assert_eq!(job.result(RESULT_WAIT).await.unwrap(), 1);

    let again = pool.rerun_job(&q, &id).await.unwrap();
    assert_eq!(again.id(), id);
    assert_eq!(again.status().await.unwrap(), JobStatus::Queued);
    let info = again.info().await.unwrap().expect("the job again");
    assert_eq!(info.function, "work");
    assert_eq!(info.args, vec![Value::from(q.clone()), Value::Int(0)]);
    assert!(pool.rerun_job(&q, &id).await.is_err(), "already queued");

    let stats = burst(pool, settings(&q, [work::FUNCTION])).await;
    assert_eq!(stats.complete, 1);
    assert_eq!(job.result(RESULT_WAIT).await.unwrap(), 1);
    let tries: Vec<u32> = starts(&q).iter().map(|r| r.job_try).collect();
    assert_eq!(tries, [1, 1], "ran twice, tries starting over");
    let r = job.result_info().await.unwrap().expect("the new result");
    assert_eq!(r.job.job_try, Some(1));
}

pub async fn all_job_results_lists_finished_jobs(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("all_job_results_lists_finished_jobs");
    let pool = &env.pool;
    let mut ids = HashSet::new();
    for i in 0..12 {
        let job = work::enqueue(pool, q.clone(), 0)
            .queue_name(&q)
            .job_id(env.id("all-results", &i.to_string()))
            .await
            .unwrap();
        ids.insert(job.id().to_owned());
    }
    // One still queued (in another queue): not a result.
    work::enqueue(pool, q.clone(), 0)
        .queue_name(format!("{q}:idle"))
        .await
        .unwrap();
    burst(pool, settings(&q, [work::FUNCTION])).await;
    let results: Vec<_> = pool
        .all_job_results()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.queue_name.starts_with(&q))
        .collect();
    assert_eq!(results.len(), ids.len(), "{results:?}");
    let got: HashSet<String> = results.iter().map(|r| r.job_id.clone()).collect();
    assert_eq!(got, ids);
    assert!(results
        .windows(2)
        .all(|w| w[0].job.enqueue_time <= w[1].job.enqueue_time));
    for r in &results {
        assert!(r.success);
        assert_eq!(r.result, Value::Int(1));
        assert_eq!(r.job.function, "work");
        assert_eq!(r.queue_name, q);
    }
}

pub async fn delete_running_job_discards_its_outcome(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("delete_running_job_discards_its_outcome");
    let pool = &env.pool;
    let job = gated::enqueue(pool, q.clone())
        .queue_name(&q)
        .await
        .unwrap();
    // A short lease: the heartbeat (every 100 ms) meets the deleted lease soon.
    let worker = spawn(
        pool,
        settings(&q, [gated::FUNCTION, work::FUNCTION])
            .max_jobs(1)
            .lease(Duration::from_millis(400)),
    );
    wait_status(&job, JobStatus::InProgress, Duration::from_secs(10)).await;
    assert!(pool.delete_job(&q, job.id()).await.unwrap());
    assert_eq!(job.status().await.unwrap(), JobStatus::NotFound);
    // Its worker finds the lease gone and cancels it, freeing the one slot for the next job.
    let next = work::enqueue(pool, q.clone(), 0)
        .queue_name(&q)
        .await
        .unwrap();
    assert_eq!(next.result(RESULT_WAIT).await.unwrap(), 1);
    let stats = worker.stop().await;
    assert_eq!(stats.complete, 1, "{stats:?}");
    assert_eq!(job.status().await.unwrap(), JobStatus::NotFound);
    assert!(
        job.result_info().await.unwrap().is_none(),
        "no outcome stored"
    );
    assert!(job.info().await.unwrap().is_none());
    assert_eq!(pool.queue_size(&q).await.unwrap(), 0);
    assert!(
        start_counts(&q).get(job.id()).copied().unwrap_or(0) <= 1,
        "not run again"
    );
    let finished: Vec<_> = events(&q, crate::support::Event::Finished)
        .into_iter()
        .filter(|r| r.job_id == job.id())
        .collect();
    assert!(finished.is_empty(), "cancelled, never reached its end");
    open_gate(&q);
}

pub async fn listings_page_through_long_queues(f: &impl Factory) {
    const N: usize = 1_100;
    let env = f.start().await;
    let q = env.queue("listings_page_through_long_queues");
    let pool = &env.pool;
    let mut ids = HashSet::new();
    for i in 0..N {
        let job = work::enqueue(pool, q.clone(), 0)
            .queue_name(&q)
            .job_id(env.id("long", &format!("{i:05}")))
            .await
            .unwrap();
        ids.insert(job.id().to_owned());
    }
    // queued_jobs reads pages of 1000.
    let jobs = pool.queued_jobs(&q).await.unwrap();
    assert_eq!(jobs.len(), N);
    let listed: HashSet<String> = jobs.iter().map(|j| j.job_id.clone()).collect();
    assert_eq!(listed, ids, "each job listed once");
    assert!(jobs.windows(2).all(|w| w[0].score <= w[1].score));
    let tail = pool.queued_jobs_page(&q, 1_000, 1_000).await.unwrap();
    assert_eq!(tail.len(), N - 1_000);
    assert_eq!(pool.queue_info(&q).await.unwrap().total, N as u64);

    // all_job_results reads pages of 500.
    let stats = burst(pool, settings(&q, [work::FUNCTION]).max_jobs(50)).await;
    assert_eq!(stats.complete, N as u64);
    let results: Vec<_> = pool
        .all_job_results()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.queue_name == q)
        .collect();
    let found: HashSet<String> = results.iter().map(|r| r.job_id.clone()).collect();
    assert_eq!(found, ids, "each result listed");
    assert_eq!(results.len(), N, "no result listed twice");

    // purge deletes in batches of 1000.
    for i in 0..N {
        work::enqueue(pool, q.clone(), 0)
            .queue_name(&q)
            .job_id(env.id("purge", &i.to_string()))
            .defer_by(Duration::from_secs(600))
            .await
            .unwrap();
    }
    assert_eq!(pool.purge_queue(&q).await.unwrap(), N as u64);
    assert_eq!(pool.queue_size(&q).await.unwrap(), 0);
}
