//! The CLI as a real process: `run` stops cleanly on SIGTERM and SIGINT, `check` exits 0 or 1
//! as `arq --check` does, and a binary with no jobs says how to build a worker.
//!
//! The worker process is this test binary itself, re-run with `ARQ_TEST_CHILD_ARGS` set: its
//! `child_process` test then calls `arq_cli::exit_code_from`, exactly as a user's worker
//! binary would, and exits with its status.

mod common;

use arq::{JobStatus, WorkerSettings};
use common::TestRedis;
use fred::prelude::*;
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[arq::job]
async fn cli_slow(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

const CHILD_ENV: &str = "ARQ_TEST_CHILD_ARGS";

/// Not a test of its own: the entry point of the child process.
#[test]
#[ignore = "not a test: the CLI child process's entry point, run by the tests themselves"]
fn child_process() {
    let Ok(args) = std::env::var(CHILD_ENV) else {
        return;
    };
    let args: Vec<&str> = args.split('\u{1f}').collect();
    let mut settings = if std::env::var("ARQ_TEST_NO_JOBS").is_ok() {
        WorkerSettings::new().functions([])
    } else {
        WorkerSettings::new().functions([cli_slow::FUNCTION])
    };
    if let Ok(name) = std::env::var("ARQ_TEST_SETTINGS_CODEC") {
        settings = settings.codec(arq::codec::by_name(&name).unwrap());
    }
    let code = arq_cli::exit_code_from(args, settings);
    std::process::exit(i32::from(code));
}

fn spawn_cli(args: &[&str], no_jobs: bool) -> Child {
    spawn_cli_env(args, no_jobs, &[])
}

fn spawn_cli_env(args: &[&str], no_jobs: bool, env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.envs(env.iter().copied());
    cmd.args([
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
    .env("RUST_LOG", "info")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    if no_jobs {
        cmd.env("ARQ_TEST_NO_JOBS", "1");
    }
    cmd.spawn().expect("spawn the child worker")
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("child did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn output_of(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig}");
}

async fn stop_with_signal(sig: &str) {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let raw = redis.raw().await;
    let queue = format!("cli:{sig}");
    let job = cli_slow::enqueue(&pool, 30_000)
        .queue_name(&queue)
        .await
        .unwrap();
    let url = redis.url();
    let mut child = spawn_cli(
        &[
            "run",
            "--redis-url",
            &url,
            "--queue",
            &queue,
            "--poll-delay",
            "0.02",
        ],
        false,
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while job.status().await.unwrap() != JobStatus::InProgress {
        assert!(
            Instant::now() < deadline,
            "the worker never started the job"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let health: Option<String> = raw.get(format!("{queue}:health-check")).await.unwrap();
    assert!(health.is_some(), "health record written while running");

    let sent = Instant::now();
    signal(&child, sig);
    let status = wait_exit(&mut child, Duration::from_secs(10));
    assert!(
        status.success(),
        "exit status {status:?}: {}",
        output_of(child)
    );
    assert!(sent.elapsed() < Duration::from_secs(5));
    // The job went back to the queue: lease released, record intact; health key removed.
    assert_eq!(job.status().await.unwrap(), JobStatus::Queued);
    let left: i64 = raw
        .exists(vec![
            format!("arq:in-progress:{}", job.id()),
            format!("{queue}:health-check"),
        ])
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert!(job.info().await.unwrap().is_some());
}

#[tokio::test]
async fn run_stops_cleanly_on_sigterm() {
    stop_with_signal("TERM").await;
}

#[tokio::test]
async fn run_stops_cleanly_on_sigint() {
    stop_with_signal("INT").await;
}

#[tokio::test]
async fn burst_run_drains_the_queue_and_exits_zero() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let queue = "cli:burst";
    let mut jobs = Vec::new();
    for i in 0..5 {
        jobs.push(cli_slow::enqueue(&pool, i).queue_name(queue).await.unwrap());
    }
    let url = redis.url();
    let mut child = spawn_cli(
        &[
            "run",
            "--burst",
            "--redis-url",
            &url,
            "--queue",
            queue,
            "--max-jobs",
            "2",
        ],
        false,
    );
    let status = wait_exit(&mut child, Duration::from_secs(20));
    assert!(status.success(), "{}", output_of(child));
    for (i, j) in jobs.iter().enumerate() {
        assert_eq!(j.result(Duration::from_secs(1)).await.unwrap(), i as u64);
    }
}

#[tokio::test]
async fn check_exits_zero_with_a_health_record_and_one_without() {
    let redis = TestRedis::start();
    let raw = redis.raw().await;
    let url = redis.url();
    let mut child = spawn_cli(
        &["check", "--redis-url", &url, "--queue", "cli:check"],
        true,
    );
    let status = wait_exit(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(1));
    let out = output_of(child);
    assert!(
        out.contains("Health check failed: no health check sentinel value found"),
        "{out}"
    );
    assert!(
        out.contains("no worker of queue \"cli:check\" is running"),
        "{out}"
    );

    let _: () = raw
        .set(
            "cli:check:health-check",
            "Nov-28 22:28:11 j_complete=0 j_failed=0 j_retried=0 j_ongoing=0 queued=0",
            None,
            None,
            false,
        )
        .await
        .unwrap();
    // `run --check` is the same as `check`.
    let mut child = spawn_cli(
        &[
            "run",
            "--check",
            "--redis-url",
            &url,
            "--queue",
            "cli:check",
        ],
        true,
    );
    let status = wait_exit(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(0));
    assert!(output_of(child).contains("Health check successful: Nov-28 22:28:11 j_complete=0"));
}

#[tokio::test]
async fn a_binary_without_jobs_explains_how_to_build_a_worker() {
    let redis = TestRedis::start();
    let url = redis.url();
    let mut child = spawn_cli(&["run", "--redis-url", &url], true);
    let status = wait_exit(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(2));
    let out = output_of(child);
    assert!(
        out.contains("no job functions are linked into this binary"),
        "{out}"
    );
    assert!(out.contains("arq_cli::main_with"), "{out}");
}

#[test]
fn bad_usage_exits_two() {
    let mut child = spawn_cli(&["run", "--max-jobs", "many"], true);
    let status = wait_exit(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(2));
    assert!(output_of(child).contains("--max-jobs"));
}

fn cli_json(args: &[&str]) -> (i32, serde_json::Value) {
    let mut with_json = vec!["--json"];
    with_json.extend_from_slice(args);
    let mut child = spawn_cli(&with_json, true);
    let status = wait_exit(&mut child, Duration::from_secs(20));
    let out = output_of(child);
    let start = out
        .find(['{', '['])
        .unwrap_or_else(|| panic!("no JSON in: {out}"));
    let value = serde_json::Deserializer::from_str(&out[start..])
        .into_iter::<serde_json::Value>()
        .next()
        .unwrap()
        .unwrap_or_else(|e| panic!("bad JSON ({e}) in: {out}"));
    (status.code().unwrap(), value)
}

#[tokio::test]
async fn admin_commands_inspect_and_steer_a_live_queue() {
    let redis = TestRedis::start();
    let pool = redis.pool().await;
    let url = redis.url();
    let q = "cli:admin";
    let conn = ["--redis-url", url.as_str(), "--queue", q];
    let with = |cmd: &[&str], extra: &[&str]| -> Vec<String> {
        cmd.iter()
            .map(|s| s.to_string())
            .chain(conn.iter().map(|s| s.to_string()))
            .chain(extra.iter().map(|s| s.to_string()))
            .collect()
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        cli_json(&refs)
    };

    // enqueue by name with JSON arguments (works for functions this binary doesn't have)
    let (code, v) = run(with(
        &["enqueue", "cli_slow"],
        &["--args", "[5]", "--job-id", "j1"],
    ));
    assert_eq!(
        (code, &v["job_id"], &v["enqueued"]),
        (0, &json!("j1"), &json!(true))
    );
    let (code, v) = run(with(
        &["enqueue", "cli_slow"],
        &["--args", "[5]", "--job-id", "j1"],
    ));
    assert_eq!(
        (code, &v["enqueued"]),
        (1, &json!(false)),
        "duplicate id refused"
    );
    let (_, v) = run(with(
        &["enqueue", "py_func"],
        &["--kwargs", r#"{"x": [1, "a"]}"#, "--defer-by", "600"],
    ));
    let deferred_id = v["job_id"].as_str().unwrap().to_owned();

    let (_, v) = run(with(&["jobs"], &[]));
    let jobs = v.as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0]["job_id"], "j1");
    assert_eq!(jobs[0]["status"], "queued");
    assert_eq!(jobs[0]["function"], "cli_slow");
    assert_eq!(jobs[0]["args"], json!([5]));
    assert_eq!(jobs[1]["status"], "deferred");
    assert_eq!(jobs[1]["kwargs"], json!({"x": [1, "a"]}));
    let (_, v) = run(with(&["jobs"], &["--status", "deferred"]));
    assert_eq!(v.as_array().unwrap().len(), 1);
    let (_, v) = run(with(&["jobs"], &["--function", "cli_slow"]));
    assert_eq!(v.as_array().unwrap().len(), 1);

    let (_, v) = run(with(&["info"], &[]));
    assert_eq!(
        (
            v["total"].as_u64(),
            v["queued"].as_u64(),
            v["deferred"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    let (_, v) = cli_json(&["queues", "--redis-url", &url]);
    assert_eq!(v[0]["queue"], q);

    let (_, v) = run(with(&["status", "j1"], &[]));
    assert_eq!(v["status"], "queued");
    // abort the deferred one; delete fails for unknown ids
    let (code, v) = run(with(&["abort", deferred_id.as_str()], &[]));
    assert_eq!((code, &v["aborted"]), (0, &json!(true)));
    let (code, _) = run(with(&["delete", "nope"], &[]));
    assert_eq!(code, 1);

    // run j1, then read its result, retry it, and read again
    let w = arq::Worker::new(
        pool.clone(),
        arq::WorkerSettings::new()
            .functions([cli_slow::FUNCTION])
            .queue_name(q)
            .burst(true)
            .handle_signals(false)
            .poll_delay(Duration::from_millis(20)),
    )
    .unwrap();
    tokio::time::timeout(Duration::from_secs(30), w.run())
        .await
        .expect("the burst worker did not drain the queue within 30 s")
        .unwrap();
    let (code, v) = run(with(&["result", "j1"], &[]));
    assert_eq!(
        (code, &v["success"], &v["result"]),
        (0, &json!(true), &json!(5))
    );
    let (code, v) = run(with(&["result", deferred_id.as_str()], &[]));
    assert_eq!((code, &v["success"]), (1, &json!(false)));
    assert!(v["result"].as_str().unwrap().starts_with("CancelledError"));
    let (code, _) = run(with(&["retry", "j1"], &[]));
    assert_eq!(code, 0);
    let (_, v) = run(with(&["status", "j1"], &[]));
    assert_eq!(v["status"], "queued");

    // purge asks first
    let mut child = spawn_cli(
        &with(&["purge"], &[])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        true,
    );
    drop(child.stdin.take());
    let status = wait_exit(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        pool.queue_size(q).await.unwrap(),
        1,
        "nothing purged without confirmation"
    );
    let (code, v) = run(with(&["purge"], &["--yes"]));
    assert_eq!((code, v["deleted"].as_u64()), (0, Some(1)));
    assert_eq!(pool.queue_size(q).await.unwrap(), 0);
}

/// A queue fed by Python arq with its own default codec (pickle, no serializer settings) and
/// the worker binary: `--codec pickle` (or `ARQ_CODEC`) runs the jobs and Python reads the
/// results; without it, the job fails with a text that names pickle and the setting.
#[cfg(feature = "pickle")]
#[tokio::test]
async fn the_worker_binary_speaks_pickle_with_python_clients() {
    use common::python::{py_client, Wire};
    let redis = TestRedis::start();
    let url = redis.url();
    let q = "cli:pickle";
    let enqueue = |id: &str, n: u64| json!({"jobs": [{"function": "cli_slow", "args": [n], "job_id": id, "queue": q}]});
    assert_eq!(
        py_client(&redis, Wire::Pickle, "enqueue", enqueue("p-default", 1)).await,
        json!({"p-default": true})
    );

    // The admin listing, with the codec from the environment, decodes Python's pickle.
    let mut child = spawn_cli_env(
        &["--json", "jobs", "--redis-url", &url, "--queue", q],
        true,
        &[("ARQ_CODEC", "pickle")],
    );
    assert!(wait_exit(&mut child, Duration::from_secs(20)).success());
    let listing = output_of(child);
    assert!(listing.contains("\"cli_slow\""), "{listing}");
    // Without the codec, it says what the record looks like.
    let mut child = spawn_cli(&["jobs", "--redis-url", &url, "--queue", q], true);
    assert!(wait_exit(&mut child, Duration::from_secs(20)).success());
    let listing = output_of(child);
    assert!(listing.contains("looks like pickle"), "{listing}");

    // A msgpack worker (the default) fails the job, naming the codec to set.
    let mut child = spawn_cli(
        &["run", "--burst", "--redis-url", &url, "--queue", q],
        false,
    );
    assert!(wait_exit(&mut child, Duration::from_secs(20)).success());
    let pool = redis.pool().await;
    let failed = pool
        .job::<u64>("p-default")
        .in_queue(q)
        .result(Duration::from_secs(5))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        failed.contains("looks like pickle") && failed.contains("--codec pickle"),
        "{failed}"
    );

    // --codec pickle: the job runs, and Python reads its result with its defaults.
    py_client(&redis, Wire::Pickle, "enqueue", enqueue("p-flag", 7)).await;
    let mut child = spawn_cli(
        &[
            "run",
            "--burst",
            "--codec",
            "pickle",
            "--redis-url",
            &url,
            "--queue",
            q,
        ],
        false,
    );
    assert!(wait_exit(&mut child, Duration::from_secs(20)).success());
    // ARQ_CODEC=pickle: the same.
    py_client(&redis, Wire::Pickle, "enqueue", enqueue("p-env", 9)).await;
    let mut child = spawn_cli_env(
        &["run", "--burst", "--redis-url", &url, "--queue", q],
        false,
        &[("ARQ_CODEC", "pickle")],
    );
    assert!(wait_exit(&mut child, Duration::from_secs(20)).success());
    let read = py_client(
        &redis,
        Wire::Pickle,
        "results",
        json!({"ids": ["p-flag", "p-env"], "queue": q, "timeout": 5}),
    )
    .await;
    assert_eq!(read["p-flag"]["returned"], json!(7), "{read}");
    assert_eq!(read["p-env"]["returned"], json!(9), "{read}");
}

/// `WorkerSettings::codec` (Python's `job_serializer`) is the codec of the worker binary and
/// of its admin commands when no `--codec` is given; `--codec` overrides it.
#[cfg(feature = "pickle")]
#[tokio::test]
async fn the_settings_codec_is_the_binarys_default() {
    let redis = TestRedis::start();
    let url = redis.url();
    let q = "cli:settings-codec";
    let pool = redis.pool().await.with_codec(arq::PickleCodec);
    let job = cli_slow::enqueue(&pool, 3).queue_name(q).await.unwrap();
    let mut child = spawn_cli_env(
        &["run", "--burst", "--redis-url", &url, "--queue", q],
        false,
        &[("ARQ_TEST_SETTINGS_CODEC", "pickle")],
    );
    assert!(
        wait_exit(&mut child, Duration::from_secs(20)).success(),
        "worker failed"
    );
    assert_eq!(job.result(Duration::from_secs(5)).await.unwrap(), 3);

    // --codec msgpack over the settings' pickle: the pickled job is not understood.
    let job = cli_slow::enqueue(&pool, 4).queue_name(q).await.unwrap();
    let mut child = spawn_cli_env(
        &[
            "run",
            "--burst",
            "--codec",
            "msgpack",
            "--redis-url",
            &url,
            "--queue",
            q,
        ],
        false,
        &[("ARQ_TEST_SETTINGS_CODEC", "pickle")],
    );
    assert!(wait_exit(&mut child, Duration::from_secs(20)).success());
    let raw = redis.pool().await; // msgpack reads the failure the msgpack worker wrote
    let err = raw
        .job::<u64>(job.id())
        .in_queue(q)
        .result(Duration::from_secs(5))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("looks like pickle"), "{err}");
}

/// The Redis settings of the binary's parts: a worker reaches Redis from `REDIS_HOST` and
/// `REDIS_PORT` alone (no URL), and `--redis-password` authenticates.
#[tokio::test]
async fn the_worker_binary_takes_redis_settings_from_parts() {
    let redis = TestRedis::start_with(&["--requirepass", "s3cret"]);
    let port = redis.port.to_string();
    let pool = arq::create_pool(
        arq::RedisSettings::from_url(&format!("redis://:s3cret@127.0.0.1:{port}")).unwrap(),
    )
    .await
    .unwrap();
    let job = cli_slow::enqueue(&pool, 2)
        .queue_name("cli:parts")
        .await
        .unwrap();
    let mut child = spawn_cli_env(
        &[
            "run",
            "--burst",
            "--queue",
            "cli:parts",
            "--redis-password",
            "s3cret",
        ],
        false,
        &[("REDIS_HOST", "127.0.0.1"), ("REDIS_PORT", &port)],
    );
    let status = wait_exit(&mut child, Duration::from_secs(20));
    assert!(status.success(), "{}", output_of(child));
    assert_eq!(job.result(Duration::from_secs(5)).await.unwrap(), 2);
}
