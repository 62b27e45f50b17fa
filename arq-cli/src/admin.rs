//! Admin commands: inspect and steer any queue, Python-fed ones included. Output is for
//! people by default and JSON with `--json`.

use crate::{Base, ConnOpt};
use anyhow::{bail, Context as _};
use arq::{DeadJob, JobEvent, JobStatus, Pool, RequeueOutcome, Value};
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
    /// The dead set of a queue (jobs that failed for good): list, show, requeue, delete,
    /// purge.
    #[command(subcommand)]
    Dead(DeadCmd),
    /// Tail a queue's events (enqueued, started, progress, retried, snoozed, completed,
    /// failed, dead, aborted, requeued), one line each, until Ctrl-C.
    Events(EventsOpt),
}

/// `dead` subcommands.
///
/// ```
/// use arq_cli::admin::{Admin, DeadCmd};
/// use arq_cli::{Command, Opt};
/// use clap::Parser;
///
/// let opt = Opt::try_parse_from(["arq-cli", "dead", "requeue", "a", "b", "-q", "emails"]).unwrap();
/// let Command::Admin(Admin::Dead(DeadCmd::Requeue(o))) = opt.command else { unreachable!() };
/// assert_eq!((o.job_ids, o.all), (vec!["a".to_owned(), "b".to_owned()], false));
/// assert_eq!(o.conn.queue_name(), "emails");
/// // Ids or --all, not both, not neither.
/// assert!(Opt::try_parse_from(["arq-cli", "dead", "requeue"]).is_err());
/// assert!(Opt::try_parse_from(["arq-cli", "dead", "requeue", "a", "--all"]).is_err());
/// ```
#[derive(Debug, Subcommand)]
pub enum DeadCmd {
    /// List the dead letters of a queue, newest first.
    List(DeadListOpt),
    /// One dead letter in full: what ran, how it failed, when.
    Show(IdOpt),
    /// Put dead jobs back in their queue, due now, their tries starting over (the letter and
    /// the failed result are removed).
    Requeue(DeadRequeueOpt),
    /// Delete dead letters (the failed results stay).
    Delete(DeadIdsOpt),
    /// Delete every dead letter of a queue (asks nothing).
    Purge(ConnOpt),
}

/// Options of `dead list`.
///
/// ```
/// use arq_cli::admin::{Admin, DeadCmd};
/// use clap::Parser;
/// let opt = arq_cli::Opt::try_parse_from(["arq-cli", "dead", "list", "--limit", "10"]).unwrap();
/// let arq_cli::Command::Admin(Admin::Dead(DeadCmd::List(o))) = opt.command else { unreachable!() };
/// assert_eq!((o.offset, o.limit), (0, 10));
/// ```
#[derive(Debug, Clone, Args)]
pub struct DeadListOpt {
    /// Connection and queue.
    #[command(flatten)]
    pub conn: ConnOpt,
    /// Skip this many letters (newest first).
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
    /// Show at most this many letters.
    #[arg(long, default_value_t = 50)]
    pub limit: u64,
}

/// Options of `dead requeue`.
///
/// ```
/// use arq_cli::admin::{Admin, DeadCmd};
/// use clap::Parser;
/// let opt = arq_cli::Opt::try_parse_from(["arq-cli", "dead", "requeue", "--all", "--events", "10000"]).unwrap();
/// let arq_cli::Command::Admin(Admin::Dead(DeadCmd::Requeue(o))) = opt.command else { unreachable!() };
/// assert!(o.all && o.job_ids.is_empty());
/// assert_eq!(o.events, Some(10_000));
/// ```
#[derive(Debug, Clone, Args)]
pub struct DeadRequeueOpt {
    /// The job ids.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub job_ids: Vec<String>,
    /// Requeue every letter of the queue.
    #[arg(long)]
    pub all: bool,
    /// Write a `requeued` event per job to the queue's event stream, kept to about this many
    /// entries (as the pools of the deployment do with `Pool::with_events`).
    #[arg(long, value_name = "MAX_LEN")]
    pub events: Option<u64>,
    /// Connection and queue.
    #[command(flatten)]
    pub conn: ConnOpt,
}

