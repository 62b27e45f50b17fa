//! Fault scenarios S01–S09 of reliability.md §3.2: worker crashes, signals and shutdown,
//! zombie workers, and timeouts, with real worker processes (this test binary re-executed)
//! and the invariant checker of `tests/common/fault`.

use crate::fault;

use fault::{Expect, Fate, Scene};
use std::time::{Duration, Instant};

const LEASE: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(50);
/// Scheduling slack of two busy cores on top of a bound the design gives.
const SLACK: Duration = Duration::from_millis(400);

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:02}")).collect()
}

/// A small deterministic generator for kill delays.
fn lcg(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
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

/// Starts worker `name` and waits until it polls.
/// S02 (a) — exit right after the claim: the job function never ran there, and the job
/// runs once, on another worker, after the lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs the failpoints feature (--all-features)"
)]
async fn s02a_exit_after_claim_reruns_after_lease_without_a_start() {
    let mut sc = Scene::new("s02a").await;
    let id = "s02a-job".to_owned();
    sc.enqueue_sleep(std::slice::from_ref(&id), 200).await;
    let a = sc.spawn("A", sc.config().failpoints("after_claim=exit"));
    let status = sc.workers[a].wait_exit(Duration::from_secs(10));
    assert!(status.is_some(), "A did not exit at the failpoint");
    let died = sc.workers[a].died_ms.unwrap();
    assert!(sc.ledger().starts(&id).is_empty(), "A never ran the job");
    let b = sc.spawn("B", sc.config());
    let b_pid = sc.workers[b].pid;
    let start = sc
        .wait_event("start", &id, Some(b_pid), Duration::from_secs(15))
        .await
        .unwrap_or_else(|| panic!("B never ran the job:\n{}", sc.logs()));
    let after = start.ts - died;
    assert!(
        after >= LEASE.as_millis() as i64 - 300,
        "re-ran {after} ms after the crash, before the lease ({LEASE:?}) ran out"
    );
    assert!(
        after <= (LEASE + POLL + SLACK).as_millis() as i64,
        "re-ran {after} ms after the crash; bound lease + poll"
    );
    assert!(sc.wait_all_done(Duration::from_secs(10)).await);
    sc.check(Expect {
        all_done: true,
        ..Default::default()
    })
    .await
    .assert_ok();
    assert_eq!(sc.ledger().starts(&id).len(), 1, "D=0");
}

/// S02 (b) — exit after the function returned but before its result was stored: the
/// documented at-least-once window. The job runs twice (D=1), one result is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs the failpoints feature (--all-features)"
)]
async fn s02b_exit_before_finish_runs_twice_and_stores_one_result() {
    let mut sc = Scene::new("s02b").await;
    let id = "s02b-job".to_owned();
    sc.enqueue_sleep(std::slice::from_ref(&id), 200).await;
    let a = sc.spawn(
        "A",
        sc.config().failpoints("after_execute_before_finish=exit"),
    );
    assert!(
        sc.workers[a].wait_exit(Duration::from_secs(10)).is_some(),
        "A did not exit at the failpoint:\n{}",
        sc.logs()
    );
    let a_pid = sc.workers[a].pid;
    assert_eq!(sc.ledger().count("end", &id), 1, "A ran the job to its end");
    sc.spawn("B", sc.config());
    assert!(
        sc.wait_all_done(Duration::from_secs(15)).await,
        "{}",
        sc.logs()
    );
    let mut expect = Expect {
        all_done: true,
        ..Default::default()
    };
    expect.faults.insert(id.clone(), 1);
    let report = sc.check(expect).await;
    report.assert_ok();
    let runs = report.ledger.runs(&id);
    assert_eq!(runs.len(), 2, "D=1: {runs:?}");
    assert_eq!(runs[0].pid, a_pid);
    let result = report.fate(&id).result().expect("a result").clone();
    assert!(result.success);
    assert_eq!(
        result.job.job_try,
        Some(2),
        "the one result is the second run's"
    );
}

