//! Event streams through the pool, on a private redis-server and on the memory backend: a
//! job's whole lifecycle arrives in order with its data, a stream starts where it is told
//! to, `Job::progress` reads what a job reported, and a real worker's run shows up (with
//! `Job::result` waiting on it). On Redis only: a stream survives its connection being killed
//! and the server restarting (with persistence), losing and repeating no event; and
//! `arq-cli events`.
//!
//! The steps are driven through `Backend` directly (claim, progress, retry, snooze, finish),
//! so each event is known exactly; the CLI process is this test binary itself, re-run with
//! `ARQ_TEST_CHILD_ARGS` set (as in `tests/cli.rs`).

mod common;

use arq::backend::{
    ClaimRequest, ClaimedJob, DeadLimits, FinalFailure, FinishOutcome, FinishRequest,
    ProgressRequest, RetryRequest, SnoozeOutcome, SnoozeRequest,
};
use arq::{Ctx, EventKind, EventStream, JobEvent, Pool, Value};
use arq_test_support::{Config, Persistence, RedisServer};
use common::TestRedis;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a test runs on: a pool (writing no events itself), and the server behind it.
struct Env {
    pool: Pool,
    _redis: Option<TestRedis>,
}

async fn redis_env() -> Env {
    let redis = TestRedis::start();
    Env {
        pool: redis.pool().await,
        _redis: Some(redis),
    }
}

fn memory_env() -> Env {
    Env {
        pool: Pool::memory(),
        _redis: None,
    }
}

/// One `#[tokio::test]` per behaviour and backend: `redis::<name>` and `memory::<name>`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod redis {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $name() {
                super::$name(super::redis_env().await).await
            })*
        }
        mod memory {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $name() {
                super::$name(super::memory_env()).await
            })*
        }
    };
}

on_both!(
    a_lifecycle_arrives_in_order_with_its_data,
    a_stream_starts_where_it_is_told,
    job_progress_reads_the_last_value_reported,
    a_workers_run_shows_up_and_result_waits_on_it,
);

const EVENTS: u64 = 10_000;

/// The next event, within 10 s.
async fn next(s: &mut EventStream) -> JobEvent {
    match tokio::time::timeout(Duration::from_secs(10), s.next()).await {
        Ok(Some(Ok(e))) => e,
        Ok(other) => panic!("the stream gave {other:?}"),
        Err(_) => panic!("no event within 10 s (last id {:?})", s.last_id()),
    }
}

/// `(ms, seq)` of a stream id, to compare ids.
fn id_key(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap();
    (ms.parse().unwrap(), seq.parse().unwrap())
}

async fn claim(pool: &Pool, queue: &str, seq: u64) -> ClaimedJob {
    let mut claimed = pool
        .backend()
        .claim(&ClaimRequest {
            queue: queue.into(),
            limit: 1,
            scan_limit: 10,
            token_prefix: "test-worker".into(),
            seq,
            idle: true,
            alone_from_try: 3,
            lease_ms: 60_000,
            check_abort: false,
            events: pool.events_max_len(),
        })
        .await
        .unwrap();
    assert_eq!(claimed.jobs.len(), 1, "claim {seq} took a job");
    claimed.jobs.remove(0)
}

fn progress_req(pool: &Pool, queue: &str, j: &ClaimedJob, v: &Value) -> ProgressRequest {
    ProgressRequest {
        queue: queue.into(),
        job_id: j.job_id.clone(),
        token: j.token.clone(),
        value: pool.codec().encode(v).unwrap(),
        ttl_ms: 60_000,
        events: pool.events_max_len(),
    }
}

fn progress_value() -> Value {
    Value::Map(vec![
        (Value::Str("done".into()), Value::Int(3)),
        (Value::Str("of".into()), Value::Int(4)),
    ])
}

