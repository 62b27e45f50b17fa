//! Admin commands: inspect and steer any queue, Python-fed ones included. Output is for
//! people by default and JSON with `--json`.

use crate::{Base, ConnOpt};
use anyhow::{bail, Context as _};
use arq::{JobStatus, Pool, Value};
use clap::{Args, Subcommand};
use serde_json::json;
use std::io::{BufRead, Write};
use std::time::Duration;

/// Admin subcommands.
#[derive(Debug, Subcommand)]
pub enum Admin {
    /// List the queues with their counts by state.
    Queues(ConnOpt),
    /// Counts of one queue by state, its oldest job's age and its health record.
    Info(ConnOpt),
    /// List the jobs of a queue.
    Jobs(JobsOpt),
    /// Where a job is: deferred, queued, in_progress, complete or not_found.
    Status(IdOpt),
    /// A finished job's result record.
    Result(IdOpt),
    /// Abort a job: removed if queued or deferred, cancelled by its worker if running.
    Abort(AbortOpt),
    /// Enqueue a job by function name, with JSON arguments.
    Enqueue(EnqueueOpt),
    /// Run a finished or failed job again, with the arguments stored in its result.
    #[command(alias = "retry")]
    Rerun(IdOpt),
    /// Delete a job and everything about it.
    Delete(IdOpt),
    /// Delete every job of a queue that is not running.
    Purge(PurgeOpt),
}

/// A job id and where it is.
#[derive(Debug, Clone, Args)]
pub struct IdOpt {
    /// The job id.
    pub job_id: String,
    /// Connection and queue.
    #[command(flatten)]
    pub conn: ConnOpt,
}

/// Options of `jobs`.
#[derive(Debug, Clone, Args)]
pub struct JobsOpt {
    /// Connection and queue.
    #[command(flatten)]
    pub conn: ConnOpt,
    /// Only jobs in this state (queued, deferred, in_progress).
    #[arg(long)]
    pub status: Option<String>,
    /// Only jobs of this function.
    #[arg(long)]
    pub function: Option<String>,
    /// Skip this many entries (in score order).
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
    /// Show at most this many entries.
    #[arg(long, default_value_t = 100)]
    pub limit: u64,
}

/// Options of `abort`.
#[derive(Debug, Clone, Args)]
pub struct AbortOpt {
    /// The job id.
    pub job_id: String,
    /// Connection and queue.
    #[command(flatten)]
    pub conn: ConnOpt,
    /// How long to wait for a running job to be cancelled, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub timeout: f64,
}

/// Options of `enqueue`.
#[derive(Debug, Clone, Args)]
pub struct EnqueueOpt {
    /// The function name.
    pub function: String,
    /// Connection and queue.
    #[command(flatten)]
    pub conn: ConnOpt,
    /// Positional arguments, as a JSON array.
    #[arg(long, default_value = "[]")]
    pub args: String,
    /// Keyword arguments, as a JSON object.
    #[arg(long, default_value = "{}")]
    pub kwargs: String,
    /// The job id (default: a random one).
    #[arg(long)]
    pub job_id: Option<String>,
    /// Run no earlier than this many seconds from now.
    #[arg(long)]
    pub defer_by: Option<f64>,
}

