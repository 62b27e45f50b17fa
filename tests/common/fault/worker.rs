//! Worker processes: this test binary re-executed in worker mode (its `fault_worker_child`
//! test), running the ledger jobs through `arq_cli::exit_code_from` exactly as a user's
//! worker binary would. Faults are real signals sent to its pid.

use super::jobs;
use super::ledger::{LEDGER_ENV, SKEW_ENV};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Selects the child mode: `worker` or `enqueue`.
pub const CHILD_ENV: &str = "ARQ_FAULT_CHILD";
/// The test path of the child entry point, which `tests/faults.rs` defines at its root.
pub const CHILD_TEST: &str = "fault_worker_child";

const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

/// How a worker process is configured ("compressed time" defaults).
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Where it connects: the server or a proxy in front of it.
    pub url: String,
    pub queue: String,
    pub max_jobs: usize,
    pub poll: Duration,
    /// The in-progress lease (`WorkerSettings::lease`).
    pub lease: Option<Duration>,
    pub job_timeout: Duration,
    pub completion_wait: Option<Duration>,
    pub max_tries: Option<u32>,
    /// `ARQ_FAILPOINTS` for the process.
    pub failpoints: Option<String>,
    /// Runs under libfaketime with the clock this many seconds off.
    pub skew_secs: i64,
    /// Schedules the per-second `fault_tick` cron job.
    pub cron: bool,
    pub health_interval: Option<Duration>,
    /// The pool's command timeout (`RedisSettings::command_timeout`). When set, the worker is
    /// built directly (`create_pool` + `Worker::run`) instead of through `arq-cli run`,
    /// which has no option for it.
    pub command_timeout: Option<Duration>,
    /// Functions this worker does not know (an older deploy).
    pub exclude: Vec<String>,
    /// `WorkerSettings::unknown_function_retry`.
    pub unknown_function_retry: Option<Duration>,
    pub max_result_bytes: Option<usize>,
    pub env: Vec<(String, String)>,
}

impl WorkerConfig {
    /// Poll 50 ms, lease 2 s, job timeout 30 s, 10 jobs at once.
    pub fn new(url: impl Into<String>, queue: impl Into<String>) -> Self {
        WorkerConfig {
            url: url.into(),
            queue: queue.into(),
            max_jobs: 10,
            poll: Duration::from_millis(50),
            lease: Some(Duration::from_secs(2)),
            job_timeout: Duration::from_secs(30),
            completion_wait: None,
            max_tries: None,
            failpoints: None,
            skew_secs: 0,
            cron: false,
            health_interval: None,
            command_timeout: None,
            exclude: Vec::new(),
            unknown_function_retry: None,
            max_result_bytes: None,
            env: Vec::new(),
        }
    }

