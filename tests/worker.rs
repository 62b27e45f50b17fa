//! The worker against a real Redis: results, failures, retries, timeouts, result retention,
//! state, burst, max_jobs and poison input.

mod common;

use arq::{Ctx, Error, JobStatus, Retry, State, Value, Worker, WorkerSettings};
use common::{fast_settings, TestRedis};
use fred::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug)]
struct MyError(String);
impl std::fmt::Display for MyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "my error: {}", self.0)
    }
}
impl std::error::Error for MyError {}

#[arq::job]
async fn greet(ctx: &Ctx, name: String) -> Result<String, MyError> {
    if name.is_empty() {
        return Err(MyError("empty name".into()));
    }
    Ok(format!(
        "hello {name} from {} try {}",
        ctx.job_id(),
        ctx.job_try()
    ))
}

#[arq::job(max_tries = 3)]
async fn flaky(ctx: &Ctx, succeed_on: u32, defer_ms: u64) -> anyhow::Result<u32> {
    if ctx.job_try() < succeed_on {
        if defer_ms == 0 {
            return Err(Retry::now().into());
        }
        return Err(Retry::after(Duration::from_millis(defer_ms)).into());
    }
    Ok(ctx.job_try())
}

/// The usual thiserror shape for an application error that can ask for a retry.
#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error(transparent)]
    Retry(#[from] Retry),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

#[arq::job(max_tries = 5)]
async fn flaky_transparent(ctx: &Ctx, succeed_on: u32, via_anyhow: bool) -> Result<u32, SendError> {
    if ctx.job_try() < succeed_on {
        let retry = Retry::after(Duration::from_millis(50));
        if via_anyhow {
            return Err(anyhow::Error::from(retry).context("provider busy").into());
        }
        Err(retry)?;
    }
    Ok(ctx.job_try())
}

#[arq::job(timeout = "200ms")]
async fn slow_with_own_timeout(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

#[arq::job]
async fn sleep_ms(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

#[arq::job(keep_result = "5s")]
async fn keep_short() -> i32 {
    1
}

#[arq::job(keep_result_forever = true)]
async fn keep_forever() -> i32 {
    2
}

#[arq::job(keep_result = 0)]
async fn keep_none() -> i32 {
    3
}

struct Db {
    url: String,
}

#[arq::job]
async fn uses_state(ctx: &Ctx) -> Result<String, arq::StateMissing> {
    Ok(ctx.state::<Db>()?.url.clone())
}

static RUNNING: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

#[arq::job]
async fn count_concurrency(ms: u64) {
    let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
    PEAK.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    RUNNING.fetch_sub(1, Ordering::SeqCst);
}

type WorkerTask = tokio::task::JoinHandle<arq::Result<arq::WorkerStats>>;

/// Starts a worker in the background: its stop handle and its task.
fn spawn_worker(pool: &arq::Pool, settings: WorkerSettings) -> (arq::ShutdownHandle, WorkerTask) {
    let worker = Worker::new(pool.clone(), settings).unwrap();
    (worker.shutdown_handle(), tokio::spawn(worker.run()))
}

async fn burst(pool: &arq::Pool, settings: WorkerSettings) -> arq::WorkerStats {
    let worker = Worker::new(pool.clone(), settings.burst(true)).unwrap();
    tokio::time::timeout(Duration::from_secs(30), worker.run())
        .await
        .expect("burst worker finished")
        .unwrap()
}

#[tokio::test]
async fn typed_result_and_typed_failure() {
    common::init_tracing();
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let ok = greet::enqueue(&pool, "ann".into())
        .job_id("g1")
        .await
        .unwrap();
    let bad = greet::enqueue(&pool, String::new()).await.unwrap();
    let stats = burst(&pool, fast_settings().functions([greet::FUNCTION])).await;
    assert_eq!((stats.complete, stats.failed), (1, 1));

    let value: String = ok.result(Duration::from_secs(5)).await.unwrap();
    assert_eq!(value, "hello ann from g1 try 1");
    assert_eq!(ok.status().await.unwrap(), JobStatus::Complete);
    let info = ok.result_info().await.unwrap().unwrap();
    assert!(info.success);
    assert_eq!(info.job.function, "greet");
    assert_eq!(info.job.job_try, Some(1));
    assert_eq!(info.queue_name, "arq:queue");
    assert_eq!(info.job_id, "g1");
    assert!(info.finish_time >= info.start_time);

    match bad.result(Duration::from_secs(5)).await {
        Err(Error::JobFailed { failure, .. }) => {
            assert_eq!(failure.class, "MyError");
            assert_eq!(failure.message, "my error: empty name");
        }
        other => panic!("expected JobFailed, got {other:?}"),
    }
    // Stored as the readable text Python's Job.result() raises as SerializationError.
    let raw = redis.raw().await;
    let bytes: Vec<u8> = raw.get(format!("arq:result:{}", bad.id())).await.unwrap();
    let v = rmpv::decode::read_value(&mut &bytes[..]).unwrap();
    let fields: Vec<(&str, &rmpv::Value)> = v
        .as_map()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap(), v))
        .collect();
    let names: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        names,
        ["t", "f", "a", "k", "et", "s", "r", "st", "ft", "q", "id"]
    );
    assert_eq!(fields[5].1.as_bool(), Some(false));
    assert_eq!(fields[6].1.as_str(), Some("MyError: my error: empty name"));
    // the worker removed the job and its bookkeeping
    let left: i64 = raw
        .exists(vec![
            format!("arq:job:{}", bad.id()),
            format!("arq:in-progress:{}", bad.id()),
            format!("arq:retry:{}", bad.id()),
        ])
        .await
        .unwrap();
    assert_eq!(left, 0);
    let queued: i64 = raw.zcard("arq:queue").await.unwrap();
    assert_eq!(queued, 0);
}