/// S02 (c) — the client dies just before sending an enqueue: nothing is enqueued, and the
/// caller never saw a success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs the failpoints feature (--all-features)"
)]
async fn s02c_exit_before_enqueue_is_sent_enqueues_nothing() {
    let sc = Scene::new("s02c").await;
    let out = fault::worker::run_enqueue(
        sc.path(),
        "client",
        &fault::worker::EnqueueConfig {
            url: sc.redis.url(),
            queue: sc.queue.clone(),
            ids: vec!["s02c-job".into()],
            ms: 10,
            defer: None,
            defer_until_offset: None,
            at_ms: None,
            failpoints: Some("enqueue_before_send=exit".into()),
            skew_secs: 0,
        },
    );
    assert!(
        !out.status.success(),
        "the client exited at the failpoint: {:?}\n{}",
        out.status,
        out.log
    );
    assert!(
        out.lines("ENQUEUED").is_empty(),
        "no success: {}",
        out.stdout
    );
    assert_eq!(sc.redis.dbsize(), 0, "nothing written");
    assert_eq!(sc.pool.queue_size(&sc.queue).await.unwrap(), 0);
}

/// S03 — SIGTERM with a job running and no completion wait: the worker exits at once with
/// status 0, logs arq's shutdown line, and another worker re-runs the job within a poll;
/// the cancelled run does not use up a try (max_tries = 1 still lets it run again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s03_sigterm_cancels_and_requeues_without_spending_a_try() {
    let mut sc = Scene::new("s03").await;
    let config = sc.config().max_tries(1);
    let a = sc.spawn_ready("A", config);
    let id = "s03-job".to_owned();
    sc.enqueue_sleep(std::slice::from_ref(&id), 3000).await;
    let a_pid = sc.workers[a].pid;
    sc.wait_event("start", &id, Some(a_pid), Duration::from_secs(10))
        .await
        .expect("A started the job");
    let config = sc.config().max_tries(1);
    let b = sc.spawn_ready("B", config);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sent = Instant::now();
    sc.workers[a].signal("TERM");
    let status = sc.workers[a]
        .wait_exit(Duration::from_secs(10))
        .expect("A exited");
    let took = sent.elapsed();
    assert!(status.success(), "exit status {status:?}");
    assert!(
        took <= Duration::from_secs(1),
        "A took {took:?} to exit after SIGTERM"
    );
    fault::assert_text(
        r"shutdown on SIGTERM .* \d+ ongoing to cancel",
        &[("A", &sc.workers[a].log_text())],
    );
    let b_pid = sc.workers[b].pid;
    let cancel = sc
        .wait_event("cancel", &id, Some(a_pid), Duration::from_secs(1))
        .await
        .expect("A's run was cancelled");
    let rerun = sc
        .wait_event("start", &id, Some(b_pid), Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("B never re-ran the job:\n{}", sc.logs()));
    let gap = rerun.ts - cancel.ts;
    assert!(
        gap <= (POLL + SLACK).as_millis() as i64,
        "B re-ran the job {gap} ms after A released it; bound: one poll ({POLL:?})"
    );
    assert!(sc.wait_all_done(Duration::from_secs(10)).await);
    let mut expect = Expect {
        all_done: true,
        ..Default::default()
    };
    expect.faults.insert(id.clone(), 1);
    let report = sc.check(expect).await;
    report.assert_ok();
    assert!(
        matches!(report.fate(&id), Fate::Succeeded(_)),
        "the shutdown did not use up the only try: {:?}",
        report.fate(&id)
    );
}