/// Options of `dead delete`.
///
/// ```
/// use arq_cli::admin::{Admin, DeadCmd};
/// use clap::Parser;
/// let opt = arq_cli::Opt::try_parse_from(["arq-cli", "dead", "delete", "a", "b"]).unwrap();
/// let arq_cli::Command::Admin(Admin::Dead(DeadCmd::Delete(o))) = opt.command else { unreachable!() };
/// assert_eq!(o.job_ids, ["a", "b"]);
/// assert!(arq_cli::Opt::try_parse_from(["arq-cli", "dead", "delete"]).is_err());
/// ```
#[derive(Debug, Clone, Args)]
pub struct DeadIdsOpt {
    /// The job ids.
    #[arg(required = true)]
    pub job_ids: Vec<String>,
    /// Connection and queue.
    #[command(flatten)]
    pub conn: ConnOpt,
}

/// Options of `events`.
///
/// ```
/// use arq_cli::admin::Admin;
/// use clap::Parser;
/// let opt = arq_cli::Opt::try_parse_from(["arq-cli", "events", "--after", "1700000000000-0", "--count", "5"]).unwrap();
/// let arq_cli::Command::Admin(Admin::Events(o)) = opt.command else { unreachable!() };
/// assert_eq!((o.after.as_deref(), o.count, o.from_start), (Some("1700000000000-0"), Some(5), false));
/// // Where to start: from the start, or after an id, not both.
/// assert!(arq_cli::Opt::try_parse_from(["arq-cli", "events", "--from-start", "--after", "0-0"]).is_err());
/// ```
#[derive(Debug, Clone, Args)]
pub struct EventsOpt {
    /// Connection and queue.
    #[command(flatten)]
    pub conn: ConnOpt,
    /// Start with every event the stream still holds (default: only new ones).
    #[arg(long, conflicts_with = "after")]
    pub from_start: bool,
    /// Start after the event with this id (the id a stopped tail printed last).
    #[arg(long, value_name = "ID")]
    pub after: Option<String>,
    /// Stop after this many events.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
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

/// `n` and the noun, plural unless `n` is 1 (`"1 dead job"`, `"2 dead jobs"`).
fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn one_line(s: &str, max: usize) -> String {
    let s = s.replace(['\n', '\r'], " ");
    if s.chars().count() > max {
        format!("{}...", s.chars().take(max - 3).collect::<String>())
    } else {
        s
    }
}

fn dead_json(d: &DeadJob) -> serde_json::Value {
    json!({
        "job_id": d.job_id, "queue": d.queue, "died_at": d.died_at.to_rfc3339(),
        "function": d.function,
        "args": d.args.iter().map(value_json).collect::<Vec<_>>(),
        "kwargs": d.kwargs.iter().map(|(k, v)| (k.clone(), value_json(v))).collect::<serde_json::Map<_, _>>(),
        "job_try": d.job_try,
        "enqueue_time": d.enqueue_time.map(|t| t.to_rfc3339()),
        "start_time": d.start_time.map(|t| t.to_rfc3339()),
        "finish_time": d.finish_time.map(|t| t.to_rfc3339()),
        "error": d.error,
        "failure": d.failure.as_ref().map(|f| json!({"class": f.class, "message": f.message})),
        "result": d.result.as_ref().map(value_json),
        "has_job_record": d.has_job_record,
        "problem": d.problem,
    })
}

fn outcome_name(o: RequeueOutcome) -> &'static str {
    match o {
        RequeueOutcome::Requeued => "requeued",
        RequeueOutcome::NotFound => "not_found",
        RequeueOutcome::JobExists => "job_exists",
        RequeueOutcome::NoRecord => "no_record",
        _ => "other",
    }
}

fn outcome_text(o: RequeueOutcome) -> &'static str {
    match o {
        RequeueOutcome::Requeued => "requeued",
        RequeueOutcome::NotFound => "no such dead letter",
        RequeueOutcome::JobExists => {
            "a job with this id is queued or running again (the letter stays)"
        }
        RequeueOutcome::NoRecord => {
            "the letter kept no job record (the job key was gone when it failed; the letter stays)"
        }
        _ => "not requeued",
    }
}

