//! The arq command line, as a library so an application's own binary (which links its
//! `#[arq::job]` functions) gets the same CLI in one line:
//!
//! ```no_run
//! // src/bin/worker.rs of your application
//! fn main() -> std::process::ExitCode {
//!     arq_cli::main()
//! }
//! ```
//!
//! `inventory` only sees jobs linked into the running binary, so the stand-alone `arq-cli`
//! binary has none; its `run` says how to build a worker binary like the one above.

pub mod admin;

use anyhow::Context as _;
use arq::{Worker, WorkerSettings};
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;

/// Command line options.
#[derive(Debug, Parser)]
#[command(
    name = "arq-cli",
    version,
    about = "Run arq workers, check their health, inspect and steer queues"
)]
pub struct Opt {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Log more (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Print JSON (for scripts) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a worker for the jobs linked into this binary.
    Run(RunOpt),
    /// Exit 0 if a worker of the queue wrote its health record recently, else 1
    /// (Python's `arq --check`).
    Check(ConnOpt),
    /// Inspect and steer queues.
    #[command(flatten)]
    Admin(admin::Admin),
}

/// Where the queue lives.
#[derive(Clone, Args)]
pub struct ConnOpt {
    /// Redis URL: `redis://[user:pass@]host[:port][/db][?key_prefix=t1]`, or `rediss://` for
    /// TLS.
    #[arg(long, env = "REDIS_URL", default_value = "redis://localhost:6379")]
    pub redis_url: String,
    /// Queue name (default: `arq:queue`, or `<prefix>:arq:queue` with a `key_prefix`).
    #[arg(long, short = 'q', env = "ARQ_QUEUE")]
    pub queue: Option<String>,
}

impl ConnOpt {
    /// The queue given, or the default queue of the URL's key layout.
    pub fn queue_name(&self) -> String {
        if let Some(q) = &self.queue {
            return q.clone();
        }
        arq::RedisSettings::from_url(&self.redis_url)
            .and_then(|s| s.key_layout())
            .map(|k| k.default_queue().to_owned())
            .unwrap_or_else(|_| arq::DEFAULT_QUEUE_NAME.to_owned())
    }
}

impl std::fmt::Debug for ConnOpt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password of the URL.
        let url = match arq::RedisSettings::from_url(&self.redis_url) {
            Ok(s) if s.password.is_some() => match self.redis_url.rsplit_once('@') {
                Some((creds, rest)) => match creds.rsplit_once(':') {
                    Some((user, _)) => format!("{user}:***@{rest}"),
                    None => self.redis_url.clone(),
                },
                None => self.redis_url.clone(),
            },
            _ => self.redis_url.clone(),
        };
        f.debug_struct("ConnOpt")
            .field("redis_url", &url)
            .field("queue", &self.queue)
            .finish()
    }
}

/// Options of `run`.
#[derive(Debug, Clone, Args)]
pub struct RunOpt {
    /// Connection and queue.
    #[command(flatten)]
    pub conn: ConnOpt,
    /// Exit once the queue is empty.
    #[arg(long)]
    pub burst: bool,
    /// Check the queue's health record and exit instead of running (like `arq --check`).
    #[arg(long)]
    pub check: bool,
    /// How many jobs run at once.
    #[arg(long, env = "ARQ_MAX_JOBS")]
    pub max_jobs: Option<usize>,
    /// Gap between queue polls, in seconds.
    #[arg(long)]
    pub poll_delay: Option<f64>,
    /// Default job timeout, in seconds.
    #[arg(long)]
    pub job_timeout: Option<f64>,
}

/// Parses the process's arguments and runs; for a worker binary's `main`.
pub fn main() -> ExitCode {
    main_with(WorkerSettings::new())
}

/// Like [`main`], starting from your own settings (hooks, state, explicit function list);
/// command line options override what they name.
pub fn main_with(settings: WorkerSettings) -> ExitCode {
    main_from(std::env::args_os(), settings)
}

/// Like [`main_with`], with explicit arguments (the first is the program name).
pub fn main_from<I, T>(args: I, settings: WorkerSettings) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    ExitCode::from(exit_code_from(args, settings))
}