#[tokio::test]
async fn retry_with_and_without_defer_then_max_tries() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let raw = redis.raw().await;
    // Retry() with no defer: runs again at the next poll; succeeds on the 3rd try.
    let now_retry = flaky::enqueue(&pool, 3, 0).await.unwrap();
    // Retry(defer): the score moves forward by the defer.
    let deferred = flaky::enqueue(&pool, 2, 400).await.unwrap();
    // Never succeeds within max_tries = 3: the 4th pick fails it.
    let exhausted = flaky::enqueue(&pool, 10, 0).await.unwrap();

    let settings = fast_settings().functions([flaky::FUNCTION]);
    let (stop, handle) = spawn_worker(&pool, settings);

    // While the deferred job waits, its score is in the future.
    let mut saw_deferred = false;
    for _ in 0..100 {
        if deferred.status().await.unwrap() == JobStatus::Deferred {
            saw_deferred = true;
            let score: f64 = raw.zscore("arq:queue", deferred.id()).await.unwrap();
            assert!(score as i64 > arq::time::now_ms() + 100);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(saw_deferred, "retried job was never deferred");

    assert_eq!(now_retry.result(Duration::from_secs(10)).await.unwrap(), 3);
    assert_eq!(deferred.result(Duration::from_secs(10)).await.unwrap(), 2);
    match exhausted.result(Duration::from_secs(10)).await {
        Err(Error::JobFailed { failure, .. }) => {
            assert_eq!(failure.class, "JobExecutionFailed");
            assert_eq!(failure.message, "max 3 retries exceeded");
        }
        other => panic!("expected max tries failure, got {other:?}"),
    }
    let info = exhausted.result_info().await.unwrap().unwrap();
    assert_eq!(info.job.job_try, Some(4));
    stop.shutdown();
    let stats = handle.await.unwrap().unwrap();
    assert_eq!(stats.complete, 2);
    assert_eq!(stats.failed, 1);
    // 2 retries + 1 retry + 3 retries
    assert_eq!(stats.retried, 6);
}

#[tokio::test]
async fn a_transparent_error_wrapping_retry_retries() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    // `#[error(transparent)] Retry(#[from] Retry)`, and a transparent anyhow::Error holding one.
    let direct = flaky_transparent::enqueue(&pool, 3, false).await.unwrap();
    let through_anyhow = flaky_transparent::enqueue(&pool, 2, true).await.unwrap();
    let stats = burst(
        &pool,
        fast_settings().functions([flaky_transparent::FUNCTION]),
    )
    .await;
    assert_eq!(direct.result(Duration::from_secs(5)).await.unwrap(), 3);
    assert_eq!(
        through_anyhow.result(Duration::from_secs(5)).await.unwrap(),
        2
    );
    assert_eq!((stats.complete, stats.failed, stats.retried), (2, 0, 3));
}

