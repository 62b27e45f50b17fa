//! The invariant checker of every scenario. Inputs: the acknowledged enqueues, the ledger
//! and the final Redis state. It checks
//!
//! 1. L=0: each acknowledged job has a result (success or terminal failure) or is still
//!    queued, unless the scenario declares its loss;
//! 2. starts(j) <= 1 + the faults that hit j;
//! 3. no two overlapping start..end runs of one job, unless declared;
//! 4. no in-progress or retry key without a TTL, no abort marker of a finished job;
//!
//! and [`assert_text`] checks error texts (5) against logs, returned errors and results.

use super::ledger::{Ledger, Run};
use super::redis::RedisProc;
use arq::{JobResult, Pool};
use std::collections::{HashMap, HashSet};

/// Where an acknowledged job ended up.
#[derive(Debug, Clone)]
pub enum Fate {
    Succeeded(JobResult),
    Failed(JobResult, String),
    /// Still in the queue with its job record.
    Queued,
    Lost,
}

impl Fate {
    pub fn is_done(&self) -> bool {
        matches!(self, Fate::Succeeded(_) | Fate::Failed(..))
    }
    pub fn failure_text(&self) -> Option<&str> {
        match self {
            Fate::Failed(_, t) => Some(t),
            _ => None,
        }
    }
    pub fn result(&self) -> Option<&JobResult> {
        match self {
            Fate::Succeeded(r) | Fate::Failed(r, _) => Some(r),
            _ => None,
        }
    }
}

/// What a scenario declares about its faults.
#[derive(Debug, Default, Clone)]
pub struct Expect {
    /// Jobs whose loss is declared (e.g. queued when a Redis without persistence died).
    pub loss_allowed: HashSet<String>,
    /// Every job may be lost (for scenarios that only bound the loss).
    pub any_loss_allowed: bool,
    /// Faults that hit each job (extra starts allowed); `default_faults` for the rest.
    pub faults: HashMap<String, usize>,
    pub default_faults: usize,
    /// Jobs allowed to run concurrently with themselves (zombie workers, failover).
    pub overlap_allowed: HashSet<String>,
    pub any_overlap_allowed: bool,
    /// Every acknowledged job must be finished (not merely still queued).
    pub all_done: bool,
    /// When each worker process died (unix ms by pid): its unfinished runs end there.
    pub deaths: HashMap<u32, i64>,
}

/// The checker's findings.
#[derive(Debug)]
pub struct Report {
    pub fates: HashMap<String, Fate>,
    pub ledger: Ledger,
    pub violations: Vec<String>,
}

impl Report {
    pub fn assert_ok(&self) {
        assert!(
            self.violations.is_empty(),
            "{} invariant violation(s):\n  {}",
            self.violations.len(),
            self.violations.join("\n  ")
        );
    }

    pub fn fate(&self, id: &str) -> &Fate {
        &self.fates[id]
    }

    pub fn lost(&self) -> Vec<&String> {
        let mut v: Vec<_> = self
            .fates
            .iter()
            .filter(|(_, f)| matches!(f, Fate::Lost))
            .map(|(id, _)| id)
            .collect();
        v.sort();
        v
    }
}

/// Reads each acknowledged job's fate.
pub async fn fates(pool: &Pool, queue: &str, acked: &[String]) -> HashMap<String, Fate> {
    let mut out = HashMap::new();
    let mut set = tokio::task::JoinSet::new();
    for chunk in acked.chunks(256) {
        let pool = pool.clone();
        let queue = queue.to_owned();
        let chunk = chunk.to_vec();
        set.spawn(async move {
            let mut v = Vec::new();
            for id in chunk {
                let job = pool.job::<arq::Value>(&id).in_queue(&queue);
                let fate = match job.result_info().await.expect("read result") {
                    Some(r) if r.success => Fate::Succeeded(r),
                    Some(r) => {
                        let text = r
                            .failure()
                            .map(|f| format!("{}: {}", f.class, f.message))
                            .unwrap_or_default();
                        Fate::Failed(r, text)
                    }
                    None => {
                        // The raw record, so an undecodable one still counts as queued.
                        // (A key of another type is there too, just unreadable.)
                        let queued = pool
                            .backend()
                            .job_record(&id)
                            .await
                            .map(|j| j.is_some())
                            .unwrap_or(true)
                            && pool
                                .backend()
                                .score(&queue, &id)
                                .await
                                .expect("read score")
                                .is_some();
                        if queued {
                            Fate::Queued
                        } else {
                            Fate::Lost
                        }
                    }
                };
                v.push((id, fate));
            }
            v
        });
    }
    while let Some(r) = set.join_next().await {
        out.extend(r.unwrap());
    }
    out
}