async fn a_lifecycle_arrives_in_order_with_its_data(env: Env) {
    let pool = env.pool.clone().with_events(EVENTS);
    let q = "events:lifecycle";
    let mut s = pool.events(q).await;
    let job = pool
        .enqueue_job("resize", vec![])
        .job_id("j")
        .queue_name(q)
        .await
        .unwrap();

    let c1 = claim(&pool, q, 1).await;
    assert!(pool
        .backend()
        .progress(&progress_req(&pool, q, &c1, &progress_value()))
        .await
        .unwrap());
    let retried = RetryRequest {
        queue: q.into(),
        job_id: "j".into(),
        token: c1.token.clone(),
        defer_ms: 0,
        job_try: c1.job_try,
        events: pool.events_max_len(),
        error: Some("ConnectionError: reset".into()),
    };
    assert!(pool.backend().retry(&retried).await.unwrap());
    let c2 = claim(&pool, q, 2).await;
    let snoozed = pool
        .backend()
        .snooze(&SnoozeRequest {
            queue: q.into(),
            job_id: "j".into(),
            token: c2.token.clone(),
            defer_ms: 1,
            max_snoozes: 5,
            job_try: c2.job_try,
            events: pool.events_max_len(),
        })
        .await
        .unwrap();
    assert_eq!(snoozed, SnoozeOutcome::Snoozed(1));
    tokio::time::sleep(Duration::from_millis(10)).await;
    let c3 = claim(&pool, q, 3).await;
    let failed = arq::JobFailure::new("ValueError", "bad image");
    let record = arq::wire::ResultRecord {
        job_try: c3.job_try,
        function: "resize".into(),
        args: vec![],
        kwargs: vec![],
        enqueue_time_ms: arq::time::now_ms(),
        success: false,
        result: Value::Str(failed.to_text()),
        start_ms: arq::time::now_ms(),
        finish_ms: arq::time::now_ms(),
        queue: q.into(),
        job_id: "j".into(),
    };
    let record = pool.codec().encode(&record.to_value()).unwrap();
    let written = pool
        .backend()
        .finish(&[FinishRequest {
            queue: q.into(),
            job_id: "j".into(),
            token: c3.token.clone(),
            result: Some(record.clone()),
            keep_result_ms: Some(60_000),
            keep_in_progress_ms: None,
            outcome: FinishOutcome::Failed,
            job_try: c3.job_try,
            failure: Some(FinalFailure {
                job: c3.payload.clone(),
                record,
                dead: Some(DeadLimits {
                    max_len: 100,
                    max_age_ms: 86_400_000,
                }),
                hook_lease_ms: None,
            }),
            events: pool.events_max_len(),
            error: Some(failed.to_text()),
        }])
        .await
        .unwrap();
    assert_eq!(written, [true]);
    let requeued = pool.requeue_dead(q, ["j"]).await.unwrap();
    assert_eq!(requeued[0].1, arq::RequeueOutcome::Requeued);
    assert!(job.abort(None).await.unwrap());

    let expected: [(EventKind, Option<i64>); 11] = [
        (EventKind::Enqueued, None),
        (EventKind::Started, Some(1)),
        (EventKind::Progress, None),
        (EventKind::Retried, Some(1)),
        (EventKind::Started, Some(2)),
        (EventKind::Snoozed, Some(2)),
        (EventKind::Started, Some(2)),
        (EventKind::Failed, Some(2)),
        (EventKind::Dead, Some(2)),
        (EventKind::Requeued, None),
        (EventKind::Aborted, None),
    ];
    let mut got = Vec::new();
    for _ in 0..expected.len() {
        got.push(next(&mut s).await);
    }
    let kinds: Vec<(EventKind, Option<i64>)> = got.iter().map(|e| (e.kind, e.job_try)).collect();
    assert_eq!(kinds, expected);
    assert!(got.iter().all(|e| e.job_id == "j"));
    for pair in got.windows(2) {
        assert!(id_key(&pair[0].id) < id_key(&pair[1].id), "ids increase");
        assert!(pair[0].time <= pair[1].time, "times do not go back");
    }
    let now = chrono::Utc::now();
    assert!(
        (now - got[0].time).num_seconds().abs() < 30,
        "{}",
        got[0].time
    );
    // The data of each.
    assert_eq!(got[2].progress, Some(progress_value()));
    assert_eq!(got[3].error.as_deref(), Some("ConnectionError: reset"));
    assert_eq!(got[5].defer, Some(Duration::from_millis(1)));
    assert_eq!(got[7].error.as_deref(), Some("ValueError: bad image"));
    assert_eq!(got[8].error.as_deref(), Some("ValueError: bad image"));
    for (i, e) in got.iter().enumerate() {
        assert_eq!(e.problem, None, "event {i}");
        if ![2, 3, 5, 7, 8].contains(&i) {
            assert_eq!(
                (&e.progress, &e.error, e.defer),
                (&None, &None, None),
                "{i}"
            );
        }
    }
    assert_eq!(s.last_id(), Some(got[10].id.as_str()));

    // The same events from the start; and after any of them, the rest.
    let mut all = pool.events_from_start(q);
    for e in &got {
        assert_eq!(next(&mut all).await, *e);
    }
    let mut rest = pool.events_after(q, got[4].id.clone());
    assert_eq!(next(&mut rest).await, got[5]);

    // A pool without events writes none: the next event is the loud one's.
    env.pool
        .enqueue_job("quiet", vec![])
        .queue_name(q)
        .await
        .unwrap();
    let loud = pool
        .enqueue_job("loud", vec![])
        .queue_name(q)
        .await
        .unwrap();
    let e = next(&mut s).await;
    assert_eq!(
        (e.kind, e.job_id.as_str()),
        (EventKind::Enqueued, loud.id())
    );
}