#[tokio::test]
async fn retry_jobs_false_makes_retry_a_failure() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let job = flaky::enqueue(&pool, 5, 0).await.unwrap();
    burst(
        &pool,
        fast_settings()
            .functions([flaky::FUNCTION])
            .retry_jobs(false),
    )
    .await;
    let f = job.result(Duration::from_secs(5)).await.unwrap_err();
    let failure = f.job_failure().expect("job failure");
    assert_eq!(failure.class, "Retry");
}

#[tokio::test]
async fn per_job_and_worker_timeouts() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    // own timeout 200ms
    let own = slow_with_own_timeout::enqueue(&pool, 2_000).await.unwrap();
    let own_ok = slow_with_own_timeout::enqueue(&pool, 10).await.unwrap();
    // worker-wide job_timeout 300ms
    let global = sleep_ms::enqueue(&pool, 2_000).await.unwrap();
    let global_ok = sleep_ms::enqueue(&pool, 10).await.unwrap();
    let started = std::time::Instant::now();
    burst(
        &pool,
        fast_settings()
            .functions([slow_with_own_timeout::FUNCTION, sleep_ms::FUNCTION])
            .job_timeout(Duration::from_millis(300)),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_millis(1_900),
        "timeouts did not cut jobs short"
    );
    for (job, limit) in [
        (own, "timed out after 0.2s"),
        (global, "timed out after 0.3s"),
    ] {
        let err = job.result(Duration::from_secs(1)).await.unwrap_err();
        let f = err.job_failure().expect("failure");
        assert!(f.is_timeout(), "{f}");
        assert!(f.message.contains(limit), "{f}");
        // timeouts are final: the job is gone from the queue
        assert_eq!(job.status().await.unwrap(), JobStatus::Complete);
    }
    assert_eq!(own_ok.result(Duration::from_secs(1)).await.unwrap(), 10);
    assert_eq!(global_ok.result(Duration::from_secs(1)).await.unwrap(), 10);
}

#[tokio::test]
async fn keep_result_ttl_forever_and_none() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let raw = redis.raw().await;
    let short = keep_short::enqueue(&pool).await.unwrap();
    let forever = keep_forever::enqueue(&pool).await.unwrap();
    let none = keep_none::enqueue(&pool).job_id("none").await.unwrap();
    let default = sleep_ms::enqueue(&pool, 0).await.unwrap();
    burst(
        &pool,
        fast_settings().functions([
            keep_short::FUNCTION,
            keep_forever::FUNCTION,
            keep_none::FUNCTION,
            sleep_ms::FUNCTION,
        ]),
    )
    .await;
    let pttl = |id: String| {
        let raw = raw.clone();
        async move {
            raw.pttl::<i64, _>(format!("arq:result:{id}"))
                .await
                .unwrap()
        }
    };
    let p = pttl(short.id().to_owned()).await;
    assert!((4_000..=5_000).contains(&p), "keep_result 5s: pttl {p}");
    assert_eq!(pttl(forever.id().to_owned()).await, -1, "forever: no TTL");
    assert_eq!(
        pttl(none.id().to_owned()).await,
        -2,
        "keep 0: no result key"
    );
    let p = pttl(default.id().to_owned()).await;
    assert!(
        (3_590_000..=3_600_000).contains(&p),
        "default 3600s: pttl {p}"
    );
    assert_eq!(forever.result(Duration::from_secs(1)).await.unwrap(), 2);
    assert_eq!(none.status().await.unwrap(), JobStatus::NotFound);
    // with no result kept, the id can be used again (as in arq)
    keep_none::enqueue(&pool).job_id("none").await.unwrap();

    // Worker-wide keep_result_forever also applies to failures before a run (arq sent PX 0
    // here and crashed).
    pool.enqueue_job("missing_function", vec![])
        .job_id("gone")
        .await
        .unwrap();
    burst(
        &pool,
        fast_settings().functions([]).keep_result_forever(true),
    )
    .await;
    assert_eq!(pttl("gone".into()).await, -1);
}