/// Runs every check; see the module docs.
pub async fn check(
    redis: &RedisProc,
    pool: &Pool,
    queue: &str,
    acked: &[String],
    ledger: Ledger,
    expect: &Expect,
) -> Report {
    let fates = fates(pool, queue, acked).await;
    let mut violations = Vec::new();

    // 1. L=0
    for id in acked {
        match &fates[id] {
            Fate::Lost if !(expect.any_loss_allowed || expect.loss_allowed.contains(id)) => {
                violations.push(format!(
                    "L: acknowledged job {id} is lost (no result, not queued)"
                ))
            }
            Fate::Queued if expect.all_done => violations.push(format!("job {id} is still queued")),
            _ => {}
        }
    }

    // 2. starts(j) <= 1 + faults(j), for the acknowledged jobs
    let acked_set: HashSet<&String> = acked.iter().collect();
    let counts: HashMap<String, usize> = ledger
        .start_counts()
        .into_iter()
        .filter(|(id, _)| acked_set.contains(id))
        .collect();
    for (id, n) in &counts {
        let faults = expect
            .faults
            .get(id)
            .copied()
            .unwrap_or(expect.default_faults);
        if *n > 1 + faults {
            violations.push(format!(
                "D: job {id} started {n} times (allowed {}): {:?}",
                1 + faults,
                ledger.runs(id)
            ));
        }
    }

    // 3. no overlapping runs
    if !expect.any_overlap_allowed {
        for id in counts.keys() {
            if expect.overlap_allowed.contains(id) {
                continue;
            }
            let runs = ledger.runs(id);
            for (i, a) in runs.iter().enumerate() {
                for b in &runs[i + 1..] {
                    if overlaps(a, b, &expect.deaths) {
                        violations.push(format!(
                            "overlap: job {id} ran concurrently: {a:?} and {b:?}"
                        ));
                    }
                }
            }
        }
    }

    // 4. no stray keys
    for pattern in ["arq:in-progress:*", "arq:retry:*"] {
        for key in keys(redis, pattern) {
            let ttl = redis.cmd(&["PTTL", &key]).int().unwrap_or(-2);
            if ttl == -1 {
                violations.push(format!("stray key without TTL: {key}"));
            }
        }
    }
    let markers = redis.cmd(&["ZRANGE", "arq:abort", "0", "-1"]);
    if let super::resp::Resp::Array(Some(items)) = markers {
        for m in items {
            let id = m.text();
            if fates.get(&id).is_some_and(Fate::is_done) {
                violations.push(format!("abort marker left for finished job {id}"));
            }
        }
    }
    Report {
        fates,
        ledger,
        violations,
    }
}

fn end_of(r: &Run, deaths: &HashMap<u32, i64>) -> i64 {
    r.end
        .or_else(|| deaths.get(&r.pid).copied())
        .unwrap_or(i64::MAX)
}

fn overlaps(a: &Run, b: &Run, deaths: &HashMap<u32, i64>) -> bool {
    let (first, second) = if a.start <= b.start { (a, b) } else { (b, a) };
    end_of(first, deaths) > second.start
}

/// `KEYS pattern` on the test's own small server.
pub fn keys(redis: &RedisProc, pattern: &str) -> Vec<String> {
    match redis.cmd(&["KEYS", pattern]) {
        super::resp::Resp::Array(Some(items)) => items.iter().map(|i| i.text()).collect(),
        _ => Vec::new(),
    }
}

/// Asserts that `re` matches at least one of the texts (worker logs, returned errors,
/// stored failures): the "E:" of a scenario.
pub fn assert_text(re: &str, sources: &[(&str, &str)]) {
    let regex = regex::Regex::new(re).unwrap();
    if sources.iter().any(|(_, t)| regex.is_match(t)) {
        return;
    }
    let mut shown = String::new();
    for (name, t) in sources {
        let tail: Vec<&str> = t.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        shown.push_str(&format!("--- {name}:\n{}\n", tail.join("\n")));
    }
    panic!("no text matches /{re}/ in:\n{shown}");
}
