//! Fault scenarios S19–S28 of reliability.md §3.2: bad input (garbage payloads, missing job
//! records, unknown functions, wrong arguments, huge payloads), a million deferred jobs
//! (heavy tier), and concurrency (duplicate ids, racing workers, abort), with worker
//! processes (this test binary re-executed) and the checker of `tests/common/fault`.

#[path = "common/fault/mod.rs"]
mod fault;

use arq::Value;
use fault::{Expect, Fate, Persistence, RedisProc, Scene};
use std::time::{Duration, Instant};

/// Not a test of its own: the entry point of the worker processes.
#[test]
fn fault_worker_child() {
    fault::worker::child_main();
}

const POLL: Duration = Duration::from_millis(50);
const SLACK: Duration = Duration::from_millis(400);

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:04}")).collect()
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

/// Puts a raw job record under `id` and queues it, as a foreign or broken producer would.
fn plant(sc: &mut Scene, id: &str, payload: &[u8]) {
    let key = format!("arq:job:{id}");
    sc.redis
        .cmd_raw(&[b"PSETEX", key.as_bytes(), b"600000", payload]);
    sc.redis.cmd(&["ZADD", &sc.queue, "0", id]);
    sc.acked.push(id.to_owned());
}

/// A valid msgpack job record for `ledger_sleep(5)`.
fn valid_record(function: &str, args: Vec<Value>) -> Vec<u8> {
    let record = arq::JobRecord {
        job_try: None,
        function: function.to_owned(),
        args,
        kwargs: Vec::new(),
        enqueue_time_ms: fault::now_ms(),
    };
    use arq::Codec;
    arq::MsgpackCodec.encode(&record.to_value()).unwrap()
}

/// S19 — garbage in the job key: each job fails for good with a clear text, leaves the
/// queue, is not retried, and the worker carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "pending: (1) a job key of another type (a hash) makes every claim that reaches it \
            fail with WRONGTYPE, after the claim script already leased the jobs before it in \
            the batch, so those jobs and it are never processed; (2) the payload nested 10,000 \
            deep overflows the worker's stack and kills the process"]
async fn s19_garbage_payloads_fail_terminally() {
    let mut sc = Scene::new("s19").await;
    let valid = valid_record("ledger_sleep", vec![Value::from(5i64)]);
    let mut deep = vec![0x91u8; 10_000];
    deep.push(0xc0);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("random", vec![0xc1, 0x00, 0xff, 0x13, 0x37, 0xc1, 0xc1]),
        ("truncated", valid[..valid.len() / 2].to_vec()),
        ("json", br#"{"foo": [1, 2, 3]}"#.to_vec()),
        ("wrong-schema", {
            let v = Value::Map(vec![(Value::from("foo"), Value::from(1i64))]);
            use arq::Codec;
            arq::MsgpackCodec.encode(&v).unwrap()
        }),
        ("empty", Vec::new()),
        ("deep", deep),
    ];
    for (name, payload) in &cases {
        plant(&mut sc, &format!("s19-{name}"), payload);
    }
    // A job key of another type.
    sc.redis
        .cmd(&["HSET", "arq:job:s19-hash", "f", "ledger_sleep"]);
    sc.redis.cmd(&["ZADD", &sc.queue, "0", "s19-hash"]);
    sc.acked.push("s19-hash".into());
    let good = "s19-good".to_owned();
    sc.enqueue_sleep(std::slice::from_ref(&good), 5).await;
    let config = sc.config();
    let a = start_ready(&mut sc, "A", config);
    let done = sc.wait_all_done(Duration::from_secs(15)).await;
    assert!(
        sc.workers[a].is_alive(),
        "bad input killed the worker:\n{}",
        sc.logs()
    );
    assert!(done, "not every job ended:\n{}", sc.logs());
    let report = sc
        .check(Expect {
            all_done: true,
            ..Default::default()
        })
        .await;
    report.assert_ok();
    assert!(matches!(report.fate(&good), Fate::Succeeded(_)));
    assert_eq!(sc.pool.queue_size(&sc.queue).await.unwrap(), 0);
    let logs = sc.logs();
    for id in sc.acked.iter().filter(|i| **i != good) {
        let failure = report
            .fate(id)
            .failure_text()
            .unwrap_or_else(|| panic!("{id} did not fail: {:?}", report.fate(id)))
            .to_owned();
        assert_eq!(
            report.fate(id).result().unwrap().job.job_try,
            Some(1),
            "{id} was retried"
        );
        fault::assert_text(
            &format!(r"job {id}: payload could not be decoded \(format=\w+\): .+"),
            &[("stored failure", &failure), ("worker logs", &logs)],
        );
    }
}