/// S04 — SIGTERM with `job_completion_wait`: the worker claims nothing more (a job enqueued
/// after the signal runs on B only), finishes its running job, then exits. D=0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s04_sigterm_with_completion_wait_drains() {
    let mut sc = Scene::new("s04").await;
    let cfg = sc.config().completion_wait(Duration::from_secs(5));
    let a = sc.spawn_ready("A", cfg.clone());
    let id = "s04-job".to_owned();
    sc.enqueue_sleep(std::slice::from_ref(&id), 3000).await;
    let a_pid = sc.workers[a].pid;
    sc.wait_event("start", &id, Some(a_pid), Duration::from_secs(10))
        .await
        .expect("A started the job");
    let b = sc.spawn_ready("B", cfg);
    tokio::time::sleep(Duration::from_secs(1)).await;
    sc.workers[a].signal("TERM");
    assert!(
        sc.workers[a].wait_log(r"shutdown on SIGTERM", Duration::from_secs(5)),
        "A did not start its shutdown:\n{}",
        sc.workers[a].log_text()
    );
    let later = "s04-later".to_owned();
    sc.enqueue_sleep(std::slice::from_ref(&later), 100).await;
    let status = sc.workers[a]
        .wait_exit(Duration::from_secs(10))
        .expect("A exited after draining");
    assert!(status.success(), "exit status {status:?}");
    assert!(sc.wait_all_done(Duration::from_secs(10)).await);
    let report = sc
        .check(Expect {
            all_done: true,
            ..Default::default()
        })
        .await;
    report.assert_ok();
    let runs = report.ledger.runs(&id);
    assert_eq!(runs.len(), 1, "D=0: {runs:?}");
    assert_eq!(runs[0].pid, a_pid);
    assert!(!runs[0].cancelled && runs[0].end.is_some(), "A finished it");
    let b_pid = sc.workers[b].pid;
    let later_runs = report.ledger.runs(&later);
    assert_eq!(later_runs.len(), 1);
    assert_eq!(later_runs[0].pid, b_pid, "A claimed nothing after SIGTERM");
}

/// S04 variant (sidekiq #4715): SIGKILL 0.5 s after SIGTERM, during the drain. The job is
/// recovered by its lease: L=0, D=1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s04_sigkill_during_drain_recovers_by_lease() {
    let mut sc = Scene::new("s04k").await;
    let cfg = sc.config().completion_wait(Duration::from_secs(5));
    let a = sc.spawn_ready("A", cfg.clone());
    let id = "s04k-job".to_owned();
    sc.enqueue_sleep(std::slice::from_ref(&id), 3000).await;
    let a_pid = sc.workers[a].pid;
    sc.wait_event("start", &id, Some(a_pid), Duration::from_secs(10))
        .await
        .expect("A started the job");
    let b = sc.spawn_ready("B", cfg);
    tokio::time::sleep(Duration::from_secs(1)).await;
    sc.workers[a].signal("TERM");
    assert!(
        sc.workers[a].wait_log(r"shutdown on SIGTERM", Duration::from_secs(5)),
        "A did not start its drain:\n{}",
        sc.workers[a].log_text()
    );
    sc.workers[a].kill9();
    let died = sc.workers[a].died_ms.unwrap();
    let b_pid = sc.workers[b].pid;
    let rerun = sc
        .wait_event("start", &id, Some(b_pid), Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("B never re-ran the job:\n{}", sc.logs()));
    assert!(
        rerun.ts - died <= (LEASE + POLL + SLACK).as_millis() as i64,
        "re-ran {} ms after the kill",
        rerun.ts - died
    );
    assert!(sc.wait_all_done(Duration::from_secs(10)).await);
    let mut expect = Expect {
        all_done: true,
        ..Default::default()
    };
    expect.faults.insert(id.clone(), 1);
    let report = sc.check(expect).await;
    report.assert_ok();
    assert_eq!(report.ledger.starts(&id).len(), 2, "D=1");
}

