//! The ledger: what job functions did, written by the worker processes to files the faults
//! never touch (one `O_APPEND` file per worker process, one `write(2)` per line), and read
//! back by the test.
//!
//! A line is `<event> <job id> <try> <pid> <unix ms>` with event `start`, `end` or `cancel`
//! (the job's future was dropped before it ended: timeout, abort, shutdown, lost lease).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Env var naming the ledger file of a worker process.
pub const LEDGER_ENV: &str = "ARQ_FAULT_LEDGER";
/// Env var with the clock offset (ms) a worker runs under (faketime), subtracted from its
/// ledger timestamps so every ledger line is on the real clock.
pub const SKEW_ENV: &str = "ARQ_FAULT_SKEW_MS";

fn file() -> Option<&'static std::fs::File> {
    static FILE: OnceLock<Option<std::fs::File>> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = std::env::var(LEDGER_ENV).ok()?;
        Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .unwrap_or_else(|e| panic!("ledger {path}: {e}")),
        )
    })
    .as_ref()
}

fn skew_ms() -> i64 {
    static SKEW: OnceLock<i64> = OnceLock::new();
    *SKEW.get_or_init(|| {
        std::env::var(SKEW_ENV)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    })
}

/// Wall-clock ms, corrected for this process's known skew.
pub fn real_now_ms() -> i64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    t.as_millis() as i64 - skew_ms()
}

/// Appends one line (a no-op outside a worker process).
pub fn write(event: &str, job_id: &str, job_try: u32) {
    if let Some(mut f) = file() {
        let line = format!(
            "{event} {job_id} {job_try} {} {}\n",
            std::process::id(),
            real_now_ms()
        );
        // One write(2) of the whole line on an O_APPEND file: lines never interleave.
        f.write_all(line.as_bytes()).expect("ledger write");
    }
}

/// Writes `start` now and `cancel` on drop unless [`Entry::end`] ran first.
pub struct Entry {
    job_id: String,
    job_try: u32,
    done: bool,
}

impl Entry {
    pub fn start(ctx: &arq::Ctx) -> Self {
        write("start", ctx.job_id(), ctx.job_try());
        Entry {
            job_id: ctx.job_id().to_owned(),
            job_try: ctx.job_try(),
            done: false,
        }
    }

    pub fn end(mut self) {
        self.done = true;
        write("end", &self.job_id, self.job_try);
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if !self.done {
            write("cancel", &self.job_id, self.job_try);
        }
    }
}

/// One ledger line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub event: String,
    pub job_id: String,
    pub job_try: u32,
    pub pid: u32,
    pub ts: i64,
}

/// Every line of every ledger file in a directory, in time order.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    pub lines: Vec<Line>,
}

/// One run of a job: a `start` and its `end`/`cancel`, if any.
#[derive(Debug, Clone)]
pub struct Run {
    pub job_id: String,
    pub job_try: u32,
    pub pid: u32,
    pub start: i64,
    /// `None` while running, or when the process died.
    pub end: Option<i64>,
    pub cancelled: bool,
}

impl Ledger {
    /// Reads all `*.ledger` files under `dir`.
    pub fn read(dir: &Path) -> Ledger {
        let mut lines = Vec::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ledger::default();
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "ledger"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            for l in text.lines() {
                // A process killed mid-write can leave a partial last line; skip it.
                let parts: Vec<&str> = l.split(' ').collect();
                if parts.len() != 5 {
                    continue;
                }
                let (Ok(job_try), Ok(pid), Ok(ts)) =
                    (parts[2].parse(), parts[3].parse(), parts[4].parse())
                else {
                    continue;
                };
                lines.push(Line {
                    event: parts[0].to_owned(),
                    job_id: parts[1].to_owned(),
                    job_try,
                    pid,
                    ts,
                });
            }
        }
        lines.sort_by_key(|l| l.ts);
        Ledger { lines }
    }

    pub fn starts(&self, job_id: &str) -> Vec<&Line> {
        self.lines
            .iter()
            .filter(|l| l.event == "start" && l.job_id == job_id)
            .collect()
    }

    pub fn count(&self, event: &str, job_id: &str) -> usize {
        self.lines
            .iter()
            .filter(|l| l.event == event && l.job_id == job_id)
            .count()
    }

    /// Number of `start` lines per job id.
    pub fn start_counts(&self) -> HashMap<String, usize> {
        let mut m = HashMap::new();
        for l in self.lines.iter().filter(|l| l.event == "start") {
            *m.entry(l.job_id.clone()).or_insert(0) += 1;
        }
        m
    }

    /// Ids with a `start` from process `pid`.
    pub fn started_by(&self, pid: u32) -> Vec<String> {
        self.lines
            .iter()
            .filter(|l| l.event == "start" && l.pid == pid)
            .map(|l| l.job_id.clone())
            .collect()
    }

    /// The runs of one job, pairing each start with the next end/cancel of the same try
    /// and process.
    pub fn runs(&self, job_id: &str) -> Vec<Run> {
        let mut runs: Vec<Run> = Vec::new();
        for l in self.lines.iter().filter(|l| l.job_id == job_id) {
            if l.event == "start" {
                runs.push(Run {
                    job_id: l.job_id.clone(),
                    job_try: l.job_try,
                    pid: l.pid,
                    start: l.ts,
                    end: None,
                    cancelled: false,
                });
            } else if let Some(r) = runs
                .iter_mut()
                .find(|r| r.end.is_none() && r.pid == l.pid && r.job_try == l.job_try)
            {
                r.end = Some(l.ts);
                r.cancelled = l.event == "cancel";
            }
        }
        runs
    }

    /// Every job id in the ledger.
    pub fn job_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.lines.iter().map(|l| l.job_id.clone()).collect();
        ids.sort();
        ids.dedup();
        ids
    }
}
