//! Fault scenarios S29–S30 of reliability.md §3.2: cron on several workers whose clocks
//! disagree, and clock skew in general. Worker processes run under libfaketime
//! (`FAKETIME_DONT_FAKE_MONOTONIC=1`, the `faketime` package) with their wall clocks moved;
//! the ledger corrects its timestamps, so every check is on the real (Redis) clock.

use crate::fault;

use fault::{Expect, Scene};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(50);
const SLACK: Duration = Duration::from_millis(400);

fn start_all_ready(sc: &mut Scene, from: usize) {
    for w in &sc.workers[from..] {
        assert!(
            w.wait_log("worker ready", Duration::from_secs(20)),
            "worker {} did not start:\n{}",
            w.name,
            w.log_text()
        );
    }
}

/// Checks that a worker really runs with its clock moved: the timestamps of its log lines
/// (its own wall clock) are off from ours by the skew.
fn assert_skewed(w: &fault::WorkerProc, skew_secs: i64) {
    let log = w.log_text();
    // The last stamped line against the file's modification time (on our clock).
    let stamp = log
        .lines()
        .rev()
        .find_map(|l| {
            let at = l.find("20")?;
            chrono::DateTime::parse_from_rfc3339(l[at..].split_whitespace().next()?).ok()
        })
        .unwrap_or_else(|| panic!("no timestamp in the log of {}:\n{log}", w.name));
    let written = std::fs::metadata(&w.log).unwrap().modified().unwrap();
    let written_ms = written
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let off = (stamp.timestamp_millis() - written_ms) as f64 / 1000.0;
    assert!(
        (off - skew_secs as f64).abs() < 1.0,
        "worker {} runs {off:.1}s off, expected {skew_secs}s",
        w.name
    );
}

/// The tick second of a cron job id `cron:fault_tick:<ms>`.
fn tick_second(job_id: &str) -> Option<i64> {
    let ms: i64 = job_id.strip_prefix("cron:fault_tick:")?.parse().ok()?;
    Some(ms.div_euclid(1000))
}

