//! Cron jobs against a real Redis: each tick runs exactly once across several workers, also
//! when their clocks disagree; `run_at_startup` runs once per tick, not once per worker; ids,
//! records and keys are Python arq's.
//!
//! Schedules tick every second so each test takes a few seconds. Every test gives its workers
//! an explicit list of cron jobs (the registry of this binary also holds the macro-defined
//! ones) and records each run in its own ledger.

mod common;

use arq::backend::{CronTick, CronTickOutcome, CronTickRequest};
use arq::{CronJob, CronSchedule, Ctx, Pool, Value, Worker, WorkerSettings};
use common::{fast_settings, TestRedis};
use fred::prelude::*;
use std::sync::Mutex;
use std::time::Duration;

static FIELDS_LEDGER: Mutex<Vec<String>> = Mutex::new(Vec::new());
static EXPR_LEDGER: Mutex<Vec<String>> = Mutex::new(Vec::new());
static SKEW_LEDGER: Mutex<Vec<String>> = Mutex::new(Vec::new());
static STARTUP_LEDGER: Mutex<Vec<String>> = Mutex::new(Vec::new());
static RECORD_LEDGER: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record(ledger: &Mutex<Vec<String>>, ctx: &Ctx) {
    ledger.lock().unwrap().push(ctx.job_id().to_owned());
}

/// Every second, by fields (Python arq's `cron(f, second=set(range(60)))`).
#[arq::cron(second = 0..60, timezone = "UTC")]
async fn every_second_fields(ctx: &Ctx) {
    record(&FIELDS_LEDGER, ctx);
    tokio::time::sleep(Duration::from_millis(5)).await;
}

/// Every second, by a cron expression, in a zone with summer time.
#[arq::cron("* * * * * *", timezone = "America/New_York")]
async fn every_second_expr(ctx: Ctx) -> Result<u32, std::io::Error> {
    record(&EXPR_LEDGER, &ctx);
    Ok(1)
}

#[arq::cron(second = 0..60, name = "skewed")]
async fn every_second_skewed(ctx: &Ctx) {
    record(&SKEW_LEDGER, ctx);
    tokio::time::sleep(Duration::from_millis(5)).await;
}

fn cron_settings(jobs: impl IntoIterator<Item = CronJob>) -> WorkerSettings {
    fast_settings().functions([]).cron_jobs(jobs)
}

/// Runs workers side by side for `run_for`, then stops them.
async fn run_workers(redis: &TestRedis, settings: Vec<WorkerSettings>, run_for: Duration) {
    let mut stops = Vec::new();
    let mut handles = Vec::new();
    for s in settings {
        let worker = Worker::new(redis.pool().await, s).unwrap();
        stops.push(worker.shutdown_handle());
        handles.push(tokio::spawn(worker.run()));
    }
    tokio::time::sleep(run_for).await;
    for s in stops {
        s.shutdown();
    }
    for h in handles {
        h.await.unwrap().unwrap();
    }
}

/// The tick ms of each id `cron:<name>:<ms>`, checking the Python id format.
fn ticks(ledger: &Mutex<Vec<String>>, name: &str) -> Vec<i64> {
    let prefix = format!("cron:{name}:");
    ledger
        .lock()
        .unwrap()
        .iter()
        .map(|id| {
            let ms = id
                .strip_prefix(&prefix)
                .unwrap_or_else(|| panic!("{id} is not {prefix}<ms>"));
            let ms: i64 = ms.parse().unwrap();
            assert_eq!(ms % 1000, 123, "{id}: Python arq's default microsecond");
            ms
        })
        .collect()
}

