//! Fault scenarios S01–S09 of reliability.md §3.2: worker crashes, signals and shutdown,
//! zombie workers, and timeouts, with real worker processes (this test binary re-executed)
//! and the invariant checker of `tests/common/fault`.

#[path = "common/fault/mod.rs"]
mod fault;

use fault::{Expect, Fate, Scene};
use std::time::{Duration, Instant};

/// Not a test of its own: the entry point of the worker processes.
#[test]
fn fault_worker_child() {
    fault::worker::child_main();
}

const LEASE: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(50);
/// Scheduling slack of two busy cores on top of a bound the design gives.
const SLACK: Duration = Duration::from_millis(400);

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:02}")).collect()
}

/// A small deterministic generator for kill delays.
fn lcg(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x >> 33
    }
}

/// S01, one iteration: 20 × ledger_sleep(3000); SIGKILL worker A once it has ≥3 jobs
/// started, after a random delay. Returns a line for the summary.
async fn s01_iteration(iteration: u64) -> String {
    let mut rnd = lcg(iteration + fault::now_ms() as u64);
    let mut sc = Scene::new(&format!("s01-{iteration}")).await;
    let a = sc.spawn("A", sc.config().max_jobs(10));
    assert!(sc.workers[a].wait_log("worker ready", Duration::from_secs(10)));
    let jobs = ids(&format!("s01-{iteration}"), 20);
    sc.enqueue_sleep(&jobs, 3000).await;
    let a_pid = sc.workers[a].pid;
    assert!(
        fault::wait_until(Duration::from_secs(10), || async {
            sc.ledger().started_by(a_pid).len() >= 3
        })
        .await,
        "A never started 3 jobs:\n{}",
        sc.logs()
    );
    // B takes the rest and has room for A's jobs.
    let b = sc.spawn("B", sc.config().max_jobs(30));
    let delay = rnd() % 2500;
    tokio::time::sleep(Duration::from_millis(delay)).await;
    sc.workers[a].kill9();
    let killed_at = sc.workers[a].died_ms.unwrap();

    assert!(
        sc.wait_all_done(Duration::from_secs(25)).await,
        "not every job finished:\n{}",
        sc.logs()
    );
    let b_pid = sc.workers[b].pid;
    let ledger = sc.ledger();
    // Jobs A was running when it died: started on A, no end on A.
    let killed: Vec<String> = jobs
        .iter()
        .filter(|id| {
            ledger
                .runs(id)
                .iter()
                .any(|r| r.pid == a_pid && r.end.is_none())
        })
        .cloned()
        .collect();
    let on_a: Vec<String> = ledger.started_by(a_pid);
    let mut expect = Expect {
        all_done: true,
        ..Default::default()
    };
    for id in &on_a {
        expect.faults.insert(id.clone(), 1);
    }
    let report = sc.check(expect).await;
    report.assert_ok();
    for id in &killed {
        let runs = report.ledger.runs(id);
        assert_eq!(runs.len(), 2, "killed job {id} runs: {runs:?}");
        let rerun = &runs[1];
        assert_eq!(rerun.pid, b_pid, "{id} re-ran on B");
        assert_eq!(rerun.job_try, 2, "{id} re-ran as try 2");
        let after = rerun.start - killed_at;
        assert!(
            after <= (LEASE + POLL + SLACK).as_millis() as i64,
            "{id} re-ran {after} ms after the kill; the bound is lease + poll ({:?})\n{}",
            LEASE + POLL,
            sc.logs()
        );
        assert!(matches!(report.fate(id), Fate::Succeeded(_)));
    }
    for id in jobs.iter().filter(|id| !on_a.contains(id)) {
        assert_eq!(report.ledger.starts(id).len(), 1, "untouched {id} ran once");
    }
    let left = fault::check::keys(&sc.redis, "arq:in-progress:*");
    assert!(left.is_empty(), "in-progress keys remain: {left:?}");
    format!(
        "iteration {iteration}: kill after {delay} ms, {} jobs killed",
        killed.len()
    )
}

/// S01 — kill -9 of a worker mid-job, 10 iterations with random kill delays (5 at a time,
/// each on its own Redis).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s01_kill9_mid_job_reruns_within_lease() {
    let started = Instant::now();
    let mut lines = Vec::new();
    for batch in 0..2u64 {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..5u64 {
            set.spawn(s01_iteration(batch * 5 + i));
        }
        while let Some(r) = set.join_next().await {
            match r {
                Ok(line) => lines.push(line),
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
    }
    eprintln!("S01 in {:?}:\n{}", started.elapsed(), lines.join("\n"));
}
