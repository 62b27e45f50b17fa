//! Job parameters with a default (`#[arq(default …)]`) and functions that are both a job and
//! a cron job, against a real Redis: what `enqueue` and its setters put on the wire, and what
//! a worker runs with and without the defaulted arguments.

mod common;

use arq::{Ctx, Value, Worker};
use common::{fast_settings, TestRedis};
use std::sync::Mutex;
use std::time::Duration;

/// Python: `async def send_email(ctx, to, from_addr="noreply@example.com", retries=0)`.
#[arq::job]
async fn send_email(
    ctx: &Ctx,
    to: String,
    #[arq(default = "noreply@example.com".to_owned())] from_addr: String,
    #[arq(default)] retries: u32,
) -> String {
    let _ = ctx;
    format!("{to} from {from_addr} x{retries}")
}

#[tokio::test]
async fn defaults_are_omitted_set_by_the_builder_and_used_by_the_worker() {
    common::init_tracing();
    let redis = TestRedis::start();
    let pool = redis.pool().await;

    let plain = send_email::enqueue(&pool, "a@x".into())
        .job_id("plain")
        .await
        .unwrap();
    let set = send_email::enqueue(&pool, "b@x".into())
        .retries(2)
        .from_addr("me@x".into())
        .job_id("set")
        .await
        .unwrap();
    // Setting one twice sends it once, with the last value.
    let twice = send_email::enqueue(&pool, "c@x".into())
        .retries(1)
        .retries(5)
        .job_id("twice")
        .await
        .unwrap();

    // On the wire: required arguments by position, set defaults by keyword, others absent.
    let info = plain.info().await.unwrap().unwrap();
    assert_eq!(info.function, "send_email");
    assert_eq!(info.args, vec![Value::Str("a@x".into())]);
    assert!(info.kwargs.is_empty(), "{:?}", info.kwargs);
    let info = set.info().await.unwrap().unwrap();
    assert_eq!(info.args, vec![Value::Str("b@x".into())]);
    assert_eq!(
        info.kwargs,
        vec![
            ("from_addr".to_owned(), Value::Str("me@x".into())),
            ("retries".to_owned(), Value::Int(2)),
        ]
    );
    let info = twice.info().await.unwrap().unwrap();
    assert_eq!(info.kwargs, vec![("retries".to_owned(), Value::Int(5))]);

    let worker = Worker::new(
        pool.clone(),
        fast_settings()
            .functions([send_email::FUNCTION])
            .burst(true),
    )
    .unwrap();
    let stats = worker.run().await.unwrap();
    assert_eq!((stats.complete, stats.failed), (3, 0), "{stats:?}");

    let wait = Duration::from_secs(10);
    assert_eq!(
        plain.result(wait).await.unwrap(),
        "a@x from noreply@example.com x0"
    );
    assert_eq!(set.result(wait).await.unwrap(), "b@x from me@x x2");
    assert_eq!(
        twice.result(wait).await.unwrap(),
        "c@x from noreply@example.com x5"
    );
}

/// Each run of `digest`: how it was called (its function name) and its argument.
static DIGEST_RUNS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Enqueued by hand as `digest`, and run every second as `cron:digest`.
#[arq::job(keep_result = "1h")]
#[arq::cron(second = 0..60, timezone = "UTC")]
async fn digest(ctx: &Ctx, #[arq(default = "cron".to_owned())] by: String) -> String {
    let run = format!("{} {by}", ctx.function_name());
    DIGEST_RUNS.lock().unwrap().push(run.clone());
    run
}

#[tokio::test]
async fn a_job_and_cron_function_runs_when_enqueued_and_on_its_schedule() {
    common::init_tracing();
    let redis = TestRedis::start();
    let pool = redis.pool().await;

    let by_hand = digest::enqueue(&pool).by("hand".into()).await.unwrap();
    let worker = Worker::new(
        pool.clone(),
        fast_settings()
            .functions([digest::FUNCTION])
            .cron_jobs([digest::CRON]),
    )
    .unwrap();
    let stop = worker.shutdown_handle();
    let running = tokio::spawn(worker.run());

    assert_eq!(
        by_hand.result(Duration::from_secs(10)).await.unwrap(),
        "digest hand"
    );
    // At least one tick (every second) ran with the default.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !DIGEST_RUNS
        .lock()
        .unwrap()
        .iter()
        .any(|r| r == "cron:digest cron")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no cron tick ran: {:?}",
            DIGEST_RUNS.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.shutdown();
    running.await.unwrap().unwrap();

    let runs = DIGEST_RUNS.lock().unwrap().clone();
    assert_eq!(
        runs.iter().filter(|r| *r == "digest hand").count(),
        1,
        "{runs:?}"
    );
    assert!(
        runs.iter()
            .all(|r| r == "digest hand" || r == "cron:digest cron"),
        "{runs:?}"
    );
}