async fn a_stream_starts_where_it_is_told(env: Env) {
    let pool = env.pool.clone().with_events(EVENTS);
    let q = "events:start";
    // No stream yet: nothing to read, and no error.
    let mut empty = pool.events_from_start(q);
    let none = tokio::time::timeout(Duration::from_millis(300), empty.next()).await;
    assert!(none.is_err(), "nothing to read: {none:?}");
    assert_eq!(empty.last_id(), Some("0-0"));

    pool.enqueue_job("f", vec![])
        .job_id("before")
        .queue_name(q)
        .await
        .unwrap();
    let mut from_now = pool.events(q).await;
    pool.enqueue_job("f", vec![])
        .job_id("after")
        .queue_name(q)
        .await
        .unwrap();
    let e = next(&mut from_now).await;
    assert_eq!(e.job_id, "after", "only events after the call");
    let mut from_start = pool.events_from_start(q);
    let first = next(&mut from_start).await;
    assert_eq!(first.job_id, "before");
    assert_eq!(from_start.last_id(), Some(first.id.as_str()));
    // The stream waited for nothing it already had: and the empty one reads on too.
    assert_eq!(next(&mut empty).await.job_id, "before");

    // A position that is no id ends the stream with an error, once.
    let mut bad = pool.events_after(q, "not-an-id");
    assert!(matches!(
        bad.next().await,
        Some(Err(arq::Error::InvalidArgument(_)))
    ));
    assert!(bad.next().await.is_none());
    // The next call waits, and is cancel-safe: a dropped wait loses nothing.
    let mut waiting = pool.events(q).await;
    let cut = tokio::time::timeout(Duration::from_millis(100), waiting.next()).await;
    assert!(cut.is_err());
    pool.enqueue_job("f", vec![])
        .job_id("later")
        .queue_name(q)
        .await
        .unwrap();
    assert_eq!(next(&mut waiting).await.job_id, "later");
}

