//! The examples run, end to end, against a private redis-server (cargo builds them before
//! running the tests).

mod common;

use common::TestRedis;
use std::path::PathBuf;
use std::process::{Command, Output};

fn example(name: &str) -> PathBuf {
    // target/<profile>/deps/<this test> -> target/<profile>/examples/<name>
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name)
}

fn run(name: &str, args: &[&str], redis: &TestRedis) -> Output {
    let out = Command::new(example(name))
        .args(args)
        .env("REDIS_URL", redis.url())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap_or_else(|e| panic!("run example {name}: {e}"));
    assert!(
        out.status.success(),
        "{name} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn quickstart_prints_typed_results() {
    let redis = TestRedis::start();
    let out = String::from_utf8(run("quickstart", &[], &redis).stdout).unwrap();
    assert!(out.contains("sent \"Hi\" to a@example.com"), "{out}");
    assert!(out.contains("flaky_lookup(21) = 42 after a retry"), "{out}");
    assert!(out.contains("1000 jobs: enqueued in"), "{out}");
}

#[test]
fn tasks_enqueue_then_burst_worker() {
    let redis = TestRedis::start();
    let out = String::from_utf8(run("tasks", &["enqueue"], &redis).stdout).unwrap();
    assert!(out.contains("enqueued crawl as crawl-example-net"), "{out}");
    // de-duplicated on a second enqueue
    let again = String::from_utf8(run("tasks", &["enqueue"], &redis).stdout).unwrap();
    assert!(again.contains("crawl already queued"), "{again}");
    run("tasks", &["run", "--burst", "--poll-delay", "0.05"], &redis);
    // every job ran (the retried ones and the deferred one too), and the health key is gone
    let left = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async { redis.pool().await.queue_size("arq:queue").await.unwrap() });
    assert_eq!(left, 0, "queue drained");
    let cli = Command::new(example("tasks"))
        .args(["check"])
        .env("REDIS_URL", redis.url())
        .output()
        .unwrap();
    assert_eq!(cli.status.code(), Some(1), "no worker left running");
}
