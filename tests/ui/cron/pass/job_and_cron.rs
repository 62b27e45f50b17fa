//! A function that is both a job and a cron job, with the attributes in either order: one
//! module with the job's `enqueue`/`FUNCTION` and the cron job's `CRON`.
#![deny(warnings, missing_docs)]

use arq::{Args, Ctx, Function, Pool, State, Value};
use std::sync::Arc;

/// Job first, then cron; its only argument has a default, which the cron ticks use.
#[arq::job(max_tries = 3, timeout = "10s")]
#[arq::cron(hour = 8, minute = 0, run_at_startup)]
pub async fn report(ctx: &Ctx, #[arq(default = "daily".to_owned())] kind: String) -> String {
    format!("{kind} report ({})", ctx.function_name())
}

/// Cron first, then job; renamed as a job, so the cron job follows the name.
#[arq::cron("0 */5 * * * *", max_tries = 2)]
#[arq::job(name = "py_sweep", keep_result = "1h")]
pub async fn sweep() -> u32 {
    5
}

/// The cron job's own name wins over the job's.
#[arq::job]
#[arq::cron(minute = 30, name = "half_past")]
async fn named(#[arq(default)] n: u8) -> u8 {
    n
}

fn ctx(function: &str) -> Ctx {
    Ctx::new(
        "job-1",
        1,
        0,
        0,
        "arq:queue",
        function,
        Pool::unconnected(),
        Arc::new(State::new()),
    )
}

async fn run(f: &Function, positional: Vec<Value>) -> String {
    match (f.handler)(ctx(f.name), Args::new(f.name, positional, vec![])).await {
        Ok(value) => format!("{value:?}"),
        Err(err) => format!("err {err:?}"),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // The job side, with #[arq::job]'s options.
    assert_eq!(report::NAME, "report");
    assert_eq!(report::FUNCTION.name, "report");
    assert_eq!(report::FUNCTION.options.max_tries, Some(3));
    // The cron side, with #[arq::cron]'s schedule and options (Python's cron defaults).
    let cron = report::CRON.function();
    assert_eq!(report::CRON.function_name(), "cron:report");
    assert_eq!(cron.options.max_tries, Some(1));
    assert_eq!(
        run(&cron, vec![]).await,
        r#"Str("daily report (cron:report)")"#
    );
    assert_eq!(
        run(&report::FUNCTION, vec![Value::Str("weekly".into())]).await,
        r#"Str("weekly report (report)")"#
    );
    assert!(Function::registered().any(|f| f.name == "report"));
    assert!(arq::CronJob::registered().any(|c| c.function_name() == "cron:report"));

    assert_eq!(sweep::NAME, "py_sweep");
    assert_eq!(sweep::CRON.function_name(), "cron:py_sweep");
    assert_eq!(sweep::CRON.function().options.max_tries, Some(2));
    assert_eq!(run(&sweep::CRON.function(), vec![]).await, "Int(5)");

    assert_eq!(named::CRON.function_name(), "cron:half_past");
    assert_eq!(run(&named::CRON.function(), vec![]).await, "Int(0)");

    let pool = Pool::unconnected();
    let _: arq::Enqueue<'_, u32> = sweep::enqueue(&pool);
    let _ = report::enqueue(&pool).kind("weekly".into());
    let _ = named::job(&pool, "id");
}
