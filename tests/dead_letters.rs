//! Dead letters through the pool, on a private redis-server and on the memory backend: pages
//! newest first, one letter in full, undecodable letters listed with the reason, requeue (the
//! job runs again, as it was claimed), requeue of everything, delete and purge, past one
//! batch; and the `arq-cli dead` commands on Redis.
//!
//! Letters are made the way a worker makes them, without a worker: a real enqueue and claim,
//! then `Backend::finish` with a final failure.
//!
//! The CLI process is this test binary itself, re-run with `ARQ_TEST_CHILD_ARGS` set (as in
//! `tests/cli.rs`): its `child_process` test calls `arq_cli::exit_code_from`.

mod common;

use arq::backend::{ClaimRequest, DeadLimits, FinalFailure, FinishOutcome, FinishRequest};
use arq::{JobFailure, JobStatus, Pool, RequeueOutcome, Value};
use common::TestRedis;
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a test runs on: a pool, and the server behind it (if any).
struct Env {
    pool: Pool,
    redis: Option<TestRedis>,
}

async fn redis_env() -> Env {
    let redis = TestRedis::start();
    Env {
        pool: redis.pool().await,
        redis: Some(redis),
    }
}

fn memory_env() -> Env {
    Env {
        pool: Pool::memory(),
        redis: None,
    }
}

/// One `#[tokio::test]` per behaviour and backend: `redis::<name>` and `memory::<name>`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod redis {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::redis_env().await).await
            })*
        }
        mod memory {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::memory_env()).await
            })*
        }
    };
}

on_both!(
    pages_are_newest_first_and_a_letter_reads_in_full,
    an_undecodable_letter_is_listed_with_the_reason,
    requeue_runs_the_very_same_job_again,
    requeue_all_goes_past_a_batch_and_skips_letters_that_stay,
    delete_and_purge,
);

const LIMITS: DeadLimits = DeadLimits {
    max_len: 10_000,
    max_age_ms: 86_400_000,
};

/// The failure record a worker writes.
mod record {
    use arq::wire::ResultRecord;
    use arq::{JobFailure, Value};

    pub fn failed(
        id: &str,
        queue: &str,
        job_try: i64,
        args: Vec<Value>,
        f: &JobFailure,
    ) -> ResultRecord {
        ResultRecord {
            job_try,
            function: "charge".into(),
            args,
            kwargs: vec![("currency".into(), Value::Str("EUR".into()))],
            enqueue_time_ms: arq::time::now_ms() - 50,
            success: false,
            result: Value::Str(f.to_text()),
            start_ms: arq::time::now_ms() - 20,
            finish_ms: arq::time::now_ms(),
            queue: queue.into(),
            job_id: id.into(),
        }
    }
}

/// How a seeded letter is made.
#[derive(Clone, Copy)]
enum Seed {
    /// As a worker leaves it: the job record as claimed and the failure's result record.
    Full,
    /// The job key was gone when it failed: no job record (cannot be requeued).
    NoJob,
    /// A result record the pool's codec cannot read (pickle-looking bytes).
    Foreign,
}