/// S29 — a per-second cron on 4 workers, one 3 s behind and one 2 s ahead, with one worker
/// restarted mid-tick: exactly one run per tick over 60 ticks. Ticks missed while every
/// worker was down are not caught up (the documented policy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s29_cron_runs_each_tick_once_across_skewed_workers() {
    let mut sc = Scene::new("s29").await;
    let base = sc
        .config()
        .cron(true)
        .completion_wait(Duration::from_secs(1));
    for (name, skew) in [("W0", 0), ("W1", -3), ("W2", 2), ("W3", 0)] {
        // W1 logs what became of each tick it tried to enqueue (for the stall at ~30 s).
        sc.spawn(
            name,
            base.clone()
                .skew_secs(skew)
                .env("RUST_LOG", "info,arq_core::cron=debug"),
        );
    }
    start_all_ready(&mut sc, 0);
    assert_skewed(&sc.workers[1], -3);
    assert_skewed(&sc.workers[2], 2);
    let t0 = fault::now_ms();
    let run_for = |secs: u64| t0 + secs as i64 * 1000;

    // At ~20 s, restart W3 just after a tick fired (mid-tick).
    let at = run_for(20);
    let wait = (at - fault::now_ms()).max(0) as u64;
    tokio::time::sleep(Duration::from_millis(
        wait + (1130 - (at % 1000) as u64) % 1000,
    ))
    .await;
    sc.workers[3].signal("TERM");
    assert!(sc.workers[3].wait_exit(Duration::from_secs(5)).is_some());
    sc.respawn(3);
    start_all_ready(&mut sc, 3);

    // At ~30 s, stall W1 (3 s behind) across a tick T: it wakes once T has run and its job
    // is gone (no result is kept), with T still inside its look-ahead window. T's claimed-tick
    // marker makes it refuse to enqueue T again.
    let tick = run_for(30).div_euclid(1000) + 1;
    let wait = (tick * 1000 - 1300 - fault::now_ms()).max(0) as u64;
    tokio::time::sleep(Duration::from_millis(wait)).await;
    sc.workers[1].signal("STOP");
    let deadline = Instant::now() + Duration::from_secs(5);
    let tick_id = loop {
        let ended = sc
            .ledger()
            .lines
            .into_iter()
            .find(|l| l.event == "end" && tick_second(&l.job_id) == Some(tick));
        if let Some(l) = ended {
            break l.job_id;
        }
        assert!(
            Instant::now() < deadline,
            "tick {tick} never ran while W1 was stopped:\n{}",
            sc.logs()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    sc.workers[1].signal("CONT");
    let woke = fault::now_ms();
    let seen = regex::Regex::new(&format!(
        r"cron: (enqueued|tick already claimed|job already enqueued)[^\n]*{tick_id}\b|{tick_id}\b[^\n]*cron: (enqueued|tick already claimed|job already enqueued)"
    ))
    .unwrap();
    assert!(
        sc.workers[1].wait_log(seen.as_str(), Duration::from_secs(5)),
        "W1 did not try tick {tick_id} after waking:\n{}",
        sc.workers[1].log_text()
    );
    let tick_ms: i64 = tick_id
        .strip_prefix("cron:fault_tick:")
        .and_then(|ms| ms.parse().ok())
        .unwrap();
    assert!(
        woke < tick_ms + 1000,
        "W1 woke too late for tick {tick_id} to be in its look-ahead window"
    );
    let line = seen
        .find(&sc.workers[1].log_text())
        .map(|m| m.as_str().to_owned())
        .unwrap();
    assert!(
        line.contains("tick already claimed"),
        "W1 enqueued tick {tick_id} again after it ran: {line}"
    );
    assert_eq!(
        sc.redis.cmd(&["ZSCORE", &sc.queue, &tick_id]).text(),
        "",
        "tick {tick_id} is queued again"
    );

    // At ~45 s, stop every worker for 3 s.
    let wait = (run_for(45) - fault::now_ms()).max(0) as u64;
    tokio::time::sleep(Duration::from_millis(wait)).await;
    for w in sc.workers.iter_mut() {
        w.signal("TERM");
    }
    for w in sc.workers.iter_mut() {
        assert!(w.wait_exit(Duration::from_secs(5)).is_some());
    }
    let all_down = fault::now_ms();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let back_at = fault::now_ms();
    for i in 0..sc.workers.len() {
        sc.respawn(i);
    }
    start_all_ready(&mut sc, 0);
    let all_up = fault::now_ms();
    let wait = (run_for(64) - fault::now_ms()).max(0) as u64;
    tokio::time::sleep(Duration::from_millis(wait)).await;
    let end = fault::now_ms();

    let ledger = sc.ledger();
    let mut runs: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for l in ledger.lines.iter().filter(|l| l.event == "start") {
        if let Some(s) = tick_second(&l.job_id) {
            runs.entry(s)
                .or_default()
                .push(format!("{} (pid {})", l.job_id, l.pid));
        }
    }
    let twice: Vec<_> = runs.iter().filter(|(_, v)| v.len() > 1).collect();
    assert!(twice.is_empty(), "ticks that ran more than once: {twice:?}");
    // Every tick while some worker was up ran; none of the gap was caught up.
    let first = t0.div_euclid(1000) + 2;
    let last = end.div_euclid(1000) - 2;
    let mut missing = Vec::new();
    let mut caught_up = Vec::new();
    let mut checked = 0;
    for s in first..=last {
        let in_gap = s * 1000 > all_down + 1000 && s * 1000 + 1000 < all_up;
        let near_gap = s * 1000 >= all_down - 2000 && s * 1000 <= all_up + 2000;
        match (in_gap, runs.contains_key(&s)) {
            (true, true) => caught_up.push(s),
            (false, false) if !near_gap => missing.push(s),
            _ => {}
        }
        if !near_gap {
            checked += 1;
        }
    }
    assert!(checked >= 50, "only {checked} ticks checked");
    assert!(
        missing.is_empty(),
        "ticks that never ran: {missing:?} (of {first}..={last})\n{}",
        sc.logs()
    );
    assert!(
        caught_up.is_empty(),
        "ticks missed while every worker was down ({all_down}..{back_at}) were run late: \
         {caught_up:?}"
    );
    // The cron jobs keep no results; their in-progress keys expire.
    let report = sc.check(Expect::default()).await;
    report.assert_ok();
}

/// S30 — workers 120 s behind, on time and 120 s ahead: no job runs before it is due by the
/// Redis clock, deferred retries wait their full deferral, leases do not expire early (no
/// job runs twice), and a client whose clock is off is warned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s30_clock_skew_does_not_move_due_times_or_leases() {
    let mut sc = Scene::new("s30").await;
    let base = sc.config();
    for (name, skew) in [("behind", -120), ("on-time", 0), ("ahead", 120)] {
        sc.spawn(name, base.clone().skew_secs(skew));
    }
    start_all_ready(&mut sc, 0);
    assert_skewed(&sc.workers[0], -120);
    assert_skewed(&sc.workers[2], 120);
    let mut due = Vec::new();
    for i in 0..6 {
        let id = format!("s30-deferred-{i}");
        fault::jobs::ledger_sleep::enqueue(&sc.pool, 3000)
            .job_id(&id)
            .queue_name(&sc.queue)
            .defer_by(Duration::from_secs(5))
            .await
            .unwrap();
        let score: i64 = sc
            .redis
            .cmd(&["ZSCORE", &sc.queue, &id])
            .text()
            .parse::<f64>()
            .unwrap() as i64;
        due.push((id.clone(), score));
        sc.acked.push(id);
    }
    let retries: Vec<String> = (0..3).map(|i| format!("s30-retry-{i}")).collect();
    for id in &retries {
        fault::jobs::ledger_retry::enqueue(&sc.pool, 5000, 2)
            .job_id(id)
            .queue_name(&sc.queue)
            .await
            .unwrap();
        sc.acked.push(id.clone());
    }
    // A client 120 s ahead defers by "30 s" on its own clock.
    let out = fault::worker::run_enqueue(
        sc.path(),
        "skewed-client",
        &fault::worker::EnqueueConfig {
            url: sc.redis.url(),
            queue: "fault:s30-other".into(),
            ids: vec!["s30-skewed-client".into()],
            ms: 10,
            defer: None,
            defer_until_offset: Some(Duration::from_secs(30)),
            at_ms: None,
            failpoints: None,
            skew_secs: 120,
        },
    );
    assert_eq!(
        out.lines("ENQUEUED").len(),
        1,
        "{}\n{}",
        out.stdout,
        out.log
    );

    let started = Instant::now();
    assert!(
        sc.wait_all_done(Duration::from_secs(20)).await,
        "{}",
        sc.logs()
    );
    let report = sc
        .check(Expect {
            all_done: true,
            default_faults: 0,
            ..Default::default()
        })
        .await;
    // Retry jobs start twice by design (one start per try); everything else once.
    let violations: Vec<&String> = report
        .violations
        .iter()
        .filter(|v| {
            !retries
                .iter()
                .any(|r| v.contains(&format!("job {r} started 2 times")))
        })
        .collect();
    assert!(violations.is_empty(), "{violations:?}");
    for (id, score) in &due {
        let runs = report.ledger.runs(id);
        assert_eq!(runs.len(), 1, "{id} ran once (no lease takeover): {runs:?}");
        let early = score - runs[0].start;
        assert!(
            early <= 5,
            "{id} started {early} ms before it was due (pid {})",
            runs[0].pid
        );
        let late = runs[0].start - score;
        assert!(
            late <= (POLL + SLACK).as_millis() as i64,
            "{id} started {late} ms after it was due"
        );
    }
    for id in &retries {
        let runs = report.ledger.runs(id);
        assert_eq!(runs.len(), 2, "{id}: {runs:?}");
        let gap = runs[1].start - runs[0].end.unwrap();
        assert!(gap >= 4990, "{id} ran again {gap} ms after asking for 5 s");
    }
    eprintln!("S30 settled in {:?}", started.elapsed());
    fault::assert_text(r"clock skew of \d+s", &[("skewed client", &out.log)]);
}
