//! The fault-test harness (reliability.md §3.1): Redis processes that can be killed,
//! restarted, slept, paused and filled ([`redis`], on `arq-test-support`'s server); worker
//! processes running ledger jobs ([`worker`], [`jobs`], [`ledger`]); a TCP proxy for network
//! faults ([`proxy`]); and the invariant checker ([`check`]).
//!
//! The one fault test binary, `tests/faults.rs`, includes it with
//! `#[path = "common/fault/mod.rs"] mod fault;` and defines the child entry point at its
//! root, so its test path is exactly [`worker::CHILD_TEST`]:
//! `#[test] fn fault_worker_child() { fault::worker::child_main() }`.
#![allow(dead_code, unused_imports)]

pub mod check;
pub mod jobs;
pub mod ledger;
pub mod proxy;
pub mod redis;
pub mod worker;

pub use arq_test_support::resp;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use check::{assert_text, Expect, Fate, Report};
pub use ledger::Ledger;
pub use proxy::{Mode, Proxy};
pub use redis::{Persistence, RedisProc};
pub use worker::{WorkerConfig, WorkerProc};

/// Unix ms on this (unskewed) machine's clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Polls `f` every 20 ms until it returns true; false after `within`.
pub async fn wait_until<F, Fut>(within: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if f().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Log lines captured from this thread's `tracing` events (see [`capture_logs`]).
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures the `tracing` output of the current thread (use a current-thread runtime, so
/// the client's futures run here) until the guard is dropped.
pub fn capture_logs() -> (tracing::subscriber::DefaultGuard, Captured) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (tracing::subscriber::set_default(subscriber), captured)
}

/// A scratch directory for ledgers and logs; kept (and printed) when the test fails.
pub struct FaultDir {
    pub path: PathBuf,
}

impl FaultDir {
    pub fn new(name: &str) -> FaultDir {
        let path = std::env::temp_dir().join(format!(
            "arq-fault-{name}-{}-{}",
            std::process::id(),
            redis::free_port()
        ));
        std::fs::create_dir_all(&path).unwrap();
        FaultDir { path }
    }

    pub fn ledger(&self) -> Ledger {
        Ledger::read(&self.path)
    }

    /// Every worker log in the directory, concatenated.
    pub fn logs(&self) -> String {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.path)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "log"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        let mut out = String::new();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            out.push_str(&format!(
                "=== {}\n{}\n",
                f.file_name().unwrap().to_string_lossy(),
                worker::plain(&text)
            ));
        }
        out
    }
}

impl Drop for FaultDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("fault test files kept in {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// One scenario's world: a Redis, its pool and raw client, a scratch dir, worker processes
/// and the ids whose enqueue was acknowledged.
pub struct Scene {
    pub dir: FaultDir,
    pub redis: RedisProc,
    pub pool: arq::Pool,
    pub queue: String,
    pub workers: Vec<WorkerProc>,
    /// Processes replaced by [`Scene::respawn`].
    pub dead: Vec<WorkerProc>,
    pub acked: Vec<String>,
}

impl Scene {
    /// A Redis without persistence.
    pub async fn new(name: &str) -> Scene {
        Self::with_redis(name, RedisProc::start()).await
    }

    pub async fn with_redis(name: &str, redis: RedisProc) -> Scene {
        let pool = redis.pool().await;
        Scene {
            dir: FaultDir::new(name),
            redis,
            pool,
            queue: format!("fault:{name}"),
            workers: Vec::new(),
            dead: Vec::new(),
            acked: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.dir.path
    }

    /// The default worker configuration, connected straight to this Redis.
    pub fn config(&self) -> WorkerConfig {
        WorkerConfig::new(self.redis.url(), &self.queue)
    }

    /// Starts a worker process; returns its index in `workers`.
    pub fn spawn(&mut self, name: &str, config: WorkerConfig) -> usize {
        let w = WorkerProc::spawn(&self.dir.path, name, config);
        self.workers.push(w);
        self.workers.len() - 1
    }

    /// Spawns a worker and waits until it logs `worker ready`; returns its index.
    pub fn spawn_ready(&mut self, name: &str, config: WorkerConfig) -> usize {
        let i = self.spawn(name, config);
        assert!(
            self.workers[i].wait_log("worker ready", Duration::from_secs(15)),
            "worker {name} did not start:\n{}",
            self.workers[i].log_text()
        );
        i
    }

    /// Restarts worker `i` (which must have died) as a new process in the same slot.
    pub fn respawn(&mut self, i: usize) {
        let w = self.workers[i].respawn();
        let old = std::mem::replace(&mut self.workers[i], w);
        // Keep the dead one's death time for the overlap check.
        self.dead.push(old);
    }

    /// Enqueues `ledger_sleep(ms)` under each id; records the acknowledged ones.
    pub async fn enqueue_sleep(&mut self, ids: &[String], ms: u64) {
        for id in ids {
            jobs::ledger_sleep::enqueue(&self.pool, ms)
                .job_id(id)
                .queue_name(&self.queue)
                .await
                .unwrap_or_else(|e| panic!("enqueue {id}: {e}"));
            self.acked.push(id.clone());
        }
    }

    pub fn ledger(&self) -> Ledger {
        self.dir.ledger()
    }

    pub fn logs(&self) -> String {
        self.dir.logs()
    }

    /// Waits until the ledger has at least `n` lines of `event` (all jobs).
    pub async fn wait_events(&self, event: &str, n: usize, within: Duration) -> bool {
        wait_until(within, || async {
            self.ledger()
                .lines
                .iter()
                .filter(|l| l.event == event)
                .count()
                >= n
        })
        .await
    }

    /// Waits until the ledger has an `event` line for `job_id` (from `pid`, if given), and
    /// returns the first such line.
    pub async fn wait_event(
        &self,
        event: &str,
        job_id: &str,
        pid: Option<u32>,
        within: Duration,
    ) -> Option<ledger::Line> {
        let deadline = Instant::now() + within;
        loop {
            let found =
                self.ledger().lines.into_iter().find(|l| {
                    l.event == event && l.job_id == job_id && pid.is_none_or(|p| p == l.pid)
                });
            if found.is_some() {
                return found;
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until every acknowledged job has a result.
    pub async fn wait_all_done(&self, within: Duration) -> bool {
        wait_until(within, || async {
            let fates = check::fates(&self.pool, &self.queue, &self.acked).await;
            fates.values().all(Fate::is_done)
        })
        .await
    }

    /// When each worker process died, by pid.
    pub fn deaths(&mut self) -> std::collections::HashMap<u32, i64> {
        let mut m = std::collections::HashMap::new();
        for w in self.workers.iter_mut().chain(self.dead.iter_mut()) {
            w.poll_exit();
            if let Some(t) = w.died_ms {
                m.insert(w.pid, t);
            }
        }
        m
    }

    /// Runs the invariant checker over the acknowledged jobs.
    pub async fn check(&mut self, mut expect: Expect) -> Report {
        expect.deaths.extend(self.deaths());
        check::check(
            &self.redis,
            &self.pool,
            &self.queue,
            &self.acked,
            self.ledger(),
            &expect,
        )
        .await
    }
}
