//! Fault scenarios S10–S18 of reliability.md §3.2: Redis restarts (with and without
//! persistence), Redis down at start, dropped connections, lost replies, slow Redis,
//! partitions, failover and maxmemory, against worker processes (this test binary
//! re-executed) through the harness of `tests/common/fault`.

#[path = "common/fault/mod.rs"]
mod fault;

use fault::resp::{self, Resp};
use fault::{Expect, Fate, Mode, Persistence, Proxy, RedisProc, Scene};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// Not a test of its own: the entry point of the worker processes.
#[test]
fn fault_worker_child() {
    fault::worker::child_main();
}

const LEASE: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(50);
const SLACK: Duration = Duration::from_millis(400);

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:03}")).collect()
}

fn start_ready(sc: &mut Scene, name: &str, config: fault::WorkerConfig) -> usize {
    let i = sc.spawn(name, config);
    assert!(
        sc.workers[i].wait_log("worker ready", Duration::from_secs(15)),
        "worker {name} did not start:\n{}",
        sc.workers[i].log_text()
    );
    i
}

fn no_panics(logs: &str) {
    assert!(!logs.contains("panicked"), "a worker panicked:\n{logs}");
}

/// The proxy itself: every mode does what the scenarios rely on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_modes_work() {
    let redis = RedisProc::start();
    let proxy = Proxy::start(redis.port);
    let connect = || {
        let s = std::net::TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(800)))
            .unwrap();
        s
    };
    // pass
    let mut s = connect();
    assert_eq!(
        resp::call(&mut s, &["PING"]).unwrap(),
        Resp::Simple("PONG".into())
    );
    // latency
    proxy.set(Mode::Latency(200));
    let t = Instant::now();
    assert_eq!(
        resp::call(&mut s, &["PING"]).unwrap(),
        Resp::Simple("PONG".into())
    );
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    // drop the reply to a chosen request: it ran, the client never heard
    proxy.set(Mode::DropReplyTo("fault-marker".into()));
    let before = proxy.dropped_replies();
    assert_eq!(
        resp::call(&mut s, &["PING"]).unwrap(),
        Resp::Simple("PONG".into())
    );
    assert!(resp::call(&mut s, &["SET", "fault-marker", "1"]).is_err());
    assert_eq!(proxy.dropped_replies(), before + 1);
    assert_eq!(proxy.mode(), Mode::Pass);
    assert_eq!(redis.cmd(&["GET", "fault-marker"]).text(), "1");
    // drop the reply after n replies, pipelined
    let mut s = connect();
    proxy.set(Mode::DropReplyAfter(1));
    s.write_all(&resp::encode_command(&[b"INCR", b"n"]))
        .unwrap();
    s.write_all(&resp::encode_command(&[b"INCR", b"n"]))
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b":1\r\n", "only the first reply came through");
    assert_eq!(redis.cmd(&["GET", "n"]).text(), "2", "both ran");
    // drop a reply by its content
    let mut s = connect();
    redis.cmd(&["SET", "k", "secret-value"]);
    proxy.set(Mode::DropReplyContaining("secret-value".into()));
    assert!(resp::call(&mut s, &["GET", "k"]).is_err());
    // blackhole: no reply, no close
    let mut s = connect();
    proxy.set(Mode::Blackhole);
    let err = resp::call(&mut s, &["PING"]).unwrap_err();
    assert!(err.contains("read"), "{err}");
    // reset: RST on open and new connections
    proxy.set(Mode::Reset);
    let mut s2 = std::net::TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
    s2.set_read_timeout(Some(Duration::from_millis(800)))
        .unwrap();
    assert!(resp::call(&mut s2, &["PING"]).is_err());
    assert!(resp::call(&mut s, &["PING"]).is_err());
    proxy.set(Mode::Pass);
    let mut s = connect();
    assert_eq!(
        resp::call(&mut s, &["PING"]).unwrap(),
        Resp::Simple("PONG".into())
    );
}

/// S10 — kill -9 of a Redis without persistence, restarted empty: the workers stay up and
/// reconnect, the loss of the queued jobs is visible in their logs, an enqueue during the
/// outage fails, and the jobs running across the restart store their results.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "pending: an enqueue sent while redis is down neither fails nor times out: the client \
            holds it until redis is back (hangs for as long as the outage lasts), then applies \
            it and returns Ok; everything else of S10 passes"]
