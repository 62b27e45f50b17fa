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
use arq::codec::Codec;
use arq::Pool;
use arq::{Worker, WorkerSettings};
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Command line options.
#[derive(Debug, Parser)]
#[command(
    name = "arq-cli",
    version,
    about = "Run arq workers, check their health, inspect and steer queues and their dead letters, tail their events"
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

/// Where the queue lives, and how its records are encoded.
///
/// The connection comes from `--redis-url` (`REDIS_URL`), else from the settings the binary
/// was built with ([`Cli::redis`]), else [`arq::DEFAULT_REDIS_URL`]; each `--redis-*` part
/// given (or its environment variable) then overrides that part.
#[derive(Clone, Default, Args)]
pub struct ConnOpt {
    /// Redis URL: `redis://[user:pass@]host[:port][/db][?key_prefix=t1]`, or `rediss://` for
    /// TLS. Default: redis://127.0.0.1:6379.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// Redis host (overrides the URL's).
    #[arg(long, env = "REDIS_HOST")]
    pub redis_host: Option<String>,
    /// Redis port (overrides the URL's).
    #[arg(long, env = "REDIS_PORT")]
    pub redis_port: Option<u16>,
    /// Redis user name, for ACL users (overrides the URL's).
    #[arg(long, env = "REDIS_USERNAME")]
    pub redis_username: Option<String>,
    /// Redis password (overrides the URL's).
    #[arg(long, env = "REDIS_PASSWORD", hide_env_values = true)]
    pub redis_password: Option<String>,
    /// Redis database number (overrides the URL's).
    #[arg(long, env = "REDIS_DATABASE")]
    pub redis_database: Option<u8>,
    /// Connect with TLS (as `rediss://` does): true or false.
    #[arg(long, env = "REDIS_TLS")]
    pub redis_tls: Option<bool>,
    /// The CA certificates (PEM) that the server's TLS certificate must be signed by.
    #[arg(long, env = "REDIS_SSL_CA_CERTS")]
    pub redis_ca_certs: Option<std::path::PathBuf>,
    /// Queue name (default: `arq:queue`, or `<prefix>:arq:queue` with a `key_prefix`).
    #[arg(long, short = 'q', env = "ARQ_QUEUE")]
    pub queue: Option<String>,
    /// How job and result records are encoded: msgpack, pickle (Python arq's default) or
    /// json. Client and worker must agree. Default: the binary's own setting, else msgpack.
    #[arg(long, env = "ARQ_CODEC")]
    pub codec: Option<String>,
}

impl ConnOpt {
    /// The queue given, or the default queue of the connection's key layout.
    pub fn queue_name(&self) -> String {
        self.queue_in(None)
    }

    /// The queue given, or the default queue of the key layout of the settings that these
    /// options make from `base`.
    pub(crate) fn queue_in(&self, base: Option<&arq::RedisSettings>) -> String {
        if let Some(q) = &self.queue {
            return q.clone();
        }
        self.redis_settings(base)
            .ok()
            .and_then(|s| s.key_layout().ok())
            .map(|k| k.default_queue().to_owned())
            .unwrap_or_else(|| arq::DEFAULT_QUEUE_NAME.to_owned())
    }

    /// The Redis settings these options name, starting from `base` when no URL is given.
    ///
    /// ```
    /// use clap::Parser;
    /// let opt = arq_cli::Opt::try_parse_from([
    ///     "worker", "check", "--redis-url", "redis://cache:6380/1", "--redis-database", "3",
    /// ]).unwrap();
    /// let arq_cli::Command::Check(conn) = opt.command else { unreachable!() };
    /// let s = conn.redis_settings(None).unwrap();
    /// assert_eq!((s.host.as_str(), s.port, s.database), ("cache", 6380, 3));
    /// ```
    pub fn redis_settings(
        &self,
        base: Option<&arq::RedisSettings>,
    ) -> anyhow::Result<arq::RedisSettings> {
        let mut s = match (&self.redis_url, base) {
            (Some(url), _) => arq::RedisSettings::from_url(url)?,
            (None, Some(base)) => base.clone(),
            (None, None) => arq::RedisSettings::from_url(arq::DEFAULT_REDIS_URL)?,
        };
        if let Some(host) = &self.redis_host {
            s.host = host.clone();
        }
        if let Some(port) = self.redis_port {
            s.port = port;
        }
        if let Some(user) = &self.redis_username {
            s.username = Some(user.clone()).filter(|u| !u.is_empty());
        }
        if let Some(password) = &self.redis_password {
            s.password = Some(password.clone()).filter(|p| !p.is_empty());
        }
        if let Some(db) = self.redis_database {
            s.database = db;
        }
        if let Some(tls) = self.redis_tls {
            s.ssl = tls;
        }
        if let Some(ca) = &self.redis_ca_certs {
            s.ssl_ca_certs = Some(ca.clone());
            s.ssl = self.redis_tls.unwrap_or(true);
        }
        Ok(s)
    }