/// S19 — the decoder on random and mutated input never panics (a quick in-process fuzz of
/// the codec and the job record reader).
#[test]
fn s19_decoder_survives_random_input() {
    use arq::Codec;
    let valid = valid_record("ledger_sleep", vec![Value::from(5i64), Value::from("x")]);
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..20_000 {
        let bytes: Vec<u8> = if round % 2 == 0 {
            let len = (next() % 64) as usize;
            (0..len).map(|_| next() as u8).collect()
        } else {
            let mut b = valid.clone();
            for _ in 0..(1 + next() % 4) {
                let i = (next() as usize) % b.len();
                b[i] = next() as u8;
            }
            b.truncate((next() as usize) % (b.len() + 1));
            b
        };
        if let Ok(v) = arq::MsgpackCodec.decode(&bytes) {
            let _ = arq::JobRecord::from_value(&v);
        }
    }
}

/// S19 — decoding is bounded: an array nested 1,000, 10,000 or 100,000 deep is refused or
/// decoded on a 2 MiB stack (a tokio worker thread's), never a stack overflow that kills the
/// process. Run in a child process, since an overflow aborts the whole process.
#[test]
#[ignore = "pending: decoding msgpack nested 1,000 deep overflows a 2 MiB stack and aborts the \
            process (a 1 KB payload kills a worker: poison input)"]
fn s19_decoder_depth_is_bounded() {
    for depth in [1_000usize, 10_000, 100_000] {
        let (status, out) = fault::worker::decode_deep_in_child(depth);
        assert!(
            status.success() && out.contains("DECODED"),
            "decoding an array nested {depth} deep: {status:?}\n{out}"
        );
    }
}

/// S20 — a queued id whose job record is missing, or expired while it waited: a terminal
/// failure with arq's text, and the queue entry is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s20_missing_job_record_fails_terminally() {
    let mut sc = Scene::new("s20").await;
    sc.redis.cmd(&["ZADD", &sc.queue, "0", "s20-missing"]);
    sc.acked.push("s20-missing".into());
    let expiring = "s20-expiring".to_owned();
    fault::jobs::ledger_sleep::enqueue(&sc.pool, 5)
        .job_id(&expiring)
        .queue_name(&sc.queue)
        .defer_by(Duration::from_millis(1500))
        .expires(Duration::from_millis(500))
        .await
        .unwrap();
    sc.acked.push(expiring.clone());
    let config = sc.config();
    start_ready(&mut sc, "A", config);
    assert!(
        sc.wait_all_done(Duration::from_secs(10)).await,
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
    assert_eq!(sc.pool.queue_size(&sc.queue).await.unwrap(), 0);
    let logs = sc.logs();
    for id in ["s20-missing", expiring.as_str()] {
        assert!(report.ledger.starts(id).is_empty());
        let failure = report.fate(id).failure_text().expect("failed").to_owned();
        let err = sc
            .pool
            .job::<Value>(id)
            .in_queue(&sc.queue)
            .result(Duration::from_secs(1))
            .await
            .unwrap_err()
            .to_string();
        fault::assert_text(
            r"job \S+ expired",
            &[
                ("stored failure", &failure),
                ("returned error", &err),
                ("worker logs", &logs),
            ],
        );
    }
}

/// S21 — an unknown function name: arq's text, a terminal failure, the worker carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s21_unknown_function_fails_terminally() {
    let mut sc = Scene::new("s21").await;
    sc.pool
        .enqueue_job("nope", vec![])
        .job_id("s21-nope")
        .queue_name(&sc.queue)
        .await
        .unwrap();
    sc.acked.push("s21-nope".into());
    sc.enqueue_sleep(&["s21-good".to_owned()], 5).await;
    let config = sc.config();
    start_ready(&mut sc, "A", config);
    assert!(
        sc.wait_all_done(Duration::from_secs(10)).await,
        "{}",
        sc.logs()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let report = sc
        .check(Expect {
            all_done: true,
            ..Default::default()
        })
        .await;
    report.assert_ok();
    let failure = report.fate("s21-nope").failure_text().unwrap().to_owned();
    fault::assert_text(
        r"function 'nope' not found",
        &[("stored failure", &failure)],
    );
    assert_eq!(
        report.fate("s21-nope").result().unwrap().job.job_try,
        Some(1),
        "not retried"
    );
    assert!(matches!(report.fate("s21-good"), Fate::Succeeded(_)));
}