    pub fn max_jobs(mut self, n: usize) -> Self {
        self.max_jobs = n;
        self
    }
    pub fn poll(mut self, d: Duration) -> Self {
        self.poll = d;
        self
    }
    pub fn lease(mut self, d: Duration) -> Self {
        self.lease = Some(d);
        self
    }
    pub fn job_timeout(mut self, d: Duration) -> Self {
        self.job_timeout = d;
        self
    }
    pub fn completion_wait(mut self, d: Duration) -> Self {
        self.completion_wait = Some(d);
        self
    }
    pub fn max_tries(mut self, n: u32) -> Self {
        self.max_tries = Some(n);
        self
    }
    pub fn failpoints(mut self, spec: &str) -> Self {
        self.failpoints = Some(spec.to_owned());
        self
    }
    pub fn skew_secs(mut self, s: i64) -> Self {
        self.skew_secs = s;
        self
    }
    pub fn cron(mut self, yes: bool) -> Self {
        self.cron = yes;
        self
    }
    pub fn command_timeout(mut self, d: Duration) -> Self {
        self.command_timeout = Some(d);
        self
    }
    pub fn exclude(mut self, function: &str) -> Self {
        self.exclude.push(function.to_owned());
        self
    }
    pub fn unknown_function_retry(mut self, d: Duration) -> Self {
        self.unknown_function_retry = Some(d);
        self
    }
    pub fn max_result_bytes(mut self, n: usize) -> Self {
        self.max_result_bytes = Some(n);
        self
    }
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.to_owned(), v.to_owned()));
        self
    }

    fn apply(&self, cmd: &mut Command) {
        let ms = |d: Duration| d.as_millis().to_string();
        cmd.env(CHILD_ENV, "worker")
            .env("ARQ_FAULT_URL", &self.url)
            .env("ARQ_FAULT_QUEUE", &self.queue)
            .env("ARQ_FAULT_MAX_JOBS", self.max_jobs.to_string())
            .env("ARQ_FAULT_POLL_MS", ms(self.poll))
            .env("ARQ_FAULT_JOB_TIMEOUT_MS", ms(self.job_timeout));
        if let Some(d) = self.lease {
            cmd.env("ARQ_FAULT_LEASE_MS", ms(d));
        }
        if let Some(d) = self.completion_wait {
            cmd.env("ARQ_FAULT_COMPLETION_WAIT_MS", ms(d));
        }
        if let Some(n) = self.max_tries {
            cmd.env("ARQ_FAULT_MAX_TRIES", n.to_string());
        }
        if let Some(d) = self.health_interval {
            cmd.env("ARQ_FAULT_HEALTH_MS", ms(d));
        }
        if self.cron {
            cmd.env("ARQ_FAULT_CRON", "1");
        }
        if let Some(d) = self.command_timeout {
            cmd.env("ARQ_FAULT_COMMAND_TIMEOUT_MS", ms(d));
        }
        if !self.exclude.is_empty() {
            cmd.env("ARQ_FAULT_EXCLUDE", self.exclude.join(","));
        }
        if let Some(d) = self.unknown_function_retry {
            cmd.env("ARQ_FAULT_UNKNOWN_RETRY_MS", ms(d));
        }
        if let Some(n) = self.max_result_bytes {
            cmd.env("ARQ_FAULT_MAX_RESULT_BYTES", n.to_string());
        }
        apply_common(cmd, self.failpoints.as_deref(), self.skew_secs);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
    }
}

fn apply_common(cmd: &mut Command, failpoints: Option<&str>, skew_secs: i64) {
    cmd.env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "0");
    match failpoints {
        Some(f) => cmd.env("ARQ_FAILPOINTS", f),
        None => cmd.env_remove("ARQ_FAILPOINTS"),
    };
    if skew_secs != 0 {
        assert!(
            Path::new(LIBFAKETIME).exists(),
            "{LIBFAKETIME} is missing: install the faketime package (apt-get install faketime)"
        );
        cmd.env("LD_PRELOAD", LIBFAKETIME)
            .env("FAKETIME", format!("{skew_secs:+}"))
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
            .env("FAKETIME_NO_CACHE", "1")
            .env(SKEW_ENV, (skew_secs * 1000).to_string());
    }
}

fn child_command() -> Command {
    // /proc/self/exe still runs this very binary if cargo rebuilt the file meanwhile.
    let exe = if Path::new("/proc/self/exe").exists() {
        PathBuf::from("/proc/self/exe")
    } else {
        std::env::current_exe().unwrap()
    };
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .stdin(Stdio::null());
    cmd
}

fn log_file(path: &Path) -> (Stdio, Stdio) {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    (f.try_clone().unwrap().into(), f.into())
}

/// Strips ANSI colour codes.
pub fn plain(text: &str) -> String {
    let re = regex::Regex::new("\x1b\\[[0-9;]*m").unwrap();
    re.replace_all(text, "").into_owned()
}

/// A running (or finished) worker process.
pub struct WorkerProc {
    pub name: String,
    pub config: WorkerConfig,
    pub pid: u32,
    pub log: PathBuf,
    pub ledger: PathBuf,
    dir: PathBuf,
    generation: u32,
    child: Child,
    /// Unix ms when it was seen dead (killed by us, or exited).
    pub died_ms: Option<i64>,
    pub status: Option<ExitStatus>,
}

impl WorkerProc {
    /// Starts worker `name`, with its ledger and log in `dir`.
    pub fn spawn(dir: &Path, name: &str, config: WorkerConfig) -> WorkerProc {
        Self::spawn_gen(dir, name, config, 0)
    }

