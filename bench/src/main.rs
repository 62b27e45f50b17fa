//! `arq-bench`: this project and Python arq 0.28 side by side, against one private
//! `redis-server` the benchmark starts and stops itself.
//!
//! ```text
//! cargo run --release -p arq-bench                       # the full run (a few minutes)
//! cargo run --release -p arq-bench -- --quick            # small counts, a smoke run
//! cargo run --release -p arq-bench -- --only rust        # one side (rust|python)
//! cargo run --release -p arq-bench -- --markdown         # tables for BENCHMARKS.md
//! ```
//!
//! Workloads (see BENCHMARKS.md for how each figure is measured):
//! - W1: enqueue rate, one client awaiting each enqueue, and 100 concurrent enqueuers.
//! - W2: one worker process drains already-queued jobs (`max_jobs` 10 and 100): rate, the
//!   worker's peak RSS, and what it cost Redis per job.
//! - W3: enqueue -> result-available latency against an idle worker.
//!
//! Workers are separate processes: this binary re-run as `arq-bench worker ...`, and
//! `bench/python/bench.py worker ...`.

mod latency;
mod procs;
mod python;
mod report;
mod rust_side;
mod server;

use clap::{Parser, Subcommand};
use report::{Drain, Latency, Side, SideResults, MAX_JOBS, W3_CONFIGS};
use server::{Cost, RedisServer};
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

/// Benchmark of this arq port against Python arq 0.28 on a private redis-server.
#[derive(Debug, Parser)]
#[command(name = "arq-bench")]
struct Cli {
    /// Worker mode (used by the benchmark itself).
    #[command(subcommand)]
    command: Option<Cmd>,
    /// Small counts, for a quick smoke run.
    #[arg(long)]
    quick: bool,
    /// Run only one side.
    #[arg(long, value_enum)]
    only: Option<Side>,
    /// Print the tables as markdown.
    #[arg(long)]
    markdown: bool,
    /// `poll_delay` of the W2 workers, both sides, in ms. Python arq sleeps this long after
    /// each batch of `queue_read_limit` jobs even with more queued, so its default (500)
    /// caps it near 200 jobs/s at `max_jobs` 10.
    #[arg(long, default_value_t = 10)]
    w2_poll_delay_ms: u64,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run a worker (this project's) and report its counters and peak RSS as JSON.
    #[command(hide = true)]
    Worker(rust_side::WorkerArgs),
}

/// How many jobs and samples each workload uses.
#[derive(Debug, Clone, Copy)]
struct Counts {
    w1: usize,
    /// W1 runs; the median is reported.
    w1_reps: usize,
    w2: usize,
    /// W3 samples for a 10 ms poll.
    w3_fast: usize,
    /// W3 samples for the default 500 ms poll (each costs about half a second).
    w3_slow: usize,
    /// W3 samples run first and dropped.
    w3_warmup: usize,
}

impl Counts {
    fn new(quick: bool) -> Self {
        if quick {
            Counts {
                w1: 2_000,
                w1_reps: 1,
                w2: 2_000,
                w3_fast: 50,
                w3_slow: 10,
                w3_warmup: 2,
            }
        } else {
            Counts {
                w1: 20_000,
                w1_reps: 3,
                w2: 20_000,
                w3_fast: 300,
                w3_slow: 100,
                w3_warmup: 3,
            }
        }
    }
}

/// Shared state of one run.
struct Bench {
    server: RedisServer,
    url: String,
    pool: arq::Pool,
    python: Option<python::Python>,
    exe: PathBuf,
    counts: Counts,
    w2_poll_ms: u64,
    started: Instant,
}

impl Bench {
    fn progress(&self, msg: impl std::fmt::Display) {
        eprintln!("[{:6.1}s] {msg}", self.started.elapsed().as_secs_f64());
    }

    fn python(&self) -> Result<&python::Python, String> {
        self.python
            .as_ref()
            .ok_or_else(|| "Python side not set up".into())
    }

