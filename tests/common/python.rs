//! The Python side of the interop tests: real Python arq 0.28.0 from PyPI, run as child
//! processes (`tests/python/client.py`, `worker.py`) with the interpreter of the venv that
//! `scripts/python-env.sh` builds. The venv is made on first use, so a fresh clone needs no
//! set-up step; `ARQ_PYTHON` points at another interpreter. These tests are never skipped.
#![allow(dead_code)]

use super::TestRedis;
use arq::Pool;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The virtualenv interpreter with arq 0.28.0 and msgpack installed.
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(find_or_build_python).clone()
}

/// `ARQ_PYTHON` when set; else the venv of `scripts/python-env.sh`, which is built on first
/// use (under `flock`, so parallel test processes build it once) and reused afterwards.
fn find_or_build_python() -> PathBuf {
    if let Some(p) = std::env::var_os("ARQ_PYTHON").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            p.exists(),
            "ARQ_PYTHON={} does not exist; unset it to let the tests build target/python-venv, \
             or point it at a python that has arq==0.28.0 and msgpack",
            p.display()
        );
        return p;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let lock = root.join("target/python-venv.lock");
    let _ = std::fs::create_dir_all(root.join("target"));
    let out = Command::new("flock")
        .arg(&lock)
        .arg(root.join("scripts/python-env.sh"))
        .current_dir(&root)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("could not run scripts/python-env.sh under flock: {e}"));
    assert!(
        out.status.success(),
        "scripts/python-env.sh failed ({:?}): the interop tests need python3 with the venv module \
         and PyPI (arq==0.28.0, msgpack, redis); see its output above",
        out.status
    );
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(
        p.exists(),
        "scripts/python-env.sh printed {}, which does not exist",
        p.display()
    );
    p
}

pub fn scripts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python")
}

/// A command running `python <script>` in `tests/python/` (so `python -m arq` finds
/// `worker.WorkerSettings` there), with no bytecode files left behind.
pub fn python_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(python());
    cmd.args(args)
        .current_dir(scripts_dir())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// A child process that is killed (by its own pid) and reaped when dropped.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads a pipe to the end on its own thread.
pub fn drain<R: Read + Send + 'static>(mut r: R) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        s
    })
}

pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a command to its end (killed after `within`), off the async runtime.
pub async fn run_to_end(mut cmd: Command, within: Duration) -> Finished {
    tokio::task::spawn_blocking(move || {
        let what = format!("{cmd:?}");
        let mut child = KillOnDrop(cmd.spawn().expect("spawn python"));
        let out = drain(child.0.stdout.take().unwrap());
        let err = drain(child.0.stderr.take().unwrap());
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(s) = child.0.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.0.kill();
                let _ = child.0.wait();
                panic!(
                    "{what} did not finish within {within:?}; stderr:\n{}",
                    err.join().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Finished {
            status,
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
        }
    })
    .await
    .unwrap()
}

/// The codec both sides use. Python: `msgpack.packb`/`unpackb(raw=False)`, or arq's default
/// pickle; Rust: the default `MsgpackCodec`, or `PickleCodec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    Msgpack,
    #[cfg(feature = "pickle")]
    Pickle,
}

impl Wire {
    pub fn name(self) -> &'static str {
        match self {
            Wire::Msgpack => "msgpack",
            #[cfg(feature = "pickle")]
            Wire::Pickle => "pickle",
        }
    }

    pub async fn pool(self, redis: &TestRedis) -> Pool {
        let pool = redis.pool().await;
        match self {
            Wire::Msgpack => pool,
            #[cfg(feature = "pickle")]
            Wire::Pickle => pool.with_codec(arq::PickleCodec),
        }
    }
}

/// Runs `client.py <url> <codec> <command> <json>` and parses the JSON line it prints.
pub async fn py_client(
    redis: &TestRedis,
    wire: Wire,
    command: &str,
    args: serde_json::Value,
) -> serde_json::Value {
    let cmd = python_command(&[
        "client.py",
        &redis.url(),
        wire.name(),
        command,
        &args.to_string(),
    ]);
    let done = run_to_end(cmd, Duration::from_secs(30)).await;
    assert!(
        done.status.success(),
        "client.py {command} failed ({:?}):\n{}",
        done.status,
        done.stderr
    );
    let line = done.stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| {
        panic!(
            "client.py {command} printed no JSON ({e}): {}\n{}",
            done.stdout, done.stderr
        )
    })
}

/// A Python worker (`worker.py`) running as a child process.
pub struct PyWorker {
    child: KillOnDrop,
    lines: mpsc::Receiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl PyWorker {
    pub fn spawn(redis: &TestRedis, wire: Wire, extra: &[&str]) -> Self {
        let url = redis.url();
        let mut args = vec!["worker.py", url.as_str(), wire.name()];
        args.extend_from_slice(extra);
        let mut child = KillOnDrop(python_command(&args).spawn().expect("spawn worker.py"));
        let stdout = child.0.stdout.take().unwrap();
        let stderr = Some(drain(child.0.stderr.take().unwrap()));
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        PyWorker {
            child,
            lines,
            stderr,
        }
    }

    pub fn stderr(&mut self) -> String {
        self.stderr
            .take()
            .map(|h| h.join().unwrap())
            .unwrap_or_default()
    }

    /// Waits for the `{"ready": true}` line its `on_startup` prints.
    pub async fn ready(mut self) -> Self {
        let got = tokio::task::spawn_blocking(move || {
            let line = self.lines.recv_timeout(Duration::from_secs(20));
            (self, line)
        })
        .await
        .unwrap();
        self = got.0;
        match got.1 {
            Ok(line) if line.contains("\"ready\"") => self,
            other => {
                let _ = self.child.0.kill();
                panic!("worker.py did not start ({other:?}):\n{}", self.stderr())
            }
        }
    }

    /// Waits for a burst worker to exit with status 0; returns its counters
    /// (`{"complete", "failed", "retried"}`).
    pub async fn finish(mut self, within: Duration) -> serde_json::Value {
        tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + within;
            let status = loop {
                if let Some(s) = self.child.0.try_wait().unwrap() {
                    break s;
                }
                if Instant::now() > deadline {
                    let _ = self.child.0.kill();
                    panic!(
                        "worker.py did not finish within {within:?}:\n{}",
                        self.stderr()
                    );
                }
                std::thread::sleep(Duration::from_millis(10));
            };
            let stderr = self.stderr();
            assert!(status.success(), "worker.py exited {status:?}:\n{stderr}");
            let last = self.lines.iter().last().unwrap_or_default();
            serde_json::from_str(&last)
                .unwrap_or_else(|e| panic!("worker.py printed no counters ({e}): {last}\n{stderr}"))
        })
        .await
        .unwrap()
    }
}
