//! The examples run, end to end, against a private redis-server. The test builds them first
//! (`cargo build --examples` with this test's profile, features and target directory), so it
//! never runs stale binaries, also under `cargo test --test examples`.

mod common;

use common::TestRedis;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// target/<profile>, from target/<profile>/deps/<this test>.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_owned()
}

/// Builds the examples once per test process, as this test binary was built.
fn build_examples() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = profile_dir();
        let target_dir = dir.parent().unwrap();
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--examples", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(target_dir);
        match dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => {}
            Some("release") => {
                cmd.arg("--release");
            }
            Some(other) => {
                cmd.args(["--profile", other]);
            }
            None => panic!("no profile directory above {}", dir.display()),
        }
        let features: Vec<&str> = [
            ("pickle", cfg!(feature = "pickle")),
            ("json", cfg!(feature = "json")),
            ("failpoints", cfg!(feature = "failpoints")),
        ]
        .into_iter()
        .filter_map(|(f, on)| on.then_some(f))
        .collect();
        if features.len() == 3 {
            // As `cargo test --workspace --all-features` built this test: the same feature
            // resolution, so nothing already built is built again.
            cmd.args(["--workspace", "--all-features"]);
        } else {
            cmd.args(["-p", "arq"]);
            if !features.is_empty() {
                cmd.arg("--features").arg(features.join(","));
            }
        }
        let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
        assert!(
            out.status.success(),
            "building the examples failed ({cmd:?}):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

fn example(name: &str) -> PathBuf {
    build_examples();
    profile_dir().join("examples").join(name)
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
    assert!(
        out.contains("worker: 1002 complete, 0 failed, 1 retried"),
        "{out}"
    );
    assert!(out.contains("cleaned up: 1002 results of queue"), "{out}");
    // Readable: the per-job log lines stay below the default level.
    assert!(out.lines().count() < 10, "{out}");
    // Nothing left behind.
    let keys: Vec<String> = tokio::runtime::Runtime::new().unwrap().block_on(async {
        use fred::prelude::*;
        let raw = redis.raw().await;
        raw.custom(
            fred::types::CustomCommand::new_static("KEYS", None, false),
            vec!["*"],
        )
        .await
        .unwrap()
    });
    let left: Vec<_> = keys
        .iter()
        .filter(|k| !k.starts_with("arq:generation"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn quickstart_without_redis_url_runs_in_memory() {
    let out = Command::new(example("quickstart"))
        .env_remove("REDIS_URL")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    // One line says where it runs and how to run it on Redis.
    let first = stdout.lines().next().unwrap_or_default();
    assert!(first.contains("in-process memory backend"), "{stdout}");
    assert!(
        first.contains("REDIS_URL=redis://127.0.0.1:6379 cargo run --example quickstart"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("memory backend").count(), 1, "{stdout}");
    // The same typed results and summary as on Redis.
    assert!(stdout.contains("sent \"Hi\" to a@example.com"), "{stdout}");
    assert!(
        stdout.contains("flaky_lookup(21) = 42 after a retry"),
        "{stdout}"
    );
    assert!(stdout.contains("1000 jobs: enqueued in"), "{stdout}");
    assert!(
        stdout.contains("worker: 1002 complete, 0 failed, 1 retried"),
        "{stdout}"
    );
    assert!(
        stdout.contains("cleaned up: 1002 results of queue"),
        "{stdout}"
    );
    assert!(stdout.lines().count() < 10, "{stdout}");
    // No warnings, and no word of connecting anywhere.
    assert!(!stderr.contains("WARN"), "{stderr}");
    assert!(!stderr.contains("could not connect"), "{stderr}");
}

#[test]
fn quickstart_without_redis_says_once_what_to_start() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(example("quickstart"))
        .env("REDIS_URL", format!("redis://127.0.0.1:{port}"))
        .env_remove("RUST_LOG")
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("connection refused"), "{text}");
    assert!(text.contains("Start Redis"), "{text}");
    assert_eq!(
        text.matches("could not connect").count(),
        1,
        "said once: {text}"
    );
    assert!(!text.contains("Attempted to quit"), "{text}");
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

/// A minimal HTTP/1.1 request over a fresh connection: (status code, JSON body).
fn http(addr: &str, method: &str, path: &str) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let code = head.split(' ').nth(1).unwrap().parse().unwrap();
    (
        code,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

#[test]
fn axum_app_enqueues_dedupes_and_reports_over_http() {
    use std::io::BufRead;
    let redis = TestRedis::start();
    let mut server = Command::new(example("axum_app"))
        .env("REDIS_URL", redis.url())
        .env("PORT", "0")
        .env("ARQ_EXAMPLE_WORKER", "1")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = server.stdout.take().unwrap();
    let _guard = Kill(server);
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap()
        .to_owned();

    let (code, v) = http(&addr, "POST", "/users/42/welcome");
    assert_eq!(code, 202);
    let welcome_id = v["job_id"].as_str().unwrap().to_owned();
    assert!(["queued", "in_progress", "complete"].contains(&v["status"].as_str().unwrap()));

    let (code, v) = http(&addr, "POST", "/images/7/process");
    assert_eq!(
        (code, &v["job_id"], &v["status"], &v["enqueued"]),
        (
            202,
            &serde_json::json!("process-image-7"),
            &serde_json::json!("deferred"),
            &serde_json::json!(true)
        )
    );
    let (code, v) = http(&addr, "POST", "/images/7/process");
    assert_eq!(
        (code, &v["enqueued"]),
        (200, &serde_json::json!(false)),
        "de-duplicated"
    );

    let wait_complete = |id: &str| {
        for _ in 0..200 {
            let (_, v) = http(&addr, "GET", &format!("/jobs/{id}"));
            if v["status"] == "complete" {
                return v;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("job {id} never completed");
    };
    let v = wait_complete(&welcome_id);
    assert_eq!(v["success"], true);
    assert_eq!(v["result"], "welcome mail sent to user 42 (try 1)");
    let v = wait_complete("process-image-7");
    assert_eq!(v["function"], "process_image");
    assert_eq!(
        v["result"],
        serde_json::json!([
            "image-7-small.png",
            "image-7-medium.png",
            "image-7-large.png"
        ])
    );

    let (code, v) = http(&addr, "GET", "/jobs/nope");
    assert_eq!((code, &v["status"]), (404, &serde_json::json!("not_found")));
}