fn event_json(e: &JobEvent) -> serde_json::Value {
    json!({
        "id": e.id, "time": e.time.to_rfc3339(), "kind": e.kind.as_str(), "job_id": e.job_id,
        "job_try": e.job_try, "progress": e.progress.as_ref().map(value_json),
        "error": e.error, "defer_ms": e.defer.map(|d| d.as_millis() as u64),
        "problem": e.problem,
    })
}

fn event_line(e: &JobEvent) -> String {
    let mut line = format!(
        "{}  {:<17} {:<9} {}",
        time_ms(e.time.timestamp_millis()),
        e.id,
        e.kind.as_str(),
        e.job_id
    );
    if let Some(t) = e.job_try {
        line.push_str(&format!(" try={t}"));
    }
    if let Some(p) = &e.progress {
        line.push_str(&format!(" progress={p}"));
    }
    if let Some(d) = e.defer {
        line.push_str(&format!(" defer={:.3}s", d.as_secs_f64()));
    }
    if let Some(err) = &e.error {
        line.push_str(&format!(" error={}", one_line(err, 200)));
    }
    if let Some(p) = &e.problem {
        line.push_str(&format!(" ({})", one_line(p, 200)));
    }
    line
}

/// Ids in the order given, each once.
fn unique(ids: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter()
        .filter(|id| seen.insert(id.clone()))
        .collect()
}

async fn dead(cmd: DeadCmd, as_json: bool, base: &Base) -> anyhow::Result<u8> {
    match cmd {
        DeadCmd::List(o) => {
            let pool = pool(&o.conn, base).await?;
            let queue = pool.default_queue_name().to_owned();
            let page = pool.dead_jobs(&queue, o.offset, o.limit).await?;
            if as_json {
                print_json(json!({
                    "queue": queue, "total": page.total, "offset": o.offset,
                    "jobs": page.jobs.iter().map(dead_json).collect::<Vec<_>>(),
                }));
                return Ok(0);
            }
            if page.jobs.is_empty() {
                if page.total == 0 {
                    println!("no dead jobs in {queue}");
                } else {
                    println!(
                        "{} in {queue}; none from offset {}",
                        count(page.total, "dead job"),
                        o.offset
                    );
                }
                return Ok(0);
            }
            println!(
                "{} in {queue} (newest first; {}-{} shown)",
                count(page.total, "dead job"),
                o.offset + 1,
                o.offset + page.jobs.len() as u64
            );
            println!(
                "{:<34} {:<14} {:>3}  {:<40} error",
                "job id", "died", "try", "call"
            );
            let now = page.now.timestamp_millis();
            for d in &page.jobs {
                println!(
                    "{:<34} {:<14} {:>3}  {:<40} {}",
                    d.job_id,
                    age(now, d.died_at.timestamp_millis()),
                    d.job_try.map_or_else(|| "-".to_owned(), |t| t.to_string()),
                    call(&d.function, &d.args, &d.kwargs),
                    one_line(&d.error, 100)
                );
            }
            Ok(0)
        }
        DeadCmd::Show(o) => {
            let pool = pool(&o.conn, base).await?;
            let queue = pool.default_queue_name().to_owned();
            let Some(d) = pool.dead_job(&queue, &o.job_id).await? else {
                if as_json {
                    print_json(json!({"job_id": o.job_id, "queue": queue, "dead": null}));
                } else {
                    eprintln!("no dead letter {:?} in {queue}", o.job_id);
                }
                return Ok(1);
            };
            if as_json {
                print_json(dead_json(&d));
                return Ok(0);
            }
            let now = arq::time::now_ms();
            println!(
                "job:      {} ({})",
                d.job_id,
                call(&d.function, &d.args, &d.kwargs)
            );
            println!("queue:    {}", d.queue);
            println!(
                "died:     {} ({})",
                time_ms(d.died_at.timestamp_millis()),
                age(now, d.died_at.timestamp_millis())
            );
            println!("error:    {}", d.error);
            match d.job_try {
                Some(t) => println!("try:      {t}"),
                None => println!("try:      -"),
            }
            if let Some(et) = d.enqueue_time {
                println!("enqueued: {}", time_ms(et.timestamp_millis()));
            }
            if let (Some(st), Some(ft)) = (d.start_time, d.finish_time) {
                println!(
                    "ran:      {} .. {}",
                    time_ms(st.timestamp_millis()),
                    time_ms(ft.timestamp_millis())
                );
            }
            println!(
                "record:   {}",
                if d.has_job_record {
                    "kept (dead requeue runs it again)"
                } else {
                    "none (the job key was gone when it failed: it cannot be requeued)"
                }
            );
            if let Some(p) = &d.problem {
                println!("problem:  {p}");
            }
            Ok(0)
        }
        DeadCmd::Requeue(o) => {
            let mut pool = pool(&o.conn, base).await?;
            if let Some(n) = o.events {
                pool = pool.with_events(n);
            }
            let queue = pool.default_queue_name().to_owned();
            if o.all {
                let n = pool.requeue_all_dead(&queue).await?;
                if as_json {
                    print_json(json!({"queue": queue, "requeued": n}));
                } else {
                    println!("requeued {} to {queue}", count(n, "dead job"));
                }
                return Ok(0);
            }
            let done = pool.requeue_dead(&queue, unique(o.job_ids)).await?;
            let all = done.iter().all(|(_, o)| *o == RequeueOutcome::Requeued);
            if as_json {
                print_json(json!(done
                    .iter()
                    .map(|(id, o)| json!({"job_id": id, "outcome": outcome_name(*o)}))
                    .collect::<Vec<_>>()));
            } else {
                for (id, o) in &done {
                    match o {
                        RequeueOutcome::Requeued => println!("requeued {id}"),
                        other => println!("not requeued {id}: {}", outcome_text(*other)),
                    }
                }
            }
            Ok(if all { 0 } else { 1 })
        }
        DeadCmd::Delete(o) => {
            let pool = pool(&o.conn, base).await?;
            let queue = pool.default_queue_name().to_owned();
            let ids = unique(o.job_ids);
            let asked = ids.len() as u64;
            let n = pool.delete_dead(&queue, ids).await?;
            if as_json {
                print_json(json!({"queue": queue, "deleted": n, "asked": asked}));
            } else {
                println!(
                    "deleted {n} of {} from {queue}",
                    count(asked, "dead letter")
                );
            }
            Ok(if n == asked { 0 } else { 1 })
        }
        DeadCmd::Purge(conn) => {
            let pool = pool(&conn, base).await?;
            let queue = pool.default_queue_name().to_owned();
            let n = pool.purge_dead(&queue).await?;
            if as_json {
                print_json(json!({"queue": queue, "deleted": n}));
            } else {
                println!("deleted {} from {queue}", count(n, "dead letter"));
            }
            Ok(0)
        }
    }
}

