//! Python arq's side: `bench/python/bench.py` run with the venv of `scripts/python-env.sh`.

use std::path::PathBuf;
use std::process::Command;

/// The Python interpreter with arq 0.28 and the benchmark script.
pub struct Python {
    exe: PathBuf,
    script: PathBuf,
}

fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

impl Python {
    /// `$ARQ_PYTHON` if set, else the venv `scripts/python-env.sh` creates (once) and prints.
    pub fn find() -> Result<Self, String> {
        let script = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/python/bench.py"));
        if let Some(exe) = std::env::var_os("ARQ_PYTHON") {
            return Ok(Python {
                exe: exe.into(),
                script,
            });
        }
        let out = Command::new(repo_root().join("scripts/python-env.sh"))
            .output()
            .map_err(|e| format!("could not run scripts/python-env.sh: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "scripts/python-env.sh failed ({}): {}\n(use --only rust to skip Python)",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let exe = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        Ok(Python {
            exe: exe.into(),
            script,
        })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.exe);
        c.arg(&self.script).args(args);
        c
    }

    /// W1 in Python: the rate of `count` enqueues by `concurrency` coroutines, in jobs/s.
    pub fn enqueue_rate(
        &self,
        url: &str,
        queue: &str,
        count: usize,
        concurrency: usize,
    ) -> Result<f64, String> {
        let (count, concurrency) = (count.to_string(), concurrency.to_string());
        let out = self
            .command(&[
                "enqueue",
                url,
                "--queue",
                queue,
                "--count",
                &count,
                "--concurrency",
                &concurrency,
            ])
            .output()
            .map_err(|e| format!("could not run bench.py: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "bench.py enqueue failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let v: serde_json::Value = serde_json::from_str(text.trim())
            .map_err(|e| format!("bad bench.py output {text:?}: {e}"))?;
        let n = v["count"].as_f64().ok_or("no count")?;
        let s = v["seconds"].as_f64().ok_or("no seconds")?;
        Ok(n / s)
    }

    /// The command line of a Python arq worker on `queue` (poll delay in seconds; `None`
    /// keeps arq's default of 0.5 s).
    pub fn worker(
        &self,
        url: &str,
        queue: &str,
        max_jobs: usize,
        poll_delay: Option<f64>,
        burst: bool,
    ) -> Command {
        let max_jobs = max_jobs.to_string();
        let mut c = self.command(&["worker", url, "--queue", queue, "--max-jobs", &max_jobs]);
        if let Some(p) = poll_delay {
            c.args(["--poll-delay", &p.to_string()]);
        }
        if burst {
            c.arg("--burst");
        }
        c
    }
}