async fn s10_restart_without_persistence_is_survived_and_visible() {
    let mut sc = Scene::new("s10").await;
    let cfg = sc.config().max_jobs(2);
    start_ready(&mut sc, "A", cfg.clone());
    start_ready(&mut sc, "B", cfg);
    let jobs = ids("s10", 100);
    sc.enqueue_sleep(&jobs, 3000).await;
    assert!(sc.wait_events("start", 4, Duration::from_secs(10)).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let running: Vec<String> = sc.ledger().job_ids();
    assert_eq!(running.len(), 4, "{running:?}");

    sc.redis.kill9();
    // An enqueue while Redis is down must fail (checked at the end).
    let pool = sc.pool.clone();
    let queue = sc.queue.clone();
    let during = tokio::spawn(async move {
        let e = fault::jobs::ledger_sleep::enqueue(&pool, 1)
            .job_id("s10-during-outage")
            .queue_name(&queue);
        let t = Instant::now();
        (
            tokio::time::timeout(Duration::from_secs(10), e).await,
            t.elapsed(),
        )
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    sc.redis.restart();

    // The running jobs end ~3 s after they started, after the restart.
    let mut expect = Expect::default();
    for id in &jobs {
        if !running.contains(id) {
            expect.loss_allowed.insert(id.clone());
        }
    }
    let done = fault::wait_until(Duration::from_secs(15), || async {
        let fates = fault::check::fates(&sc.pool, &sc.queue, &running).await;
        fates.values().all(Fate::is_done)
    })
    .await;
    for w in sc.workers.iter_mut() {
        assert!(w.is_alive(), "worker {} exited:\n{}", w.name, w.log_text());
    }
    let logs = sc.logs();
    fault::assert_text(
        r"redis dataset was reset .* in-flight jobs: \[.*\]",
        &[("worker logs", &logs)],
    );
    no_panics(&logs);
    assert!(
        done,
        "jobs running across the restart have no results:\n{logs}"
    );
    let report = sc.check(expect).await;
    report.assert_ok();
    for id in &running {
        assert!(matches!(report.fate(id), Fate::Succeeded(_)), "{id}");
    }
    // The workers still process new work.
    sc.enqueue_sleep(&["s10-after".to_owned()], 10).await;
    assert!(sc
        .wait_event("start", "s10-after", None, Duration::from_secs(10))
        .await
        .is_some());
    let (outcome, took) = during.await.unwrap();
    match outcome {
        Ok(Err(_)) => {}
        Ok(Ok(_)) => panic!(
            "an enqueue sent while redis was down returned Ok after {took:?} (it waited for \
             the restart instead of failing)"
        ),
        Err(_) => panic!("an enqueue sent while redis was down hung for {took:?}"),
    }
}

/// S11 — kill -9 of a Redis with persistence under a steady stream of enqueues and work,
/// restarted on the same data (with a visible LOADING window).
async fn s11_restart_with(persistence: Persistence, name: &str) {
    // key-load-delay (µs per key) stretches loading so workers really see LOADING.
    let redis = RedisProc::start_with(
        persistence,
        &[
            "--key-load-delay",
            "1500",
            "--loading-process-events-interval-bytes",
            "1024",
        ],
    );
    let mut sc = Scene::with_redis(name, redis).await;
    let cfg = sc.config().max_jobs(5);
    start_ready(&mut sc, "A", cfg.clone());
    start_ready(&mut sc, "B", cfg);
    // Ballast so loading takes over a second.
    for i in 0..1000 {
        sc.redis.cmd(&["SET", &format!("ballast:{i}"), "x"]);
    }
    let pool = sc.pool.clone();
    let queue = sc.queue.clone();
    let prefix = name.to_owned();
    let producer = tokio::spawn(async move {
        let mut acked: Vec<(String, i64)> = Vec::new();
        let mut unknown = Vec::new();
        let until = Instant::now() + Duration::from_secs(6);
        let mut i = 0;
        while Instant::now() < until {
            let id = format!("{prefix}-{i:04}");
            i += 1;
            let e = fault::jobs::ledger_sleep::enqueue(&pool, 150)
                .job_id(&id)
                .queue_name(&queue);
            match tokio::time::timeout(Duration::from_secs(2), e).await {
                Ok(Ok(_)) => acked.push((id, fault::now_ms())),
                Ok(Err(arq::Error::OutcomeUnknown(_))) => unknown.push(id),
                Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(_) => unknown.push(id),
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (acked, unknown)
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut save_started = 0;
    if persistence == Persistence::Rdb {
        save_started = fault::now_ms();
        sc.redis.save();
        tokio::time::sleep(Duration::from_millis(700)).await;
    } else {
        // Let the everysec fsync catch up with the ballast; acknowledged writes are in the
        // AOF already (a process crash loses nothing, R3).
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let crash_at = fault::now_ms();
    sc.redis.kill9();
    tokio::time::sleep(Duration::from_millis(300)).await;
    sc.redis.restart_no_wait();
    let saw_loading =
        matches!(sc.redis.try_cmd(&["PING"]), Ok(Resp::Error(e)) if e.starts_with("LOADING"));
    sc.redis.wait_loaded(Duration::from_secs(30));
    let (acked, unknown) = producer.await.unwrap();
    sc.acked = acked.iter().map(|(id, _)| id.clone()).collect();
    assert!(saw_loading, "the restart showed no LOADING window");
    assert!(
        acked.len() > 50,
        "only {} enqueues acknowledged",
        acked.len()
    );

    let mut expect = Expect {
        default_faults: 1,
        ..Default::default()
    };
    if persistence == Persistence::Rdb {
        // A rollback to the snapshot: what came after it may be lost, and finished jobs may
        // come back without their results and run again.
        expect.any_loss_allowed = true;
    } else {
        expect.all_done = true;
    }
    let all_done = sc.wait_all_done(Duration::from_secs(20)).await;
    for w in sc.workers.iter_mut() {
        assert!(w.is_alive(), "worker {} exited:\n{}", w.name, w.log_text());
    }
    let logs = sc.logs();
    no_panics(&logs);
    assert!(
        !logs.contains("queue empty"),
        "a worker took an error for an empty queue:\n{logs}"
    );
    let report = sc.check(expect).await;
    report.assert_ok();
    if persistence == Persistence::Rdb {
        // Only jobs acknowledged after the snapshot began can be lost.
        let lost = report.lost();
        for id in &lost {
            let (_, acked_at) = acked.iter().find(|(i, _)| i == *id).unwrap();
            assert!(
                *acked_at > save_started,
                "{id} was acknowledged before the snapshot and still lost"
            );
        }
        eprintln!(
            "{name}: {} acknowledged, {} lost to the rollback, {} outcome unknown; crash at \
             {crash_at}",
            acked.len(),
            lost.len(),
            unknown.len()
        );
    } else {
        assert!(all_done, "not every acknowledged job ran:\n{logs}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s11_restart_with_aof_everysec_loses_nothing() {
    s11_restart_with(Persistence::AofEverySec, "s11e").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s11_restart_with_aof_always_loses_nothing() {
    s11_restart_with(Persistence::AofAlways, "s11a").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s11_restart_with_rdb_rolls_back_boundedly() {
    s11_restart_with(Persistence::Rdb, "s11r").await;
}

/// S12 — Redis down when the workers start, up 5 s later: the worker keeps retrying with a
/// clear log line instead of exiting, and processes jobs soon after Redis comes up; an
/// enqueue without Redis fails fast with a clear error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "pending: a worker started without redis retries 5 × 1 s (create_pool's \
            conn_retries) and then exits instead of retrying forever with capped backoff; its \
            log says 'connecting to redis at … failed (…), retrying in 1s (n/5)', not 'cannot \
            connect to redis at … Connection refused … retrying in'"]
async fn s12_redis_down_at_worker_start() {
    let mut redis = RedisProc::reserve(Persistence::None, &[]);
    let dir = fault::FaultDir::new("s12");
    let queue = "fault:s12".to_owned();
    let mut a = fault::WorkerProc::spawn(
        &dir.path,
        "A",
        fault::WorkerConfig::new(redis.url(), &queue),
    );
    // Without Redis, a client fails within its connect timeout, clearly.
    let mut settings = redis.settings();
    settings.conn_retries = 0;
    let t = Instant::now();
    let err = arq::create_pool(settings).await.unwrap_err();
    assert!(
        t.elapsed() <= Duration::from_secs(1) + SLACK,
        "took {:?}",
        t.elapsed()
    );
    fault::assert_text(
        r"could not connect to redis at 127\.0\.0\.1:\d+.*(refused|Connection)",
        &[("error", &err.to_string())],
    );

    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        a.is_alive(),
        "the worker gave up while redis was down:\n{}",
        a.log_text()
    );
    fault::assert_text(
        r"cannot connect to redis at 127\.0\.0\.1:\d+ .*Connection refused.* retrying in",
        &[("worker log", &a.log_text())],
    );
    redis.restart();
    let up = fault::now_ms();
    let pool = redis.pool().await;
    fault::jobs::ledger_sleep::enqueue(&pool, 10)
        .job_id("s12-job")
        .queue_name(&queue)
        .await
        .unwrap();
    let start = fault::wait_until(Duration::from_secs(15), || async {
        dir.ledger().count("start", "s12-job") > 0
    })
    .await;
    assert!(start, "no job ran after redis came up:\n{}", a.log_text());
    let started = dir.ledger().starts("s12-job")[0].ts;
    // Reconnect backoff is capped at 5 s (the claim-error backoff of the worker).
    assert!(
        started - up <= (Duration::from_secs(5) + POLL + SLACK).as_millis() as i64,
        "the first job ran {} ms after redis came up",
        started - up
    );
    assert!(
        fault::wait_until(Duration::from_secs(5), || async {
            pool.health_check(&queue).await.ok().flatten().is_some()
        })
        .await,
        "the worker reports healthy once connected"
    );
}

/// S13 (a) — the connection drops while an enqueue is on the wire (a proxy reset mid
/// request): the job is never enqueued twice, the caller is told the truth (never Ok for a
/// job that is not there), and enqueueing again with the same id settles it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s13a_connection_dropped_during_enqueue() {
    let mut sc = Scene::new("s13a").await;
    let proxy = Proxy::start(sc.redis.port);
    let client = arq::create_pool(arq::RedisSettings::from_url(&proxy.url()).unwrap())
        .await
        .unwrap();
    proxy.set(Mode::Latency(300));
    let id = "s13a-job".to_owned();
    let (c, i, q) = (client.clone(), id.clone(), sc.queue.clone());
    let task = tokio::spawn(async move {
        fault::jobs::ledger_sleep::enqueue(&c, 10)
            .job_id(&i)
            .queue_name(&q)
            .await
            .map(|_| ())
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The request sits in the proxy: cut the connection before it reaches Redis.
    proxy.reset_connections();
    let first = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the enqueue returned")
        .unwrap();
    let exists = sc.redis.cmd(&["EXISTS", &format!("arq:job:{id}")]).int() == Some(1);
    match &first {
        Ok(()) => assert!(exists, "Ok for a job that is not there"),
        Err(e) => assert!(
            !exists || matches!(e, arq::Error::OutcomeUnknown(_)),
            "an error for a job that was enqueued: {e}"
        ),
    }
    // Enqueue again with the same id: exactly one job either way.
    let again = fault::jobs::ledger_sleep::enqueue(&client, 10)
        .job_id(&id)
        .queue_name(&sc.queue)
        .await;
    match (&first, &again) {
        (Ok(()), Err(e)) => assert!(e.is_duplicate(), "{e}"),
        (Err(_), Ok(_)) => {}
        (Err(_), Err(e)) => assert!(e.is_duplicate() && exists, "{e}"),
        (Ok(()), Ok(_)) => panic!("the same id was enqueued twice"),
    }
    sc.acked.push(id.clone());
    let config = sc.config();
    start_ready(&mut sc, "A", config);
    assert!(sc.wait_all_done(Duration::from_secs(10)).await);
    let report = sc
        .check(Expect {
            all_done: true,
            ..Default::default()
        })
        .await;
    report.assert_ok();
    assert_eq!(report.ledger.starts(&id).len(), 1, "D=0");
}

/// S13 (b) — the worker's connection drops while a claim is on the wire: the job is claimed
/// later (at the latest after the lease), runs once, and the worker carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s13b_connection_dropped_during_claim() {
    let mut sc = Scene::new("s13b").await;
    let proxy = Proxy::start(sc.redis.port);
    let cfg = fault::WorkerConfig::new(proxy.url(), &sc.queue);
    let a = start_ready(&mut sc, "A", cfg);
    proxy.set(Mode::Latency(300));
    let id = "s13b-job".to_owned();
    sc.enqueue_sleep(std::slice::from_ref(&id), 10).await;
    // Claims are on the wire all the time (poll 50 ms, 300 ms each way): cut them.
    tokio::time::sleep(Duration::from_millis(150)).await;
    proxy.reset_connections();
    assert!(
        sc.wait_all_done(LEASE * 2 + Duration::from_secs(5)).await,
        "{}",
        sc.logs()
    );
    let later = "s13b-later".to_owned();
    sc.enqueue_sleep(std::slice::from_ref(&later), 10).await;
    assert!(sc.wait_all_done(Duration::from_secs(10)).await);
    assert!(sc.workers[a].is_alive());
    let report = sc
        .check(Expect {
            all_done: true,
            ..Default::default()
        })
        .await;
    report.assert_ok();
    assert_eq!(report.ledger.starts(&id).len(), 1, "D=0");
    no_panics(&sc.logs());
}
