//! Worker processes (this binary re-run in worker mode, or `bench.py worker`): their stdout
//! as JSON lines, readiness, SIGTERM by pid, and the exit.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// A worker process we started; killed by its pid if still running when dropped.
pub struct WorkerProc {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    name: String,
}

impl WorkerProc {
    /// Starts `cmd` with its stdout read line by line (stderr is passed through).
    pub fn spawn(mut cmd: Command, name: &str) -> Result<Self, String> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("could not start the {name} worker: {e}"))?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(WorkerProc {
            child,
            lines,
            seen: Vec::new(),
            name: name.to_owned(),
        })
    }

    /// Waits for the `{"ready": true}` line the worker prints from its startup hook.
    pub fn wait_ready(&mut self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let ready = line.contains("\"ready\"");
                    self.seen.push(line);
                    if ready {
                        return Ok(());
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("the {} worker did not get ready", self.name))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!(
                        "the {} worker exited before it was ready",
                        self.name
                    ))
                }
            }
        }
    }

    /// Waits for the process to exit by itself (burst mode) and returns its exit status and
    /// the JSON object on its last stdout line.
    pub fn wait_exit(mut self, within: Duration) -> Result<serde_json::Value, String> {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(s) = self.child.try_wait().map_err(|e| e.to_string())? {
                break s;
            }
            if Instant::now() > deadline {
                return Err(format!("the {} worker did not finish in time", self.name));
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        self.report(status)
    }

    /// Stops the process with SIGTERM (sent to its pid), waits for it, and kills it if it has
    /// not exited within `grace`.
    pub fn terminate(mut self, grace: Duration) -> Result<(), String> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.child.try_wait().map_err(|e| e.to_string())?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        eprintln!("  (the {} worker ignored SIGTERM; killed)", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
        Ok(())
    }

    fn report(&mut self, status: ExitStatus) -> Result<serde_json::Value, String> {
        // The reader thread ends at EOF; collect what it read.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        if !status.success() {
            return Err(format!("the {} worker failed: {status}", self.name));
        }
        let last = self
            .seen
            .iter()
            .rev()
            .find(|l| l.trim_start().starts_with('{'))
            .ok_or_else(|| format!("the {} worker printed no report", self.name))?;
        serde_json::from_str(last).map_err(|e| format!("bad report {last:?}: {e}"))
    }
}

impl Drop for WorkerProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A `kB` field of `/proc/self/status` (`VmHWM`, `VmRSS`).
pub fn proc_status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| {
        l.strip_prefix(field)?
            .strip_prefix(':')?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}