    /// The codec named by `--codec`/`ARQ_CODEC`, if any.
    pub fn codec(&self) -> anyhow::Result<Option<Arc<dyn Codec>>> {
        match &self.codec {
            None => Ok(None),
            Some(name) => arq::codec::by_name(name)
                .map(Some)
                .map_err(|e| anyhow::anyhow!("--codec / ARQ_CODEC: {e}")),
        }
    }

    /// A pool on these settings: `--codec` first, then `base`'s codec, then msgpack.
    pub(crate) async fn pool(&self, base: &Base, conn_retries: u32) -> anyhow::Result<Pool> {
        let mut redis = self.redis_settings(base.redis.as_ref())?;
        redis.conn_retries = conn_retries;
        let pool = arq::create_pool(redis).await?;
        let pool = match self.codec()?.or_else(|| base.codec.clone()) {
            Some(codec) => pool.with_codec(codec),
            None => pool,
        };
        Ok(pool.with_default_queue(self.queue_in(base.redis.as_ref())))
    }
}

impl std::fmt::Debug for ConnOpt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a password, of the URL or given on its own.
        let url = self.redis_url.as_deref().map(redact_url);
        f.debug_struct("ConnOpt")
            .field("redis_url", &url)
            .field("redis_host", &self.redis_host)
            .field("redis_port", &self.redis_port)
            .field("redis_username", &self.redis_username)
            .field(
                "redis_password",
                &self.redis_password.as_ref().map(|_| "***"),
            )
            .field("redis_database", &self.redis_database)
            .field("redis_tls", &self.redis_tls)
            .field("redis_ca_certs", &self.redis_ca_certs)
            .field("queue", &self.queue)
            .field("codec", &self.codec)
            .finish()
    }
}

