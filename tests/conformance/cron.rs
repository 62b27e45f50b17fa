//! Cron: a per-second job ticks once per tick with two workers on the queue.

use crate::backends::Factory;
use crate::support::*;
use arq::{CronJob, CronSchedule, Ctx, Value};
use std::sync::Mutex;
use std::time::Duration;

/// `(queue, job id)` of every cron run.
static TICKS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

fn ticks_of(queue: &str) -> Vec<String> {
    TICKS
        .lock()
        .unwrap()
        .iter()
        .filter(|(q, _)| q == queue)
        .map(|(_, id)| id.clone())
        .collect()
}

fn every_second(name: &str) -> CronJob {
    CronJob::new(
        name,
        CronSchedule::new().second(0..60).unwrap(),
        |ctx: Ctx, _args| {
            Box::pin(async move {
                TICKS
                    .lock()
                    .unwrap()
                    .push((ctx.queue_name().to_owned(), ctx.job_id().to_owned()));
                Ok(Value::Nil)
            })
        },
    )
    .timezone("UTC")
    .unwrap()
}

pub async fn cron_ticks_once_per_tick_with_two_workers(f: &impl Factory) {
    ticks_once(
        f,
        "cron_ticks_once_per_tick_with_two_workers",
        "tick",
        [0, 0],
    )
    .await;
}

/// One worker's clock 2 s ahead (it enqueues ticks early, deferred to their time), one 2 s
/// behind (it meets each tick after it ran): still one run per tick, by the backend's clock.
pub async fn cron_ticks_once_with_skewed_worker_clocks(f: &impl Factory) {
    ticks_once(
        f,
        "cron_ticks_once_with_skewed_worker_clocks",
        "skew",
        [2_000, -2_000],
    )
    .await;
}

async fn ticks_once(f: &impl Factory, test: &str, job_name: &str, skews: [i64; 2]) {
    let env = f.start().await;
    let q = env.queue(test);
    let name = format!("conf-{job_name}-{}", env.backend);
    let job = every_second(&name);
    let cron_settings = |skew| {
        settings(&q, [])
            .cron_jobs([job.clone()])
            .cron_clock_skew_ms(skew)
    };
    let a = spawn(&env.pool, cron_settings(skews[0]));
    let other = env.other_pool().await;
    let b = spawn(&other, cron_settings(skews[1]));
    // Five ticks; a tick run twice would run at the same time as the first copy.
    wait_for("five cron ticks", Duration::from_secs(20), || async {
        (ticks_of(&q).len() >= 5).then_some(())
    })
    .await;
    a.stop().await;
    b.stop().await;
    let ids = ticks_of(&q);
    let prefix = format!("cron:{name}:");
    let mut ms: Vec<i64> = ids
        .iter()
        .map(|id| {
            id.strip_prefix(&prefix)
                .unwrap_or_else(|| panic!("{id} is not {prefix}<ms>"))
                .parse()
                .unwrap()
        })
        .collect();
    let n = ms.len();
    ms.sort_unstable();
    ms.dedup();
    assert_eq!(ms.len(), n, "a tick ran more than once: {ids:?}");
    for w in ms.windows(2) {
        assert_eq!(w[1] - w[0], 1_000, "a tick was skipped: {ids:?}");
    }
    // Cron results are not kept (keep_result = 0, arq's cron default).
    let kept: Vec<_> = env
        .pool
        .all_job_results()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.queue_name == q)
        .collect();
    assert!(kept.is_empty(), "{kept:?}");
}