    /// The command line of a worker of `side` on `queue`.
    fn worker_cmd(
        &self,
        side: Side,
        queue: &str,
        max_jobs: usize,
        poll_ms: Option<u64>,
        burst: bool,
    ) -> Result<Command, String> {
        Ok(match side {
            Side::Rust => {
                let mut c = Command::new(&self.exe);
                c.args(["worker", &self.url, "--queue", queue])
                    .args(["--max-jobs", &max_jobs.to_string()]);
                if let Some(ms) = poll_ms {
                    c.args(["--poll-delay-ms", &ms.to_string()]);
                }
                if burst {
                    c.arg("--burst");
                }
                c
            }
            Side::Python => self.python()?.worker(
                &self.url,
                queue,
                max_jobs,
                poll_ms.map(|ms| ms as f64 / 1000.0),
                burst,
            ),
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: no async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Some(Cmd::Worker(args)) => runtime.block_on(rust_side::worker_main(args)),
        None => runtime.block_on(run(&cli)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: &Cli) -> Result<(), String> {
    let started = Instant::now();
    let (quick, markdown) = (cli.quick, cli.markdown);
    let sides: Vec<Side> = match cli.only {
        Some(s) => vec![s],
        None => vec![Side::Rust, Side::Python],
    };
    let python = if sides.contains(&Side::Python) {
        Some(python::Python::find()?)
    } else {
        None
    };
    let server = RedisServer::start()?;
    let url = server.url();
    let version = server.version()?;
    let pool = arq::create_pool(arq::RedisSettings::from_url(&url).map_err(|e| e.to_string())?)
        .await
        .map_err(|e| e.to_string())?;
    let b = Bench {
        server,
        url,
        pool,
        python,
        exe: std::env::current_exe().map_err(|e| e.to_string())?,
        counts: Counts::new(quick),
        w2_poll_ms: cli.w2_poll_delay_ms,
        started,
    };
    let machine = machine(&version);
    let load_start = loadavg();
    b.progress(format!("{machine}; private redis-server on {}", b.url));
    b.progress(format!("{:?}", b.counts));

    // Redis's own cost while idle (serverCron and the like), to read the W2 CPU figures by.
    let idle_s = if quick { 1.0 } else { 3.0 };
    let before = b.server.snapshot()?;
    tokio::time::sleep(Duration::from_secs_f64(idle_s)).await;
    let idle = Cost::between(&before, &b.server.snapshot()?, 1);
    let idle_note = format!(
        "Idle redis-server: {:.0} µs CPU and {:.0} commands per second.",
        idle.cpu_us / idle_s,
        idle.commands / idle_s
    );
    b.progress(&idle_note);

    let mut results = [SideResults::default(), SideResults::default()];
    let idx = |s: Side| s as usize;

    // W1: enqueue.
    for &side in &sides {
        for concurrency in [1, 100] {
            let mut rates = Vec::new();
            for rep in 0..b.counts.w1_reps {
                b.server.flushdb()?;
                let queue = format!("bench:w1:{}:{concurrency}:{rep}", side.name());
                let n = b.counts.w1;
                rates.push(match side {
                    Side::Rust => rust_side::enqueue_rate(&b.pool, &queue, n, concurrency).await?,
                    Side::Python => tokio::task::block_in_place(|| {
                        b.python()?.enqueue_rate(&b.url, &queue, n, concurrency)
                    })?,
                });
            }
            let rate = latency::percentile(&rates, 0.5);
            b.progress(format!(
                "W1 {} enqueue, concurrency {concurrency}: median {} jobs/s of {}",
                side.name(),
                report::thousands(rate),
                rates
                    .iter()
                    .map(|r| report::thousands(*r))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            let r = &mut results[idx(side)];
            if concurrency == 1 {
                r.w1_seq = Some(rate);
            } else {
                r.w1_conc = Some(rate);
            }
        }
    }

    // W2: drain.
    for &mj in &MAX_JOBS {
        for &side in &sides {
            let d = drain(&b, side, mj).await?;
            b.progress(format!(
                "W2 {} max_jobs {mj}: {} jobs ({} failed) in {:.2} s of runs = {} jobs/s \
                 (process {:.2} s), VmHWM {} kB, {:.3} reads, {:.2} commands, {:.1} µs Redis \
                 CPU per job",
                side.name(),
                d.jobs,
                d.failed,
                d.jobs as f64 / d.rate,
                report::thousands(d.rate),
                d.wall_s,
                d.hwm_kb.map_or("?".into(), |k| k.to_string()),
                d.cost.reads,
                d.cost.commands,
                d.cost.cpu_us
            ));
            results[idx(side)].w2.push(Some(d));
        }
    }

    // W3: latency.
    for &side in &sides {
        for (i, (label, poll_ms)) in W3_CONFIGS.iter().enumerate() {
            let l = latency(&b, side, *poll_ms, 0x9E37_79B9 + i as u64).await?;
            b.progress(format!(
                "W3 {} {label}: p50 {} ms, p99 {} ms over {} samples",
                side.name(),
                report::num(l.p50),
                report::num(l.p99),
                l.n
            ));
            results[idx(side)].w3.push(Some(l));
        }
    }
    let load_note = format!(
        "Load average (1 min) at the start: {load_start}, at the end: {}; other processes \
         on the machine compete for its CPUs.",
        loadavg()
    );
    b.progress(&load_note);
    b.progress("done; stopping redis-server");
    let [rust, python] = &results;
    let w2_jobs = b.counts.w2;
    let w3 = (b.counts.w3_slow, b.counts.w3_fast);
    let w2_poll = b.w2_poll_ms;
    drop(b);

    let h = if markdown { "### " } else { "" };
    println!();
    println!("{machine}");
    println!("{idle_note}");
    println!("{load_note}");
    println!(
        "W1 {} jobs ({}); W2 {} jobs; W3 {} samples at poll_delay 500 ms, {} at 10 ms. \
         W2 workers: poll_delay {w2_poll} ms. Ratio = Rust ÷ Python.",
        report::thousands(Counts::new(quick).w1 as f64),
        match Counts::new(quick).w1_reps {
            1 => "one run".to_owned(),
            n => format!("median of {n} runs"),
        },
        report::thousands(w2_jobs as f64),
        w3.0,
        w3.1
    );
    println!();
    println!("{h}Results");
    println!();
    print!(
        "{}",
        report::results_table(rust, python, w2_jobs).render(markdown)
    );
    println!();
    println!("{h}Redis commands per job in W2 (INFO commandstats deltas)");
    println!();
    let with: Vec<(Side, &SideResults)> = sides.iter().map(|&s| (s, &results[idx(s)])).collect();
    print!("{}", report::commands_table(&with, 8).render(markdown));
    if sides.contains(&Side::Rust) {
        println!();
        println!("{h}Targets (this project)");
        println!();
        print!("{}", report::targets_table(rust).render(markdown));
    }
    Ok(())
}

/// W2: fill a queue, then let one worker process in burst mode drain it.
async fn drain(b: &Bench, side: Side, max_jobs: usize) -> Result<Drain, String> {
    let e = |e: arq::Error| e.to_string();
    b.server.flushdb()?;
    let n = b.counts.w2;
    let queue = format!("bench:w2:{}:{max_jobs}", side.name());
    // Filled by the Rust client for both sides (the records are the same), not timed.
    rust_side::enqueue_many(&b.pool, &queue, n, 100, "hello").await?;
    let queued = b.pool.queue_size(&queue).await.map_err(e)?;
    if queued != n as u64 {
        return Err(format!("{queued} jobs queued instead of {n}"));
    }

    let before = b.server.snapshot()?;
    let start = Instant::now();
    let worker = procs::WorkerProc::spawn(
        b.worker_cmd(side, &queue, max_jobs, Some(b.w2_poll_ms), true)?,
        side.name(),
    )?;
    let report = tokio::task::block_in_place(|| worker.wait_exit(Duration::from_secs(600)))?;
    let wall_s = start.elapsed().as_secs_f64();
    let after = b.server.snapshot()?;

    // The rate comes from the result records the worker wrote: from the earliest start to
    // the latest finish (ms timestamps of the worker's clock), with no polling during the run.
    let results: Vec<_> = b
        .pool
        .all_job_results()
        .await
        .map_err(e)?
        .into_iter()
        .filter(|r| r.queue_name == queue)
        .collect();
    let jobs = results.len() as u64;
    let failed = results.iter().filter(|r| !r.success).count() as u64;
    if jobs != n as u64 || failed > 0 {
        b.progress(format!(
            "  warning: {jobs} results ({failed} failed) for {n} jobs; worker said {report}"
        ));
    }
    let first = results
        .iter()
        .map(|r| r.start_time)
        .min()
        .ok_or("no results")?;
    let last = results
        .iter()
        .map(|r| r.finish_time)
        .max()
        .ok_or("no results")?;
    let span_s = ((last - first).num_milliseconds().max(1)) as f64 / 1000.0;
    Ok(Drain {
        jobs,
        failed,
        rate: jobs as f64 / span_s,
        wall_s,
        hwm_kb: report["vm_hwm_kb"].as_u64(),
        cost: Cost::between(&before, &after, jobs),
    })
}

/// W3: one idle worker process; jobs enqueued one at a time; time to result.
async fn latency(
    b: &Bench,
    side: Side,
    poll_ms: Option<u64>,
    seed: u64,
) -> Result<Latency, String> {
    b.server.flushdb()?;
    let samples = if poll_ms.is_some_and(|ms| ms < 100) {
        b.counts.w3_fast
    } else {
        b.counts.w3_slow
    };
    let queue = format!(
        "bench:w3:{}:{}",
        side.name(),
        poll_ms.map_or("default".into(), |ms| ms.to_string())
    );
    let mut worker =
        procs::WorkerProc::spawn(b.worker_cmd(side, &queue, 10, poll_ms, false)?, side.name())?;
    tokio::task::block_in_place(|| worker.wait_ready(Duration::from_secs(30)))?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut notifier = latency::Notifier::start(&b.server)?;
    let measured = latency::measure(
        &b.pool,
        &mut notifier,
        &queue,
        b.counts.w3_warmup,
        samples,
        Duration::from_millis(poll_ms.unwrap_or(500)),
        &mut latency::Rng::new(seed),
    )
    .await;
    notifier.stop(&b.server)?;
    tokio::task::block_in_place(|| worker.terminate(Duration::from_secs(5)))?;
    let v = measured?;
    Ok(Latency {
        p50: latency::percentile(&v, 0.50),
        p99: latency::percentile(&v, 0.99),
        n: v.len(),
    })
}

/// The 1-minute load average.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// `N CPUs (<model>), Redis <version>`.
fn machine(redis_version: &str) -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("Machine: {cpus} CPUs ({model}), Redis {redis_version}")
}
