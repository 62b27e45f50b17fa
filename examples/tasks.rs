//! Python arq's demo `tasks.py` in Rust: several jobs with their own options, `Retry` when an
//! upstream rate-limits us, and state built at startup and torn down at shutdown. This file is
//! also a worker binary, built the way an application builds its own:
//!
//! ```text
//! cargo run --example tasks -- enqueue            # put some jobs on the queue
//! cargo run --example tasks -- run --burst        # run them, then exit
//! cargo run --example tasks -- check              # health check, as `arq --check`
//! ```
//!
//! Needs a Redis at `REDIS_URL` (default `redis://127.0.0.1:6379`; or `--redis-host`,
//! `--redis-port`, … and their `REDIS_*` variables, see `arq-cli run --help`).

use arq::{Ctx, Retry, State, WorkerSettings};
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Stand-in for an HTTP client shared by all jobs (Python's `ctx['session']`): it answers
/// "429 Too Many Requests" for every third call, so jobs must back off and retry.
struct HttpClient {
    calls: AtomicU32,
}

impl HttpClient {
    async fn get(&self, url: &str) -> Result<String, Status> {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if self.calls.fetch_add(1, Ordering::SeqCst) % 3 == 2 {
            return Err(Status(429));
        }
        Ok(format!("<html>content of {url}</html>"))
    }
}

#[derive(Debug)]
struct Status(u16);
impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP status {}", self.0)
    }
}
impl std::error::Error for Status {}

/// Stand-in for a database pool (Python's `ctx['db']`).
#[derive(Default)]
struct Db {
    pages: Mutex<HashMap<String, usize>>,
}

/// Downloads a page and stores its length; retries with a growing delay on HTTP 429,
/// as arq's documentation does with `Retry(defer=ctx['job_try'] * 5)`.
#[arq::job(timeout = "30s", max_tries = 5)]
async fn download_content(ctx: &Ctx, url: String) -> anyhow::Result<usize> {
    let http = ctx.state::<HttpClient>()?;
    match http.get(&url).await {
        Ok(body) => {
            ctx.state::<Db>()?
                .pages
                .lock()
                .unwrap()
                .insert(url, body.len());
            Ok(body.len())
        }
        Err(Status(429)) => {
            let defer = Duration::from_millis(200 * u64::from(ctx.job_try()));
            tracing::info!("{url}: rate limited, retrying in {defer:?}");
            Err(Retry::after(defer).into())
        }
        Err(status) => Err(status.into()),
    }
}

/// A quick job whose result is kept for a minute only.
#[arq::job(keep_result = "1m")]
async fn count_pages(ctx: &Ctx) -> anyhow::Result<usize> {
    Ok(ctx.state::<Db>()?.pages.lock().unwrap().len())
}

/// A job that enqueues follow-up jobs through the worker's pool.
#[arq::job(name = "crawl", timeout = "1m")]
async fn crawl_site(ctx: &Ctx, site: String, pages: u32) -> arq::Result<Vec<String>> {
    let mut ids = Vec::new();
    for i in 0..pages {
        let job = download_content::enqueue(ctx.pool(), format!("{site}/page/{i}"))
            .queue_name(ctx.queue_name())
            .await?;
        ids.push(job.id().to_owned());
    }
    Ok(ids)
}

fn settings() -> WorkerSettings {
    WorkerSettings::new()
        .functions([
            download_content::FUNCTION,
            count_pages::FUNCTION,
            crawl_site::FUNCTION,
        ])
        .on_startup(|mut state: State| async move {
            state.insert(HttpClient {
                calls: AtomicU32::new(0),
            });
            state.insert(Db::default());
            tracing::info!("startup: http client and db ready");
            Ok(state)
        })
        .on_shutdown(|mut state: State| async move {
            if let Some(db) = state.remove::<Db>() {
                let pages = db.pages.into_inner().unwrap();
                tracing::info!("shutdown: {} pages stored, closing db", pages.len());
            }
        })
}

async fn enqueue() -> anyhow::Result<()> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| arq::DEFAULT_REDIS_URL.into());
    let pool = arq::create_pool(arq::RedisSettings::from_url(&url)?).await?;
    for site in ["https://example.com", "https://example.org"] {
        let job = download_content::enqueue(&pool, site.to_owned()).await?;
        println!("enqueued download_content({site}) as {}", job.id());
    }
    let job = crawl_site::enqueue(&pool, "https://example.net".into(), 3)
        // de-duplicated: enqueueing this id again is refused while it exists
        .job_id("crawl-example-net")
        .await;
    match job {
        Ok(job) => println!("enqueued crawl as {}", job.id()),
        Err(e) if e.is_duplicate() => println!("crawl already queued: {e}"),
        Err(e) => return Err(e.into()),
    }
    let job = count_pages::enqueue(&pool)
        .defer_by(Duration::from_secs(2))
        .await?;
    println!("enqueued count_pages, deferred 2s, as {}", job.id());
    Ok(())
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("enqueue") {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        return match rt.block_on(enqueue()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    arq_cli::Cli::new(settings()).main()
}
