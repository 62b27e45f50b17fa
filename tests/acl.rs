//! S32: the least-privilege ACL users of `docs/acl.md`, applied as written to a private Redis,
//! run the whole enqueue -> work -> result flow; everything else they try is refused.

mod common;

use arq::{Error, JobStatus, Pool, Worker};
use arq_redis::PermissionDenied;
use common::{fast_settings, TestRedis};
use fred::prelude::*;
use std::time::Duration;

#[arq::job]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// The ACL lines are read from the doc itself, so the doc is what this test checks.
const DOC: &str = include_str!("../docs/acl.md");

/// Every `ACL SETUSER` command of `docs/acl.md`, continuation lines joined.
fn doc_acl_commands() -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in DOC.lines() {
        let line = line.trim();
        match cur.as_mut() {
            Some(c) => c.push_str(line.trim_end_matches('\\')),
            None if line.starts_with("ACL SETUSER ") => {
                cur = Some(line.trim_end_matches('\\').to_owned())
            }
            None => continue,
        }
        if !line.ends_with('\\') {
            out.extend(cur.take());
        }
    }
    out
}

fn user_of(cmd: &str) -> &str {
    cmd.split_whitespace().nth(2).expect("ACL SETUSER <user>")
}

fn password(user: &str) -> String {
    format!("pw-{user}")
}

/// The doc's command for `user`.
fn doc_command(user: &str) -> String {
    doc_acl_commands()
        .into_iter()
        .find(|c| user_of(c) == user)
        .unwrap_or_else(|| panic!("docs/acl.md has no ACL SETUSER {user}"))
}

/// Runs an `ACL SETUSER` line (as redis-cli would split it) with the test's password.
async fn apply(admin: &Client, cmd: &str) {
    let user = user_of(cmd).to_owned();
    let args: Vec<String> = cmd
        .split_whitespace()
        .skip(1)
        .map(|a| {
            if a == ">CHANGE-ME" {
                format!(">{}", password(&user))
            } else {
                a.to_owned()
            }
        })
        .collect();
    let reply: String = admin
        .custom(fred::cmd!("ACL"), args)
        .await
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert_eq!(reply, "OK");
}

fn url_as(redis: &TestRedis, user: &str, prefix: Option<&str>) -> String {
    let query = prefix
        .map(|p| format!("?key_prefix={p}"))
        .unwrap_or_default();
    format!(
        "redis://{user}:{}@127.0.0.1:{}{query}",
        password(user),
        redis.port
    )
}

async fn pool_as(redis: &TestRedis, user: &str, prefix: Option<&str>) -> Pool {
    let mut settings = arq::RedisSettings::from_url(&url_as(redis, user, prefix)).unwrap();
    settings.conn_retries = 0;
    arq::create_pool(settings)
        .await
        .unwrap_or_else(|e| panic!("connect as {user}: {e}"))
}

/// A plain fred client logged in as `user`, for commands arq does not wrap.
async fn raw_as(redis: &TestRedis, user: &str) -> Client {
    let config = Config::from_url(&url_as(redis, user, None)).unwrap();
    let c = Builder::from_config(config).build().unwrap();
    c.init().await.unwrap();
    c
}

async fn burst(pool: &Pool) -> arq::WorkerStats {
    let worker = Worker::new(pool.clone(), fast_settings().burst(true)).unwrap();
    tokio::time::timeout(Duration::from_secs(30), worker.run())
        .await
        .expect("burst worker finished")
        .expect("worker ran")
}

/// What a worker's poll does: claim due jobs of `queue` (and consume abort requests).
async fn claim(pool: &Pool, queue: &str) -> arq::Result<Vec<arq::backend::ClaimedJob>> {
    let req = arq::backend::ClaimRequest {
        queue: queue.into(),
        limit: 10,
        scan_limit: 10,
        token_prefix: "acl-test".into(),
        seq: 1,
        idle: true,
        lease_ms: 10_000,
        check_abort: true,
        alone_from_try: arq::backend::RECOVERY_ALONE_FROM_TRY,
        events: None,
    };
    Ok(pool.backend().claim(&req).await?.jobs)
}