#[tokio::test]
async fn result_info_says_when_the_result_expires() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let short = keep_short::enqueue(&pool).await.unwrap();
    let forever = keep_forever::enqueue(&pool).await.unwrap();
    let default = sleep_ms::enqueue(&pool, 0).await.unwrap();
    burst(
        &pool,
        fast_settings().functions([
            keep_short::FUNCTION,
            keep_forever::FUNCTION,
            sleep_ms::FUNCTION,
        ]),
    )
    .await;
    let left_ms = |r: &arq::JobResult| {
        let at = r.expires_at.expect("an expiry");
        (at - r.finish_time).num_milliseconds()
    };
    // keep_result = 5s: expires about 5 s after the job finished.
    let r = short.result_info().await.unwrap().unwrap();
    let left = left_ms(&r);
    assert!((4_000..=5_100).contains(&left), "keep_result 5s: {left} ms");
    // The worker's default, one hour.
    let r = default.result_info().await.unwrap().unwrap();
    let left = left_ms(&r);
    assert!(
        (3_590_000..=3_600_100).contains(&left),
        "default 3600s: {left} ms"
    );
    // keep_result_forever: no expiry.
    let r = forever.result_info().await.unwrap().unwrap();
    assert_eq!(r.expires_at, None);
    // An expiry set with a ttl the worker did not choose is read as it is.
    let raw = redis.raw().await;
    let _: () = raw
        .pexpire(format!("arq:result:{}", forever.id()), 120_000, None)
        .await
        .unwrap();
    let r = forever.result_info().await.unwrap().unwrap();
    let left = (r.expires_at.unwrap() - chrono::Utc::now()).num_milliseconds();
    assert!(
        (110_000..=120_100).contains(&left),
        "pexpire 120s: {left} ms"
    );
}

#[tokio::test]
async fn startup_state_reaches_jobs_and_shutdown_gets_it_back() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let job = uses_state::enqueue(&pool).await.unwrap();
    let torn_down = Arc::new(AtomicUsize::new(0));
    let t = torn_down.clone();
    let settings = fast_settings()
        .functions([uses_state::FUNCTION])
        .on_startup(|mut state: State| async move {
            assert!(state.pool().is_some());
            state.insert(Db {
                url: "postgres://db".into(),
            });
            Ok(state)
        })
        .on_shutdown(move |mut state: State| {
            let t = t.clone();
            async move {
                if let Some(db) = state.remove::<Db>() {
                    assert_eq!(db.url, "postgres://db");
                    t.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
    burst(&pool, settings).await;
    assert_eq!(
        job.result(Duration::from_secs(1)).await.unwrap(),
        "postgres://db"
    );
    assert_eq!(torn_down.load(Ordering::SeqCst), 1);

    // Without the state, the job fails with a message that says what is missing.
    let job = uses_state::enqueue(&pool).await.unwrap();
    burst(&pool, fast_settings().functions([uses_state::FUNCTION])).await;
    let err = job.result(Duration::from_secs(1)).await.unwrap_err();
    assert!(err.to_string().contains("insert it in on_startup"), "{err}");
}

#[tokio::test]
async fn hooks_run_around_jobs() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let log = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (a, b, c) = (log.clone(), log.clone(), log.clone());
    sleep_ms::enqueue(&pool, 1).job_id("h").await.unwrap();
    let settings = fast_settings()
        .functions([sleep_ms::FUNCTION])
        .on_job_start(move |ctx| {
            let a = a.clone();
            async move { a.lock().unwrap().push(format!("start {}", ctx.job_id())) }
        })
        .on_job_end(move |ctx| {
            let b = b.clone();
            async move { b.lock().unwrap().push(format!("end {}", ctx.job_id())) }
        })
        .after_job_end(move |ctx| {
            let c = c.clone();
            async move { c.lock().unwrap().push(format!("after {}", ctx.job_id())) }
        });
    burst(&pool, settings).await;
    assert_eq!(*log.lock().unwrap(), ["start h", "end h", "after h"]);
}

#[tokio::test]
async fn max_jobs_is_honoured_and_burst_exits() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let mut jobs = Vec::new();
    for _ in 0..12 {
        jobs.push(count_concurrency::enqueue(&pool, 100).await.unwrap());
    }
    let stats = burst(
        &pool,
        fast_settings()
            .functions([count_concurrency::FUNCTION])
            .max_jobs(3),
    )
    .await;
    assert_eq!(stats.complete, 12);
    assert_eq!(PEAK.load(Ordering::SeqCst), 3, "peak concurrency");
    assert_eq!(pool.queue_size("arq:queue").await.unwrap(), 0);
    for j in jobs {
        j.result(Duration::from_secs(1)).await.unwrap();
    }
}

#[tokio::test]
async fn max_burst_jobs_stops_after_n() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    for _ in 0..5 {
        sleep_ms::enqueue(&pool, 0).await.unwrap();
    }
    let stats = burst(
        &pool,
        fast_settings()
            .functions([sleep_ms::FUNCTION])
            .max_jobs(1)
            .max_burst_jobs(2),
    )
    .await;
    assert_eq!(stats.started, 2);
    assert_eq!(pool.queue_size("arq:queue").await.unwrap(), 3);
}

