//! How many Redis commands each backend step sends: one script call (EVALSHA) per scripted
//! step, one command (or a fixed few) per plain read. Counted from the server's own
//! `INFO commandstats` on a private `redis-server`, after a warm-up run has loaded every script,
//! so the numbers guard the "one round trip per step" design against a refactor that adds a
//! call. The first scenario runs the flow with events off (what a Python-compatible setup
//! sends); the second runs it with events on, a final failure, and the steps beyond Python arq.

use arq_core::backend::{
    AbortRequest, Backend, ClaimRequest, CronTick, CronTickRequest, DeadLimits, Defer,
    EnqueueRequest, EventsRead, FinalFailure, FinishOutcome, FinishRequest, HealthRecord,
    Heartbeat, Lease, ProgressRequest, ReleaseRequest, RetryRequest, SetTryRequest, SnoozeRequest,
};
use arq_redis::{RedisBackend, RedisSettings};
use fred::prelude::*;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A private redis-server, killed by its own pid on drop.
struct Server {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Server {
    fn start() -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let dir = std::env::temp_dir().join(format!(
            "arq-redis-round-trips-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let bin = std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (install it to run this test)");
        let server = Server { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `command -> calls` from `INFO commandstats`.
fn commandstats(info: &str) -> BTreeMap<String, u64> {
    info.lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest
                .strip_prefix("calls=")?
                .split(',')
                .next()?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

/// Counts the commands each step sends.
struct Counter {
    raw: fred::clients::Client,
    /// What RESETSTAT + INFO alone leave in the stats.
    baseline: BTreeMap<String, u64>,
}

impl Counter {
    async fn new(url: &str) -> Counter {
        let raw = Builder::from_config(Config::from_url(url).unwrap())
            .build()
            .unwrap();
        raw.init().await.unwrap();
        let mut c = Counter {
            raw,
            baseline: BTreeMap::new(),
        };
        c.reset().await;
        c.baseline = c.read().await;
        c
    }

    async fn reset(&self) {
        let _: () = self
            .raw
            .custom(fred::cmd!("CONFIG"), vec!["RESETSTAT"])
            .await
            .unwrap();
    }

    async fn read(&self) -> BTreeMap<String, u64> {
        let info: String = self
            .raw
            .custom(fred::cmd!("INFO"), vec!["commandstats"])
            .await
            .unwrap();
        commandstats(&info)
    }

    /// The commands sent since the last reset, baseline removed, as `cmd=n cmd=n`.
    async fn take(&self) -> String {
        let mut stats = self.read().await;
        for (cmd, n) in &self.baseline {
            if let Some(v) = stats.get_mut(cmd) {
                *v -= n;
            }
        }
        let out = stats
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| format!("{c}={n}"))
            .collect::<Vec<_>>()
            .join(" ");
        self.reset().await;
        out
    }
}

/// Runs every step once for job ids ending in `tag`, returning what each one sent.
async fn scenario(b: &RedisBackend, counter: &Counter, tag: &str) -> Vec<(&'static str, String)> {
    let q = format!("q{tag}");
    let id = |n: &str| format!("{n}{tag}");
    let mut out = Vec::new();
    macro_rules! step {
        ($name:literal, $e:expr) => {{
            counter.reset().await;
            let r = $e.await.unwrap();
            out.push(($name, counter.take().await));
            r
        }};
    }
    let enq = |job: String, defer| EnqueueRequest {
        job_id: job,
        queue: q.clone(),
        payload: b"payload".to_vec(),
        defer,
        enqueue_time_ms: arq_core::now_ms(),
        expires_ms: None,
        replace_result: false,
        events: None,
    };
    let added = step!("enqueue", b.enqueue(&enq(id("a"), Defer::None)));
    assert!(added);
    b.enqueue(&enq(id("b"), Defer::None)).await.unwrap();
    b.enqueue(&enq(id("c"), Defer::By(60_000))).await.unwrap();
    let claimed = step!(
        "claim",
        b.claim(&ClaimRequest {
            queue: q.clone(),
            limit: 2,
            scan_limit: 100,
            token_prefix: format!("w{tag}"),
            seq: 1,
            idle: true,
            alone_from_try: 3,
            lease_ms: 30_000,
            check_abort: true,
            events: None,
        })
    );
    assert_eq!(claimed.jobs.len(), 2, "{claimed:?}");
    let (a, bb) = (&claimed.jobs[0], &claimed.jobs[1]);
    step!(
        "set_try",
        b.set_try(&SetTryRequest {
            job_id: a.job_id.clone(),
            job_try: 2,
        })
    );
    step!(
        "heartbeat",
        b.heartbeat(&Heartbeat {
            leases: vec![
                Lease {
                    job_id: a.job_id.clone(),
                    token: a.token.clone(),
                    ms: 30_000,
                },
                Lease {
                    job_id: bb.job_id.clone(),
                    token: bb.token.clone(),
                    ms: 30_000,
                },
            ],
            generation: None,
        })
    );
    step!(
        "abort_requests",
        b.abort_requests(std::slice::from_ref(&a.job_id))
    );
    step!(
        "finish",
        b.finish(&[FinishRequest {
            queue: q.clone(),
            job_id: a.job_id.clone(),
            token: a.token.clone(),
            result: Some(b"result".to_vec()),
            keep_result_ms: Some(60_000),
            keep_in_progress_ms: None,
            outcome: Default::default(),
            job_try: 1,
            failure: None,
            events: None,
            error: None,
        }])
    );
    step!(
        "retry",
        b.retry(&RetryRequest {
            queue: q.clone(),
            job_id: bb.job_id.clone(),
            token: bb.token.clone(),
            defer_ms: 60_000,
            job_try: 1,
            events: None,
            error: None,
        })
    );
    step!(
        "release",
        b.release(&ReleaseRequest {
            job_id: bb.job_id.clone(),
            token: bb.token.clone(),
            free_releases: 3,
        })
    );
    step!(
        "abort",
        b.abort(&AbortRequest {
            queue: q.clone(),
            job_id: id("c"),
            result: Some(b"aborted".to_vec()),
            keep_result_ms: None,
            events: None,
        })
    );
    step!(
        "cron_tick",
        b.cron_tick(&CronTickRequest {
            queue: q.clone(),
            ticks: vec![CronTick {
                job_id: format!("cron:f{tag}:1"),
                tick_ms: 1,
                payload: b"cron".to_vec(),
                claim_ttl_ms: Some(60_000),
            }],
        })
    );
    step!("status", b.status(&q, &a.job_id));
    step!("result", b.result(&q, &a.job_id));
    step!("job_record", b.job_record(&bb.job_id));
    step!("score", b.score(&q, &bb.job_id));
    step!("queue_size", b.queue_size(&q));
    let health = HealthRecord {
        queue: q.clone(),
        check_key: None,
        worker_id: format!("w{tag}"),
        text: "j_complete=0".into(),
        ttl_ms: 60_000,
    };
    step!("health", b.health(&health));
    step!("health_read", b.health_read(&q));
    let i = b.inspect().unwrap();
    step!("queue_page", i.queue_page(&q, 0, 10));
    step!("queue_stats", i.queue_stats(&q));
    step!("queues", i.queues());
    step!("results", i.results(None, 1000));
    step!("workers", i.workers(&q));
    step!("health_close", b.health_close(&q, None, &format!("w{tag}")));
    step!("delete", i.delete(&q, &bb.job_id));
    step!("purge", i.purge(&q, 100));
    step!("describe", b.describe());
    step!("config_warnings", b.config_warnings());
    out
}

#[tokio::test]
async fn each_step_is_one_script_call_or_a_fixed_few_commands() {
    let server = Server::start();
    let backend = RedisBackend::connect(&RedisSettings::from_url(&server.url()).unwrap())
        .await
        .unwrap();
    let counter = Counter::new(&server.url()).await;
    // The first run loads the scripts (NOSCRIPT, SCRIPT LOAD); the second is the one counted.
    scenario(&backend, &counter, "-warm").await;
    let counted = scenario(&backend, &counter, "-m").await;
    let shown: String = counted
        .iter()
        .map(|(step, cmds)| format!("{step}: {cmds}\n"))
        .collect();
    println!("{shown}");
    // Commands a script runs are counted too, so each line is also a fingerprint of the
    // script's work; `evalsha=1` is the one round trip.
    let expected = "\
enqueue: evalsha=1 exists=2 psetex=1 publish=1 time=1 zadd=1 zrem=1
claim: evalsha=1 mget=3 set=4 time=1 zcard=1 zrangebyscore=1
set_try: set=1
heartbeat: evalsha=1 get=3 pexpire=2
abort_requests: zmscore=1
finish: del=1 evalsha=1 mget=1 pubsub|numsub=1 set=1 zcard=1 zrem=1
retry: del=1 evalsha=1 get=1 set=1 time=1 zadd=1
release: evalsha=1 get=2
abort: del=1 evalsha=1 exists=3 set=1 time=1 zrem=2 zscore=1
cron_tick: evalsha=1 exists=2 psetex=1 set=1 time=1 zadd=1 zrem=1
status: evalsha=1 exists=2 time=1 zscore=1
result: evalsha=1 get=1 pttl=1 zscore=1
job_record: get=1
score: zscore=1
queue_size: zcard=1
health: evalsha=1 hset=1 pexpire=1 psetex=2 time=1 zcard=1
health_read: get=1
queue_page: evalsha=1 exists=2 get=2 time=1 zrange=1
queue_stats: evalsha=1 exists=1 time=1 zcard=1 zcount=1 zrange=1 zrangebyscore=1
queues: scan=1
results: mget=1 scan=1
workers: get=1 hkeys=1
health_close: del=2 evalsha=1 hdel=1 hgetall=1 time=1
delete: del=3 evalsha=1 zrem=2
purge: del=1 evalsha=1 exists=1 zrange=1 zrem=1
describe: dbsize=1 info=1
config_warnings: config|get=1 info=1
";
    assert_eq!(shown, expected);
}

/// The steps of issue 13, and the flow's steps with events on, for job ids ending in `tag`.
async fn scenario_events(
    b: &RedisBackend,
    counter: &Counter,
    tag: &str,
) -> Vec<(&'static str, String)> {
    let q = format!("q{tag}");
    let id = |n: &str| format!("{n}{tag}");
    let events = Some(1_000);
    let mut out = Vec::new();
    macro_rules! step {
        ($name:literal, $e:expr) => {{
            counter.reset().await;
            let r = $e.await.unwrap();
            out.push(($name, counter.take().await));
            r
        }};
    }
    let enq = |job: String, defer| EnqueueRequest {
        job_id: job,
        queue: q.clone(),
        payload: b"payload".to_vec(),
        defer,
        enqueue_time_ms: arq_core::now_ms(),
        expires_ms: None,
        replace_result: false,
        events,
    };
    let claim = |seq| ClaimRequest {
        queue: q.clone(),
        limit: 2,
        scan_limit: 100,
        token_prefix: format!("w{tag}"),
        seq,
        idle: true,
        alone_from_try: 3,
        lease_ms: 30_000,
        check_abort: true,
        events,
    };
    assert!(step!("enqueue", b.enqueue(&enq(id("a"), Defer::None))));
    b.enqueue(&enq(id("b"), Defer::None)).await.unwrap();
    b.enqueue(&enq(id("c"), Defer::By(60_000))).await.unwrap();
    let claimed = step!("claim", b.claim(&claim(1)));
    assert_eq!(claimed.jobs.len(), 2, "{claimed:?}");
    let (a, bb) = (&claimed.jobs[0], &claimed.jobs[1]);
    let stored = step!(
        "progress",
        b.progress(&ProgressRequest {
            queue: q.clone(),
            job_id: a.job_id.clone(),
            token: a.token.clone(),
            value: b"50".to_vec(),
            ttl_ms: 60_000,
            events,
        })
    );
    assert!(stored);
    step!("progress_read", b.progress_read(&a.job_id));
    let retried = step!(
        "retry",
        b.retry(&RetryRequest {
            queue: q.clone(),
            job_id: bb.job_id.clone(),
            token: bb.token.clone(),
            defer_ms: 0,
            job_try: 1,
            events,
            error: Some("Retry: later".into()),
        })
    );
    assert!(retried);
    let again = b.claim(&claim(2)).await.unwrap();
    let bb = &again.jobs[0];
    step!(
        "snooze",
        b.snooze(&SnoozeRequest {
            queue: q.clone(),
            job_id: bb.job_id.clone(),
            token: bb.token.clone(),
            defer_ms: 1,
            max_snoozes: 5,
            job_try: bb.job_try,
            events,
        })
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    let again = b.claim(&claim(3)).await.unwrap();
    let bb = &again.jobs[0];
    let finish = |job: &arq_core::backend::ClaimedJob| FinishRequest {
        queue: q.clone(),
        job_id: job.job_id.clone(),
        token: job.token.clone(),
        result: Some(b"result".to_vec()),
        keep_result_ms: Some(60_000),
        keep_in_progress_ms: None,
        outcome: FinishOutcome::Completed,
        job_try: job.job_try,
        failure: None,
        events,
        error: None,
    };
    step!("finish", b.finish(&[finish(a)]));
    step!(
        "finish_failed",
        b.finish(&[FinishRequest {
            outcome: FinishOutcome::Failed,
            error: Some("ValueError: boom".into()),
            failure: Some(FinalFailure {
                job: bb.payload.clone(),
                record: b"failed".to_vec(),
                dead: Some(DeadLimits {
                    max_len: 100,
                    max_age_ms: 86_400_000,
                }),
                hook_lease_ms: Some(1),
            }),
            ..finish(bb)
        }])
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    let hooks = step!("hooks_claim", b.hooks_claim(&q, 10, 30_000));
    assert_eq!(hooks.len(), 1);
    step!("hook_done", b.hook_done(&q, &bb.job_id));
    let dead = b.dead_letters().unwrap();
    step!("dead_page", dead.dead_page(&q, 0, 10));
    step!("dead_read", dead.dead_read(&q, &bb.job_id));
    step!(
        "dead_requeue",
        dead.dead_requeue(&q, std::slice::from_ref(&bb.job_id), events)
    );
    step!("dead_delete", dead.dead_delete(&q, &[id("nope")]));
    step!("dead_purge", dead.dead_purge(&q, 10));
    step!(
        "abort",
        b.abort(&AbortRequest {
            queue: q.clone(),
            job_id: id("c"),
            result: Some(b"aborted".to_vec()),
            keep_result_ms: None,
            events,
        })
    );
    let read = |after: Option<&str>| EventsRead {
        queue: q.clone(),
        after: after.map(str::to_owned),
        count: 100,
        block_ms: 0,
    };
    let page = step!("events_read", b.events_read(&read(Some("0-0"))));
    assert_eq!(page.events.len(), 15, "{page:?}");
    step!("events_read_end", b.events_read(&read(None)));
    out
}

#[tokio::test]
async fn the_new_steps_are_one_script_call_or_a_fixed_few_commands() {
    let server = Server::start();
    let backend = RedisBackend::connect(&RedisSettings::from_url(&server.url()).unwrap())
        .await
        .unwrap();
    let counter = Counter::new(&server.url()).await;
    scenario_events(&backend, &counter, "-warm").await;
    let counted = scenario_events(&backend, &counter, "-m").await;
    let shown: String = counted
        .iter()
        .map(|(step, cmds)| format!("{step}: {cmds}\n"))
        .collect();
    println!("{shown}");
    // With events on, each step adds one XADD per event and nothing else; a final failure adds
    // its dead letter (ZADD, HSET, the age trim's ZRANGEBYSCORE, the size check's ZCARD) and
    // its hook (ZADD, HSET) to the same call.
    let expected = "\
enqueue: evalsha=1 exists=2 psetex=1 publish=1 time=1 xadd=1 zadd=1 zrem=1
claim: evalsha=1 mget=3 set=4 time=1 xadd=2 zcard=1 zrangebyscore=1
progress: evalsha=1 get=1 set=1 xadd=1
progress_read: get=1
retry: del=1 evalsha=1 get=1 set=1 xadd=1
snooze: decr=1 del=1 evalsha=1 get=3 set=2 time=1 xadd=1 zadd=1
finish: del=1 evalsha=1 mget=1 pubsub|numsub=1 set=1 xadd=1 zcard=1 zrem=1
finish_failed: del=1 evalsha=1 hset=2 mget=1 pubsub|numsub=1 set=1 time=1 xadd=2 zadd=2 zcard=2 zrangebyscore=1 zrem=1
hooks_claim: evalsha=1 hmget=1 time=1 zadd=1 zrangebyscore=1
hook_done: evalsha=1 hdel=1 zrem=1
dead_page: evalsha=1 hmget=1 time=1 zcard=1 zrevrange=1
dead_read: evalsha=1 hmget=1 zscore=1
dead_requeue: del=1 evalsha=1 exists=1 hdel=1 hget=1 set=1 time=1 xadd=1 zadd=1 zrem=1 zscore=2
dead_delete: evalsha=1 hdel=1 zrem=1
dead_purge: evalsha=1 zrange=1
abort: del=1 evalsha=1 exists=3 set=1 time=1 xadd=1 zrem=2 zscore=1
events_read: xread=1
events_read_end: xread=1 xrevrange=1
";
    assert_eq!(shown, expected);
}