async fn job_progress_reads_the_last_value_reported(env: Env) {
    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Done {
        done: u32,
        of: u32,
    }
    let pool = env.pool.clone();
    let q = "events:progress";
    let job = pool
        .enqueue_job("backup", vec![])
        .job_id("p")
        .queue_name(q)
        .await
        .unwrap();
    assert_eq!(job.progress().await.unwrap(), None);
    let c = claim(&pool, q, 1).await;
    assert!(pool
        .backend()
        .progress(&progress_req(&pool, q, &c, &Value::Int(10)))
        .await
        .unwrap());
    assert_eq!(job.progress().await.unwrap(), Some(Value::Int(10)));
    assert!(pool
        .backend()
        .progress(&progress_req(&pool, q, &c, &progress_value()))
        .await
        .unwrap());
    assert_eq!(job.progress().await.unwrap(), Some(progress_value()));
    assert_eq!(
        job.progress_as::<Done>().await.unwrap(),
        Some(Done { done: 3, of: 4 })
    );
    // Read as the wrong type: an error that says what was read.
    let err = job.progress_as::<String>().await.unwrap_err().to_string();
    assert!(err.contains("progress of job \"p\""), "{err}");
    // A stale token stores nothing.
    let stale = ClaimedJob {
        token: "someone-else".into(),
        ..c.clone()
    };
    assert!(!pool
        .backend()
        .progress(&progress_req(&pool, q, &stale, &Value::Int(99)))
        .await
        .unwrap());
    assert_eq!(job.progress().await.unwrap(), Some(progress_value()));
}

#[arq::job]
async fn events_report(ctx: &Ctx, n: u32) -> anyhow::Result<u32> {
    ctx.set_progress(&serde_json::json!({"done": n - 1, "of": n}))
        .await?;
    Ok(n * 2)
}

async fn a_workers_run_shows_up_and_result_waits_on_it(env: Env) {
    let pool = env.pool.clone().with_events(EVENTS);
    let q = "events:worker";
    let mut s = pool.events(q).await;
    let job = events_report::enqueue(&pool, 4)
        .queue_name(q)
        .await
        .unwrap();
    let worker = arq::Worker::new(
        pool.clone(),
        common::fast_settings()
            .functions([events_report::FUNCTION])
            .queue_name(q),
    )
    .unwrap();
    let handle = worker.shutdown_handle();
    let running = tokio::spawn(worker.run());
    // Waiting with events on: woken by the completed event (or the notification).
    assert_eq!(job.result(Duration::from_secs(20)).await.unwrap(), 8);
    let kinds: Vec<EventKind> = [
        next(&mut s).await,
        next(&mut s).await,
        next(&mut s).await,
        next(&mut s).await,
    ]
    .iter()
    .map(|e| {
        assert_eq!(e.job_id, job.id());
        if e.kind == EventKind::Progress {
            assert_eq!(
                e.progress,
                Some(Value::Map(vec![
                    (Value::Str("done".into()), Value::Int(3)),
                    (Value::Str("of".into()), Value::Int(4)),
                ]))
            );
        }
        e.kind
    })
    .collect();
    assert_eq!(
        kinds,
        [
            EventKind::Enqueued,
            EventKind::Started,
            EventKind::Progress,
            EventKind::Completed
        ]
    );
    let progress: Option<serde_json::Value> = job.progress_as().await.unwrap();
    assert_eq!(progress, Some(serde_json::json!({"done": 3, "of": 4})));
    handle.shutdown();
    tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .expect("the worker stops")
        .unwrap()
        .unwrap();
}

// ---- Redis only: dropped connections and restarts ------------------------------------------