/// S04 variant: a second SIGTERM (or SIGINT) during the drain cancels at once; the job goes
/// back to the queue and B runs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s04_second_signal_cancels_at_once() {
    for (i, second) in ["TERM", "INT"].into_iter().enumerate() {
        let mut sc = Scene::new(&format!("s04s{i}")).await;
        let cfg = sc.config().completion_wait(Duration::from_secs(10));
        let a = sc.spawn_ready("A", cfg.clone());
        let id = format!("s04s{i}-job");
        sc.enqueue_sleep(std::slice::from_ref(&id), 5000).await;
        let a_pid = sc.workers[a].pid;
        sc.wait_event("start", &id, Some(a_pid), Duration::from_secs(10))
            .await
            .expect("A started the job");
        let b = sc.spawn_ready("B", cfg);
        sc.workers[a].signal("TERM");
        assert!(
            sc.workers[a].wait_log(r"shutdown on SIGTERM", Duration::from_secs(5)),
            "A did not start its drain:\n{}",
            sc.workers[a].log_text()
        );
        assert!(sc.workers[a].is_alive(), "A drains after the first signal");
        let sent = Instant::now();
        sc.workers[a].signal(second);
        let status = sc.workers[a]
            .wait_exit(Duration::from_secs(10))
            .expect("A exited");
        assert!(
            sent.elapsed() <= Duration::from_secs(1),
            "A took {:?} after the second signal (SIG{second})",
            sent.elapsed()
        );
        assert!(status.success(), "exit status {status:?}");
        let b_pid = sc.workers[b].pid;
        assert!(
            sc.wait_event("start", &id, Some(b_pid), Duration::from_secs(5))
                .await
                .is_some(),
            "B ran the released job:\n{}",
            sc.logs()
        );
        assert!(sc.wait_all_done(Duration::from_secs(10)).await);
        let mut expect = Expect {
            all_done: true,
            ..Default::default()
        };
        expect.faults.insert(id.clone(), 1);
        sc.check(expect).await.assert_ok();
    }
}

/// S05 — a poison pill that kills its worker process: with a supervisor restarting dead
/// workers, it is attempted max_tries (5) times, then fails for good with a clear text;
/// the normal jobs complete. A backlog of normal jobs is still waiting when the pill comes
/// back for its third try: from then on it is a repeat recovery and runs alone on an idle
/// worker, so no normal job dies with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s05_poison_pill_is_bounded_by_max_tries() {
    let mut sc = Scene::new("s05").await;
    let mut cfg = sc.config().max_tries(5);
    // Every worker has an on_job_failed hook, logged in the ledger.
    cfg.env.push(("ARQ_FAULT_HOOKS".into(), "1".into()));
    sc.spawn_ready("A", cfg.clone());
    sc.spawn_ready("B", cfg);
    let pill = "s05-pill".to_owned();
    fault::jobs::ledger_abort_process::enqueue(&sc.pool)
        .job_id(&pill)
        .queue_name(&sc.queue)
        .await
        .unwrap();
    sc.acked.push(pill.clone());
    // 400 × 300 ms on 20 slots: a backlog for about 6 s, past the pill's third claim
    // (two crashes and two leases in).
    let normal = ids("s05-normal", 400);
    sc.enqueue_sleep(&normal, 300).await;

    // The supervisor: restart any worker that died, until the pill has a result.
    let deadline = Instant::now() + Duration::from_secs(40);
    let job = sc.pool.job::<arq::Value>(&pill).in_queue(&sc.queue);
    let mut crashes = 0;
    loop {
        for i in 0..sc.workers.len() {
            if !sc.workers[i].is_alive() {
                crashes += 1;
                sc.respawn(i);
            }
        }
        if job.result_info().await.unwrap().is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the pill never failed for good ({crashes} crashes):\n{}",
            sc.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        sc.wait_all_done(Duration::from_secs(30)).await,
        "{}",
        sc.logs()
    );
    // It stays failed: no more runs after two more leases.
    tokio::time::sleep(LEASE * 2).await;
    let expect = Expect {
        all_done: true,
        default_faults: 5,
        ..Default::default()
    };
    let report = sc.check(expect).await;
    report.assert_ok();
    assert_eq!(
        report.ledger.starts(&pill).len(),
        5,
        "attempted max_tries times"
    );
    // Tries 3 to 5 are repeat recoveries: each ran alone, so the process it killed was
    // running nothing else (every other run there ended before the pill started).
    let runs: Vec<_> = report
        .ledger
        .job_ids()
        .iter()
        .flat_map(|id| report.ledger.runs(id))
        .collect();
    let repeats: Vec<_> = runs
        .iter()
        .filter(|r| r.job_id == pill && r.job_try >= 3)
        .collect();
    assert_eq!(
        repeats.iter().map(|r| r.job_try).collect::<Vec<_>>(),
        vec![3, 4, 5],
        "the pill's repeat recoveries"
    );
    for p in &repeats {
        let beside: Vec<String> = runs
            .iter()
            .filter(|r| r.job_id != pill && r.pid == p.pid && r.end.is_none_or(|e| e > p.start))
            .map(|r| format!("{} (try {})", r.job_id, r.job_try))
            .collect();
        assert!(
            beside.is_empty(),
            "the pill's try {} did not run alone: it killed pid {} with {beside:?}",
            p.job_try,
            p.pid
        );
    }
    let failure = report
        .fate(&pill)
        .failure_text()
        .expect("a terminal failure")
        .to_owned();
    for id in &normal {
        assert!(
            matches!(report.fate(id), Fate::Succeeded(_)),
            "normal job {id} did not complete: {:?}",
            report.fate(id).failure_text()
        );
    }
    // Killed on its last try, it lands in the dead set exactly once, and nothing else does.
    let dead = sc.pool.backend().dead_letters().expect("dead letters");
    let page = dead.dead_page(&sc.queue, 0, 100).await.unwrap();
    let ids: Vec<&str> = page.entries.iter().map(|e| e.job_id.as_str()).collect();
    assert_eq!(ids, [pill.as_str()], "the dead set holds the pill once");
    assert!(page.entries[0].job.is_some(), "with its job record");
    // Its failure hook ran once, across the workers it killed; the hook of a dead worker
    // would be run by another one, so wait out one hook lease check before counting.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let ledger = sc.ledger();
    assert_eq!(ledger.count("hook", &pill), 1, "on_job_failed ran once");
    let hooks: usize = ledger
        .job_ids()
        .iter()
        .map(|id| ledger.count("hook", id))
        .sum();
    assert_eq!(hooks, 1, "no hook for the jobs that succeeded");
    let err = job.result(Duration::from_secs(1)).await.unwrap_err();
    fault::assert_text(
        r"job \S+ failed: worker died while running it \(attempt 5 of 5\)",
        &[
            ("stored failure", &failure),
            ("returned error", &err.to_string()),
            ("worker logs", &sc.logs()),
        ],
    );
}

