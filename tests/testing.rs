//! `arq::testing` as an application's own tests would use it: jobs defined with the macros,
//! run inline through their real handlers, and a test pool that records what was enqueued and
//! drains it in-process. No Redis.

use arq::testing::{self, Outcome, TestPool};
use arq::Ctx;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error(transparent)]
    Retry(#[from] arq::Retry),
    #[error("bad address {0:?}")]
    BadAddress(String),
}

struct Mailer {
    sent: AtomicU32,
}

#[arq::job(max_tries = 3)]
async fn send_welcome(ctx: &Ctx, to: String) -> Result<String, SendError> {
    if !to.contains('@') {
        return Err(SendError::BadAddress(to));
    }
    if ctx.job_try() == 1 && to.starts_with("slow") {
        return Err(arq::Retry::after(Duration::from_secs(2)).into());
    }
    let mailer = ctx.state::<Mailer>().expect("a mailer in the state");
    mailer.sent.fetch_add(1, Ordering::SeqCst);
    Ok(format!("welcome sent to {to}"))
}

#[arq::job]
async fn sign_up(ctx: &Ctx, email: String) -> anyhow::Result<()> {
    send_welcome::enqueue(ctx.pool(), email).await?;
    Ok(())
}

#[arq::job]
async fn explodes() -> u32 {
    panic!("boom")
}

fn ctx_with_mailer() -> arq::testing::CtxBuilder {
    testing::ctx().state(Mailer {
        sent: AtomicU32::new(0),
    })
}

#[tokio::test]
async fn a_job_runs_inline_with_its_real_classification() {
    let ok = testing::run(
        &send_welcome::FUNCTION,
        ctx_with_mailer().build(),
        ["a@example.com"],
    )
    .await;
    assert_eq!(
        ok.value::<String>().as_deref(),
        Some("welcome sent to a@example.com")
    );

    // A Retry wrapped with #[error(transparent)] retries, with its delay.
    let retry = testing::run(
        &send_welcome::FUNCTION,
        ctx_with_mailer().build(),
        ["slow@example.com"],
    )
    .await;
    assert_eq!(retry, Outcome::Retry(Some(Duration::from_secs(2))));
    // ...and on try 2 it succeeds.
    let second = testing::run(
        &send_welcome::FUNCTION,
        ctx_with_mailer().job_try(2).build(),
        ["slow@example.com"],
    )
    .await;
    assert!(second.value::<String>().is_some(), "{second:?}");

    // Another error fails, named after its type.
    let bad = testing::run(
        &send_welcome::FUNCTION,
        ctx_with_mailer().build(),
        ["nobody"],
    )
    .await;
    let failure = bad.failure().expect("a failure");
    assert_eq!(failure.class, "SendError");
    assert!(failure.message.contains("bad address"), "{failure:?}");

    // Wrong arguments fail as a worker would fail them.
    let wrong = testing::run(&send_welcome::FUNCTION, ctx_with_mailer().build(), [1, 2]).await;
    assert!(wrong.failure().is_some(), "{wrong:?}");

    // A panic fails the job with its message.
    let panicked = testing::run(&explodes::FUNCTION, testing::ctx().build(), [(); 0]).await;
    assert_eq!(panicked.failure().map(|f| f.message.as_str()), Some("boom"));

    // A missing state value (the job's `expect` panics) is a failure naming it, not a panic
    // in the test.
    let no_state = testing::run(&send_welcome::FUNCTION, testing::ctx().build(), ["a@b"]).await;
    let failure = no_state.failure().expect("a failure");
    assert!(failure.message.contains("Mailer"), "{failure:?}");
}

#[tokio::test]
async fn a_test_pool_records_enqueues_and_drains_them() {
    let tp = TestPool::new();
    // The code under test enqueues through the typed stub, as in production.
    sign_up::enqueue(&tp, "new@example.com".into())
        .await
        .unwrap();
    let job = tp.assert_enqueued("sign_up").await;
    assert_eq!(job.arg::<String>(0).as_deref(), Some("new@example.com"));
    assert_eq!(job.queue, arq::DEFAULT_QUEUE_NAME);

    // Running sign_up enqueues send_welcome through ctx.pool(): the same test pool.
    let ctx = testing::ctx().pool(&tp).build();
    assert!(matches!(
        testing::run(&sign_up::FUNCTION, ctx, ["new@example.com"]).await,
        Outcome::Success(_)
    ));
    let welcome = tp.assert_enqueued("send_welcome").await;
    assert_eq!(welcome.arg::<String>(0).as_deref(), Some("new@example.com"));
}

#[tokio::test]
async fn drain_runs_everything_in_process_including_follow_ups() {
    let tp = TestPool::new();
    let job = sign_up::enqueue(&tp, "x@example.com".into()).await.unwrap();
    let stats = tokio::time::timeout(
        Duration::from_secs(30),
        tp.drain([sign_up::FUNCTION, send_welcome::FUNCTION]),
    )
    .await
    .expect("drained in time");
    // send_welcome needs a Mailer in the state, which drain's worker has not: it fails,
    // and says why.
    let stats = stats.unwrap();
    assert_eq!((stats.complete, stats.failed), (1, 1), "{stats:?}");
    job.result(Duration::from_secs(1)).await.unwrap();
    tp.assert_nothing_enqueued().await;
    let results = tp.all_job_results().await.unwrap();
    let welcome = results
        .iter()
        .find(|r| r.job.function == "send_welcome")
        .expect("the follow-up ran");
    let failure = welcome.failure().expect("it failed");
    assert!(failure.message.contains("Mailer"), "{failure:?}");
}

#[tokio::test]
async fn drain_with_the_applications_settings_gives_jobs_their_state() {
    let tp = TestPool::new();
    let job = sign_up::enqueue(&tp, "y@example.com".into()).await.unwrap();
    let settings = arq::WorkerSettings::new()
        .functions([sign_up::FUNCTION, send_welcome::FUNCTION])
        .on_startup(|mut state: arq::State| async move {
            state.insert(Mailer {
                sent: AtomicU32::new(0),
            });
            Ok(state)
        });
    let stats = tokio::time::timeout(Duration::from_secs(30), tp.drain_with(settings))
        .await
        .expect("drained in time")
        .unwrap();
    assert_eq!((stats.complete, stats.failed), (2, 0), "{stats:?}");
    job.result(Duration::from_secs(1)).await.unwrap();
    tp.assert_nothing_enqueued().await;
}