/// Enqueues `ids` (as `charge(<n>, currency="EUR")`), claims them and finishes each with a
/// final failure that leaves a dead letter, in one finish call.
async fn seed(pool: &Pool, queue: &str, ids: &[String], how: Seed) {
    for (n, id) in ids.iter().enumerate() {
        pool.enqueue_job("charge", vec![Value::Int(n as i64)])
            .kwarg("currency", "EUR")
            .job_id(id)
            .queue_name(queue)
            .await
            .unwrap();
    }
    let claimed = pool
        .backend()
        .claim(&ClaimRequest {
            queue: queue.into(),
            limit: ids.len(),
            scan_limit: ids.len() + 10,
            token_prefix: "test-worker".into(),
            seq: 1,
            idle: true,
            alone_from_try: 3,
            lease_ms: 60_000,
            check_abort: false,
            events: pool.events_max_len(),
        })
        .await
        .unwrap();
    assert_eq!(claimed.jobs.len(), ids.len(), "every seeded job claimed");
    let failure = JobFailure::new("ValueError", "card declined");
    let reqs: Vec<FinishRequest> = claimed
        .jobs
        .iter()
        .map(|j| {
            let n = ids.iter().position(|i| *i == j.job_id).unwrap();
            let rec = record::failed(
                &j.job_id,
                queue,
                j.job_try,
                vec![Value::Int(n as i64)],
                &failure,
            );
            let bytes = match how {
                Seed::Foreign => b"\x80\x04\x95not really pickle".to_vec(),
                _ => pool.codec().encode(&rec.to_value()).unwrap(),
            };
            FinishRequest {
                queue: queue.into(),
                job_id: j.job_id.clone(),
                token: j.token.clone(),
                result: Some(bytes.clone()),
                keep_result_ms: Some(3_600_000),
                keep_in_progress_ms: None,
                outcome: FinishOutcome::Failed,
                job_try: j.job_try,
                failure: Some(FinalFailure {
                    job: match how {
                        Seed::NoJob => None,
                        _ => j.payload.clone(),
                    },
                    record: bytes,
                    dead: Some(LIMITS),
                    hook_lease_ms: None,
                }),
                events: pool.events_max_len(),
                error: Some(failure.to_text()),
            }
        })
        .collect();
    let written = pool.backend().finish(&reqs).await.unwrap();
    assert!(written.iter().all(|w| *w), "every finish written");
}

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:04}")).collect()
}

async fn one(pool: &Pool, queue: &str, id: &str, how: Seed) {
    seed(pool, queue, &[id.to_owned()], how).await;
    // Letters are ordered by the ms they died in: keep them apart.
    tokio::time::sleep(Duration::from_millis(3)).await;
}

async fn pages_are_newest_first_and_a_letter_reads_in_full(env: Env) {
    let pool = &env.pool;
    let q = "dead:pages";
    let before = chrono::Utc::now() - chrono::Duration::seconds(5);
    for id in ["a", "b", "c"] {
        one(pool, q, id, Seed::Full).await;
    }
    let page = pool.dead_jobs(q, 0, 2).await.unwrap();
    assert_eq!(page.total, 3);
    let listed: Vec<&str> = page.jobs.iter().map(|d| d.job_id.as_str()).collect();
    assert_eq!(listed, ["c", "b"]);
    let rest = pool.dead_jobs(q, 2, 2).await.unwrap();
    assert_eq!(rest.jobs.len(), 1);
    assert_eq!(rest.jobs[0].job_id, "a");
    assert!(page.now >= page.jobs[0].died_at);
    // Another queue's dead set is another.
    assert_eq!(pool.dead_jobs("dead:other", 0, 10).await.unwrap().total, 0);

    let b = pool.dead_job(q, "b").await.unwrap().expect("b's letter");
    assert_eq!(b.job_id, "b");
    assert_eq!(b.queue, q);
    assert_eq!(b.function, "charge");
    assert_eq!(b.args, vec![Value::Int(0)]);
    assert_eq!(
        b.kwargs,
        vec![("currency".to_owned(), Value::Str("EUR".into()))]
    );
    assert_eq!(b.job_try, Some(1));
    assert_eq!(b.error, "ValueError: card declined");
    assert_eq!(
        b.failure,
        Some(JobFailure::new("ValueError", "card declined"))
    );
    assert_eq!(
        b.result,
        Some(Value::Str("ValueError: card declined".into()))
    );
    assert!(b.has_job_record);
    assert_eq!(b.problem, None);
    assert!(b.died_at > before && b.died_at <= chrono::Utc::now() + chrono::Duration::seconds(5));
    let (et, st, ft) = (
        b.enqueue_time.unwrap(),
        b.start_time.unwrap(),
        b.finish_time.unwrap(),
    );
    assert!(et <= st && st <= ft, "{et} {st} {ft}");
    assert_eq!(pool.dead_job(q, "nope").await.unwrap(), None);
}