    fn spawn_gen(dir: &Path, name: &str, config: WorkerConfig, generation: u32) -> WorkerProc {
        let log = dir.join(format!("{name}.{generation}.log"));
        let ledger = dir.join(format!("{name}.{generation}.ledger"));
        let mut cmd = child_command();
        config.apply(&mut cmd);
        cmd.env(LEDGER_ENV, &ledger);
        let (out, err) = log_file(&log);
        cmd.stdout(out).stderr(err);
        let child = cmd.spawn().expect("spawn a worker process");
        WorkerProc {
            name: name.to_owned(),
            config,
            pid: child.id(),
            log,
            ledger,
            dir: dir.to_owned(),
            generation,
            child,
            died_ms: None,
            status: None,
        }
    }

    /// A new process with the same name and configuration (after this one died).
    pub fn respawn(&self) -> WorkerProc {
        Self::spawn_gen(
            &self.dir,
            &self.name,
            self.config.clone(),
            self.generation + 1,
        )
    }

    /// Sends a signal (`KILL`, `TERM`, `INT`, `STOP`, `CONT`) to this process, by pid.
    pub fn signal(&mut self, sig: &str) {
        if self.poll_exit().is_some() {
            return;
        }
        let ok = Command::new("kill")
            .args([format!("-{sig}"), self.pid.to_string()])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok || self.poll_exit().is_some(), "kill -{sig} {}", self.pid);
        if sig == "KILL" {
            self.died_ms = Some(super::now_ms());
            let status = self.child.wait().unwrap();
            self.status = Some(status);
        }
    }

    pub fn kill9(&mut self) {
        self.signal("KILL");
    }

    /// The exit status, if it has exited (recording when it was first seen dead).
    pub fn poll_exit(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            if let Ok(Some(s)) = self.child.try_wait() {
                self.status = Some(s);
                self.died_ms.get_or_insert_with(super::now_ms);
            }
        }
        self.status
    }

    pub fn is_alive(&mut self) -> bool {
        self.poll_exit().is_none()
    }

    /// Waits for the process to exit; `None` if it is still running after `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(s) = self.poll_exit() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Its log so far, without colour codes.
    pub fn log_text(&self) -> String {
        plain(&std::fs::read_to_string(&self.log).unwrap_or_default())
    }

    /// Waits until its log matches `re`.
    pub fn wait_log(&self, re: &str, within: Duration) -> bool {
        let re = regex::Regex::new(re).unwrap();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if re.is_match(&self.log_text()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for WorkerProc {
    fn drop(&mut self) {
        if self.poll_exit().is_none() {
            // SIGCONT first, in case a test left it stopped; then SIGKILL by pid.
            let _ = Command::new("kill")
                .args(["-CONT", &self.pid.to_string()])
                .status();
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What an enqueue child process should do.
#[derive(Debug, Clone)]
pub struct EnqueueConfig {
    pub url: String,
    pub queue: String,
    pub ids: Vec<String>,
    /// The `ledger_sleep` argument.
    pub ms: u64,
    pub defer: Option<Duration>,
    /// `defer_until(<this process's clock> + offset)`.
    pub defer_until_offset: Option<Duration>,
    /// Waits until this unix ms before enqueuing (to line several processes up).
    pub at_ms: Option<i64>,
    pub failpoints: Option<String>,
    pub skew_secs: i64,
}

/// The outcome lines of an enqueue child: `ENQUEUED id`, `EXISTS id` or `ERROR id text`.
pub struct EnqueueOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub log: String,
}

impl EnqueueOutput {
    pub fn lines(&self, kind: &str) -> Vec<String> {
        // (The test harness may print its own text before the first line.)
        let tag = format!("{kind} ");
        self.stdout
            .lines()
            .filter_map(|l| l.find(&tag).map(|at| l[at + tag.len()..].to_owned()))
            .collect()
    }
}

/// Starts an enqueue child; collect it with [`finish_enqueue`].
pub fn spawn_enqueue(dir: &Path, name: &str, cfg: &EnqueueConfig) -> (Child, PathBuf) {
    let log = dir.join(format!("{name}.log"));
    let mut cmd = child_command();
    cmd.env(CHILD_ENV, "enqueue")
        .env("ARQ_FAULT_URL", &cfg.url)
        .env("ARQ_FAULT_QUEUE", &cfg.queue)
        .env("ARQ_FAULT_IDS", cfg.ids.join(","))
        .env("ARQ_FAULT_MS", cfg.ms.to_string());
    if let Some(d) = cfg.defer {
        cmd.env("ARQ_FAULT_DEFER_MS", d.as_millis().to_string());
    }
    if let Some(d) = cfg.defer_until_offset {
        cmd.env("ARQ_FAULT_DEFER_UNTIL_MS", d.as_millis().to_string());
    }
    if let Some(at) = cfg.at_ms {
        cmd.env("ARQ_FAULT_AT_MS", at.to_string());
    }
    apply_common(&mut cmd, cfg.failpoints.as_deref(), cfg.skew_secs);
    let (_, err) = log_file(&log);
    cmd.stdout(Stdio::piped()).stderr(err);
    (cmd.spawn().expect("spawn an enqueue process"), log)
}

pub fn finish_enqueue(child: Child, log: &Path) -> EnqueueOutput {
    let out = child.wait_with_output().unwrap();
    EnqueueOutput {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        log: plain(&std::fs::read_to_string(log).unwrap_or_default()),
    }
}

/// Runs an enqueue child to its end.
pub fn run_enqueue(dir: &Path, name: &str, cfg: &EnqueueConfig) -> EnqueueOutput {
    let (child, log) = spawn_enqueue(dir, name, cfg);
    finish_enqueue(child, &log)
}

fn env_u64(k: &str) -> Option<u64> {
    std::env::var(k).ok().and_then(|v| v.parse().ok())
}

/// The child entry point: call it from a `#[test] fn fault_worker_child()` in each fault
/// test binary. Does nothing unless this process was started as a child.
pub fn child_main() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    // If the test process dies without cleaning up, do not outlive it.
    let parent = std::os::unix::process::parent_id();
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(500));
        if std::os::unix::process::parent_id() != parent {
            std::process::exit(99);
        }
    });
    let code = match mode.as_str() {
        "worker" => worker_main(),
        "enqueue" => enqueue_main(),
        "decode-deep" => decode_deep_main(),
        other => panic!("unknown child mode {other}"),
    };
    std::process::exit(code);
}