#[tokio::test]
async fn poison_input_fails_one_job_and_spares_the_rest() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let raw = redis.raw().await;
    // garbage bytes in a job key
    let _: () = raw
        .set(
            "arq:job:garbage",
            b"\xc1\xff\x00not msgpack".as_slice(),
            None,
            None,
            false,
        )
        .await
        .unwrap();
    let _: () = raw
        .zadd("arq:queue", None, None, false, false, (1.0, "garbage"))
        .await
        .unwrap();
    // a queue entry whose job key is gone
    let _: () = raw
        .zadd("arq:queue", None, None, false, false, (1.0, "expired"))
        .await
        .unwrap();
    // an unknown function, and wrong argument types/arity
    let unknown = pool.enqueue_job("no_such_job", vec![]).await.unwrap();
    let wrong_type = pool
        .enqueue_job("sleep_ms", vec![Value::from("not a number")])
        .await
        .unwrap();
    let wrong_arity = pool
        .enqueue_job("sleep_ms", vec![Value::from(1), Value::from(2)])
        .await
        .unwrap();
    let good = sleep_ms::enqueue(&pool, 1).await.unwrap();

    let stats = burst(&pool, fast_settings().functions([sleep_ms::FUNCTION])).await;
    assert_eq!((stats.complete, stats.failed), (1, 5));
    assert_eq!(good.result(Duration::from_secs(1)).await.unwrap(), 1);

    let failure = |id: &str| {
        let job = pool.job::<Value>(id);
        async move {
            job.result(Duration::from_secs(1))
                .await
                .unwrap_err()
                .job_failure()
                .cloned()
                .unwrap()
        }
    };
    let f = failure("garbage").await;
    assert_eq!(f.class, "DeserializationError");
    assert_eq!(
        f.message.split(": ").next(),
        Some("job garbage"),
        "names the job: {f}"
    );
    assert!(
        f.message
            .contains("payload could not be decoded (format=msgpack)"),
        "{f}"
    );
    let f = failure("expired").await;
    assert_eq!(
        (f.class.as_str(), f.message.as_str()),
        ("JobExecutionFailed", "job expired expired")
    );
    let f = failure(unknown.id()).await;
    assert_eq!(f.message, "function 'no_such_job' not found");
    let f = failure(wrong_type.id()).await;
    assert_eq!(f.class, "TypeError");
    assert!(f.message.contains("argument 'ms'"), "{f}");
    let f = failure(wrong_arity.id()).await;
    assert_eq!(
        f.message,
        "arguments for 'sleep_ms' do not match its signature: sleep_ms() takes 1 positional \
         argument but 2 were given (expected at most 1)"
    );
    // nothing is left behind in the queue
    assert_eq!(pool.queue_size("arq:queue").await.unwrap(), 0);
}

#[tokio::test]
async fn keyword_arguments_reach_parameters_by_name() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let job = pool
        .enqueue_job("greet", vec![])
        .kwarg("name", "bob")
        .job_id("kw")
        .await
        .unwrap()
        .typed::<String>();
    burst(&pool, fast_settings().functions([greet::FUNCTION])).await;
    assert_eq!(
        job.result(Duration::from_secs(1)).await.unwrap(),
        "hello bob from kw try 1"
    );
}