/// S06 — a zombie worker: SIGSTOP for 3 × lease mid-job, then SIGCONT. B takes the job over
/// once the lease lapses; A's late finish is refused by the fencing token and logged; the
/// result is B's, and A never deletes B's in-progress key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s06_stopped_worker_is_fenced_after_takeover() {
    let mut sc = Scene::new("s06").await;
    let config = sc.config();
    let a = sc.spawn_ready("A", config);
    let id = "s06-job".to_owned();
    // Long enough that B still runs it when A wakes up.
    sc.enqueue_sleep(std::slice::from_ref(&id), 6000).await;
    let a_pid = sc.workers[a].pid;
    sc.wait_event("start", &id, Some(a_pid), Duration::from_secs(10))
        .await
        .expect("A started the job");
    let config = sc.config();
    let b = sc.spawn_ready("B", config);
    let b_pid = sc.workers[b].pid;
    tokio::time::sleep(Duration::from_millis(500)).await;
    sc.workers[a].signal("STOP");
    let taken = sc
        .wait_event("start", &id, Some(b_pid), LEASE * 3)
        .await
        .unwrap_or_else(|| panic!("B never took the job over:\n{}", sc.logs()));
    assert_eq!(taken.job_try, 2);
    tokio::time::sleep(LEASE * 3 - Duration::from_millis(500)).await;
    sc.workers[a].signal("CONT");
    // While B runs, its in-progress key must stay.
    let key = format!("arq:in-progress:{id}");
    let mut b_done = false;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !b_done {
        assert!(
            Instant::now() < deadline,
            "B never finished the job:\n{}",
            sc.logs()
        );
        b_done = sc.ledger().count("end", &id) + sc.ledger().count("cancel", &id) > 0
            && sc
                .ledger()
                .runs(&id)
                .iter()
                .any(|r| r.pid == b_pid && r.end.is_some());
        if !b_done {
            let ttl = sc.redis.cmd(&["PTTL", &key]).int().unwrap();
            if sc
                .ledger()
                .runs(&id)
                .iter()
                .any(|r| r.pid == b_pid && r.end.is_none())
            {
                assert!(
                    ttl > 0,
                    "B's in-progress key vanished while B ran (PTTL {ttl})"
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(sc.wait_all_done(Duration::from_secs(10)).await);
    let mut expect = Expect {
        all_done: true,
        ..Default::default()
    };
    expect.faults.insert(id.clone(), 1);
    expect.overlap_allowed.insert(id.clone());
    let report = sc.check(expect).await;
    report.assert_ok();
    let result = report.fate(&id).result().unwrap().clone();
    assert!(result.success);
    assert_eq!(result.job.job_try, Some(2), "the stored result is B's");
    assert!(
        sc.workers[a].wait_log(
            r"lease for job \S+ lost.*result discarded",
            Duration::from_secs(5)
        ),
        "A's stale finish was not reported as fenced:\n{}",
        sc.workers[a].log_text()
    );
}

/// S05 (b) — a job that panics: the panic is caught, the job fails for good with the panic's
/// text (class `Panic`, not retried), its slot and lease are given back, and the worker goes
/// on running other jobs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s05b_panicking_job_fails_and_the_worker_lives_on() {
    let mut sc = Scene::new("s05b").await;
    // One slot: the jobs after the panic run only if its slot was freed.
    let config = sc.config().max_jobs(1);
    let a = sc.spawn_ready("A", config);
    let id = "s05b-panic".to_owned();
    fault::jobs::ledger_panic::enqueue(&sc.pool, "boom".to_owned())
        .job_id(&id)
        .queue_name(&sc.queue)
        .await
        .unwrap();
    sc.acked.push(id.clone());
    let after = ids("s05b-after", 3);
    sc.enqueue_sleep(&after, 50).await;
    assert!(
        sc.wait_all_done(Duration::from_secs(10)).await,
        "the panicking job (or the jobs after it) got no result:\n{}",
        sc.logs()
    );
    assert!(sc.workers[a].is_alive(), "the worker died of the panic");
    let report = sc
        .check(Expect {
            all_done: true,
            ..Default::default()
        })
        .await;
    report.assert_ok();
    assert_eq!(report.ledger.starts(&id).len(), 1, "a panic is not retried");
    let failure = report
        .fate(&id)
        .failure_text()
        .expect("a terminal failure")
        .to_owned();
    fault::assert_text(
        r"Panic.*ledger panic: boom",
        &[("stored failure", &failure)],
    );
    for l in &after {
        assert!(
            matches!(report.fate(l), Fate::Succeeded(_)),
            "{l} after the panic: {:?}",
            report.fate(l)
        );
    }
    assert!(
        fault::check::keys(&sc.redis, &format!("arq:in-progress:{id}")).is_empty(),
        "the panicking job's lease was kept"
    );
}

/// S06 (b) — a zombie that wakes while its copy still has long to run: its first heartbeat
/// finds the lease taken over (the renewal is refused because the token differs) and cancels
/// the copy at once, instead of running it to its end beside the new owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s06b_resumed_zombie_cancels_its_copy_at_once() {
    let mut sc = Scene::new("s06b").await;
    let config = sc.config();
    let a = sc.spawn_ready("A", config);
    let id = "s06b-job".to_owned();
    // A still has seconds of the job to run when it wakes up.
    sc.enqueue_sleep(std::slice::from_ref(&id), 8000).await;
    let a_pid = sc.workers[a].pid;
    sc.wait_event("start", &id, Some(a_pid), Duration::from_secs(10))
        .await
        .expect("A started the job");
    let config = sc.config();
    let b = sc.spawn_ready("B", config);
    let b_pid = sc.workers[b].pid;
    sc.workers[a].signal("STOP");
    let taken = sc
        .wait_event("start", &id, Some(b_pid), LEASE * 3)
        .await
        .unwrap_or_else(|| panic!("B never took the job over:\n{}", sc.logs()));
    assert_eq!(taken.job_try, 2);
    sc.workers[a].signal("CONT");
    let resumed = fault::now_ms();
    // The first beat after waking (due at once: its interval passed while stopped).
    let cancel = sc
        .wait_event("cancel", &id, Some(a_pid), LEASE)
        .await
        .unwrap_or_else(|| {
            panic!(
                "A ran its copy on after waking, beside B:\n{}",
                sc.workers[a].log_text()
            )
        });
    assert!(
        cancel.ts - resumed <= (LEASE / 4 + SLACK).as_millis() as i64,
        "A cancelled its copy {} ms after waking; one heartbeat is {:?}",
        cancel.ts - resumed,
        LEASE / 4
    );
    fault::assert_text(
        &format!(r"lost lease on job {id}; cancelling"),
        &[("A", &sc.workers[a].log_text())],
    );
    assert!(
        sc.ledger()
            .runs(&id)
            .iter()
            .any(|r| r.pid == b_pid && r.end.is_none()),
        "B's run had already ended: the test proves nothing"
    );
    assert!(sc.wait_all_done(Duration::from_secs(15)).await);
    let mut expect = Expect {
        all_done: true,
        ..Default::default()
    };
    expect.faults.insert(id.clone(), 1);
    expect.overlap_allowed.insert(id.clone());
    let report = sc.check(expect).await;
    report.assert_ok();
    let result = report.fate(&id).result().unwrap().clone();
    assert!(result.success);
    assert_eq!(result.job.job_try, Some(2), "the stored result is B's");
}

/// S07 — an await-bound job over its timeout is cancelled at the timeout (its drop guard
/// runs), fails for good with arq's text, and is not retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s07_await_bound_timeout_cancels_at_the_timeout() {
    let mut sc = Scene::new("s07").await;
    let config = sc.config().job_timeout(Duration::from_secs(1));
    sc.spawn_ready("A", config);
    let id = "s07-job".to_owned();
    sc.enqueue_sleep(std::slice::from_ref(&id), 5000).await;
    assert!(sc.wait_all_done(Duration::from_secs(10)).await);
    let report = sc
        .check(Expect {
            all_done: true,
            ..Default::default()
        })
        .await;
    report.assert_ok();
    let runs = report.ledger.runs(&id);
    assert_eq!(runs.len(), 1, "D=0, no retry: {runs:?}");
    assert!(runs[0].cancelled, "the job saw its cancellation");
    let ran = runs[0].end.unwrap() - runs[0].start;
    assert!(
        (900..=(Duration::from_secs(1) + POLL + SLACK).as_millis() as i64).contains(&ran),
        "cancelled after {ran} ms; timeout 1 s"
    );
    let failure = report.fate(&id).failure_text().expect("failed").to_owned();
    fault::assert_text(
        r"job \S+ timed out after 1\.0s",
        &[("stored failure", &failure), ("worker logs", &sc.logs())],
    );
}

