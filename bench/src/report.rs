//! The result tables (aligned text, or markdown with `--markdown`) and the targets check.

use crate::server::Cost;

/// Which implementation a figure belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Side {
    /// This project.
    Rust,
    /// Python arq 0.28.
    Python,
}

impl Side {
    /// `Rust` / `Python`.
    pub fn name(self) -> &'static str {
        match self {
            Side::Rust => "Rust",
            Side::Python => "Python",
        }
    }
}

/// W2 for one worker: a drain of the queue.
#[derive(Debug, Clone)]
pub struct Drain {
    /// Results counted after the worker exited.
    pub jobs: u64,
    /// Of those, failures (should be 0).
    pub failed: u64,
    /// jobs / (latest result's finish time − earliest result's start time).
    pub rate: f64,
    /// Worker process start to exit, s (includes the process's own start-up).
    pub wall_s: f64,
    /// The worker's `VmHWM` just before it exited, kB.
    pub hwm_kb: Option<u64>,
    /// Redis's cost per job.
    pub cost: Cost,
}

/// W3 for one worker configuration.
#[derive(Debug, Clone)]
pub struct Latency {
    /// Median, ms.
    pub p50: f64,
    /// 99th percentile (nearest rank), ms.
    pub p99: f64,
    /// Number of samples.
    pub n: usize,
}

/// Everything one side measured; `None` where a workload was not run.
#[derive(Debug, Default)]
pub struct SideResults {
    /// W1, one client, sequential awaits, jobs/s.
    pub w1_seq: Option<f64>,
    /// W1, 100 concurrent enqueuers, jobs/s.
    pub w1_conc: Option<f64>,
    /// W2 by `max_jobs`, in the order of [`MAX_JOBS`].
    pub w2: Vec<Option<Drain>>,
    /// W3 by configuration, in the order of [`W3_CONFIGS`].
    pub w3: Vec<Option<Latency>>,
}

/// The `max_jobs` values of W2.
pub const MAX_JOBS: [usize; 2] = [10, 100];

/// W3's worker configurations: label and `poll_delay` in ms (`None`: the default, 500 ms on
/// both sides).
pub const W3_CONFIGS: [(&str, Option<u64>); 2] = [
    ("default settings (poll_delay 500 ms)", None),
    ("poll_delay 10 ms", Some(10)),
];

/// A table rendered as aligned text or as markdown.
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    left: Vec<bool>,
}

impl Table {
    /// An empty table with these column headers.
    pub fn new(headers: &[&str]) -> Self {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
            left: (0..headers.len()).map(|i| i == 0).collect(),
        }
    }

    /// Left-aligns these columns (by default only the first one is; the others hold numbers).
    pub fn left_align(mut self, cols: &[usize]) -> Self {
        for &c in cols {
            if let Some(l) = self.left.get_mut(c) {
                *l = true;
            }
        }
        self
    }

    /// Appends a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as aligned text, or as markdown.
    pub fn render(&self, markdown: bool) -> String {
        let cols = self.headers.len();
        let width = |i: usize| {
            std::iter::once(&self.headers)
                .chain(&self.rows)
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..cols).map(width).collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = (0..cols)
                .map(|i| {
                    let c = cells.get(i).map_or("", String::as_str);
                    let pad = " ".repeat(widths[i] - c.chars().count());
                    if self.left[i] {
                        format!("{c}{pad}")
                    } else {
                        format!("{pad}{c}")
                    }
                })
                .collect();
            if markdown {
                format!("| {} |", padded.join(" | "))
            } else {
                padded.join("   ").trim_end().to_owned()
            }
        };
        let mut out = vec![line(&self.headers)];
        if markdown {
            let rule: Vec<String> = widths
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let dashes = "-".repeat((*w).max(3) - 1);
                    if self.left[i] {
                        format!("{dashes}-")
                    } else {
                        format!("{dashes}:")
                    }
                })
                .collect();
            out.push(format!("| {} |", rule.join(" | ")));
        } else {
            out.push(
                widths
                    .iter()
                    .map(|w| "-".repeat(*w))
                    .collect::<Vec<_>>()
                    .join("   "),
            );
        }
        out.extend(self.rows.iter().map(|r| line(r)));
        out.join("\n") + "\n"
    }
}