#[tokio::test]
async fn default_function_table_is_everything_linked() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let worker = Worker::new(pool, WorkerSettings::new()).unwrap();
    let names = worker.function_names();
    for expected in ["greet", "flaky", "sleep_ms", "keep_forever", "uses_state"] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    // duplicate names are refused
    let err = Worker::new(
        redis.pool().await,
        WorkerSettings::new().functions([greet::FUNCTION, greet::FUNCTION]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("\"greet\""), "{err}");
}

#[tokio::test]
async fn health_check_record_has_arqs_format() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    sleep_ms::enqueue(&pool, 300).await.unwrap();
    let (stop, run) = spawn_worker(&pool, fast_settings().functions([sleep_ms::FUNCTION]));
    let mut record = None;
    for _ in 0..100 {
        record = pool.health_check("arq:queue").await.unwrap();
        if record.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let record = record.expect("health record written");
    // e.g. "Nov-28 22:28:11 j_complete=0 j_failed=0 j_retried=0 j_ongoing=1 queued=1"
    let parts: Vec<&str> = record.split(' ').collect();
    assert_eq!(parts.len(), 7, "{record}");
    assert_eq!(parts[0].len(), 6, "{record}");
    assert_eq!(parts[1].len(), 8, "{record}");
    for (part, name) in
        parts[2..]
            .iter()
            .zip(["j_complete", "j_failed", "j_retried", "j_ongoing", "queued"])
    {
        let (k, v) = part.split_once('=').unwrap();
        assert_eq!(k, name);
        v.parse::<u64>().unwrap();
    }
    let raw = redis.raw().await;
    let ttl: i64 = raw.pttl("arq:queue:health-check").await.unwrap();
    assert!((3_590_000..=3_601_000).contains(&ttl), "ttl {ttl}");
    stop.shutdown();
    run.await.unwrap().unwrap();
    assert_eq!(pool.health_check("arq:queue").await.unwrap(), None);
}