/// S08 — a job that blocks its thread past its timeout cannot be pre-empted, but the lease
/// heartbeat (its own thread) keeps the job from being taken over (D=0); a watchdog warns
/// while it overruns; the failure says it did not yield. With `watchdog`, the helper waits
/// for the warning while the job still runs (before its ledger `end`).
async fn s08_blocking(function: &str, ms: u64, watchdog: bool) -> (Scene, String) {
    let mut sc = Scene::new(&format!("s08-{function}")).await;
    let cfg = sc.config().job_timeout(Duration::from_secs(1));
    sc.spawn_ready("A", cfg.clone());
    sc.spawn_ready("B", cfg);
    let id = format!("s08-{function}");
    sc.pool
        .enqueue_job(function, vec![arq::Value::from(ms as i64)])
        .job_id(&id)
        .queue_name(&sc.queue)
        .await
        .unwrap();
    sc.acked.push(id.clone());
    sc.wait_event("start", &id, None, Duration::from_secs(10))
        .await
        .expect("started");
    if watchdog {
        let re = regex::Regex::new(&format!(
            r"WARN.*{id}.*(overr|exceed|timeout|yield)|WARN.*(overr|exceed|timeout|yield).*{id}"
        ))
        .unwrap();
        let warned = fault::wait_until(Duration::from_millis(ms), || async {
            re.is_match(&sc.logs())
        })
        .await;
        assert!(
            warned,
            "no watchdog warning while {id} overran its timeout:\n{}",
            sc.logs()
        );
        assert_eq!(
            sc.ledger().count("end", &id),
            0,
            "the warning came only after the job returned:\n{}",
            sc.logs()
        );
    }
    assert!(
        sc.wait_all_done(Duration::from_secs(15)).await,
        "{}",
        sc.logs()
    );
    let report = sc
        .check(Expect {
            all_done: true,
            ..Default::default()
        })
        .await;
    report.assert_ok();
    assert_eq!(
        report.ledger.starts(&id).len(),
        1,
        "D=0: no second worker started the job while it blocked: {:?}",
        report.ledger.runs(&id)
    );
    let failure = report.fate(&id).failure_text().expect("failed").to_owned();
    (sc, failure)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s08a_thread_sleep_past_timeout_is_not_taken_over() {
    let (sc, failure) = s08_blocking("ledger_cpu", 5000, true).await;
    fault::assert_text(
        r"job \S+ exceeded timeout 1\.0s \(ran 5\.\ds; the job did not yield\)",
        &[("stored failure", &failure), ("worker logs", &sc.logs())],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s08a_busy_loop_past_timeout_is_not_taken_over() {
    let (sc, failure) = s08_blocking("ledger_cpu_busy", 5000, true).await;
    fault::assert_text(
        r"job \S+ exceeded timeout 1\.0s \(ran 5\.\ds; the job did not yield\)",
        &[("stored failure", &failure), ("worker logs", &sc.logs())],
    );
}

/// S08 (b), `spawn_blocking`: the job's own future yields while it awaits the blocking
/// pool, so it does not overrun: it is cancelled at its timeout (no watchdog warning is
/// due) and fails as timed out while the blocking work runs on; it is not taken over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s08b_spawn_blocking_past_timeout_is_not_taken_over() {
    let (sc, failure) = s08_blocking("ledger_blocking_pool", 5000, false).await;
    fault::assert_text(
        r"job \S+ timed out after 1\.0s",
        &[("stored failure", &failure), ("worker logs", &sc.logs())],
    );
    let id = "s08-ledger_blocking_pool";
    let runs = sc.ledger().runs(id);
    let run = &runs[0];
    assert!(
        run.cancelled
            && run.end.unwrap() - run.start
                <= (Duration::from_secs(1) + POLL + SLACK).as_millis() as i64,
        "cancelled at the timeout, not when the blocking work returned: {run:?}"
    );
    assert!(
        !regex::Regex::new(&format!(
            r"WARN.*{id}.*did not yield|WARN.*{id}.*without yielding"
        ))
        .unwrap()
        .is_match(&sc.logs()),
        "a watchdog warning for a job that yields:\n{}",
        sc.logs()
    );
}

/// S09 — a job running for 10 leases with a healthy heartbeat: its lease never lapses
/// (PTTL sampled every 100 ms stays > 0) and no one else starts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s09_long_job_keeps_its_lease() {
    let lease = Duration::from_secs(1);
    let mut sc = Scene::new("s09").await;
    let cfg = sc
        .config()
        .lease(lease)
        .job_timeout(Duration::from_secs(60));
    sc.spawn_ready("A", cfg.clone());
    sc.spawn_ready("B", cfg);
    let id = "s09-job".to_owned();
    sc.enqueue_sleep(std::slice::from_ref(&id), 10 * lease.as_millis() as u64)
        .await;
    sc.wait_event("start", &id, None, Duration::from_secs(10))
        .await
        .expect("started");
    let key = format!("arq:in-progress:{id}");
    let mut samples = 0;
    loop {
        let ttl = sc.redis.cmd(&["PTTL", &key]).int().unwrap();
        if sc.ledger().count("end", &id) > 0 {
            break;
        }
        assert!(
            ttl > 0,
            "the lease lapsed after {samples} samples (PTTL {ttl}):\n{}",
            sc.logs()
        );
        samples += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(samples >= 80, "sampled {samples} times");
    assert!(sc.wait_all_done(Duration::from_secs(5)).await);
    let report = sc
        .check(Expect {
            all_done: true,
            ..Default::default()
        })
        .await;
    report.assert_ok();
    assert_eq!(report.ledger.starts(&id).len(), 1, "D=0");
}