/// Enqueues `id` with events, trying again while the server is unreachable: an enqueue
/// whose reply was lost and that landed is refused as a duplicate on the next try.
async fn enqueue_surely(pool: &Pool, q: &str, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match pool.enqueue_job("f", vec![]).job_id(id).queue_name(q).await {
            Ok(_) => return,
            Err(e) if e.is_duplicate() => return,
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "enqueue of {id} kept failing: {e}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Reads `n` events in a task of its own; their job ids.
fn collect(mut s: EventStream, n: usize) -> tokio::task::JoinHandle<Vec<String>> {
    tokio::spawn(async move {
        let mut ids = Vec::with_capacity(n);
        while ids.len() < n {
            match tokio::time::timeout(Duration::from_secs(30), s.next()).await {
                Ok(Some(Ok(e))) => ids.push(e.job_id),
                Ok(other) => panic!("the stream gave {other:?} after {ids:?}"),
                Err(_) => panic!("no event within 30 s after {ids:?}"),
            }
        }
        // Nothing more (no event repeated).
        let more = tokio::time::timeout(Duration::from_millis(500), s.next()).await;
        assert!(more.is_err(), "an extra event: {more:?}");
        ids
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_a_stream_survives_killed_connections() {
    common::init_tracing();
    let redis = TestRedis::start();
    let pool = redis.pool().await.with_events(EVENTS);
    let q = "events:killed";
    let s = pool.events(q).await;
    let n = 60;
    let reader = collect(s, n);
    let expected: Vec<String> = (0..n).map(|i| format!("k{i:02}")).collect();
    let mut killed = 0;
    for (i, id) in expected.iter().enumerate() {
        enqueue_surely(&pool, q, id).await;
        if i % 10 == 5 {
            // Let the reader block again, then cut every connection (its own too).
            tokio::time::sleep(Duration::from_millis(30)).await;
            killed += redis.kill_all_clients();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(killed >= 6, "connections were killed ({killed})");
    let got = reader.await.unwrap();
    assert_eq!(got, expected, "every event once, in order");
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_a_stream_survives_a_restart_with_persistence() {
    common::init_tracing();
    let mut server =
        RedisServer::start(Config::new("arq-test-events").persistence(Persistence::AofAlways));
    let pool = arq::create_pool(arq::RedisSettings::from_url(&server.url()).unwrap())
        .await
        .unwrap()
        .with_events(EVENTS);
    let q = "events:restart";
    let s = pool.events(q).await;
    let expected: Vec<String> = (0..20).map(|i| format!("r{i:02}")).collect();
    let reader = collect(s, expected.len());
    for id in &expected[..10] {
        enqueue_surely(&pool, q, id).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.kill9();
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.restart();
    for id in &expected[10..] {
        enqueue_surely(&pool, q, id).await;
    }
    let got = reader.await.unwrap();
    assert_eq!(
        got, expected,
        "every event once, in order, across the restart"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_dropped_streams_leave_no_connection_behind() {
    let redis = TestRedis::start();
    let pool = redis.pool().await.with_events(EVENTS);
    let q = "events:conns";
    pool.enqueue_job("f", vec![]).queue_name(q).await.unwrap();
    let clients = || -> i64 {
        redis
            .info_field("connected_clients")
            .unwrap()
            .parse()
            .unwrap()
    };
    let before = clients();
    for _ in 0..2 {
        let mut s = pool.events_from_start(q);
        next(&mut s).await;
        drop(s);
        // Dropped while it waits: its connection is reused all the same.
        let mut s = pool.events(q).await;
        let cut = tokio::time::timeout(Duration::from_millis(50), s.next()).await;
        assert!(cut.is_err());
    }
    assert!(
        clients() <= before + 1,
        "one connection for the readers, one at a time: {before} -> {}",
        clients()
    );
    // Two at once: two connections.
    let (mut a, mut b) = (pool.events_from_start(q), pool.events_from_start(q));
    assert_eq!(next(&mut a).await, next(&mut b).await);
    assert!(clients() <= before + 2);
}

// ---- the CLI -----------------------------------------------------------------------------

const CHILD_ENV: &str = "ARQ_TEST_CHILD_ARGS";

/// Not a test of its own: the entry point of the CLI child process.
#[test]
#[ignore = "not a test: the CLI child process's entry point, run by the tests themselves"]
fn child_process() {
    let Ok(args) = std::env::var(CHILD_ENV) else {
        return;
    };
    let args: Vec<&str> = args.split('\u{1f}').collect();
    let code = arq_cli::exit_code_from(args, arq::WorkerSettings::new().functions([]));
    std::process::exit(i32::from(code));
}

fn spawn_cli(args: &[&str]) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            CHILD_ENV,
            std::iter::once("arq-cli")
                .chain(args.iter().copied())
                .collect::<Vec<_>>()
                .join("\u{1f}"),
        )
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the CLI")
}

/// Waits for the CLI (at most 30 s); its exit code, stdout and stderr.
fn finish(mut child: std::process::Child) -> (i32, String, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the CLI did not exit within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The JSON lines of the CLI's output (the first one follows the test harness's own
/// `test child_process ... ` on its line).
fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .filter_map(|l| l.find('{').map(|at| &l[at..]))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_events_tails_a_queue() {
    let redis = TestRedis::start();
    let pool = redis.pool().await.with_events(EVENTS);
    let url = redis.url();
    let q = "cli:events";
    for id in ["a", "b", "c", "d"] {
        pool.enqueue_job("f", vec![])
            .job_id(id)
            .queue_name(q)
            .await
            .unwrap();
    }
    let c = claim(&pool, q, 1).await;
    assert!(pool
        .backend()
        .progress(&progress_req(&pool, q, &c, &Value::Int(50)))
        .await
        .unwrap());
    let conn = ["--redis-url", url.as_str(), "--queue", q];
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(conn.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        finish(spawn_cli(&refs))
    };

    // From the start, as JSON lines; --count stops it.
    let (code, out, err) = run(with(&["--json", "events", "--from-start", "--count", "6"]));
    assert_eq!(code, 0, "{out}{err}");
    let lines = json_lines(&out);
    let seen: Vec<(&str, &str)> = lines
        .iter()
        .map(|v| (v["kind"].as_str().unwrap(), v["job_id"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("enqueued", "a"),
            ("enqueued", "b"),
            ("enqueued", "c"),
            ("enqueued", "d"),
            ("started", "a"),
            ("progress", "a"),
        ]
    );
    assert_eq!(lines[4]["job_try"], 1);
    assert_eq!(lines[5]["progress"], 50);
    let b_id = lines[1]["id"].as_str().unwrap().to_owned();
    let last = lines[5]["id"].as_str().unwrap();
    assert!(
        err.contains(&format!("6 events; resume with --after {last}")),
        "{err}"
    );

    // After an id, as text: one line per event.
    let (code, out, _) = run(with(&["events", "--after", &b_id, "--count", "2"]));
    assert_eq!(code, 0);
    let text: Vec<&str> = out.lines().filter(|l| l.contains(" enqueued ")).collect();
    assert_eq!(text.len(), 2, "{out}");
    assert!(text[0].ends_with(" c") && text[1].ends_with(" d"), "{out}");
    let (code, out, _) = run(with(&["events", "--from-start", "--count", "6"]));
    assert_eq!(code, 0);
    assert!(out.contains(" started   a try=1"), "{out}");
    assert!(out.contains(" progress  a progress=50"), "{out}");

    // Live: only events after it started.
    let child = spawn_cli(
        &with(&["--json", "events", "--count", "1"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let mut child = Some(child);
    let mut n = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.as_mut().unwrap().try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the live tail never saw an event"
        );
        pool.enqueue_job("f", vec![])
            .job_id(format!("live{n}"))
            .queue_name(q)
            .await
            .unwrap();
        n += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, out, err) = finish(child.take().unwrap());
    assert_eq!(code, 0, "{out}{err}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "{out}");
    assert_eq!(lines[0]["kind"], "enqueued");
    assert!(lines[0]["job_id"].as_str().unwrap().starts_with("live"));

    // Usage errors: --from-start and --after together; a bad id.
    let (code, _, err) = run(with(&["events", "--from-start", "--after", "0-0"]));
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(with(&["events", "--after", "yesterday"]));
    assert_eq!(code, 1);
    assert!(err.contains("not an event id"), "{err}");
}