/// `12,345`.
pub fn thousands(v: f64) -> String {
    let n = v.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A value with about three significant digits.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    let a = v.abs();
    if a >= 1000.0 {
        thousands(v)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn ratio(rust: Option<f64>, python: Option<f64>) -> String {
    match (rust, python) {
        (Some(r), Some(p)) if p > 0.0 => format!("{}×", num(r / p)),
        _ => "—".into(),
    }
}

/// The main table: workload | Rust | Python | Rust ÷ Python.
pub fn results_table(rust: &SideResults, python: &SideResults, w2_jobs: usize) -> Table {
    let mut t = Table::new(&["workload", "Rust", "Python", "Rust ÷ Python"]);
    let mut add =
        |name: String, f: &dyn Fn(&SideResults) -> Option<f64>, fmt: fn(f64) -> String| {
            let (r, p) = (f(rust), f(python));
            t.row(vec![
                name,
                r.map_or("—".into(), fmt),
                p.map_or("—".into(), fmt),
                ratio(r, p),
            ]);
        };
    add(
        "W1 enqueue, 1 client, sequential awaits (jobs/s)".into(),
        &|s| s.w1_seq,
        thousands,
    );
    add(
        "W1 enqueue, 100 concurrent (jobs/s)".into(),
        &|s| s.w1_conc,
        thousands,
    );
    let drain = |i: usize| move |s: &SideResults| s.w2.get(i).cloned().flatten();
    for (i, mj) in MAX_JOBS.iter().enumerate() {
        add(
            format!(
                "W2 drain {} queued jobs, max_jobs {mj} (jobs/s)",
                thousands(w2_jobs as f64)
            ),
            &|s| drain(i)(s).map(|d| d.rate),
            thousands,
        );
    }
    for (i, mj) in MAX_JOBS.iter().enumerate() {
        add(
            format!("W2 worker peak RSS (VmHWM), max_jobs {mj} (MiB)"),
            &|s| {
                drain(i)(s)
                    .and_then(|d| d.hwm_kb)
                    .map(|kb| kb as f64 / 1024.0)
            },
            |v| format!("{v:.1}"),
        );
    }
    for (i, mj) in MAX_JOBS.iter().enumerate() {
        add(
            format!("W2 Redis socket reads per job (≈ round trips), max_jobs {mj}"),
            &|s| drain(i)(s).map(|d| d.cost.reads),
            num,
        );
        add(
            format!("W2 Redis commands executed per job, max_jobs {mj}"),
            &|s| drain(i)(s).map(|d| d.cost.commands),
            num,
        );
        add(
            format!("W2 Redis CPU per job, max_jobs {mj} (µs)"),
            &|s| drain(i)(s).map(|d| d.cost.cpu_us),
            |v| format!("{v:.1}"),
        );
    }
    for (i, (label, _)) in W3_CONFIGS.iter().enumerate() {
        let lat = move |s: &SideResults| s.w3.get(i).cloned().flatten();
        add(
            format!("W3 latency p50, {label} (ms)"),
            &|s| lat(s).map(|l| l.p50),
            num,
        );
        add(
            format!("W3 latency p99, {label} (ms)"),
            &|s| lat(s).map(|l| l.p99),
            num,
        );
    }
    t
}

/// Calls per job of the most frequent commands in each W2 run (`INFO commandstats` deltas).
pub fn commands_table(sides: &[(Side, &SideResults)], top: usize) -> Table {
    let mut t = Table::new(&["W2 run", "calls per job, by command (top few)"]).left_align(&[1]);
    for (i, mj) in MAX_JOBS.iter().enumerate() {
        for (side, r) in sides {
            let Some(Some(d)) = r.w2.get(i) else { continue };
            let list: Vec<String> = d
                .cost
                .per_command
                .iter()
                .take(top)
                .map(|(name, n)| format!("{name} {}", num(*n)))
                .collect();
            t.row(vec![
                format!("{}, max_jobs {mj}", side.name()),
                list.join(", "),
            ]);
            let us: Vec<String> = d
                .cost
                .per_command_us
                .iter()
                .take(top)
                .map(|(name, n)| format!("{name} {}", num(*n)))
                .collect();
            t.row(vec![
                format!("{}, max_jobs {mj}, µs", side.name()),
                us.join(", "),
            ]);
        }
    }
    t
}

enum Goal {
    AtLeast(f64),
    AtMost(f64),
}

/// This project's figures against the performance targets.
pub fn targets_table(rust: &SideResults) -> Table {
    let mut t = Table::new(&["target", "measured (Rust)", "met?", "shortfall"]).left_align(&[2, 3]);
    let mut check = |name: String, value: Option<f64>, goal: Goal, fmt: fn(f64) -> String| {
        let Some(v) = value else {
            t.row(vec![name, "—".into(), "not run".into(), String::new()]);
            return;
        };
        let (met, gap) = match goal {
            Goal::AtLeast(g) if v >= g => (true, format!("{}× the target", num(v / g))),
            Goal::AtLeast(g) => (
                false,
                format!(
                    "{:.0}% of the target; needs {}× more",
                    100.0 * v / g,
                    num(g / v)
                ),
            ),
            Goal::AtMost(g) if v <= g => (true, format!("{:.0}% of the limit", 100.0 * v / g)),
            Goal::AtMost(g) => (false, format!("{}× over the limit", num(v / g))),
        };
        t.row(vec![
            name,
            fmt(v),
            if met { "yes" } else { "no" }.into(),
            gap,
        ]);
    };
    check(
        "W1 sequential ≥ 16,000 jobs/s".into(),
        rust.w1_seq,
        Goal::AtLeast(16_000.0),
        thousands,
    );
    check(
        "W1 100 concurrent ≥ 100,000 jobs/s".into(),
        rust.w1_conc,
        Goal::AtLeast(100_000.0),
        thousands,
    );
    let drain = |i: usize| rust.w2.get(i).cloned().flatten();
    for (i, mj) in MAX_JOBS.iter().enumerate() {
        check(
            format!("W2 max_jobs {mj} ≥ 100,000 jobs/s"),
            drain(i).map(|d| d.rate),
            Goal::AtLeast(100_000.0),
            thousands,
        );
    }
    let lat = rust.w3.first().cloned().flatten();
    check(
        "W3 p50 ≤ 0.3 ms (default settings)".into(),
        lat.as_ref().map(|l| l.p50),
        Goal::AtMost(0.3),
        |v| format!("{} ms", num(v)),
    );
    check(
        "W3 p99 ≤ 2 ms (default settings)".into(),
        lat.as_ref().map(|l| l.p99),
        Goal::AtMost(2.0),
        |v| format!("{} ms", num(v)),
    );
    for (i, mj) in MAX_JOBS.iter().enumerate() {
        check(
            format!("W2 worker peak RSS ≤ 10 MiB, max_jobs {mj}"),
            drain(i).and_then(|d| d.hwm_kb).map(|kb| kb as f64 / 1024.0),
            Goal::AtMost(10.0),
            |v| format!("{v:.1} MiB"),
        );
    }
    for (i, mj) in MAX_JOBS.iter().enumerate() {
        check(
            format!("Redis round trips per job ≤ 0.1 (socket reads), max_jobs {mj}"),
            drain(i).map(|d| d.cost.reads),
            Goal::AtMost(0.1),
            num,
        );
    }
    for (i, mj) in MAX_JOBS.iter().enumerate() {
        check(
            format!("Redis CPU per job ≤ 10 µs, max_jobs {mj}"),
            drain(i).map(|d| d.cost.cpu_us),
            Goal::AtMost(10.0),
            |v| format!("{v:.1} µs"),
        );
    }
    t
}