/// Options of `purge`.
#[derive(Debug, Clone, Args)]
pub struct PurgeOpt {
    /// Connection and queue.
    #[command(flatten)]
    pub conn: ConnOpt,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

async fn pool(conn: &ConnOpt, base: &Base) -> anyhow::Result<Pool> {
    conn.pool(base, 0).await
}

fn age(now_ms: i64, ms: i64) -> String {
    let secs = (now_ms - ms) as f64 / 1000.0;
    if secs < 0.0 {
        format!("in {:.1}s", -secs)
    } else {
        format!("{secs:.1}s ago")
    }
}

fn time_ms(ms: i64) -> String {
    arq::time::ms_to_datetime(ms)
        .format("%Y-%m-%d %H:%M:%S%.3f UTC")
        .to_string()
}

fn print_json(v: serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
}

fn value_json(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

fn call(function: &str, args: &[Value], kwargs: &[(String, Value)]) -> String {
    let mut parts: Vec<String> = args.iter().map(Value::to_string).collect();
    parts.extend(kwargs.iter().map(|(k, v)| format!("{k}={v}")));
    let s = format!("{function}({})", parts.join(", "));
    if s.chars().count() > 70 {
        format!("{}...", s.chars().take(67).collect::<String>())
    } else {
        s
    }
}

/// Runs an admin command; returns the exit status.
pub(crate) async fn run(cmd: Admin, as_json: bool, base: &Base) -> anyhow::Result<u8> {
    match cmd {
        Admin::Queues(conn) => {
            let pool = pool(&conn, base).await?;
            let mut rows = Vec::new();
            for q in pool.queues().await? {
                let s = pool.queue_info(&q).await?;
                rows.push((q, s));
            }
            if as_json {
                print_json(json!(rows
                    .iter()
                    .map(|(q, s)| json!({
                        "queue": q, "total": s.total, "deferred": s.deferred,
                        "in_progress": s.running, "queued": s.total - s.deferred - s.running,
                        "oldest_score": s.oldest_score,
                    }))
                    .collect::<Vec<_>>()));
            } else if rows.is_empty() {
                println!("no queues");
            } else {
                println!(
                    "{:<30} {:>8} {:>8} {:>8} {:>11}  oldest",
                    "queue", "total", "queued", "deferred", "in_progress"
                );
                for (q, s) in rows {
                    println!(
                        "{:<30} {:>8} {:>8} {:>8} {:>11}  {}",
                        q,
                        s.total,
                        s.total - s.deferred - s.running,
                        s.deferred,
                        s.running,
                        s.oldest_score.map(|o| age(s.now_ms, o)).unwrap_or_default()
                    );
                }
            }
            Ok(0)
        }
        Admin::Info(conn) => {
            let pool = pool(&conn, base).await?;
            let s = pool.queue_info(pool.default_queue_name()).await?;
            let health = pool.health_check(pool.default_queue_name()).await?;
            let workers = pool.worker_health(pool.default_queue_name()).await?;
            if as_json {
                print_json(json!({
                    "queue": pool.default_queue_name(), "total": s.total, "deferred": s.deferred,
                    "in_progress": s.running, "queued": s.total - s.deferred - s.running,
                    "oldest_score": s.oldest_score,
                    "oldest_age_ms": s.oldest_score.map(|o| s.now_ms - o),
                    "health_check": health,
                    "workers": workers
                        .iter()
                        .map(|(id, r)| json!({"worker": id, "health": r}))
                        .collect::<Vec<_>>(),
                }));
            } else {
                println!("queue:        {}", pool.default_queue_name());
                println!("total:        {}", s.total);
                println!("queued:       {}", s.total - s.deferred - s.running);
                println!("deferred:     {}", s.deferred);
                println!(
                    "in progress:  {}{}",
                    s.running,
                    if s.running_capped { "+" } else { "" }
                );
                match s.oldest_score {
                    Some(o) => println!("oldest job:   due {}", age(s.now_ms, o)),
                    None => println!("oldest job:   -"),
                }
                println!(
                    "health check: {}",
                    health
                        .as_deref()
                        .unwrap_or("none (no worker wrote one recently)")
                );
                println!("workers:      {}", workers.len());
                for (id, record) in &workers {
                    println!("  {id}: {record}");
                }
            }
            Ok(0)
        }
        Admin::Jobs(o) => {
            let pool = pool(&o.conn, base).await?;
            let want = match o.status.as_deref() {
                None => None,
                Some("queued") => Some(JobStatus::Queued),
                Some("deferred") => Some(JobStatus::Deferred),
                Some("in_progress") => Some(JobStatus::InProgress),
                Some(other) => {
                    bail!("--status must be queued, deferred or in_progress, not {other:?}")
                }
            };
            let jobs: Vec<_> = pool
                .queued_jobs_page(pool.default_queue_name(), o.offset, o.limit)
                .await?
                .into_iter()
                .filter(|j| want.is_none_or(|w| j.status == w))
                .filter(|j| {
                    o.function
                        .as_deref()
                        .is_none_or(|f| j.job.as_ref().is_some_and(|d| d.function == f))
                })
                .collect();
            if as_json {
                print_json(json!(jobs
                    .iter()
                    .map(|j| json!({
                        "job_id": j.job_id, "score": j.score, "status": j.status.as_str(),
                        "function": j.job.as_ref().map(|d| d.function.clone()),
                        "args": j.job.as_ref().map(|d| d.args.iter().map(value_json).collect::<Vec<_>>()),
                        "kwargs": j.job.as_ref().map(|d| d.kwargs.iter().map(|(k, v)| (k.clone(), value_json(v))).collect::<serde_json::Map<_, _>>()),
                        "job_try": j.job.as_ref().and_then(|d| d.job_try),
                        "problem": j.problem,
                    }))
                    .collect::<Vec<_>>()));
            } else if jobs.is_empty() {
                println!("no jobs");
            } else {
                println!("{:<34} {:<11} {:<25} call", "job id", "status", "score");
                for j in jobs {
                    let what = match (&j.job, &j.problem) {
                        (Some(d), _) => call(&d.function, &d.args, &d.kwargs),
                        (None, Some(p)) => format!("<{p}>"),
                        (None, None) => String::new(),
                    };
                    println!(
                        "{:<34} {:<11} {:<25} {}",
                        j.job_id,
                        j.status.as_str(),
                        time_ms(j.score),
                        what
                    );
                }
            }
            Ok(0)
        }
        Admin::Status(o) => {
            let pool = pool(&o.conn, base).await?;
            let status = pool.job::<Value>(&o.job_id).status().await?;
            if as_json {
                print_json(json!({"job_id": o.job_id, "status": status.as_str()}));
            } else {
                println!("{status}");
            }
            Ok(0)
        }
        Admin::Result(o) => {
            let pool = pool(&o.conn, base).await?;
            let Some(r) = pool.job::<Value>(&o.job_id).result_info().await? else {
                if as_json {
                    print_json(json!({"job_id": o.job_id, "result": null}));
                } else {
                    eprintln!("no result stored for job {:?}", o.job_id);
                }
                return Ok(1);
            };
            if as_json {
                print_json(json!({
                    "job_id": r.job_id, "function": r.job.function, "success": r.success,
                    "result": value_json(&r.result), "job_try": r.job.job_try,
                    "queue": r.queue_name,
                    "enqueue_time": r.job.enqueue_time.to_rfc3339(),
                    "start_time": r.start_time.to_rfc3339(),
                    "finish_time": r.finish_time.to_rfc3339(),
                }));
            } else {
                println!(
                    "job:      {} ({})",
                    r.job_id,
                    call(&r.job.function, &r.job.args, &r.job.kwargs)
                );
                println!("success:  {}", r.success);
                match r.failure() {
                    Some(f) => println!("failure:  {f}"),
                    None => println!("result:   {}", r.result),
                }
                println!("try:      {}", r.job.job_try.unwrap_or(0));
                println!("queue:    {}", r.queue_name);
                println!("ran:      {} .. {}", r.start_time, r.finish_time);
            }
            Ok(if r.success { 0 } else { 1 })
        }
        Admin::Abort(o) => {
            let pool = pool(&o.conn, base).await?;
            let timeout = Duration::try_from_secs_f64(o.timeout).context("--timeout")?;
            let aborted = pool.job::<Value>(&o.job_id).abort(timeout).await?;
            if as_json {
                print_json(json!({"job_id": o.job_id, "aborted": aborted}));
            } else if aborted {
                println!("aborted {}", o.job_id);
            } else {
                println!("not aborted: job {} had finished or is unknown", o.job_id);
            }
            Ok(if aborted { 0 } else { 1 })
        }
        Admin::Enqueue(o) => {
            let pool = pool(&o.conn, base).await?;
            let args: Value =
                serde_json::from_str(&o.args).context("--args must be a JSON array")?;
            let Value::List(args) = args else {
                bail!("--args must be a JSON array")
            };
            let kwargs: Value =
                serde_json::from_str(&o.kwargs).context("--kwargs must be a JSON object")?;
            let Value::Map(kwargs) = kwargs else {
                bail!("--kwargs must be a JSON object")
            };
            let mut e = pool
                .enqueue_job(o.function.clone(), args)
                .queue_name(pool.default_queue_name());
            for (k, v) in kwargs {
                let Value::Str(k) = k else {
                    bail!("--kwargs keys must be strings")
                };
                e = e.kwarg(k, v);
            }
            if let Some(id) = &o.job_id {
                e = e.job_id(id.clone());
            }
            if let Some(s) = o.defer_by {
                e = e.defer_by(Duration::try_from_secs_f64(s).context("--defer-by")?);
            }
            match e.await {
                Ok(job) => {
                    if as_json {
                        print_json(
                            json!({"job_id": job.id(), "queue": job.queue_name(), "enqueued": true}),
                        );
                    } else {
                        println!("{}", job.id());
                    }
                    Ok(0)
                }
                Err(err) if err.is_duplicate() => {
                    if as_json {
                        print_json(json!({"job_id": o.job_id, "enqueued": false}));
                    } else {
                        eprintln!("not enqueued: {err}");
                    }
                    Ok(1)
                }
                Err(err) => Err(err.into()),
            }
        }
        Admin::Rerun(o) => {
            let pool = pool(&o.conn, base).await?;
            let job = pool.rerun_job(pool.default_queue_name(), &o.job_id).await?;
            if as_json {
                print_json(
                    json!({"job_id": job.id(), "queue": job.queue_name(), "enqueued": true}),
                );
            } else {
                println!("enqueued {} again", job.id());
            }
            Ok(0)
        }
        Admin::Delete(o) => {
            let pool = pool(&o.conn, base).await?;
            let existed = pool
                .delete_job(pool.default_queue_name(), &o.job_id)
                .await?;
            if as_json {
                print_json(json!({"job_id": o.job_id, "deleted": existed}));
            } else if existed {
                println!("deleted {}", o.job_id);
            } else {
                println!("nothing to delete for {}", o.job_id);
            }
            Ok(if existed { 0 } else { 1 })
        }
        Admin::Purge(o) => {
            let pool = pool(&o.conn, base).await?;
            if !o.yes {
                let n = pool.queue_size(pool.default_queue_name()).await?;
                eprint!(
                    "delete up to {n} jobs from {:?}? type 'yes' to go on: ",
                    o.conn.queue_name()
                );
                std::io::stderr().flush().ok();
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line).ok();
                if line.trim() != "yes" {
                    eprintln!("nothing deleted");
                    return Ok(1);
                }
            }
            let n = pool.purge_queue(pool.default_queue_name()).await?;
            if as_json {
                print_json(json!({"queue": o.conn.queue_name(), "deleted": n}));
            } else {
                println!("deleted {n} jobs from {}", o.conn.queue_name());
            }
            Ok(0)
        }
    }
}