/// Like [`main_from`], returning the exit status as a number (0 ok, 1 failure or unhealthy,
/// 2 usage error or nothing to run).
pub fn exit_code_from<I, T>(args: I, settings: WorkerSettings) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let opt = match Opt::try_parse_from(args) {
        Ok(o) => o,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    init_tracing(opt.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(run(opt, settings)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}

/// What the stand-alone binary prints when asked to run with no jobs linked in.
pub const NO_JOBS_HELP: &str = "\
no job functions are linked into this binary, so there is nothing to run.

arq finds #[arq::job] functions at link time, so a worker is a binary of your own crate,
with `arq-cli` as a dependency (e.g. src/bin/worker.rs):

    fn main() -> std::process::ExitCode {
        // name your jobs so the crate that defines them is linked in:
        let settings = arq::WorkerSettings::new()
            .functions([my_app::send_email::FUNCTION, my_app::resize::FUNCTION]);
        arq_cli::main_with(settings)
    }

(`arq_cli::main()` runs every #[arq::job] linked into the binary.) Then start it with
`cargo run --bin worker -- run`.";

/// Runs a parsed command.
pub async fn run(opt: Opt, settings: WorkerSettings) -> anyhow::Result<u8> {
    match opt.command {
        Command::Admin(cmd) => admin::run(cmd, opt.json).await,
        Command::Check(conn) => check(&conn).await,
        Command::Run(r) if r.check => check(&r.conn).await,
        Command::Run(r) => {
            let mut settings = settings.queue_name(r.conn.queue_name()).burst(r.burst);
            if let Some(n) = r.max_jobs {
                settings = settings.max_jobs(n);
            }
            if let Some(s) = r.poll_delay {
                settings = settings.poll_delay(secs(s, "--poll-delay")?);
            }
            if let Some(s) = r.job_timeout {
                settings = settings.job_timeout(secs(s, "--job-timeout")?);
            }
            let mut redis = arq::RedisSettings::from_url(&r.conn.redis_url)?;
            // A worker waits for Redis as long as it takes (a deploy may start it first);
            // each failed attempt is logged.
            redis.conn_retries = u32::MAX;
            let pool = arq::create_pool(redis).await?;
            let worker = Worker::new(pool, settings)?;
            if worker.function_names().is_empty() {
                eprintln!("error: {NO_JOBS_HELP}");
                return Ok(2);
            }
            let stats = worker.run().await.context("worker failed")?;
            tracing::info!(
                "{} complete, {} failed, {} retried",
                stats.complete,
                stats.failed,
                stats.retried
            );
            Ok(0)
        }
    }
}

fn secs(s: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(s)
        .map_err(|_| anyhow::anyhow!("{flag} must be a non-negative number of seconds"))
}

async fn check(conn: &ConnOpt) -> anyhow::Result<u8> {
    let mut redis = arq::RedisSettings::from_url(&conn.redis_url)?;
    redis.conn_retries = 0;
    let pool = arq::create_pool(redis).await?;
    match pool.health_check(&conn.queue_name()).await? {
        Some(v) if !v.is_empty() => {
            println!("Health check successful: {v}");
            Ok(0)
        }
        _ => {
            println!("Health check failed: no health check sentinel value found");
            Ok(1)
        }
    }
}

#[cfg(test)]
mod conn_tests {
    use super::ConnOpt;

    #[test]
    fn debug_hides_the_password_and_the_queue_follows_the_prefix() {
        let c = ConnOpt {
            redis_url: "redis://user:hunter2@host:6380/1?key_prefix=t1".into(),
            queue: None,
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("user:***@host"), "{shown}");
        assert_eq!(c.queue_name(), "t1:arq:queue");
        let plain = ConnOpt {
            redis_url: "redis://localhost".into(),
            queue: None,
        };
        assert_eq!(plain.queue_name(), arq::DEFAULT_QUEUE_NAME);
        let given = ConnOpt {
            queue: Some("emails".into()),
            ..plain
        };
        assert_eq!(given.queue_name(), "emails");
    }
}
