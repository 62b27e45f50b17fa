//! This project's side: the benchmark job, enqueue loops, and the worker mode the binary is
//! re-run in (`arq-bench worker ...`), all through the public `arq` API.

use arq::{Pool, Worker, WorkerSettings};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// The benchmark job: takes a string and an int, does nothing. Python's twin is
/// `noop(ctx, s, n)` in `bench/python/bench.py`.
#[arq::job]
pub async fn noop(s: String, n: i64) {
    let _ = (s, n);
}

fn err(e: arq::Error) -> String {
    e.to_string()
}

/// Enqueues `count` jobs with `concurrency` tasks, each awaiting its enqueues one after
/// another, and returns the rate in jobs/s. A short warm-up on another queue comes first.
pub async fn enqueue_rate(
    pool: &Pool,
    queue: &str,
    count: usize,
    concurrency: usize,
) -> Result<f64, String> {
    let warmup = format!("{queue}:warmup");
    for i in 0..count.min(200) {
        noop::enqueue(pool, "warmup".into(), i as i64)
            .queue_name(&warmup)
            .await
            .map_err(err)?;
    }
    let start = Instant::now();
    let done = enqueue_many(pool, queue, count, concurrency, "hello").await?;
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

/// Puts `count` jobs on `queue` (`concurrency` tasks at once); returns how many it enqueued.
pub async fn enqueue_many(
    pool: &Pool,
    queue: &str,
    count: usize,
    concurrency: usize,
    text: &str,
) -> Result<usize, String> {
    let per_task = count / concurrency.max(1);
    if concurrency <= 1 {
        for i in 0..count {
            noop::enqueue(pool, text.into(), i as i64)
                .queue_name(queue)
                .await
                .map_err(err)?;
        }
        return Ok(count);
    }
    let mut tasks = JoinSet::new();
    for t in 0..concurrency {
        let (pool, queue, text) = (pool.clone(), queue.to_owned(), text.to_owned());
        tasks.spawn(async move {
            for i in t * per_task..(t + 1) * per_task {
                noop::enqueue(&pool, text.clone(), i as i64)
                    .queue_name(&queue)
                    .await
                    .map_err(err)?;
            }
            Ok::<_, String>(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.map_err(|e| e.to_string())??;
    }
    Ok(per_task * concurrency)
}

/// Arguments of the worker mode.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// Redis URL.
    pub url: String,
    /// Queue to serve.
    #[arg(long)]
    pub queue: String,
    /// `max_jobs`.
    #[arg(long, default_value_t = 10)]
    pub max_jobs: usize,
    /// `poll_delay` in ms (default: the library's default).
    #[arg(long)]
    pub poll_delay_ms: Option<u64>,
    /// Stop when the queue is empty.
    #[arg(long)]
    pub burst: bool,
}

/// The worker mode: a worker with default settings apart from the queue, `max_jobs`,
/// `burst` and, if given, `poll_delay`. Prints `{"ready": true}` from its startup hook and
/// its counters and peak RSS (`VmHWM`, read just before it exits) as JSON when it stops.
/// SIGTERM stops it (the worker's own signal handling).
pub async fn worker_main(a: WorkerArgs) -> Result<(), String> {
    let pool = arq::create_pool(arq::RedisSettings::from_url(&a.url).map_err(err)?)
        .await
        .map_err(err)?;
    let mut settings = WorkerSettings::new()
        .queue_name(&a.queue)
        .max_jobs(a.max_jobs)
        .burst(a.burst)
        .on_startup(|state| async move {
            println!("{{\"ready\": true}}");
            Ok(state)
        });
    if let Some(ms) = a.poll_delay_ms {
        settings = settings.poll_delay(Duration::from_millis(ms));
    }
    let stats = Worker::new(pool, settings)
        .map_err(err)?
        .run()
        .await
        .map_err(err)?;
    println!(
        "{}",
        serde_json::json!({
            "complete": stats.complete,
            "failed": stats.failed,
            "vm_hwm_kb": crate::procs::proc_status_kb("VmHWM"),
            "vm_rss_kb": crate::procs::proc_status_kb("VmRSS"),
        })
    );
    Ok(())
}