async fn an_undecodable_letter_is_listed_with_the_reason(env: Env) {
    let pool = &env.pool;
    let q = "dead:undecodable";
    one(pool, q, "good", Seed::Full).await;
    one(pool, q, "bad", Seed::Foreign).await;
    let page = pool
        .dead_jobs(q, 0, 10)
        .await
        .expect("the page still reads");
    assert_eq!(page.total, 2);
    let bad = &page.jobs[0];
    assert_eq!(bad.job_id, "bad");
    let problem = bad.problem.as_deref().unwrap();
    assert!(
        problem.starts_with("the result record could not be decoded (format=msgpack)")
            && problem.contains("looks like pickle"),
        "{problem}"
    );
    assert_eq!(bad.error, problem);
    assert_eq!((bad.failure.as_ref(), bad.result.as_ref()), (None, None));
    // What it was enqueued as comes from the job record kept with it.
    assert_eq!(bad.function, "charge");
    assert_eq!(bad.args, vec![Value::Int(0)]);
    assert!(bad.enqueue_time.is_some() && bad.has_job_record);
    assert_eq!(page.jobs[1].problem, None);
}

async fn requeue_runs_the_very_same_job_again(env: Env) {
    let pool = &env.pool;
    let q = "dead:requeue";
    one(pool, q, "a", Seed::Full).await;
    one(pool, q, "nojob", Seed::NoJob).await;
    one(pool, q, "back", Seed::Full).await;
    let before = pool.job::<Value>("a").in_queue(q);
    assert_eq!(before.status().await.unwrap(), JobStatus::Complete);
    // "back" was enqueued again meanwhile (run again over its failed result): its letter
    // stays.
    pool.rerun_job(q, "back").await.unwrap();

    let done = pool
        .requeue_dead(q, ["a", "nojob", "back", "nope"])
        .await
        .unwrap();
    assert_eq!(
        done,
        vec![
            ("a".to_owned(), RequeueOutcome::Requeued),
            ("nojob".to_owned(), RequeueOutcome::NoRecord),
            ("back".to_owned(), RequeueOutcome::JobExists),
            ("nope".to_owned(), RequeueOutcome::NotFound),
        ]
    );
    // a: queued again, due now, its failed result gone, its record the one claimed.
    let job = pool.job::<Value>("a").in_queue(q);
    assert_eq!(job.status().await.unwrap(), JobStatus::Queued);
    assert!(job.result_info().await.unwrap().is_none());
    let info = job.info().await.unwrap().expect("its job record");
    assert_eq!(info.function, "charge");
    assert_eq!(info.args, vec![Value::Int(0)]);
    assert!(info.score.is_some());
    assert_eq!(pool.dead_job(q, "a").await.unwrap(), None);
    let left: Vec<String> = pool
        .dead_jobs(q, 0, 10)
        .await
        .unwrap()
        .jobs
        .into_iter()
        .map(|d| d.job_id)
        .collect();
    assert_eq!(left, ["back", "nojob"]);

    // It runs again from its first try, with its own record.
    let claimed = pool
        .backend()
        .claim(&ClaimRequest {
            queue: q.into(),
            limit: 10,
            scan_limit: 10,
            token_prefix: "again".into(),
            seq: 1,
            idle: true,
            alone_from_try: 3,
            lease_ms: 60_000,
            check_abort: false,
            events: None,
        })
        .await
        .unwrap();
    let again = claimed
        .jobs
        .iter()
        .find(|j| j.job_id == "a")
        .expect("a is claimed again");
    assert_eq!(again.job_try, 1, "its tries start over");
    assert!(!again.recovered);
    let raw = again.payload.as_ref().expect("a's record");
    let rec = arq::wire::JobRecord::from_value(&pool.codec().decode(raw).unwrap()).unwrap();
    assert_eq!(
        (rec.function.as_str(), rec.args.clone()),
        ("charge", vec![Value::Int(0)])
    );
    // Requeued again: nothing left to requeue.
    assert_eq!(
        pool.requeue_dead(q, ["a"]).await.unwrap(),
        vec![("a".to_owned(), RequeueOutcome::NotFound)]
    );
    assert_eq!(
        pool.requeue_dead(q, Vec::<String>::new()).await.unwrap(),
        vec![]
    );
}