fn redact_url(url: &str) -> String {
    match arq::RedisSettings::from_url(url) {
        Ok(s) if s.password.is_some() => match url.rsplit_once('@') {
            Some((creds, rest)) => match creds.rsplit_once(':') {
                Some((user, _)) => format!("{user}:***@{rest}"),
                None => url.to_owned(),
            },
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

/// What the binary was built with, under the command line: the Redis settings and codec of
/// [`Cli::redis`] and [`WorkerSettings::codec`].
#[derive(Clone, Default)]
pub(crate) struct Base {
    redis: Option<arq::RedisSettings>,
    codec: Option<Arc<dyn Codec>>,
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
///
/// Runs every `#[arq::job]` linked into the binary with default settings: no startup state,
/// msgpack. Most applications want [`Cli`] (or [`main_with`]) instead, to give their
/// `on_startup` hook, codec and Redis settings.
pub fn main() -> ExitCode {
    Cli::new(WorkerSettings::new()).main()
}

/// Like [`main`], starting from your own settings (hooks, state, codec, explicit function
/// list); command line options override what they name.
pub fn main_with(settings: WorkerSettings) -> ExitCode {
    Cli::new(settings).main()
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
    Cli::new(settings).exit_code_from(args)
}

/// A worker binary's command line, built from the application's own settings: what Python
/// arq reads from a `WorkerSettings` class (functions, hooks, `redis_settings`,
/// `job_serializer`). The command line and the environment override what they name.
///
/// ```no_run
/// // src/bin/worker.rs
/// use std::time::Duration;
///
/// # #[arq::job] async fn send_email(to: String) -> String { to }
/// fn main() -> std::process::ExitCode {
///     let settings = arq::WorkerSettings::new()
///         .functions([send_email::FUNCTION])
///         .job_timeout(Duration::from_secs(60));
///     // Without REDIS_URL (or --redis-url, --redis-host, …) the worker uses this Redis.
///     let redis = arq::RedisSettings {
///         host: "cache.internal".into(),
///         ..Default::default()
///     };
///     arq_cli::Cli::new(settings).redis(redis).main()
/// }
/// ```
pub struct Cli {
    settings: WorkerSettings,
    base: Base,
}

impl Cli {
    /// A command line running `settings`.
    pub fn new(settings: WorkerSettings) -> Self {
        let codec = settings.get_codec().cloned();
        Cli {
            settings,
            base: Base { redis: None, codec },
        }
    }

    /// The Redis to use when neither `--redis-url` nor `REDIS_URL` is given (the
    /// `--redis-*` parts still override its fields).
    pub fn redis(mut self, redis: arq::RedisSettings) -> Self {
        self.base.redis = Some(redis);
        self
    }

    /// Parses the process's arguments and runs.
    pub fn main(self) -> ExitCode {
        ExitCode::from(self.exit_code_from(std::env::args_os()))
    }

    /// Parses `args` (the first is the program name) and runs; returns the exit status (0
    /// ok, 1 failure or unhealthy, 2 usage error or nothing to run).
    pub fn exit_code_from<I, T>(self, args: I) -> u8
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
        match runtime.block_on(run_with(opt, self.settings, &self.base)) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                1
            }
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
    let base = Base {
        redis: None,
        codec: settings.get_codec().cloned(),
    };
    run_with(opt, settings, &base).await
}

async fn run_with(opt: Opt, settings: WorkerSettings, base: &Base) -> anyhow::Result<u8> {
    match opt.command {
        Command::Admin(cmd) => admin::run(cmd, opt.json, base).await,
        Command::Check(conn) => check(&conn, base).await,
        Command::Run(r) if r.check => check(&r.conn, base).await,
        Command::Run(r) => {
            let queue = r.conn.queue_in(base.redis.as_ref());
            let mut settings = settings.queue_name(queue).burst(r.burst);
            if let Some(n) = r.max_jobs {
                settings = settings.max_jobs(n);
            }
            if let Some(s) = r.poll_delay {
                settings = settings.poll_delay(secs(s, "--poll-delay")?);
            }
            if let Some(s) = r.job_timeout {
                settings = settings.job_timeout(secs(s, "--job-timeout")?);
            }
            if let Some(codec) = r.conn.codec()? {
                settings = settings.codec(codec);
            }
            // A worker waits for Redis as long as it takes (a deploy may start it first);
            // each failed attempt is logged.
            let pool = r.conn.pool(base, u32::MAX).await?;
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

async fn check(conn: &ConnOpt, base: &Base) -> anyhow::Result<u8> {
    let pool = conn.pool(base, 0).await?;
    let queue = conn.queue_in(base.redis.as_ref());
    match pool.health_check(&queue).await? {
        Some(v) if !v.is_empty() => {
            println!("Health check successful: {v}");
            Ok(0)
        }
        _ => {
            // Python's words first (scripts grep for them), then what they mean.
            println!(
                "Health check failed: no health check sentinel value found; no worker of \
                 queue {queue:?} is running (a burst worker removes its record when it exits)"
            );
            Ok(1)
        }
    }
}

#[cfg(test)]
mod conn_tests {
    use super::{Command, ConnOpt, Opt};
    use clap::Parser;

    fn conn(args: &[&str]) -> ConnOpt {
        let opt = Opt::try_parse_from(["worker", "check"].iter().chain(args)).unwrap();
        match opt.command {
            Command::Check(c) => c,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn debug_hides_the_password_and_the_queue_follows_the_prefix() {
        let c = ConnOpt {
            redis_url: Some("redis://user:hunter2@host:6380/1?key_prefix=t1".into()),
            redis_password: Some("swordfish".into()),
            ..ConnOpt::default()
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("swordfish"), "{shown}");
        assert!(shown.contains("user:***@host"), "{shown}");
        assert_eq!(c.queue_name(), "t1:arq:queue");
        let plain = ConnOpt::default();
        assert_eq!(plain.queue_name(), arq::DEFAULT_QUEUE_NAME);
        let given = ConnOpt {
            queue: Some("emails".into()),
            ..plain
        };
        assert_eq!(given.queue_name(), "emails");
    }

    #[test]
    fn without_a_url_the_default_then_the_base_settings_apply() {
        let none = conn(&[]).redis_settings(None).unwrap();
        assert_eq!(
            none,
            arq::RedisSettings::from_url(arq::DEFAULT_REDIS_URL).unwrap()
        );
        let base = arq::RedisSettings {
            host: "cache.internal".into(),
            database: 4,
            ..Default::default()
        };
        let from_base = conn(&[]).redis_settings(Some(&base)).unwrap();
        assert_eq!(from_base, base);
        // A URL wins over the base: the deployment's environment beats the code's default.
        let url = conn(&["--redis-url", "redis://other:6390"])
            .redis_settings(Some(&base))
            .unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.database),
            ("other", 6390, 0)
        );
    }

    #[test]
    fn each_part_overrides_the_url() {
        let c = conn(&[
            "--redis-url",
            "redis://u:p@cache:6380/1",
            "--redis-host",
            "redis.internal",
            "--redis-port",
            "7000",
            "--redis-username",
            "worker",
            "--redis-password",
            "s3cret",
            "--redis-database",
            "5",
            "--redis-tls",
            "true",
        ]);
        let s = c.redis_settings(None).unwrap();
        assert_eq!(s.host, "redis.internal");
        assert_eq!(s.port, 7000);
        assert_eq!(s.username.as_deref(), Some("worker"));
        assert_eq!(s.password.as_deref(), Some("s3cret"));
        assert_eq!(s.database, 5);
        assert!(s.ssl);
        let ca = conn(&["--redis-ca-certs", "/etc/ca.pem"])
            .redis_settings(None)
            .unwrap();
        assert!(ca.ssl, "a CA file means TLS");
        assert_eq!(
            ca.ssl_ca_certs.as_deref(),
            Some(std::path::Path::new("/etc/ca.pem"))
        );
    }

    #[test]
    fn a_codec_is_chosen_by_name_and_a_bad_name_is_named() {
        assert_eq!(conn(&[]).codec().unwrap().map(|c| c.name()), None);
        let c = conn(&["--codec", "pickle"]).codec().unwrap().unwrap();
        assert_eq!(c.name(), "pickle");
        let err = conn(&["--codec", "yaml"]).codec().unwrap_err().to_string();
        assert!(err.contains("--codec") && err.contains("yaml"), "{err}");
    }
}