fn permission(err: &Error) -> Option<&PermissionDenied> {
    match err {
        Error::Backend(source) => source.downcast_ref::<PermissionDenied>(),
        _ => None,
    }
}

/// A refusal for want of an ACL permission. Redis 7.0 answers `NOPERM …` at the top level and
/// `ERR The user executing the script can't …` for a command inside a script; arq maps both to
/// a [`PermissionDenied`] where the backend hooks `arq_redis::acl` in, and then the user must be
/// named.
#[track_caller]
fn assert_refused<T: std::fmt::Debug>(what: &str, user: &str, r: arq::Result<T>) -> String {
    let err = r.expect_err(what);
    let text = err.to_string();
    assert!(
        text.contains("NOPERM") || text.contains("The user executing the script can't"),
        "{what}: not a permission error: {text}"
    );
    if let Some(p) = permission(&err) {
        assert_eq!(p.user, user, "{what}: {text}");
        assert!(text.contains("see docs/acl.md"), "{what}: {text}");
    }
    eprintln!("{what}: {text}");
    text
}

/// The same for a raw fred command.
#[track_caller]
fn assert_raw_refused<T: std::fmt::Debug>(what: &str, r: Result<T, fred::error::Error>) {
    let err = r.expect_err(what);
    assert!(
        err.details().starts_with("NOPERM"),
        "{what}: not NOPERM: {err}"
    );
    assert!(arq_redis::is_permission_error(&err), "{what}");
}

/// `ACL LOG` as (user, context, object) triples: what the server refused, newest first.
async fn acl_denials(admin: &Client) -> Vec<(String, String, String)> {
    let log: fred::types::Value = admin
        .custom(fred::cmd!("ACL"), vec!["LOG", "1000"])
        .await
        .unwrap();
    let text = |v: &fred::types::Value| v.as_str().map(|s| s.to_string()).unwrap_or_default();
    let mut out = Vec::new();
    for entry in log.into_array() {
        let fields = entry.into_array();
        let field = |name: &str| {
            fields
                .chunks(2)
                .find(|kv| text(&kv[0]) == name)
                .map(|kv| text(&kv[1]))
                .unwrap_or_default()
        };
        out.push((field("username"), field("context"), field("object")));
    }
    out
}

/// The refusals of `users` in `ACL LOG`, leaving out what arq tolerates by design: `INFO`
/// (fred's server-version probe, the worker's banner and configuration check) and `CONFIG`.
async fn unexpected_denials(admin: &Client, users: &[&str]) -> Vec<(String, String, String)> {
    acl_denials(admin)
        .await
        .into_iter()
        .filter(|(user, _, object)| {
            users.contains(&user.as_str())
                && !["info", "config|get", "dbsize"].contains(&object.as_str())
        })
        .collect()
}

async fn all_keys(admin: &Client) -> Vec<String> {
    let mut keys: Vec<String> = admin.custom(fred::cmd!("KEYS"), vec!["*"]).await.unwrap();
    keys.sort();
    keys
}

#[test]
fn the_doc_defines_every_role_for_both_layouts() {
    let users: Vec<String> = doc_acl_commands()
        .iter()
        .map(|c| user_of(c).to_owned())
        .collect();
    assert_eq!(
        users,
        [
            "t1-client",
            "t1-worker",
            "t1-admin",
            "arq-client",
            "arq-worker",
            "arq-admin"
        ]
    );
    for cmd in doc_acl_commands() {
        assert!(cmd.contains(" reset on >CHANGE-ME "), "{cmd}");
        for admin_only in [
            "+@all",
            "allkeys",
            "+config",
            "+acl",
            "+debug",
            "+flushall",
            "+keys",
        ] {
            assert!(!cmd.contains(admin_only), "{cmd}");
        }
    }
    // The prefixed roles are the default ones with `arq:` moved under `t1:arq:`.
    for role in ["client", "worker", "admin"] {
        let t1 = doc_command(&format!("t1-{role}"));
        let arq = doc_command(&format!("arq-{role}"));
        assert_eq!(t1.replace("t1:arq:", "arq:").replace("t1-", "arq-"), arq);
    }
}