fn worker_main() -> i32 {
    let url = std::env::var("ARQ_FAULT_URL").unwrap();
    let queue = std::env::var("ARQ_FAULT_QUEUE").unwrap();
    let ms = |k: &str| env_u64(k).map(Duration::from_millis);
    let exclude: Vec<String> = std::env::var("ARQ_FAULT_EXCLUDE")
        .map(|v| v.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    let functions = jobs::functions()
        .into_iter()
        .filter(|f| !exclude.iter().any(|e| e == f.name));
    let mut settings = arq::WorkerSettings::new().functions(functions);
    if let Some(d) = ms("ARQ_FAULT_JOB_TIMEOUT_MS") {
        settings = settings.job_timeout(d);
    }
    if let Some(d) = ms("ARQ_FAULT_LEASE_MS") {
        settings = settings.lease(d);
    }
    if let Some(d) = ms("ARQ_FAULT_COMPLETION_WAIT_MS") {
        settings = settings.job_completion_wait(d);
    }
    if let Some(n) = env_u64("ARQ_FAULT_MAX_TRIES") {
        settings = settings.max_tries(n as u32);
    }
    if let Some(d) = ms("ARQ_FAULT_HEALTH_MS") {
        settings = settings.health_check_interval(d);
    }
    if let Some(d) = ms("ARQ_FAULT_UNKNOWN_RETRY_MS") {
        settings = settings.unknown_function_retry(d);
    }
    if let Some(n) = env_u64("ARQ_FAULT_MAX_RESULT_BYTES") {
        settings = settings.max_result_bytes(n as usize);
    }
    if std::env::var("ARQ_FAULT_CRON").is_ok() {
        settings = settings.cron_jobs([jobs::tick_cron()]);
    }
    if std::env::var("ARQ_FAULT_HOOKS").is_ok() {
        // Each run of the failure hook is a `hook` line in the ledger.
        settings = settings.on_job_failed(|job| async move {
            super::ledger::write("hook", job.job_id(), job.job_try());
        });
    }
    let poll = ms("ARQ_FAULT_POLL_MS").unwrap_or(Duration::from_millis(50));
    let max_jobs = env_u64("ARQ_FAULT_MAX_JOBS").unwrap_or(10) as usize;
    if let Some(timeout) = ms("ARQ_FAULT_COMMAND_TIMEOUT_MS") {
        return direct_worker(
            &url,
            &queue,
            settings.poll_delay(poll).max_jobs(max_jobs),
            timeout,
        );
    }
    let max_jobs = max_jobs.to_string();
    let poll = format!("{}", poll.as_secs_f64());
    let args = [
        "arq-cli",
        "run",
        "--redis-url",
        &url,
        "--queue",
        &queue,
        "--max-jobs",
        &max_jobs,
        "--poll-delay",
        &poll,
    ];
    i32::from(arq_cli::exit_code_from(args, settings))
}

/// A worker built directly on a pool with a chosen command timeout.
fn direct_worker(url: &str, queue: &str, settings: arq::WorkerSettings, timeout: Duration) -> i32 {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_ansi(false)
        .try_init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let redis = arq::RedisSettings::from_url(url)
            .unwrap()
            .command_timeout(Some(timeout));
        let pool = match arq::create_pool(redis).await {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        };
        let worker = arq::Worker::new(pool, settings.queue_name(queue)).unwrap();
        match worker.run().await {
            Ok(_) => 0,
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        }
    })
}