#[tokio::test]
async fn shutdown_cancels_running_jobs_back_to_the_queue() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let raw = redis.raw().await;
    let job = sleep_ms::enqueue(&pool, 1_500).await.unwrap();
    let (stop, run) = spawn_worker(&pool, fast_settings().functions([sleep_ms::FUNCTION]));
    for _ in 0..200 {
        if job.status().await.unwrap() == JobStatus::InProgress {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(job.status().await.unwrap(), JobStatus::InProgress);
    let started = std::time::Instant::now();
    stop.shutdown();
    run.await.unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    // back in the queue, lease dropped, job record intact
    assert_eq!(job.status().await.unwrap(), JobStatus::Queued);
    let ip: i64 = raw
        .exists(format!("arq:in-progress:{}", job.id()))
        .await
        .unwrap();
    assert_eq!(ip, 0);
    assert!(job.info().await.unwrap().is_some());
    // The shutdown gave the try back: the next run is try 1 again, not a recovery.
    let tries: String = raw.get(format!("arq:retry:{}", job.id())).await.unwrap();
    assert_eq!(tries, "0", "a shutdown release must not spend a try");
    burst(&pool, fast_settings().functions([sleep_ms::FUNCTION])).await;
    let info = job.result_info().await.unwrap().expect("a result");
    assert_eq!(info.job.job_try, Some(1));
}

#[tokio::test]
async fn the_lease_is_short_and_the_heartbeat_renews_it_for_long_jobs() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let raw = redis.raw().await;
    // The job runs 4 leases long; the lease must never lapse meanwhile.
    let job = sleep_ms::enqueue(&pool, 1_600).await.unwrap();
    let (stop, run) = spawn_worker(
        &pool,
        fast_settings()
            .functions([sleep_ms::FUNCTION])
            .lease(Duration::from_millis(400))
            .job_timeout(Duration::from_secs(600)),
    );
    let key = format!("arq:in-progress:{}", job.id());
    let mut tokens = std::collections::HashSet::new();
    let mut samples = 0;
    let mut max_ttl = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the job never ended ({samples} samples)"
        );
        // PTTL first: a key gone between the two reads is then seen as gone, not as a lease
        // without a TTL. The finish removes the key and stores the result in one step, so a
        // key gone with no result means the lease lapsed while the job ran.
        let ttl: i64 = raw.pttl(&key).await.unwrap();
        if ttl == -2 {
            if samples > 0 {
                assert!(
                    job.result_info().await.unwrap().is_some(),
                    "the lease lapsed while the job ran"
                );
                break;
            }
        } else {
            assert!(ttl > 0, "a lease without a TTL (pttl {ttl})");
            if let Some(t) = raw.get::<Option<String>, _>(&key).await.unwrap() {
                max_ttl = max_ttl.max(ttl);
                tokens.insert(t);
                samples += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(samples > 40, "only {samples} samples while the job ran");
    assert!(
        max_ttl <= 400,
        "the lease is the configured 400ms, not the timeout: {max_ttl}"
    );
    assert_eq!(tokens.len(), 1, "one holder, one fencing token: {tokens:?}");
    assert!(!tokens.contains("1"), "the lease holds a fencing token");
    let done: u64 = job.result(Duration::from_secs(5)).await.unwrap();
    assert_eq!(done, 1_600);
    assert_eq!(
        job.result_info().await.unwrap().unwrap().job.job_try,
        Some(1)
    );
    stop.shutdown();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn redis_errors_during_a_job_do_not_stop_the_worker() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let raw = redis.raw().await;
    let first = sleep_ms::enqueue(&pool, 300).await.unwrap();
    let (stop, run) = spawn_worker(&pool, fast_settings().functions([sleep_ms::FUNCTION]));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while first.status().await.unwrap() != JobStatus::InProgress {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker never started the job"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Break the abort set's type: every claim and finish script now fails with WRONGTYPE.
    let _: () = raw
        .set("arq:abort", "not a sorted set", None, None, false)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!run.is_finished(), "the worker must survive backend errors");
    let _: () = raw.del("arq:abort").await.unwrap();
    // The finish is retried and lands; later jobs run as usual.
    assert_eq!(first.result(Duration::from_secs(10)).await.unwrap(), 300);
    let second = sleep_ms::enqueue(&pool, 1).await.unwrap();
    assert_eq!(second.result(Duration::from_secs(10)).await.unwrap(), 1);
    stop.shutdown();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn scripts_are_reloaded_after_script_flush() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let raw = redis.raw().await;
    let a = sleep_ms::enqueue(&pool, 0).await.unwrap();
    let _: () = raw
        .custom(fred::cmd!("SCRIPT"), vec!["FLUSH"])
        .await
        .unwrap();
    let b = sleep_ms::enqueue(&pool, 0).await.unwrap();
    burst(&pool, fast_settings().functions([sleep_ms::FUNCTION])).await;
    assert_eq!(a.result(Duration::from_secs(1)).await.unwrap(), 0);
    assert_eq!(b.result(Duration::from_secs(1)).await.unwrap(), 0);
}

#[tokio::test]
async fn one_workers_shutdown_keeps_the_others_health_record() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let start = || spawn_worker(&pool, fast_settings().functions([sleep_ms::FUNCTION]));
    let (stop_a, run_a) = start();
    let (stop_b, run_b) = start();
    let mut records = Vec::new();
    for _ in 0..200 {
        records = pool.worker_health("arq:queue").await.unwrap();
        if records.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(records.len(), 2, "each worker has its own record");
    assert!(records.iter().all(|(_, r)| r.contains("j_complete=0")));

    stop_a.shutdown();
    run_a.await.unwrap().unwrap();
    // arq deleted the shared key here, so `arq --check` failed while B still ran (arq #276).
    assert!(pool.health_check("arq:queue").await.unwrap().is_some());
    assert_eq!(pool.worker_health("arq:queue").await.unwrap().len(), 1);

    stop_b.shutdown();
    run_b.await.unwrap().unwrap();
    assert_eq!(pool.health_check("arq:queue").await.unwrap(), None);
    assert!(pool.worker_health("arq:queue").await.unwrap().is_empty());
    let raw = redis.raw().await;
    let left: Vec<String> = raw
        .custom(fred::cmd!("KEYS"), vec!["arq:queue:health-check*"])
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn an_enqueue_wakes_an_idle_worker_without_waiting_for_its_poll() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    // A 30 s poll: without a push wake-up the job would wait for it.
    let (stop, run) = spawn_worker(
        &pool,
        fast_settings()
            .functions([sleep_ms::FUNCTION])
            .poll_delay(Duration::from_secs(30)),
    );
    // Calls of `command` so far (commands a script runs are counted too).
    let raw = redis.raw().await;
    let calls = |command: &'static str| {
        let raw = raw.clone();
        async move {
            let info: String = raw
                .info(Some(fred::types::InfoKind::CommandStats))
                .await
                .unwrap();
            info.lines()
                .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
                .and_then(|rest| rest.split(',').next())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        }
    };
    // The worker's first (empty) poll is its claim script's ZRANGEBYSCORE; then it is idle
    // for 30 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while calls("zrangebyscore").await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker never polled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let job = sleep_ms::enqueue(&pool, 0).await.unwrap();
    let done: u64 = job
        .result(Duration::from_secs(10))
        .await
        .expect("the idle worker was woken by the enqueue");
    assert_eq!(done, 0);
    // A deferred job publishes nothing: it is found by polling when due.
    let published = calls("publish").await;
    assert!(published >= 1, "the due enqueue published nothing");
    sleep_ms::enqueue(&pool, 0)
        .defer_by(Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        calls("publish").await,
        published,
        "a deferred enqueue published a wake-up"
    );
    stop.shutdown();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn finished_jobs_are_announced_and_outcomes_are_stored_in_batches() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let raw = redis.raw().await;
    // Listen on the queue's finished channel, as waiting clients do.
    let sub = Builder::from_config(Config::from_url(&redis.url()).unwrap())
        .with_performance_config(|p| p.broadcast_channel_capacity = 4096)
        .build()
        .unwrap();
    sub.init().await.unwrap();
    let mut messages = sub.message_rx();
    sub.subscribe("arq:queue:finished").await.unwrap();
    let commands = |info: String| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix("cmdstat_evalsha:calls="))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let mut ids = std::collections::HashSet::new();
    for i in 0..300u64 {
        let job = sleep_ms::enqueue(&pool, 0)
            .job_id(format!("b{i}"))
            .await
            .unwrap();
        ids.insert(job.id().to_owned());
    }
    let before = commands(
        raw.info(Some(fred::types::InfoKind::CommandStats))
            .await
            .unwrap(),
    );
    burst(
        &pool,
        fast_settings()
            .functions([sleep_ms::FUNCTION])
            .max_jobs(100),
    )
    .await;
    let after = commands(
        raw.info(Some(fred::types::InfoKind::CommandStats))
            .await
            .unwrap(),
    );
    // Unbatched, every job costs a finish call plus its share of claims (> 300 calls).
    let calls = after - before;
    assert!(
        calls < 300,
        "{calls} script calls for 300 jobs: claims and finishes are not batched"
    );
    let mut announced = std::collections::HashSet::new();
    while announced.len() < ids.len() {
        let m = tokio::time::timeout(Duration::from_secs(5), messages.recv())
            .await
            .expect("every finished job is announced")
            .unwrap();
        announced.insert(m.value.as_string().unwrap());
    }
    assert_eq!(announced, ids);
    let stored: usize = raw
        .exists(
            ids.iter()
                .map(|id| format!("arq:result:{id}"))
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    assert_eq!(stored, ids.len(), "every result stored");
}

