//! Quick start: define a job, enqueue it, run a worker in-process, read the typed result.
//!
//! `cargo run --example quickstart` needs nothing but Rust: with `REDIS_URL` unset it runs on
//! the in-process memory backend (`arq::connect("memory://")`). With
//! `REDIS_URL=redis://127.0.0.1:6379 cargo run --example quickstart` it runs on that Redis.
//! It prints its results and a summary; `RUST_LOG=info` also shows the worker's line per job
//! (Python arq's log format). It works in a queue of its own and deletes its jobs' results at
//! the end.

use arq::{Ctx, Retry};
use std::time::{Duration, Instant};

/// A job: an ordinary async fn, still callable directly.
#[arq::job(max_tries = 5, timeout = "30s")]
async fn send_email(ctx: &Ctx, to: String, subject: String) -> Result<String, std::io::Error> {
    // pretend to talk to a mail server
    tokio::time::sleep(Duration::from_millis(5)).await;
    Ok(format!(
        "sent {subject:?} to {to} (job {}, try {})",
        ctx.job_id(),
        ctx.job_try()
    ))
}

/// A job that asks to be retried once.
#[arq::job]
async fn flaky_lookup(ctx: &Ctx, n: u64) -> anyhow::Result<u64> {
    if ctx.job_try() == 1 {
        return Err(Retry::after(Duration::from_millis(100)).into());
    }
    Ok(n * 2)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Warnings only: the worker logs a line per job at INFO, 2,000 of them here.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let pool = match std::env::var("REDIS_URL") {
        Ok(url) => {
            let mut redis = arq::RedisSettings::from_url(&url)?;
            redis.conn_retries = 0; // an example should say at once when no Redis is there
            arq::create_pool(redis).await?
        }
        Err(_) => {
            println!(
                "no REDIS_URL: running on the in-process memory backend; for Redis: \
                 REDIS_URL=redis://127.0.0.1:6379 cargo run --example quickstart"
            );
            arq::connect("memory://").await?
        }
    };
    // A queue of our own, so the example never meets other jobs.
    let queue = format!("arq:quickstart:{}", std::process::id());

    // A worker in this process; in production, run `arq-cli run` from your own binary.
    let worker = arq::Worker::new(
        pool.clone(),
        arq::WorkerSettings::new()
            .queue_name(&queue)
            .poll_delay(Duration::from_millis(50)),
    )?;
    let stop = worker.shutdown_handle();
    let running = tokio::spawn(worker.run());

    // Typed enqueue, typed result.
    let job = send_email::enqueue(&pool, "a@example.com".into(), "Hi".into())
        .queue_name(&queue)
        .await?;
    let sent: String = job.result(Duration::from_secs(30)).await?;
    println!("{sent}");

    let retried = flaky_lookup::enqueue(&pool, 21).queue_name(&queue).await?;
    println!(
        "flaky_lookup(21) = {} after a retry",
        retried.result(Duration::from_secs(30)).await?
    );

    // A first throughput figure: 1,000 jobs through the same worker.
    let n = 1_000;
    let t = Instant::now();
    let mut jobs = Vec::with_capacity(n);
    for i in 0..n {
        jobs.push(
            send_email::enqueue(&pool, format!("user{i}@example.com"), "bulk".into())
                .queue_name(&queue)
                .await?,
        );
    }
    let enqueued = t.elapsed();
    for j in &jobs {
        j.result(Duration::from_secs(60)).await?;
    }
    let total = t.elapsed();
    println!(
        "{n} jobs: enqueued in {:.0?} ({:.0} jobs/s sequential), all done in {:.0?} ({:.0} jobs/s end to end)",
        enqueued,
        n as f64 / enqueued.as_secs_f64(),
        total,
        n as f64 / total.as_secs_f64()
    );

    stop.shutdown();
    let stats = running.await??;
    println!(
        "worker: {} complete, {} failed, {} retried",
        stats.complete, stats.failed, stats.retried
    );

    // Leave nothing behind: results are kept for a day otherwise.
    let ids = [job.id(), retried.id()]
        .into_iter()
        .chain(jobs.iter().map(|j| j.id()));
    let mut deleted = 0;
    for id in ids {
        deleted += usize::from(pool.delete_job(&queue, id).await?);
    }
    println!("cleaned up: {deleted} results of queue {queue} deleted");
    Ok(())
}