/// Tenant t1 end to end as `t1-client`, `t1-worker` and `t1-admin`; tenant t2 (the same lines
/// with `t1` replaced) next to it.
#[tokio::test]
async fn tenant_roles_run_the_whole_flow_and_nothing_more() {
    common::init_tracing();
    let redis = TestRedis::start();
    let admin = redis.raw().await;
    for cmd in doc_acl_commands()
        .iter()
        .filter(|c| user_of(c).starts_with("t1-"))
    {
        apply(&admin, cmd).await;
        apply(&admin, &cmd.replace("t1", "t2")).await;
    }

    // The client enqueues on its tenant's default queue and reads the status.
    let client = pool_as(&redis, "t1-client", Some("t1")).await;
    assert_eq!(client.default_queue_name(), "t1:arq:queue");
    let job = add::enqueue(&client, 20, 22).job_id("j1").await.unwrap();
    assert_eq!(job.status().await.unwrap(), JobStatus::Queued);
    let doomed = add::enqueue(&client, 1, 1).job_id("j2").await.unwrap();
    // A duplicate id is refused as usual (EXISTS is allowed).
    let dup = add::enqueue(&client, 1, 1).job_id("j1").await.unwrap_err();
    assert!(dup.is_duplicate(), "{dup}");

    // Tenant t2 has a worker too; it sees none of t1's jobs.
    let t2_worker = pool_as(&redis, "t2-worker", Some("t2")).await;
    assert_eq!(t2_worker.default_queue_name(), "t2:arq:queue");
    let t2_stats = burst(&t2_worker).await;
    assert_eq!(t2_stats.started, 0);
    assert_eq!(job.status().await.unwrap(), JobStatus::Queued);
    // Pointed at t1's queue with t2's credentials, it is refused.
    assert_refused(
        "t2 worker claims from t1's queue",
        "t2-worker",
        claim(&t2_worker, "t1:arq:queue").await,
    );
    let t2_admin = pool_as(&redis, "t2-admin", Some("t2")).await;
    assert_refused(
        "t2 admin lists t1's queue",
        "t2-admin",
        t2_admin.queued_jobs("t1:arq:queue").await,
    );
    // SCAN sees every key name, but arq asks only for the tenant's own.
    assert_eq!(t2_admin.queues().await.unwrap(), Vec::<String>::new());
    assert!(t2_admin.all_job_results().await.unwrap().is_empty());

    // The admin aborts one queued job; it never runs.
    let t1_admin = pool_as(&redis, "t1-admin", Some("t1")).await;
    assert_eq!(t1_admin.queues().await.unwrap(), ["t1:arq:queue"]);
    let listed: Vec<String> = t1_admin
        .queued_jobs("t1:arq:queue")
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.job_id)
        .collect();
    assert_eq!(listed, ["j1", "j2"]);
    assert!(t1_admin
        .job::<i64>("j2")
        .abort(Duration::from_secs(5))
        .await
        .unwrap());

    // The worker (no INFO, no CONFIG: only a warning at start) runs the other one.
    let worker = pool_as(&redis, "t1-worker", Some("t1")).await;
    assert_refused(
        "worker start-up banner (INFO)",
        "t1-worker",
        worker.backend().describe().await,
    );
    let stats = burst(&worker).await;
    assert_eq!((stats.started, stats.complete, stats.failed), (1, 1, 0));

    // The client reads its result; the aborted job reads as aborted.
    let sum: i64 = job.result(Duration::from_secs(10)).await.unwrap();
    assert_eq!(sum, 42);
    assert_eq!(job.status().await.unwrap(), JobStatus::Complete);
    // `+pttl` on result keys: the client sees when the result expires.
    let info = job.result_info().await.unwrap().expect("a result");
    assert!(info.expires_at.is_some(), "{info:?}");
    let aborted = doomed.result(Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(aborted, Error::JobFailed { .. }), "{aborted}");
    assert_eq!(t1_admin.all_job_results().await.unwrap().len(), 2);

    // Every key written is the tenant's (t2's worker wrote only its own bookkeeping).
    let keys = all_keys(&admin).await;
    assert!(keys.contains(&"t1:arq:result:j1".to_owned()), "{keys:?}");
    for key in &keys {
        assert!(
            key.starts_with("t1:arq:") || is_t2_worker_bookkeeping(key),
            "{key} is outside the tenant: {keys:?}"
        );
    }

    // The flow needed nothing the roles lack: no refusal in ACL LOG (a refused PUBLISH or
    // CLIENT ID would not fail the flow, but would fill the log).
    let denied = unexpected_denials(&admin, &["t1-client", "t1-worker", "t1-admin"]).await;
    assert_eq!(denied, [], "refused during the flow");

    // What the client may not do.
    let next = add::enqueue(&client, 2, 2).job_id("j3").await.unwrap();
    // Pending job records are readable (enqueue.lua compares one to recognise a replay),
    // but not writable.
    assert_eq!(next.info().await.unwrap().unwrap().function, "add");
    assert_refused(
        "client claims (runs a worker)",
        "t1-client",
        claim(&client, "t1:arq:queue").await,
    );
    assert_refused(
        "client deletes a job",
        "t1-client",
        client.delete_job("t1:arq:queue", "j3").await,
    );
    assert_refused(
        "client aborts a job",
        "t1-client",
        next.abort(Duration::from_secs(1)).await,
    );
    assert_refused(
        "client lists the queue",
        "t1-client",
        client.queued_jobs("t1:arq:queue").await,
    );
    assert_refused(
        "client enqueues on t2's queue",
        "t1-client",
        add::enqueue(&client, 1, 2).queue_name("t2:arq:queue").await,
    );
    let as_t2 = pool_as(&redis, "t1-client", Some("t2")).await;
    assert_refused(
        "client enqueues under t2's prefix",
        "t1-client",
        add::enqueue(&as_t2, 1, 2).await,
    );
    assert_refused(
        "client reads t2's results",
        "t1-client",
        as_t2.job::<i64>("j1").status().await,
    );
    let raw_client = raw_as(&redis, "t1-client").await;
    assert_raw_refused(
        "client writes a result",
        raw_client
            .set::<(), _, _>("t1:arq:result:j3", "forged", None, None, false)
            .await,
    );
    assert_raw_refused(
        "client takes a lease",
        raw_client
            .set::<(), _, _>("t1:arq:in-progress:j3", "x", None, None, false)
            .await,
    );
    assert_raw_refused(
        "client overwrites a job",
        raw_client
            .set::<(), _, _>("t1:arq:job:j3", "forged", None, None, false)
            .await,
    );
    assert_raw_refused(
        "client deletes",
        raw_client.del::<i64, _>("t1:arq:queue").await,
    );
    assert_raw_refused(
        "client adds an abort request",
        raw_client
            .zadd::<i64, _, _>("t1:arq:abort", None, None, false, false, (1.0, "j3"))
            .await,
    );
    assert_raw_refused(
        "client reads t2",
        raw_client.get::<Option<String>, _>("t2:arq:result:x").await,
    );

    // What the worker may not do.
    let raw_worker = raw_as(&redis, "t1-worker").await;
    assert_raw_refused(
        "worker reads t2",
        raw_worker.get::<Option<String>, _>("t2:arq:job:x").await,
    );
    assert_refused(
        "worker claims from t2's queue",
        "t1-worker",
        claim(&worker, "t2:arq:queue").await,
    );
    assert_refused(
        "worker lists queues (SCAN)",
        "t1-worker",
        worker.queues().await,
    );
    for raw in [&raw_client, &raw_worker] {
        assert_raw_refused(
            "KEYS",
            raw.custom::<Vec<String>, _>(fred::cmd!("KEYS"), vec!["*"])
                .await,
        );
        assert_raw_refused(
            "FLUSHALL",
            raw.custom::<String, _>(fred::cmd!("FLUSHALL"), Vec::<String>::new())
                .await,
        );
        assert_raw_refused(
            "CONFIG SET",
            raw.custom::<String, _>(fred::cmd!("CONFIG"), vec!["SET", "save", ""])
                .await,
        );
        assert_raw_refused(
            "INFO",
            raw.custom::<String, _>(fred::cmd!("INFO"), Vec::<String>::new())
                .await,
        );
    }
    // The admin stays in its tenant too.
    assert_refused(
        "t1 admin reads t2's queue",
        "t1-admin",
        t1_admin.queued_jobs("t2:arq:queue").await,
    );

    // The refusals are in ACL LOG (so the check above would have seen any): a command the
    // user lacks is logged by name, a key it may not touch by the key.
    let log = acl_denials(&admin).await;
    for expected in [
        ("t1-client", "toplevel", "set"),
        ("t1-client", "toplevel", "t2:arq:result:x"),
        ("t1-client", "lua", "zcard"),
        ("t1-client", "lua", "t1:arq:queue"),
        ("t1-worker", "toplevel", "t2:arq:job:x"),
    ] {
        let (u, c, o) = expected;
        assert!(
            log.contains(&(u.into(), c.into(), o.into())),
            "{expected:?} not in {log:?}"
        );
    }

    // Nothing forbidden got through: j3 is still queued, no result was forged.
    assert_eq!(next.status().await.unwrap(), JobStatus::Queued);
    let keys = all_keys(&admin).await;
    assert!(keys.contains(&"t1:arq:job:j3".to_owned()), "{keys:?}");
    assert!(!keys.contains(&"t1:arq:result:j3".to_owned()), "{keys:?}");
    for key in keys.iter().filter(|k| k.starts_with("t2:")) {
        assert!(is_t2_worker_bookkeeping(key), "{key}");
    }
}