/// A panic outside the job's own code (here its `on_job_start` hook) must not leave the job
/// held forever: the worker lives on, stops renewing the lease, and the job runs again once
/// the lease lapses (the panicked run counting as a try).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_a_hook_lets_the_lease_lapse_and_the_job_run_again() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let queue = "worker:hook-panic";
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let settings = fast_settings()
        .functions([greet::FUNCTION])
        .queue_name(queue)
        // Short enough to lapse soon, long enough for a loaded machine to renew it.
        .lease(Duration::from_secs(1))
        .on_job_start(move |_ctx| {
            let first = seen.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                if first {
                    panic!("hook bug");
                }
            }
        });
    let job = greet::enqueue(&pool, "again".into())
        .queue_name(queue)
        .await
        .unwrap();
    let (stop, task) = spawn_worker(&pool, settings);
    let out = tokio::time::timeout(Duration::from_secs(20), job.result(Duration::from_secs(20)))
        .await
        .expect("the job ran again within its lease")
        .unwrap();
    // The panicked run counted as try 1 (a slow heartbeat may cost another run).
    assert!(!out.contains("try 1"), "{out}");
    assert!(calls.load(Ordering::SeqCst) >= 2);
    stop.shutdown();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("worker stopped")
        .unwrap()
        .unwrap();
}
