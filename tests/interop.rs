//! Interoperability with real Python arq 0.28.0: Python clients and workers on the same Redis
//! as Rust clients and workers, with the msgpack codec and (with the `pickle` feature) pickle.
//!
//! The Python side is the scripts in `tests/python/` (`client.py`, `worker.py`), run as child
//! processes with the interpreter of the virtualenv that `scripts/python-env.sh` makes (built
//! on first use; `ARQ_PYTHON` overrides it). These tests are never skipped: CI must run them. The scripts print JSON on stdout, and each
//! test asserts the values that crossed the boundary, in both directions.
//!
//! Each test starts its own private `redis-server` (two for the shared-queue test, whose run
//! ledger lives on the second one). Child processes are killed when their guard drops.
//!

mod common;

use arq::{Ctx, Error, Function, JobStatus, Pool, Value, Worker, WorkerSettings, WorkerStats};
use common::python::*;
use common::TestRedis;
use fred::prelude::{ClientLike, SortedSetsInterface};
use fred::types::{ClusterHash, CustomCommand};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// The Rust side
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Point {
    x: i64,
    y: i64,
    label: String,
}

#[arq::job]
async fn add(a: i64, b: i64, c: Option<i64>) -> i64 {
    a + b + c.unwrap_or(0)
}

/// What a Rust job made of Python's arguments, sent back for Python to report.
#[derive(Debug, Serialize, Deserialize)]
struct Described {
    text: String,
    text_chars: usize,
    ratio_doubled: f64,
    not_flag: bool,
    nothing_was_none: bool,
    items_sum: i64,
    point_moved: Point,
    nested: BTreeMap<String, Vec<Option<String>>>,
}

#[arq::job]
#[allow(clippy::too_many_arguments)]
async fn describe(
    text: String,
    ratio: f64,
    flag: bool,
    nothing: Option<String>,
    items: Vec<i64>,
    point: Point,
    nested: BTreeMap<String, Vec<Option<String>>>,
) -> Described {
    Described {
        text_chars: text.chars().count(),
        text,
        ratio_doubled: ratio * 2.0,
        not_flag: !flag,
        nothing_was_none: nothing.is_none(),
        items_sum: items.iter().sum(),
        point_moved: Point {
            x: point.x + 1,
            y: point.y - 1,
            label: format!("{}!", point.label),
        },
        nested,
    }
}

#[arq::job]
async fn echo(value: Value) -> Value {
    value
}

#[derive(Debug, thiserror::Error)]
#[error("rust says {0}")]
struct RustError(String);

#[arq::job]
async fn fails(msg: String) -> Result<i64, RustError> {
    Err(RustError(msg))
}

/// A Redis command by name (the list commands are not among fred's enabled interfaces).
fn command(name: &'static str) -> CustomCommand {
    CustomCommand::new_static(name, ClusterHash::FirstKey, false)
}

/// The run ledger of the shared-queue test: a Redis list on a second private server.
struct Ledger(fred::clients::Client);

#[arq::job]
async fn ledger(ctx: &Ctx, n: i64) -> Result<String, arq::BoxError> {
    let Ledger(client) = ctx.state::<Ledger>()?;
    let entry = format!("{} rust {} {n}", ctx.job_id(), ctx.job_try());
    let _: i64 = client
        .custom(command("RPUSH"), vec!["ledger".to_owned(), entry])
        .await?;
    // As long as the Python job, so both workers are bound by their slots, not their speed.
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok("rust".into())
}

/// Held open by the status test until it has seen the job in progress from Python.
static STATUS_GATE_OPEN: AtomicBool = AtomicBool::new(false);

#[arq::job]
async fn gated() -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !STATUS_GATE_OPEN.load(Ordering::SeqCst) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    "released".into()
}

/// Counts runs of a job that an abort must stop before it starts.
static MUST_NOT_RUN: AtomicUsize = AtomicUsize::new(0);

#[arq::job]
async fn must_not_run() -> i64 {
    MUST_NOT_RUN.fetch_add(1, Ordering::SeqCst);
    1
}