async fn requeue_all_goes_past_a_batch_and_skips_letters_that_stay(env: Env) {
    let pool = &env.pool;
    let q = "dead:requeue-all";
    let many = ids("m", 620);
    seed(pool, q, &many, Seed::Full).await;
    one(pool, q, "nojob-1", Seed::NoJob).await;
    seed(pool, q, &ids("n", 30), Seed::Full).await;
    one(pool, q, "nojob-2", Seed::NoJob).await;
    assert_eq!(pool.dead_jobs(q, 0, 1).await.unwrap().total, 652);

    assert_eq!(pool.requeue_all_dead(q).await.unwrap(), 650);
    let left = pool.dead_jobs(q, 0, 10).await.unwrap();
    let left_ids: Vec<&str> = left.jobs.iter().map(|d| d.job_id.as_str()).collect();
    assert_eq!(left_ids, ["nojob-2", "nojob-1"]);
    assert_eq!(pool.queue_size(q).await.unwrap(), 650);
    assert_eq!(pool.requeue_all_dead(q).await.unwrap(), 0);
}

async fn delete_and_purge(env: Env) {
    let pool = &env.pool;
    let q = "dead:delete";
    one(pool, q, "a", Seed::Full).await;
    one(pool, q, "b", Seed::NoJob).await;
    assert_eq!(pool.delete_dead(q, ["a", "nope"]).await.unwrap(), 1);
    assert_eq!(pool.dead_job(q, "a").await.unwrap(), None);
    assert_eq!(pool.delete_dead(q, ["a"]).await.unwrap(), 0);
    // Deleting the letter leaves the failed result alone.
    assert_eq!(
        pool.job::<Value>("a").in_queue(q).status().await.unwrap(),
        JobStatus::Complete
    );

    seed(pool, q, &ids("p", 1_100), Seed::Full).await;
    assert_eq!(pool.purge_dead(q).await.unwrap(), 1_101);
    assert_eq!(pool.dead_jobs(q, 0, 10).await.unwrap().total, 0);
    assert_eq!(pool.purge_dead(q).await.unwrap(), 0);
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

/// Runs the CLI with `args`; its exit code and output (stdout, then stderr).
fn cli(args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
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
    .env("RUST_LOG", "warn")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn the CLI");
    let deadline = Instant::now() + Duration::from_secs(30);
    let out = child.wait_with_output().unwrap();
    assert!(Instant::now() < deadline, "the CLI took too long");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The first JSON document in the CLI's standard output.
fn json_of(out: &str) -> serde_json::Value {
    let start = out
        .find(['{', '['])
        .unwrap_or_else(|| panic!("no JSON in: {out}"));
    serde_json::Deserializer::from_str(&out[start..])
        .into_iter::<serde_json::Value>()
        .next()
        .unwrap()
        .unwrap_or_else(|e| panic!("bad JSON ({e}) in: {out}"))
}

#[tokio::test]
async fn cli_dead_commands_list_show_requeue_delete_and_purge() {
    let env = redis_env().await;
    let pool = &env.pool;
    let url = env.redis.as_ref().unwrap().url();
    let q = "cli:dead";
    for id in ["a", "b", "c", "d"] {
        one(pool, q, id, Seed::Full).await;
    }
    one(pool, q, "x", Seed::Foreign).await;
    let conn = ["--redis-url", url.as_str(), "--queue", q];
    let run = |cmd: &[&str]| {
        let args: Vec<&str> = cmd.iter().chain(conn.iter()).copied().collect();
        cli(&args)
    };

    // list: text, newest first, with the total; JSON with every field.
    let (code, out, err) = run(&["dead", "list"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("5 dead jobs in cli:dead"), "{out}");
    let (x, a) = (out.find("\nx ").unwrap(), out.find("\na ").unwrap());
    assert!(x < a, "newest first: {out}");
    assert!(out.contains("charge(0, currency='EUR')"), "{out}");
    assert!(out.contains("ValueError: card declined"), "{out}");
    assert!(
        out.contains("could not be decoded (format=msgpack)"),
        "{out}"
    );
    let (code, out, _) = run(&["--json", "dead", "list", "--offset", "1", "--limit", "2"]);
    assert_eq!(code, 0);
    let v = json_of(&out);
    assert_eq!(v["total"], 5);
    let jobs = v["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0]["job_id"], "d");
    assert_eq!(jobs[0]["function"], "charge");
    assert_eq!(jobs[0]["args"], json!([0]));
    assert_eq!(jobs[0]["kwargs"], json!({"currency": "EUR"}));
    assert_eq!(jobs[0]["job_try"], 1);
    assert_eq!(jobs[0]["error"], "ValueError: card declined");
    assert_eq!(jobs[0]["has_job_record"], true);
    assert!(jobs[0]["died_at"].as_str().is_some());

    // show: one letter in full; an unknown id exits 1 and says so.
    let (code, out, _) = run(&["dead", "show", "b"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("job:      b (charge(0, currency='EUR'))"),
        "{out}"
    );
    assert!(out.contains("error:    ValueError: card declined"), "{out}");
    assert!(out.contains("try:      1"), "{out}");
    let (code, out, _) = run(&["--json", "dead", "show", "x"]);
    assert_eq!(code, 0);
    let v = json_of(&out);
    assert!(
        v["problem"].as_str().unwrap().contains("looks like pickle"),
        "{v}"
    );
    let (code, _, err) = run(&["dead", "show", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("no dead letter \"nope\" in cli:dead"), "{err}");

    // requeue by id: what happened to each; 1 when one did not go back.
    let (code, out, _) = run(&["dead", "requeue", "a", "nope"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("requeued a"), "{out}");
    assert!(
        out.contains("not requeued nope: no such dead letter"),
        "{out}"
    );
    assert_eq!(
        pool.job::<Value>("a").in_queue(q).status().await.unwrap(),
        JobStatus::Queued
    );
    let (code, out, _) = run(&["--json", "dead", "requeue", "b"]);
    assert_eq!(code, 0);
    assert_eq!(
        json_of(&out),
        json!([{"job_id": "b", "outcome": "requeued"}])
    );
    let (code, _, err) = run(&["dead", "requeue"]);
    assert_eq!(code, 2, "neither ids nor --all: {err}");

    // delete by id, then requeue --all, then purge.
    let (code, out, _) = run(&["dead", "delete", "c", "nope"]);
    assert_eq!(code, 1);
    assert!(out.contains("deleted 1 of 2 dead letters"), "{out}");
    let (code, out, _) = run(&["dead", "requeue", "--all"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("requeued 2 dead jobs"), "{out}");
    assert_eq!(pool.dead_jobs(q, 0, 10).await.unwrap().total, 0);
    // (The requeued jobs leave the queue, so the next claim takes the new one.)
    assert_eq!(pool.purge_queue(q).await.unwrap(), 4);
    one(pool, q, "e", Seed::Full).await;
    let (code, out, _) = run(&["--json", "dead", "purge"]);
    assert_eq!(code, 0);
    assert_eq!(json_of(&out), json!({"queue": q, "deleted": 1}));
    let (code, out, _) = run(&["dead", "purge"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("deleted 0 dead letters from cli:dead"),
        "{out}"
    );
}