/// Keys a t2 worker with an empty queue writes: its dataset generation and health records.
fn is_t2_worker_bookkeeping(key: &str) -> bool {
    key == "t2:arq:generation" || key.starts_with("t2:arq:queue:health-check")
}

/// The default-layout roles (Python arq's key names) run the same flow.
#[tokio::test]
async fn default_layout_roles_run_the_whole_flow() {
    common::init_tracing();
    let redis = TestRedis::start();
    let admin = redis.raw().await;
    for cmd in doc_acl_commands()
        .iter()
        .filter(|c| user_of(c).starts_with("arq-"))
    {
        apply(&admin, cmd).await;
    }
    let client = pool_as(&redis, "arq-client", None).await;
    assert_eq!(client.default_queue_name(), "arq:queue");
    let job = add::enqueue(&client, 40, 2).await.unwrap();
    let doomed = add::enqueue(&client, 0, 0).await.unwrap();

    let ops = pool_as(&redis, "arq-admin", None).await;
    let handle = ops.job::<i64>(doomed.id());
    assert!(handle.abort(Duration::from_secs(5)).await.unwrap());
    assert_eq!(ops.queues().await.unwrap(), ["arq:queue"]);

    let worker = pool_as(&redis, "arq-worker", None).await;
    let stats = burst(&worker).await;
    assert_eq!((stats.started, stats.complete), (1, 1));
    let sum: i64 = job.result(Duration::from_secs(10)).await.unwrap();
    assert_eq!(sum, 42);
    let info = job.result_info().await.unwrap().expect("a result");
    assert!(info.expires_at.is_some(), "{info:?}");
    for key in all_keys(&admin).await {
        assert!(key.starts_with("arq:"), "{key}");
    }
    let users = ["arq-client", "arq-worker", "arq-admin"];
    assert_eq!(
        unexpected_denials(&admin, &users).await,
        [],
        "refused during the flow"
    );

    let next = add::enqueue(&client, 1, 1).await.unwrap();
    let abort = next.abort(Duration::from_secs(1)).await;
    assert_refused("client aborts", "arq-client", abort);
    let delete = client.delete_job("arq:queue", next.id()).await;
    assert_refused("client deletes", "arq-client", delete);
    assert_eq!(next.status().await.unwrap(), JobStatus::Queued);
}