/// S22 — wrong argument types or arity: a terminal failure naming the function and the
/// argument; the function never runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s22_wrong_arguments_fail_without_running() {
    let mut sc = Scene::new("s22").await;
    let cases: Vec<(&str, Vec<Value>, Option<(&str, Value)>)> = vec![
        ("too-many", vec![Value::from(1i64), Value::from(2i64)], None),
        ("too-few", vec![], None),
        (
            "unknown-kwarg",
            vec![Value::from(1i64)],
            Some(("bogus", Value::from(1i64))),
        ),
        ("string-for-int", vec![Value::from("x")], None),
        ("null-for-int", vec![Value::Nil], None),
    ];
    for (name, args, kwarg) in cases {
        let id = format!("s22-{name}");
        let mut e = sc
            .pool
            .enqueue_job("ledger_sleep", args)
            .job_id(&id)
            .queue_name(&sc.queue);
        if let Some((k, v)) = kwarg {
            e = e.kwarg(k, v);
        }
        e.await.unwrap();
        sc.acked.push(id);
    }
    let config = sc.config();
    start_ready(&mut sc, "A", config);
    assert!(
        sc.wait_all_done(Duration::from_secs(10)).await,
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
    for id in &sc.acked {
        assert!(report.ledger.starts(id).is_empty(), "{id} ran (D=0)");
        let failure = report
            .fate(id)
            .failure_text()
            .unwrap_or_else(|| panic!("{id}: {:?}", report.fate(id)))
            .to_owned();
        fault::assert_text(
            r"arguments for 'ledger_sleep' do not match its signature: .*(expected|missing|unknown)",
            &[(id.as_str(), &failure)],
        );
    }
}

/// S23 — a payload over the limit is refused by the client before it is sent, with a clear
/// error (never the server's protocol error and a dropped connection).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s23_oversized_payload_is_refused_before_sending() {
    let redis = RedisProc::start_with(Persistence::None, &["--proto-max-bulk-len", "1mb"]);
    let sc = Scene::with_redis("s23p", redis).await;
    let pool = sc.pool.clone().with_max_payload_bytes(1024 * 1024);
    let big = "x".repeat(2 * 1024 * 1024);
    let err = fault::jobs::ledger_len::enqueue(&pool, big)
        .job_id("s23-big")
        .queue_name(&sc.queue)
        .await
        .expect_err("a 2 MiB payload over a 1 MiB limit");
    fault::assert_text(
        r"job payload is \d+ bytes; limit is \d+",
        &[("error", &err.to_string())],
    );
    assert_eq!(sc.redis.dbsize(), 0, "nothing was sent");
    // The connection is still good.
    fault::jobs::ledger_sleep::enqueue(&pool, 1)
        .job_id("s23-small")
        .queue_name(&sc.queue)
        .await
        .unwrap();
}

/// S23 — with the limit raised, a 64 MiB payload works end to end, and the client warns
/// about its size.
#[tokio::test(flavor = "current_thread")]
async fn s23_huge_payload_works_and_is_warned_about() {
    let mut sc = Scene::new("s23h").await;
    // The result record repeats the arguments, so it is as big.
    let config = sc.config().max_result_bytes(128 * 1024 * 1024);
    start_ready(&mut sc, "A", config);
    let pool = sc.pool.clone().with_max_payload_bytes(128 * 1024 * 1024);
    let big = "x".repeat(64 * 1024 * 1024);
    let id = "s23-huge".to_owned();
    let (guard, logs) = fault::capture_logs();
    fault::jobs::ledger_len::enqueue(&pool, big)
        .job_id(&id)
        .queue_name(&sc.queue)
        .await
        .unwrap();
    drop(guard);
    sc.acked.push(id.clone());
    assert!(
        sc.wait_all_done(Duration::from_secs(60)).await,
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
    let r = report.fate(&id).result().unwrap().clone();
    assert!(r.success, "{:?}", report.fate(&id).failure_text());
    assert_eq!(r.result, Value::from(64i64 * 1024 * 1024));
    let text = logs.text();
    assert!(
        text.lines()
            .any(|l| l.contains("WARN") && l.contains(&id) && l.contains("bytes")),
        "no warning about the 64 MiB payload:\n{text}"
    );
}

/// S23 — a result too large to store is replaced by an error result ("result too large"),
/// like arq's "unable to serialize result".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s23_oversized_result_is_replaced_by_an_error() {
    let redis = RedisProc::start_with(Persistence::None, &["--proto-max-bulk-len", "1mb"]);
    let mut sc = Scene::with_redis("s23r", redis).await;
    let config = sc.config().max_result_bytes(512 * 1024);
    start_ready(&mut sc, "A", config);
    let id = "s23-result".to_owned();
    fault::jobs::ledger_big_result::enqueue(&sc.pool, 2 * 1024 * 1024)
        .job_id(&id)
        .queue_name(&sc.queue)
        .await
        .unwrap();
    sc.acked.push(id.clone());
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
    assert_eq!(report.ledger.starts(&id).len(), 1);
    let failure = report
        .fate(&id)
        .failure_text()
        .expect("a failure")
        .to_owned();
    fault::assert_text("result too large", &[("stored failure", &failure)]);
}