/// Each tick ran once, and no tick between the first and the last was skipped.
#[track_caller]
fn assert_each_tick_once(mut ticks: Vec<i64>, at_least: usize) {
    let n = ticks.len();
    ticks.sort_unstable();
    ticks.dedup();
    assert_eq!(ticks.len(), n, "a tick ran more than once: {ticks:?}");
    assert!(n >= at_least, "only {n} ticks ran: {ticks:?}");
    for w in ticks.windows(2) {
        assert_eq!(w[1] - w[0], 1000, "a tick was skipped: {ticks:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_run_each_tick_once() {
    common::init_tracing();
    let redis = TestRedis::start();
    let jobs = [every_second_fields::CRON, every_second_expr::CRON];
    run_workers(
        &redis,
        vec![cron_settings(jobs.clone()), cron_settings(jobs)],
        Duration::from_millis(4_500),
    )
    .await;
    assert_each_tick_once(ticks(&FIELDS_LEDGER, "every_second_fields"), 3);
    assert_each_tick_once(ticks(&EXPR_LEDGER, "every_second_expr"), 3);
    // keep_result = 0 (arq's cron default): nothing is left behind but the markers.
    let pool = redis.pool().await;
    assert!(pool.all_job_results().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_workers_with_skewed_clocks_run_each_tick_once() {
    common::init_tracing();
    let redis = TestRedis::start();
    // One worker's clock 3 s ahead (it enqueues ticks early, deferred to their time), one 3 s
    // behind (it tries each tick after it already ran: python-arq's duplicate, reliability A7).
    let settings = [0, 3_000, -3_000, 0]
        .into_iter()
        .map(|skew| cron_settings([every_second_skewed::CRON]).cron_clock_skew_ms(skew))
        .collect();
    run_workers(&redis, settings, Duration::from_millis(6_500)).await;
    assert_each_tick_once(ticks(&SKEW_LEDGER, "skewed"), 4);
    // Nor is a tick that ran waiting in the queue to run again: without the claimed-tick
    // marker, the late worker enqueues it anew once its job is gone, and it runs a second time
    // when the 60 s in-progress hold ends (python-arq #196/#459).
    let pool = redis.pool().await;
    let ran = SKEW_LEDGER.lock().unwrap().clone();
    let requeued: Vec<String> = pool
        .queued_jobs("arq:queue")
        .await
        .unwrap()
        .into_iter()
        .map(|q| q.job_id)
        .filter(|id| ran.contains(id))
        .collect();
    assert!(
        requeued.is_empty(),
        "ticks enqueued again after they ran: {requeued:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_at_startup_runs_once_across_workers() {
    common::init_tracing();
    let redis = TestRedis::start();
    // Hourly, half an hour away: the tick due at start-up is the one half an hour ago, and no
    // other tick comes during the test.
    let now = chrono::Utc::now();
    let minute = (chrono::Timelike::minute(&now) + 30) % 60;
    let job = CronJob::new(
        "startup",
        CronSchedule::new().minute(minute).unwrap(),
        |ctx, _args| {
            Box::pin(async move {
                record(&STARTUP_LEDGER, &ctx);
                Ok(Value::Nil)
            })
        },
    )
    .timezone("UTC")
    .unwrap()
    .run_at_startup(true);
    let due = job
        .next_run(now - chrono::Duration::hours(1))
        .unwrap()
        .unwrap();
    assert!(due <= now);

    let pool = redis.pool().await;
    let late = {
        let job = job.clone();
        let pool = pool.clone();
        // A third worker that starts a second later still finds the tick claimed. It runs in
        // burst mode: its first turn tries the start-up tick, then it exits once the queue is
        // empty (a tick it enqueued again would be run first).
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let w = Worker::new(pool, cron_settings([job]).burst(true)).unwrap();
            tokio::time::timeout(Duration::from_secs(10), w.run())
                .await
                .expect("the late burst worker did not exit")
                .unwrap();
        })
    };
    run_workers(
        &redis,
        vec![cron_settings([job.clone()]), cron_settings([job.clone()])],
        Duration::from_millis(2_500),
    )
    .await;
    late.await.unwrap();
    let ledger = STARTUP_LEDGER.lock().unwrap().clone();
    assert_eq!(ledger, [job.job_id(due)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_keys_and_ids_are_pythons() {
    common::init_tracing();
    let redis = TestRedis::start();
    let job = CronJob::new(
        "recorded",
        CronSchedule::new().second(0..60).unwrap(),
        |ctx, _args| {
            Box::pin(async move {
                record(&RECORD_LEDGER, &ctx);
                Ok(Value::Str(format!("ran {}", ctx.job_id())))
            })
        },
    )
    .keep_result(Duration::from_secs(30));
    run_workers(
        &redis,
        vec![cron_settings([job.clone()])],
        Duration::from_millis(2_500),
    )
    .await;
    let ids = RECORD_LEDGER.lock().unwrap().clone();
    assert!(!ids.is_empty());
    let id = &ids[0];
    assert!(
        id.starts_with("cron:recorded:") && id.ends_with("123"),
        "{id}"
    );

    let pool = redis.pool().await;
    let info = pool
        .job::<Value>(id.clone())
        .result_info()
        .await
        .unwrap()
        .unwrap();
    assert!(info.success);
    assert_eq!(info.job.function, "cron:recorded");
    assert!(info.job.args.is_empty() && info.job.kwargs.is_empty());
    assert_eq!(info.result, Value::Str(format!("ran {id}")));
    // The job was scored at its tick.
    let tick_ms: i64 = id.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(info.job.score, None);
    assert!(info.start_time.timestamp_millis() >= tick_ms);

    let raw = redis.raw().await;
    // Python arq keeps a cron job's in-progress key for 60 s after it finishes.
    let pttl: i64 = raw.pttl(format!("arq:in-progress:{id}")).await.unwrap();
    assert!((50_000..=60_000).contains(&pttl), "in-progress PTTL {pttl}");
    // The claimed-tick marker outlives the tick by the period plus skew margins.
    let pttl: i64 = raw.pttl(format!("arq:cron-tick:{id}")).await.unwrap();
    assert!((100_000..=123_000).contains(&pttl), "marker PTTL {pttl}");
}

/// The marker is what keeps a late worker from running a finished tick again; a worker without
/// markers (Python arq) is still refused while the job or its result exists.
#[tokio::test]
async fn a_claimed_tick_is_not_enqueued_again_after_its_job_finished() {
    let redis = TestRedis::start();
    let pool: Pool = redis.pool().await;
    let raw = redis.raw().await;
    let tick = |id: &str, ttl: Option<i64>| CronTick {
        job_id: id.to_owned(),
        tick_ms: 1,
        payload: b"job".to_vec(),
        claim_ttl_ms: ttl,
    };
    let req = |ticks| CronTickRequest {
        queue: "arq:queue".into(),
        ticks,
    };
    let reply = pool
        .backend()
        .cron_tick(&req(vec![tick("cron:a:1123", Some(60_000))]))
        .await
        .unwrap();
    assert_eq!(reply.outcomes, [CronTickOutcome::Enqueued]);
    // A tick in the past is scored at the server's clock, not before it.
    let score: f64 = raw.zscore("arq:queue", "cron:a:1123").await.unwrap();
    assert!((score as i64 - reply.now_ms).abs() < 1_000);

    // A second worker in the same poll window.
    let again = pool
        .backend()
        .cron_tick(&req(vec![tick("cron:a:1123", Some(60_000))]))
        .await
        .unwrap();
    assert_eq!(again.outcomes, [CronTickOutcome::AlreadyClaimed]);

    // The job finishes and keeps no result: only the marker remains.
    let _: () = raw
        .del(vec!["arq:job:cron:a:1123".to_owned()])
        .await
        .unwrap();
    let _: () = raw.zrem("arq:queue", "cron:a:1123").await.unwrap();
    let late = pool
        .backend()
        .cron_tick(&req(vec![tick("cron:a:1123", Some(60_000))]))
        .await
        .unwrap();
    assert_eq!(late.outcomes, [CronTickOutcome::AlreadyClaimed]);
    let queued: u64 = raw.zcard("arq:queue").await.unwrap();
    assert_eq!(queued, 0);

    // A job a Python worker enqueued (no marker) is not enqueued twice, and is marked now.
    let _: () = raw
        .set("arq:job:cron:b:2123", "python", None, None, false)
        .await
        .unwrap();
    let r = pool
        .backend()
        .cron_tick(&req(vec![tick("cron:b:2123", Some(60_000))]))
        .await
        .unwrap();
    assert_eq!(r.outcomes, [CronTickOutcome::JobExists]);
    let marked: bool = raw.exists("arq:cron-tick:cron:b:2123").await.unwrap();
    assert!(marked);

    // Not unique: no marker, the id alone de-duplicates.
    let r = pool
        .backend()
        .cron_tick(&req(vec![
            tick("r1", None),
            tick("r1", None),
            tick("r2", None),
        ]))
        .await
        .unwrap();
    assert_eq!(
        r.outcomes,
        [
            CronTickOutcome::Enqueued,
            CronTickOutcome::JobExists,
            CronTickOutcome::Enqueued
        ]
    );
    // An empty request reads the server's clock.
    let clock = pool.backend().cron_tick(&req(Vec::new())).await.unwrap();
    assert!(clock.outcomes.is_empty() && clock.now_ms >= r.now_ms);
}

#[test]
fn macro_crons_are_registered_and_worker_functions_include_them() {
    let names: Vec<&str> = CronJob::registered().map(|c| c.function_name()).collect();
    for n in [
        "cron:every_second_fields",
        "cron:every_second_expr",
        "cron:skewed",
    ] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    assert_eq!(every_second_skewed::NAME, "cron:skewed");
    let c = every_second_expr::CRON;
    assert_eq!(c.timezone_name(), Some("America/New_York"));
    assert_eq!(c.schedule().expression(), Some("* * * * * *"));
    assert_eq!(c.function().options.max_tries, Some(1));
    assert_eq!(c.function().options.keep_result, Some(Duration::ZERO));

    let worker = Worker::new(
        Pool::unconnected(),
        fast_settings()
            .functions([])
            .cron_jobs([every_second_fields::CRON]),
    )
    .unwrap();
    assert_eq!(worker.function_names(), ["cron:every_second_fields"]);
}

#[tokio::test]
async fn cron_jobs_default_to_the_registry_only_with_the_whole_job_table() {
    let pool = arq::Pool::unconnected();
    let all = arq::Worker::new(pool.clone(), arq::WorkerSettings::new()).unwrap();
    assert!(all.function_names().contains(&"cron:every_second_fields"));
    // An explicit function list is explicit about cron too, as in Python arq.
    let explicit =
        arq::Worker::new(pool.clone(), arq::WorkerSettings::new().functions([])).unwrap();
    assert!(
        explicit.function_names().is_empty(),
        "{:?}",
        explicit.function_names()
    );
    let listed = arq::Worker::new(
        pool,
        arq::WorkerSettings::new()
            .functions([])
            .cron_jobs([every_second_fields::CRON]),
    )
    .unwrap();
    assert_eq!(listed.function_names(), ["cron:every_second_fields"]);
}