/// A user who may not even PING is told so at connect, by name.
#[tokio::test]
async fn connecting_without_ping_names_the_missing_permission() {
    let redis = TestRedis::start();
    let admin = redis.raw().await;
    apply(&admin, "ACL SETUSER mute reset on >CHANGE-ME ~arq:* +get").await;
    let mut settings = arq::RedisSettings::from_url(&url_as(&redis, "mute", None)).unwrap();
    settings.conn_retries = 3;
    let started = std::time::Instant::now();
    let err = arq::create_pool(settings).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "backend error: redis user 'mute' lacks permission for PING (NOPERM) — see docs/acl.md"
    );
    assert_eq!(permission(&err).unwrap().command, "PING");
    // Not retried: more attempts would not help.
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

/// `RedisBackend` maps its errors through `arq_redis::acl`: every refusal names the user,
/// the command and the key. Scripts are named, with their line when a command inside one is
/// refused; when `EVALSHA` itself is refused, with every key the script declares.
#[tokio::test]
async fn permission_errors_name_user_command_and_key() {
    let redis = TestRedis::start();
    let admin = redis.raw().await;
    for user in ["t1-client", "t1-worker"] {
        apply(&admin, &doc_command(user)).await;
    }
    let client = pool_as(&redis, "t1-client", Some("t1")).await;
    let job = add::enqueue(&client, 1, 2).job_id("k1").await.unwrap();

    let text = assert_refused(
        "queue size",
        "t1-client",
        client.queue_size("t1:arq:queue").await,
    );
    assert_eq!(
        text,
        "backend error: redis user 't1-client' lacks permission for ZCARD on 't1:arq:queue' \
         (NOPERM) — see docs/acl.md"
    );
    let text = assert_refused(
        "delete",
        "t1-client",
        client.delete_job("t1:arq:queue", job.id()).await,
    );
    // delete.lua declares the job's progress key, which no client pattern covers: refused at
    // EVALSHA, before the script runs, so every declared key is named.
    assert_eq!(
        text,
        "backend error: redis user 't1-client' lacks permission for EVALSHA on one of \
         't1:arq:queue', 't1:arq:job:k1', 't1:arq:retry:k1', 't1:arq:result:k1', \
         't1:arq:in-progress:k1', 't1:arq:abort', 't1:arq:progress:k1' \
         (NOPERM; script delete.lua) — see docs/acl.md"
    );
    let err = client
        .delete_job("t1:arq:queue", job.id())
        .await
        .unwrap_err();
    let p = permission(&err).expect("a PermissionDenied");
    assert_eq!(
        (p.user.as_str(), p.command.as_str()),
        ("t1-client", "EVALSHA")
    );
    assert!(p.keys.contains(&"t1:arq:progress:k1".to_owned()), "{err}");
    let err = claim(&client, "t1:arq:queue").await.unwrap_err();
    let p = permission(&err).expect("a PermissionDenied");
    assert_eq!(
        (p.user.as_str(), p.command.as_str(), p.keys.as_slice()),
        ("t1-client", "ZCARD", ["t1:arq:abort".to_owned()].as_slice()),
        "{err}"
    );
    assert!(
        err.to_string().contains("(NOPERM; script claim.lua, line "),
        "{err}"
    );

    let err = add::enqueue(&client, 1, 2)
        .queue_name("t2:arq:queue")
        .await
        .unwrap_err();
    let p = permission(&err).expect("a PermissionDenied");
    assert_eq!(p.command, "EVALSHA", "{err}");
    assert!(p.keys.contains(&"t2:arq:queue".to_owned()), "{err}");
    assert!(err.to_string().contains("script enqueue.lua"), "{err}");

    let worker = pool_as(&redis, "t1-worker", Some("t1")).await;
    let err = worker.backend().describe().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "backend error: redis user 't1-worker' lacks permission for INFO (NOPERM) — see docs/acl.md"
    );
}