/// `events`: one line per event (a JSON object per line with `--json`) until Ctrl-C or
/// `--count`; on stop, says on stderr where to resume.
async fn events(o: EventsOpt, as_json: bool, base: &Base) -> anyhow::Result<u8> {
    let pool = pool(&o.conn, base).await?;
    let queue = pool.default_queue_name().to_owned();
    let mut stream = match (&o.after, o.from_start) {
        (Some(id), _) => pool.events_after(&queue, id.clone()),
        (None, true) => pool.events_from_start(&queue),
        (None, false) => pool.events(&queue).await,
    };
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut seen = 0u64;
    let mut out = std::io::stdout();
    while o.count.is_none_or(|n| seen < n) {
        let next = tokio::select! {
            _ = &mut ctrl_c => break,
            next = stream.next() => next,
        };
        let event = match next {
            None => break,
            Some(Ok(event)) => event,
            Some(Err(e)) => {
                return Err(anyhow::Error::new(e))
                    .with_context(|| format!("reading the events of {queue}"))
            }
        };
        seen += 1;
        let line = if as_json {
            event_json(&event).to_string()
        } else {
            event_line(&event)
        };
        // A closed pipe (`| head`) ends the tail.
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            break;
        }
    }
    if let Some(id) = stream.last_id() {
        eprintln!("{}; resume with --after {id}", count(seen, "event"));
    }
    Ok(0)
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
        Admin::Dead(cmd) => dead(cmd, as_json, base).await,
        Admin::Events(o) => events(o, as_json, base).await,
    }
}