#[arq::job]
async fn long_sleep(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

fn settings(functions: impl IntoIterator<Item = Function>) -> WorkerSettings {
    WorkerSettings::new()
        .functions(functions)
        .handle_signals(false)
        .poll_delay(Duration::from_millis(20))
}

async fn rust_burst(pool: &Pool, settings: WorkerSettings) -> WorkerStats {
    let worker = Worker::new(pool.clone(), settings.burst(true)).unwrap();
    tokio::time::timeout(Duration::from_secs(60), worker.run())
        .await
        .expect("the Rust burst worker finished")
        .unwrap()
}

/// A Rust worker running in the background until [`BgWorker::stop`] (or drop).
struct BgWorker {
    stop: arq::ShutdownHandle,
    handle: Option<tokio::task::JoinHandle<arq::Result<WorkerStats>>>,
}

impl BgWorker {
    fn start(pool: &Pool, settings: WorkerSettings) -> Self {
        let worker = Worker::new(pool.clone(), settings).unwrap();
        let stop = worker.shutdown_handle();
        BgWorker {
            stop,
            handle: Some(tokio::spawn(worker.run())),
        }
    }

    async fn stop(mut self) -> WorkerStats {
        self.stop.shutdown();
        let handle = self.handle.take().unwrap();
        tokio::time::timeout(Duration::from_secs(20), handle)
            .await
            .expect("the Rust worker stopped")
            .unwrap()
            .unwrap()
    }
}

impl Drop for BgWorker {
    fn drop(&mut self) {
        self.stop.shutdown();
    }
}

/// Polls `f` until it is true.
async fn wait_for<F, Fut>(what: &str, within: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A Python tuple (`{"tuple": [...]}` in client.py's JSON) read as the list it holds: Python
/// arq keeps `args` as a tuple, a Rust worker writes them back as a list (msgpack always does).
fn untuple(v: &serde_json::Value) -> &serde_json::Value {
    v.get("tuple").unwrap_or(v)
}

/// Checks the `result_info()` fields Python read for a job a Rust worker ran.
fn assert_info(
    info: &serde_json::Value,
    id: &str,
    function: &str,
    args: serde_json::Value,
    kwargs: serde_json::Value,
    success: bool,
) {
    assert_eq!(info["id"], json!(id), "{info}");
    assert_eq!(info["t"], json!(1), "{info}");
    assert_eq!(info["f"], json!(function), "{info}");
    assert_eq!(untuple(&info["a"]), &args, "{info}");
    assert_eq!(info["k"], kwargs, "{info}");
    assert_eq!(info["s"], json!(success), "{info}");
    assert_eq!(info["q"], json!("arq:queue"), "{info}");
    let (et, st, ft) = (
        info["et"].as_i64().unwrap(),
        info["st"].as_i64().unwrap(),
        info["ft"].as_i64().unwrap(),
    );
    let now = arq::time::now_ms();
    assert!(
        now - 60_000 < et && et <= st && st <= ft && ft <= now + 1_000,
        "{info}"
    );
}

// ---------------------------------------------------------------------------------------------
// 1. Python enqueues, a Rust worker runs, Python reads the result
// ---------------------------------------------------------------------------------------------

async fn python_enqueues_rust_runs(wire: Wire) {
    common::init_tracing();
    let redis = TestRedis::start();
    let pool = wire.pool(&redis).await;
    let echoed = json!({
        "s": "héllo ✓",
        "i": -5,
        "big": 1_u64 << 40,
        "f": 1.5,
        "whole_float": 3.0,
        "t": true,
        "n": null,
        "l": [1, "two", 3.5, null, false],
        "d": {"inner": {"deep": [true, {"e": []}]}},
    });
    let jobs = json!({"jobs": [
        {"job_id": "add-kw", "function": "add", "args": [1, 2], "kwargs": {"c": 3}},
        {"job_id": "add-pos", "function": "add", "args": [1, 2, 3]},
        {"job_id": "add-default", "function": "add", "args": [1, 2]},
        {"job_id": "add-named", "function": "add", "kwargs": {"b": 20, "a": 10, "c": -1}},
        {"job_id": "describe", "function": "describe",
         "args": ["héllo ✓", 1.25, true, null, [1, 2, 3]],
         "kwargs": {"point": {"x": 1, "y": -2, "label": "p"},
                    "nested": {"k": ["a", null], "e": []}}},
        {"job_id": "echo", "function": "echo", "args": [echoed]},
        {"job_id": "bad-args", "function": "add", "args": [1]},
        {"job_id": "rust-error", "function": "fails", "args": ["boom"]},
        {"job_id": "unknown-fn", "function": "no_such_fn"},
    ]});
    let ids: Vec<&str> = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_id"].as_str().unwrap())
        .collect();
    let enqueued = py_client(&redis, wire, "enqueue", jobs.clone()).await;
    for id in &ids {
        assert_eq!(enqueued[id], json!(true), "{enqueued}");
    }

    let stats = rust_burst(
        &pool,
        settings([
            add::FUNCTION,
            describe::FUNCTION,
            echo::FUNCTION,
            fails::FUNCTION,
        ]),
    )
    .await;
    assert_eq!((stats.complete, stats.failed), (6, 3), "{stats:?}");

    let out = py_client(&redis, wire, "results", json!({"ids": ids, "timeout": 5})).await;
    for id in &ids {
        assert_eq!(out[id]["status"], json!("complete"), "{id}: {}", out[id]);
    }

    // Positional and keyword arguments both reached `add(a, b, c: Option<i64>)`.
    for (id, sum) in [
        ("add-kw", 6),
        ("add-pos", 6),
        ("add-default", 3),
        ("add-named", 29),
    ] {
        assert_eq!(out[id]["returned"], json!(sum), "{id}: {}", out[id]);
    }
    assert_info(
        &out["add-kw"]["info"],
        "add-kw",
        "add",
        json!([1, 2]),
        json!({"c": 3}),
        true,
    );
    assert_eq!(out["add-kw"]["info"]["r"], json!(6));
    assert_info(
        &out["add-named"]["info"],
        "add-named",
        "add",
        json!([]),
        json!({"b": 20, "a": 10, "c": -1}),
        true,
    );

    // Strings, floats, bools, None, lists, a dict as a serde struct, nested dicts.
    assert_eq!(
        out["describe"]["returned"],
        json!({
            "text": "héllo ✓",
            "text_chars": 7,
            "ratio_doubled": 2.5,
            "not_flag": false,
            "nothing_was_none": true,
            "items_sum": 6,
            "point_moved": {"x": 2, "y": -3, "label": "p!"},
            "nested": {"e": [], "k": ["a", null]},
        }),
        "{}",
        out["describe"]
    );
    // Every value came back as itself, 3.0 still a float and 2**40 still an int.
    assert_eq!(out["echo"]["returned"], echoed, "{}", out["echo"]);

    // Failures: Python's Job.result() raises.
    let raised = |id: &str| out[id]["raised"].clone();
    let stored = |id: &str| out[id]["info"]["r"].clone();
    let cases = [
        (
            "bad-args",
            "TypeError",
            "arguments for 'add' do not match its signature: add() missing required argument: 'b'",
        ),
        ("rust-error", "RustError", "rust says boom"),
        (
            "unknown-fn",
            "JobExecutionFailed",
            "function 'no_such_fn' not found",
        ),
    ];
    for (id, class, message) in cases {
        let text = format!("{class}: {message}");
        match wire {
            // msgpack cannot hold an exception: the text is stored, raised as SerializationError.
            Wire::Msgpack => {
                assert_eq!(
                    raised(id),
                    json!({"type": "arq.jobs.SerializationError", "args": [text], "str": text}),
                    "{id}"
                );
                assert_eq!(stored(id), json!(text), "{id}");
            }
            // pickle holds the real exception where Python has the class.
            #[cfg(feature = "pickle")]
            Wire::Pickle => {
                let (path, args) = match class {
                    "TypeError" => ("builtins.TypeError", message.to_owned()),
                    "JobExecutionFailed" => ("arq.worker.JobExecutionFailed", message.to_owned()),
                    _ => ("builtins.Exception", text.clone()),
                };
                assert_eq!(
                    raised(id),
                    json!({"type": path, "args": [args], "str": args}),
                    "{id}"
                );
                assert_eq!(
                    stored(id),
                    json!({"type": path, "args": [args], "str": args}),
                    "{id}"
                );
            }
        }
    }
    assert_info(
        &out["bad-args"]["info"],
        "bad-args",
        "add",
        json!([1]),
        json!({}),
        false,
    );
    assert_info(
        &out["rust-error"]["info"],
        "rust-error",
        "fails",
        json!(["boom"]),
        json!({}),
        false,
    );
    // The unknown function was consumed, not left queued (as a Python worker does it).
    assert_eq!(out["unknown-fn"]["info"]["f"], json!("no_such_fn"));
    assert_eq!(pool.queue_size("arq:queue").await.unwrap(), 0);
}

#[tokio::test]
async fn msgpack_python_enqueues_rust_runs_python_reads() {
    python_enqueues_rust_runs(Wire::Msgpack).await;
}

#[cfg(feature = "pickle")]
#[tokio::test]
async fn pickle_python_enqueues_rust_runs_python_reads() {
    python_enqueues_rust_runs(Wire::Pickle).await;
}

// ---------------------------------------------------------------------------------------------
// 2. Rust enqueues, a Python worker runs, Rust reads typed results
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct Echoed {
    args: Vec<Value>,
    kwargs: BTreeMap<String, Value>,
    types: Vec<String>,
    kwarg_types: BTreeMap<String, String>,
}

async fn rust_enqueues_python_runs(wire: Wire) {
    common::init_tracing();
    let redis = TestRedis::start();
    let pool = wire.pool(&redis).await;

    let add = pool
        .enqueue_job("py_add", vec![1.into(), 2.into()])
        .kwarg("c", 3)
        .job_id("py-add")
        .await
        .unwrap()
        .typed::<i64>();
    let greet = pool
        .enqueue_job("py_greet", vec!["wörld ✓".into()])
        .await
        .unwrap()
        .typed::<String>();
    let point = pool
        .enqueue_job("py_point", vec![3.into(), (-4).into()])
        .kwarg("label", "p")
        .await
        .unwrap()
        .typed::<Point>();
    let sent_args = vec![
        Value::Int(-7),
        Value::Float(2.5),
        Value::Str("s ✓".into()),
        Value::Bool(true),
        Value::Nil,
        Value::List(vec![Value::Int(1), Value::Str("x".into())]),
        Value::Map(vec![(
            Value::Str("k".into()),
            Value::Map(vec![(Value::Str("n".into()), Value::Nil)]),
        )]),
        Value::Bytes(vec![0, 1, 254, 255]),
        Value::Int(1 << 40),
        Value::UInt(u64::MAX),
    ];
    let echo = pool
        .enqueue_job("py_echo", sent_args.clone())
        .kwarg("flag", false)
        .kwarg("ratio", 1.0)
        .await
        .unwrap()
        .typed::<Echoed>();
    let fail = pool
        .enqueue_job("py_fail", vec!["boom".into()])
        .await
        .unwrap()
        .typed::<i64>();

    let counters = PyWorker::spawn(&redis, wire, &["--burst"])
        .finish(Duration::from_secs(30))
        .await;
    assert_eq!(counters["complete"], json!(4), "{counters}");
    assert_eq!(counters["failed"], json!(1), "{counters}");

    let wait = Duration::from_secs(5);
    assert_eq!(add.result(wait).await.unwrap(), 6);
    assert_eq!(greet.result(wait).await.unwrap(), "hello wörld ✓");
    assert_eq!(
        point.result(wait).await.unwrap(),
        Point {
            x: 3,
            y: -4,
            label: "p".into()
        }
    );
    let echoed = echo.result(wait).await.unwrap();
    assert_eq!(
        echoed.types,
        ["int", "float", "str", "bool", "NoneType", "list", "dict", "bytes", "int", "int"]
    );
    assert_eq!(
        echoed.kwarg_types,
        BTreeMap::from([
            ("flag".into(), "bool".into()),
            ("ratio".into(), "float".into())
        ])
    );
    // With pickle the list and dict come back as memo references (BINGET): Python's result
    // holds the same objects in `a` and in `r`, so a reader must memoize finished containers.
    assert_eq!(echoed.args, sent_args);
    assert_eq!(
        echoed.kwargs,
        BTreeMap::from([
            ("flag".to_owned(), Value::Bool(false)),
            ("ratio".to_owned(), Value::Float(1.0))
        ])
    );

    match fail.result(wait).await {
        Err(Error::JobFailed { job_id, failure }) => {
            assert_eq!(job_id, fail.id());
            match wire {
                // Python's msgpack fallback: the exception could not be serialized.
                Wire::Msgpack => {
                    assert_eq!(failure.message, "unable to serialize result");
                    assert_eq!(failure.class, "Exception");
                }
                #[cfg(feature = "pickle")]
                Wire::Pickle => {
                    assert_eq!(failure.class, "ValueError");
                    assert_eq!(failure.message, "boom");
                }
            }
        }
        other => panic!("expected JobFailed, got {other:?}"),
    }

    // The record a Python worker wrote, read by the Rust client.
    let info = add.result_info().await.unwrap().expect("a result record");
    assert!(info.success);
    assert_eq!(info.job.function, "py_add");
    assert_eq!(info.job.args, [Value::Int(1), Value::Int(2)]);
    assert_eq!(info.job.kwargs, [("c".to_owned(), Value::Int(3))]);
    assert_eq!(info.job.job_try, Some(1));
    assert_eq!(info.result, Value::Int(6));
    assert_eq!(info.queue_name, "arq:queue");
    assert_eq!(info.job_id, "py-add");
    assert!(info.job.enqueue_time <= info.start_time && info.start_time <= info.finish_time);
    assert_eq!(add.status().await.unwrap(), JobStatus::Complete);
    let info = fail.result_info().await.unwrap().expect("a failure record");
    assert!(!info.success);
    assert_eq!(info.job.function, "py_fail");
}

#[tokio::test]
async fn msgpack_rust_enqueues_python_runs_rust_reads() {
    rust_enqueues_python_runs(Wire::Msgpack).await;
}

#[cfg(feature = "pickle")]
#[tokio::test]
async fn pickle_rust_enqueues_python_runs_rust_reads() {
    rust_enqueues_python_runs(Wire::Pickle).await;
}

// ---------------------------------------------------------------------------------------------
// 3. One queue, one Python and one Rust worker: every job runs exactly once
// ---------------------------------------------------------------------------------------------

const SHARED_JOBS: usize = 2_000;
/// Far fewer slots than the Python worker's 20: a Rust claim costs one round trip and a
/// Python claim five, so with equal slots the Rust worker takes nearly every job.
const RUST_SLOTS: usize = 4;

async fn shared_queue_runs_each_job_once(wire: Wire) {
    common::init_tracing();
    let redis = TestRedis::start();
    let ledger_redis = TestRedis::start();
    let pool = wire.pool(&redis).await;

    // Half enqueued by Python, half by Rust; ids py<i> and rs<i>.
    let half = SHARED_JOBS / 2;
    let bulk = py_client(
        &redis,
        wire,
        "bulk",
        json!({"function": "ledger", "count": half, "prefix": "py"}),
    )
    .await;
    assert_eq!(bulk["enqueued"], json!(half));
    for i in 0..half {
        pool.enqueue_job("ledger", vec![Value::Int(i as i64)])
            .job_id(format!("rs{i}"))
            .await
            .unwrap();
    }
    assert_eq!(
        pool.queue_size("arq:queue").await.unwrap(),
        SHARED_JOBS as u64
    );

    // The Python worker starts first (its interpreter takes a moment), then the Rust one.
    let ledger_url = ledger_redis.url();
    let py = PyWorker::spawn(
        &redis,
        wire,
        &["--burst", "--max-jobs", "20", "--ledger-url", &ledger_url],
    )
    .ready()
    .await;
    let ledger_client = ledger_redis.raw().await;
    let for_state = ledger_client.clone();
    let rust = rust_burst(
        &pool,
        settings([ledger::FUNCTION])
            .max_jobs(RUST_SLOTS)
            .on_startup(move |mut state| {
                let client = for_state.clone();
                async move {
                    state.insert(Ledger(client));
                    Ok(state)
                }
            }),
    )
    .await;
    let py_counters = py.finish(Duration::from_secs(60)).await;

    // The ledger: one entry per run, written by the job itself on another server.
    let entries: Vec<String> = ledger_client
        .custom(command("LRANGE"), vec!["ledger", "0", "-1"])
        .await
        .unwrap();
    let mut runs: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for e in &entries {
        let parts: Vec<&str> = e.split(' ').collect();
        assert_eq!(parts.len(), 4, "ledger entry {e:?}");
        let (id, who, job_try, n) = (parts[0], parts[1], parts[2], parts[3]);
        assert_eq!(job_try, "1", "{e:?}: a job was retried");
        assert_eq!(&id[2..], n, "{e:?}: the argument is the id's number");
        runs.entry(id.to_owned())
            .or_default()
            .push((who.to_owned(), job_try.to_owned()));
    }
    let twice: Vec<_> = runs.iter().filter(|(_, r)| r.len() > 1).collect();
    assert!(twice.is_empty(), "jobs run more than once: {twice:?}");
    for prefix in ["py", "rs"] {
        for i in 0..half {
            assert!(
                runs.contains_key(&format!("{prefix}{i}")),
                "{prefix}{i} never ran"
            );
        }
    }
    assert_eq!(entries.len(), SHARED_JOBS);

    let by_python = entries.iter().filter(|e| e.contains(" python ")).count();
    let by_rust = entries.iter().filter(|e| e.contains(" rust ")).count();
    assert_eq!(by_python + by_rust, SHARED_JOBS);
    assert!(
        by_python > 0 && by_rust > 0,
        "both workers take a share: python {by_python}, rust {by_rust}"
    );
    assert_eq!(py_counters["complete"], json!(by_python), "{py_counters}");
    assert_eq!(py_counters["failed"], json!(0), "{py_counters}");
    assert_eq!(rust.complete, by_rust as u64, "{rust:?}");
    assert_eq!(rust.failed, 0, "{rust:?}");

    // Each result names the worker the ledger says ran it.
    for (id, run) in &runs {
        let job = pool.job::<String>(id.clone());
        assert_eq!(job.result(Duration::from_secs(1)).await.unwrap(), run[0].0);
    }
    assert_eq!(pool.queue_size("arq:queue").await.unwrap(), 0);
    eprintln!(
        "shared queue ({}): python ran {by_python}, rust ran {by_rust}",
        wire.name()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msgpack_python_and_rust_workers_share_a_queue() {
    shared_queue_runs_each_job_once(Wire::Msgpack).await;
}

#[cfg(feature = "pickle")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pickle_python_and_rust_workers_share_a_queue() {
    shared_queue_runs_each_job_once(Wire::Pickle).await;
}

// ---------------------------------------------------------------------------------------------
// 4. Python's Job.status() of Rust jobs in every state
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn python_reads_the_status_of_rust_jobs() {
    common::init_tracing();
    let redis = TestRedis::start();
    let wire = Wire::Msgpack;
    let pool = wire.pool(&redis).await;
    let deferred = must_not_run::enqueue(&pool)
        .job_id("st-deferred")
        .defer_by(Duration::from_secs(60))
        .await
        .unwrap();
    let queued = add::enqueue(&pool, 1, 2, None)
        .job_id("st-queued")
        .await
        .unwrap();
    let ids = ["st-deferred", "st-queued", "st-ghost"];
    let before = py_client(&redis, wire, "status", json!({ "ids": ids })).await;
    assert_eq!(
        before,
        json!({"st-deferred": "deferred", "st-queued": "queued", "st-ghost": "not_found"})
    );
    assert_eq!(deferred.status().await.unwrap(), JobStatus::Deferred);
    assert_eq!(queued.status().await.unwrap(), JobStatus::Queued);

    let worker = BgWorker::start(
        &pool,
        settings([add::FUNCTION, gated::FUNCTION, must_not_run::FUNCTION]),
    );
    let running = gated::enqueue(&pool).job_id("st-running").await.unwrap();
    wait_for(
        "the gated job to start",
        Duration::from_secs(10),
        || async { running.status().await.unwrap() == JobStatus::InProgress },
    )
    .await;
    let during = py_client(&redis, wire, "status", json!({"ids": ["st-running"]})).await;
    STATUS_GATE_OPEN.store(true, Ordering::SeqCst);
    assert_eq!(during, json!({"st-running": "in_progress"}));

    assert_eq!(
        running.result(Duration::from_secs(10)).await.unwrap(),
        "released"
    );
    assert_eq!(queued.result(Duration::from_secs(10)).await.unwrap(), 3);
    let after = py_client(
        &redis,
        wire,
        "status",
        json!({"ids": ["st-deferred", "st-queued", "st-running", "st-ghost"]}),
    )
    .await;
    assert_eq!(
        after,
        json!({
            "st-deferred": "deferred",
            "st-queued": "complete",
            "st-running": "complete",
            "st-ghost": "not_found",
        })
    );
    let stats = worker.stop().await;
    assert_eq!(stats.complete, 2, "{stats:?}");
}

// ---------------------------------------------------------------------------------------------
// 5. `arq --check` (the Python CLI) against a Rust worker's health record
// ---------------------------------------------------------------------------------------------

async fn python_arq_check(redis: &TestRedis, queue: &str) -> Finished {
    // 0.28's CLI: `arq [--check] WORKER_SETTINGS`; worker.WorkerSettings reads these variables.
    let mut cmd = python_command(&["-m", "arq", "--check", "worker.WorkerSettings"]);
    cmd.env("ARQ_INTEROP_REDIS_URL", redis.url())
        .env("ARQ_INTEROP_QUEUE", queue)
        .env("ARQ_INTEROP_CODEC", "msgpack");
    run_to_end(cmd, Duration::from_secs(30)).await
}

#[tokio::test]
async fn python_arq_check_sees_a_rust_worker() {
    common::init_tracing();
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let queue = "interop:check";

    let none = python_arq_check(&redis, queue).await;
    assert_eq!(none.status.code(), Some(1), "{}", none.stderr);
    assert!(
        none.stderr
            .contains("Health check failed: no health check sentinel value found"),
        "{}",
        none.stderr
    );

    let worker = BgWorker::start(&pool, settings([add::FUNCTION]).queue_name(queue));
    wait_for(
        "the Rust health record",
        Duration::from_secs(10),
        || async { pool.health_check(queue).await.unwrap().is_some() },
    )
    .await;
    let record = pool.health_check(queue).await.unwrap().unwrap();
    assert!(record.contains("j_complete=0"), "{record}");
    let running = python_arq_check(&redis, queue).await;
    assert_eq!(running.status.code(), Some(0), "{}", running.stderr);
    // Python logs the bytes it read: the record the Rust worker wrote under `<queue>:health-check`.
    assert!(
        running
            .stderr
            .contains(&format!("Health check successful: b'{record}'")),
        "{}\nrecord: {record}",
        running.stderr
    );

    worker.stop().await;
    let stopped = python_arq_check(&redis, queue).await;
    assert_eq!(stopped.status.code(), Some(1), "{}", stopped.stderr);
}

// ---------------------------------------------------------------------------------------------
// 6. Python's Job.abort() of a job on a Rust worker
// ---------------------------------------------------------------------------------------------

/// Asserts what Python's `abort()` gave for an aborted job, and what was stored: what a Python
/// worker stores, a bare `CancelledError()` (spec §7.6, §7.8), whether the job was aborted
/// before its start or while running.
fn assert_python_abort(wire: Wire, out: &serde_json::Value) {
    match wire {
        // abort() waits for the result. The Rust worker stores CancelledError as its text
        // (msgpack cannot hold the exception; a bare one has no message, so the text is the
        // class alone), and Job.result() raises any non-exception failure as
        // SerializationError, which abort() does not catch. Python arq's own worker does the
        // same with msgpack (its fallback text 'unable to serialize result'; spec §7.8).
        Wire::Msgpack => {
            let text = "CancelledError";
            assert_eq!(
                out["raised"],
                json!({"type": "arq.jobs.SerializationError", "args": [text], "str": text}),
                "{out}"
            );
            assert_eq!(out["info"]["r"], json!(text), "{out}");
        }
        // pickle stores a real asyncio.CancelledError(), which abort() turns into True.
        #[cfg(feature = "pickle")]
        Wire::Pickle => {
            assert_eq!(out["returned"], json!(true), "{out}");
            assert_eq!(
                out["info"]["r"],
                json!({"type": "asyncio.exceptions.CancelledError", "args": [], "str": ""}),
                "{out}"
            );
        }
    }
    assert_eq!(out["status"], json!("complete"), "{out}");
    assert_eq!(out["info"]["s"], json!(false), "{out}");
}

async fn python_aborts_a_deferred_job(wire: Wire) {
    common::init_tracing();
    let redis = TestRedis::start();
    let pool = wire.pool(&redis).await;
    let raw = redis.raw().await;
    let job = must_not_run::enqueue(&pool)
        .job_id("abort-me")
        .defer_by(Duration::from_secs(60))
        .await
        .unwrap();
    // Python moves the deferred job to score 1 (due now), then adds it to arq:abort, in two
    // separate steps: a worker polling between them would claim the job before the marker
    // exists (a race of Python's abort protocol, Python workers included). So the Rust worker
    // starts once the marker is there; it then claims the job, finds the marker, and records
    // CancelledError without running it.
    let abort = py_client(
        &redis,
        wire,
        "abort",
        json!({"id": "abort-me", "timeout": 10}),
    );
    let start_worker = async {
        wait_for("Python's abort marker", Duration::from_secs(10), || async {
            raw.zscore::<Option<f64>, _, _>("arq:abort", "abort-me")
                .await
                .unwrap()
                .is_some()
        })
        .await;
        BgWorker::start(&pool, settings([must_not_run::FUNCTION]))
    };
    let (out, worker) = tokio::join!(abort, start_worker);
    assert_python_abort(wire, &out);
    // It never ran: start and finish are the same instant, which tells Rust readers so.
    assert_eq!(out["info"]["st"], out["info"]["ft"], "{out}");

    let failure = job.result(Duration::from_secs(5)).await.unwrap_err();
    let failure = failure.job_failure().expect("a job failure").clone();
    assert!(failure.is_aborted(), "{failure}");
    assert_eq!(failure.message, arq::ABORTED_BEFORE_START);
    let stats = worker.stop().await;
    assert_eq!((stats.complete, stats.failed), (0, 1), "{stats:?}");
    assert_eq!(
        MUST_NOT_RUN.load(Ordering::SeqCst),
        0,
        "the aborted job ran"
    );
    // The marker was consumed and the job is gone from the queue.
    let marker: Option<f64> = raw.zscore("arq:abort", "abort-me").await.unwrap();
    assert_eq!(marker, None);
    assert_eq!(pool.queue_size("arq:queue").await.unwrap(), 0);
}

#[tokio::test]
async fn msgpack_python_aborts_a_deferred_job_on_a_rust_worker() {
    python_aborts_a_deferred_job(Wire::Msgpack).await;
}

#[cfg(feature = "pickle")]
#[tokio::test]
async fn pickle_python_aborts_a_deferred_job_on_a_rust_worker() {
    python_aborts_a_deferred_job(Wire::Pickle).await;
}

async fn python_aborts_a_running_job(wire: Wire) {
    common::init_tracing();
    let redis = TestRedis::start();
    let pool = wire.pool(&redis).await;
    let job = long_sleep::enqueue(&pool, 15_000)
        .job_id("abort-running")
        .await
        .unwrap();
    let worker = BgWorker::start(&pool, settings([long_sleep::FUNCTION]));
    wait_for("the job to start", Duration::from_secs(10), || async {
        job.status().await.unwrap() == JobStatus::InProgress
    })
    .await;
    let started = Instant::now();
    let out = py_client(
        &redis,
        wire,
        "abort",
        json!({"id": "abort-running", "timeout": 10}),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "abort took long"
    );
    let failure = job.result(Duration::from_secs(1)).await.unwrap_err();
    let failure = failure.job_failure().expect("a job failure").clone();
    assert!(failure.is_aborted(), "{failure}");
    assert_eq!(failure.message, arq::ABORTED_WHILE_RUNNING);
    assert_python_abort(wire, &out);
    let (st, ft) = (out["info"]["st"].as_i64(), out["info"]["ft"].as_i64());
    assert!(ft > st, "a run lasts at least 1 ms: {out}");
    let stats = worker.stop().await;
    assert_eq!((stats.complete, stats.failed), (0, 1), "{stats:?}");
}

#[tokio::test]
async fn msgpack_python_aborts_a_running_job_on_a_rust_worker() {
    python_aborts_a_running_job(Wire::Msgpack).await;
}

#[cfg(feature = "pickle")]
#[tokio::test]
async fn pickle_python_aborts_a_running_job_on_a_rust_worker() {
    python_aborts_a_running_job(Wire::Pickle).await;
}

// ---------------------------------------------------------------------------------------------
// 7. The same cron on a Rust and a Python worker: each tick runs once
// ---------------------------------------------------------------------------------------------

/// Python's `cron(interop_tick, second=set(range(60)))`: the same name (`cron:interop_tick`),
/// so both workers compute the same job id for each tick.
#[arq::cron(second = 0..60, name = "interop_tick")]
async fn rust_interop_tick(ctx: &Ctx) -> Result<(), arq::BoxError> {
    let Ledger(client) = ctx.state::<Ledger>()?;
    let entry = format!("{} rust {}", ctx.job_id(), ctx.job_try());
    let _: i64 = client
        .custom(command("RPUSH"), vec!["cron-ledger".to_owned(), entry])
        .await?;
    Ok(())
}

/// Rust alone until it has run a tick, then both for 4 s, then Python alone until it has
/// run one: both languages run ticks, and none runs twice, at the hand-overs or meanwhile.
async fn rust_and_python_workers_share_a_cron(wire: Wire) {
    common::init_tracing();
    let redis = TestRedis::start();
    let ledger_redis = TestRedis::start();
    let pool = wire.pool(&redis).await;
    let ledger_url = ledger_redis.url();
    let ledger_client = ledger_redis.raw().await;
    let ledger = || {
        let client = ledger_client.clone();
        async move {
            client
                .custom::<Vec<String>, _>(command("LRANGE"), vec!["cron-ledger", "0", "-1"])
                .await
                .unwrap()
        }
    };
    let ran_by = |entries: &[String], who: &str| {
        entries
            .iter()
            .filter(|e| e.split(' ').nth(1) == Some(who))
            .count()
    };
    let wait_for = |who: &'static str| async move {
        let deadline = Instant::now() + Duration::from_secs(15);
        while ran_by(&ledger().await, who) == 0 {
            assert!(Instant::now() < deadline, "the {who} worker ran no tick");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let for_state = ledger_client.clone();
    let rust = BgWorker::start(
        &pool,
        settings([])
            .cron_jobs([rust_interop_tick::CRON])
            .poll_delay(Duration::from_millis(100))
            .on_startup(move |mut state| {
                let client = for_state.clone();
                async move {
                    state.insert(Ledger(client));
                    Ok(state)
                }
            }),
    );
    wait_for("rust").await;
    let py = PyWorker::spawn(
        &redis,
        wire,
        &["--cron", "--ledger-url", &ledger_url, "--poll-delay", "0.1"],
    )
    .ready()
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    rust.stop().await;
    wait_for("python").await;
    drop(py);

    let entries = ledger().await;
    let mut runs: HashMap<String, Vec<String>> = HashMap::new();
    for e in &entries {
        let parts: Vec<&str> = e.split(' ').collect();
        assert_eq!(parts.len(), 3, "ledger entry {e:?}");
        let ms: i64 = parts[0]
            .strip_prefix("cron:interop_tick:")
            .unwrap_or_else(|| panic!("{e:?}: not Python's cron id format"))
            .parse()
            .unwrap();
        assert_eq!(ms % 1000, 123, "{e:?}: Python's default microsecond 123456");
        runs.entry(parts[0].to_owned())
            .or_default()
            .push(parts[1].to_owned());
    }
    let twice: Vec<_> = runs.iter().filter(|(_, who)| who.len() > 1).collect();
    assert!(twice.is_empty(), "ticks run more than once: {twice:?}");
    assert!(
        runs.len() >= 4,
        "only {} ticks ran: {entries:?}",
        runs.len()
    );
    let (by_rust, by_python) = (ran_by(&entries, "rust"), ran_by(&entries, "python"));
    assert_eq!(by_rust + by_python, entries.len(), "{entries:?}");
    assert!(by_rust >= 1 && by_python >= 1, "{entries:?}");
    eprintln!(
        "cron ticks ({}): {} (rust ran {by_rust}, python ran {by_python})",
        wire.name(),
        runs.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msgpack_a_rust_and_a_python_worker_run_each_cron_tick_once() {
    rust_and_python_workers_share_a_cron(Wire::Msgpack).await;
}

#[cfg(feature = "pickle")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pickle_a_rust_and_a_python_worker_run_each_cron_tick_once() {
    rust_and_python_workers_share_a_cron(Wire::Pickle).await;
}

// ---------------------------------------------------------------------------------------------
// 8. `_job_id` de-duplication across languages
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn job_ids_are_deduplicated_across_languages() {
    common::init_tracing();
    let redis = TestRedis::start();
    let wire = Wire::Msgpack;
    let pool = wire.pool(&redis).await;
    // Python first: Rust is refused.
    let out = py_client(
        &redis,
        wire,
        "enqueue",
        json!({"jobs": [{"job_id": "from-py", "function": "add", "args": [1, 2]}]}),
    )
    .await;
    assert_eq!(out, json!({"from-py": true}));
    let err = add::enqueue(&pool, 5, 5, None)
        .job_id("from-py")
        .await
        .unwrap_err();
    assert!(err.is_duplicate(), "{err}");
    // Rust first: Python's enqueue_job returns None.
    add::enqueue(&pool, 1, 1, None)
        .job_id("from-rs")
        .await
        .unwrap();
    let out = py_client(
        &redis,
        wire,
        "enqueue",
        json!({"jobs": [{"job_id": "from-rs", "function": "add", "args": [9, 9]}]}),
    )
    .await;
    assert_eq!(out, json!({"from-rs": false}));
    // While only a result is kept, both sides still refuse the id.
    rust_burst(&pool, settings([add::FUNCTION])).await;
    assert_eq!(
        pool.job::<i64>("from-rs")
            .result(Duration::from_secs(1))
            .await
            .unwrap(),
        2
    );
    let out = py_client(
        &redis,
        wire,
        "enqueue",
        json!({"jobs": [{"job_id": "from-rs", "function": "add", "args": [9, 9]}]}),
    )
    .await;
    assert_eq!(out, json!({"from-rs": false}));
    assert!(add::enqueue(&pool, 1, 1, None)
        .job_id("from-py")
        .await
        .unwrap_err()
        .is_duplicate());
}

// ---------------------------------------------------------------------------------------------
// 9. Deferred scores
// ---------------------------------------------------------------------------------------------

/// The score minus the record's enqueue time, and the job key's TTL, for a queued job.
async fn score_offset(redis: &TestRedis, pool: &Pool, id: &str) -> (i64, i64) {
    let raw = redis.raw().await;
    let score: f64 = raw.zscore("arq:queue", id).await.unwrap();
    let et = pool
        .job::<Value>(id)
        .info()
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("job {id} has a record"))
        .enqueue_time
        .timestamp_millis();
    let pttl: i64 = raw
        .custom(
            CustomCommand::new_static("PTTL", ClusterHash::FirstKey, false),
            vec![format!("arq:job:{id}")],
        )
        .await
        .unwrap();
    (score as i64 - et, pttl)
}

#[tokio::test]
async fn python_and_rust_defer_a_job_by_the_same_offset() {
    common::init_tracing();
    let redis = TestRedis::start();
    let wire = Wire::Msgpack;
    let pool = wire.pool(&redis).await;
    // Python: score = enqueue_time_ms + to_ms(_defer_by), TTL = defer + one day.
    let out = py_client(
        &redis,
        wire,
        "enqueue",
        json!({"jobs": [
            {"job_id": "py-1234", "function": "add", "args": [1, 2], "defer_by": 1.234},
            {"job_id": "py-60s", "function": "add", "args": [1, 2], "defer_by": 60},
        ]}),
    )
    .await;
    assert_eq!(out, json!({"py-1234": true, "py-60s": true}));
    for (id, ms) in [("rs-1234", 1_234), ("rs-60s", 60_000)] {
        add::enqueue(&pool, 1, 2, None)
            .job_id(id)
            .defer_by(Duration::from_millis(ms))
            .await
            .unwrap();
    }
    for (py, rs, ms) in [("py-1234", "rs-1234", 1_234), ("py-60s", "rs-60s", 60_000)] {
        let (py_offset, py_ttl) = score_offset(&redis, &pool, py).await;
        let (rs_offset, rs_ttl) = score_offset(&redis, &pool, rs).await;
        assert_eq!(py_offset, ms, "Python's score is et + defer");
        assert_eq!(rs_offset, py_offset, "Rust's offset is Python's");
        let ttl = 86_400_000 + ms;
        for (id, pttl) in [(py, py_ttl), (rs, rs_ttl)] {
            assert!(
                (ttl - 5_000..=ttl).contains(&pttl),
                "{id}: pttl {pttl}, want {ttl}"
            );
        }
    }
}