/// Decodes a msgpack array nested `ARQ_FAULT_DEPTH` deep, on a thread with the stack a tokio
/// worker thread has (2 MiB), and reports whether it returned.
fn decode_deep_main() -> i32 {
    use arq::Codec;
    let depth: usize = env_u64("ARQ_FAULT_DEPTH").unwrap_or(10_000) as usize;
    let handle = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let mut deep = vec![0x91u8; depth];
            deep.push(0xc0);
            match arq::MsgpackCodec.decode(&deep) {
                Ok(v) => format!("OK {}", arq::wire::JobRecord::from_value(&v).is_ok()),
                Err(e) => format!("ERR {e}"),
            }
        })
        .unwrap();
    println!("DECODED {}", handle.join().unwrap());
    0
}

/// Runs the deep-nesting decode in a child process (a stack overflow aborts only it).
pub fn decode_deep_in_child(depth: usize) -> (ExitStatus, String) {
    let mut cmd = child_command();
    cmd.env(CHILD_ENV, "decode-deep")
        .env("ARQ_FAULT_DEPTH", depth.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = cmd.output().expect("spawn a decode process");
    (
        out.status,
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn enqueue_main() -> i32 {
    let url = std::env::var("ARQ_FAULT_URL").unwrap();
    let queue = std::env::var("ARQ_FAULT_QUEUE").unwrap();
    let ids: Vec<String> = std::env::var("ARQ_FAULT_IDS")
        .unwrap()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let ms = env_u64("ARQ_FAULT_MS").unwrap_or(10);
    let defer = env_u64("ARQ_FAULT_DEFER_MS").map(Duration::from_millis);
    let defer_until = env_u64("ARQ_FAULT_DEFER_UNTIL_MS")
        .map(|ms| chrono::Utc::now() + chrono::Duration::milliseconds(ms as i64));
    let at = std::env::var("ARQ_FAULT_AT_MS")
        .ok()
        .and_then(|v| v.parse::<i64>().ok());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let pool = match arq::create_pool(arq::RedisSettings::from_url(&url).unwrap()).await {
            Ok(p) => p,
            Err(e) => {
                println!("CONNECT_ERROR {e}");
                return 3;
            }
        };
        if let Some(at) = at {
            let wait = at - super::now_ms();
            if wait > 0 {
                tokio::time::sleep(Duration::from_millis(wait as u64)).await;
            }
        }
        let mut set = tokio::task::JoinSet::new();
        for id in ids {
            let pool = pool.clone();
            let queue = queue.clone();
            set.spawn(async move {
                let mut e = jobs::ledger_sleep::enqueue(&pool, ms)
                    .job_id(&id)
                    .queue_name(&queue);
                if let Some(d) = defer {
                    e = e.defer_by(d);
                }
                if let Some(at) = defer_until {
                    e = e.defer_until(at);
                }
                match e.await {
                    Ok(_) => format!("ENQUEUED {id}"),
                    Err(err) if err.is_duplicate() => format!("EXISTS {id}"),
                    Err(err) => format!("ERROR {id} {err}"),
                }
            });
        }
        while let Some(line) = set.join_next().await {
            println!("{}", line.unwrap());
        }
        0
    })
}
