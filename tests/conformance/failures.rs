//! Beyond Python arq's `Retry`: retry policies, `Permanent`, `Snooze`, dead letters and
//! failure hooks, on every backend.

use crate::backends::Factory;
use crate::support::*;
use crate::{fail_once, policy_flaky, policy_permanent, snoozer};
use arq::backend::RequeueOutcome;
use std::sync::Mutex;
use std::time::Duration;

/// `(job id, tries exhausted)` per failure hook run, for every test of this process.
pub static HOOK_RUNS: Mutex<Vec<(String, &'static str, bool)>> = Mutex::new(Vec::new());

fn hook_runs(job_id: &str) -> Vec<(&'static str, bool)> {
    HOOK_RUNS
        .lock()
        .unwrap()
        .iter()
        .filter(|(id, _, _)| id == job_id)
        .map(|(_, h, e)| (*h, *e))
        .collect()
}

fn with_hooks(settings: arq::WorkerSettings) -> arq::WorkerSettings {
    settings
        .on_job_failed(|job| async move {
            let e = job.tries_exhausted();
            HOOK_RUNS
                .lock()
                .unwrap()
                .push((job.job_id().to_owned(), "failed", e));
        })
        .on_tries_exhausted(|job| async move {
            HOOK_RUNS
                .lock()
                .unwrap()
                .push((job.job_id().to_owned(), "exhausted", true));
        })
}

pub async fn policy_retries_errors_with_backoff(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("policy_retries_errors_with_backoff");
    let pool = &env.pool;
    // Fails on tries 1 and 2, succeeds on 3; the policy waits 300 ms, without jitter.
    let job = policy_flaky::enqueue(pool, q.clone(), 3)
        .queue_name(&q)
        .await
        .unwrap();
    let worker = spawn(pool, settings(&q, [policy_flaky::FUNCTION]));
    assert_eq!(job.result(RESULT_WAIT).await.unwrap(), 3);
    let stats = worker.stop().await;
    assert_eq!((stats.complete, stats.failed, stats.retried), (1, 0, 2));
    let runs = starts(&q);
    let tries: Vec<u32> = runs.iter().map(|r| r.job_try).collect();
    assert_eq!(tries, [1, 2, 3]);
    for pair in runs.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_millis(280), "retried after {gap:?}");
    }
}

pub async fn policy_exhausted_is_dead_and_hooked_once(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("policy_exhausted_is_dead_and_hooked_once");
    let pool = &env.pool;
    let job = policy_flaky::enqueue(pool, q.clone(), 100)
        .queue_name(&q)
        .await
        .unwrap();
    let worker = spawn(pool, with_hooks(settings(&q, [policy_flaky::FUNCTION])));
    let failure = failure_of(&job).await;
    assert_eq!(failure.message, "transient failure on try 3");
    // The hooks run after the outcome is stored: wait for them.
    wait_for("the hooks", Duration::from_secs(5), || async {
        (hook_runs(job.id()).len() >= 2).then_some(())
    })
    .await;
    let stats = worker.stop().await;
    assert_eq!((stats.complete, stats.failed, stats.retried), (0, 1, 2));
    let mut runs = hook_runs(job.id());
    runs.sort();
    assert_eq!(
        runs,
        [("exhausted", true), ("failed", true)],
        "each hook once"
    );
    let dead = pool.backend().dead_letters().expect("dead letters");
    let page = dead.dead_page(&q, 0, 10).await.unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.entries[0].job_id, job.id());
    assert!(page.entries[0].job.is_some() && page.entries[0].record.is_some());
}

pub async fn permanent_errors_are_not_retried(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("permanent_errors_are_not_retried");
    let pool = &env.pool;
    let job = policy_permanent::enqueue(pool, q.clone())
        .queue_name(&q)
        .await
        .unwrap();
    let stats = burst(pool, settings(&q, [policy_permanent::FUNCTION])).await;
    let failure = failure_of(&job).await;
    assert_eq!(failure.message, "no such account");
    assert_eq!((stats.failed, stats.retried), (1, 0));
    assert_eq!(starts(&q).len(), 1);
}

pub async fn snooze_spends_no_try(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("snooze_spends_no_try");
    let pool = &env.pool;
    // Snoozes twice (100 ms each), then returns its try; max_tries is 2.
    let job = snoozer::enqueue(pool, q.clone(), 2)
        .queue_name(&q)
        .await
        .unwrap();
    let worker = spawn(pool, settings(&q, [snoozer::FUNCTION]));
    assert_eq!(
        job.result(RESULT_WAIT).await.unwrap(),
        1,
        "still the first try"
    );
    worker.stop().await;
    let tries: Vec<u32> = starts(&q).iter().map(|r| r.job_try).collect();
    assert_eq!(tries, [1, 1, 1]);
}

pub async fn snooze_limit_fails_the_job(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("snooze_limit_fails_the_job");
    let pool = &env.pool;
    // max_snoozes = 3: the fourth snooze fails it.
    let job = snoozer::enqueue(pool, q.clone(), 100)
        .queue_name(&q)
        .await
        .unwrap();
    let worker = spawn(pool, settings(&q, [snoozer::FUNCTION]));
    let failure = failure_of(&job).await;
    assert_eq!(failure.class, "JobExecutionFailed");
    assert_eq!(
        failure.message,
        "snoozed 3 times, the limit (max_snoozes = 3)"
    );
    worker.stop().await;
    assert_eq!(starts(&q).len(), 4);
}

pub async fn dead_letter_requeue_runs_the_job_again(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("dead_letter_requeue_runs_the_job_again");
    let pool = &env.pool;
    // Fails on its first run (no policy: final at once), succeeds on the next.
    let job = fail_once::enqueue(pool, q.clone())
        .queue_name(&q)
        .await
        .unwrap();
    burst(pool, settings(&q, [fail_once::FUNCTION])).await;
    assert_eq!(failure_of(&job).await.message, "first run fails");
    let dead = pool.backend().dead_letters().expect("dead letters");
    let ids = vec![job.id().to_owned()];
    assert_eq!(
        dead.dead_requeue(&q, &ids, None).await.unwrap(),
        [RequeueOutcome::Requeued]
    );
    assert_eq!(dead.dead_page(&q, 0, 10).await.unwrap().total, 0);
    assert_eq!(
        dead.dead_requeue(&q, &ids, None).await.unwrap(),
        [RequeueOutcome::NotFound]
    );
    burst(pool, settings(&q, [fail_once::FUNCTION])).await;
    assert_eq!(job.result(RESULT_WAIT).await.unwrap(), 1, "tries reset");
    assert_eq!(starts(&q).len(), 2, "ran once more");
}
