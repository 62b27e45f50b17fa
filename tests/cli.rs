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
fn child_process() {
    let Ok(args) = std::env::var(CHILD_ENV) else {
        return;
    };
    let args: Vec<&str> = args.split('\u{1f}').collect();
    let settings = if std::env::var("ARQ_TEST_NO_JOBS").is_ok() {
        WorkerSettings::new().functions([])
    } else {
        WorkerSettings::new().functions([cli_slow::FUNCTION])
    };
    let code = arq_cli::exit_code_from(args, settings);
    std::process::exit(i32::from(code));
}

fn spawn_cli(args: &[&str], no_jobs: bool) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
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
    assert!(output_of(child).contains("Health check failed: no health check sentinel value found"));

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
