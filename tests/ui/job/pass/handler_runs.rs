//! Runs the generated handlers (what a worker calls) on a backend-less pool: arguments by
//! position or by name, the context, arity errors, result conversion, error classification.
#![deny(warnings, missing_docs)]

use arq::{Args, Ctx, Function, Pool, Retry, State, Value};
use std::sync::Arc;
use std::time::Duration;

/// Why a greeting failed.
#[derive(Debug)]
pub struct Rude;

impl std::fmt::Display for Rude {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("that was rude")
    }
}

impl std::error::Error for Rude {}

/// Greets someone, with the job's id.
#[arq::job]
pub async fn greet(ctx: &Ctx, name: String, times: u8) -> Result<String, Rude> {
    if name == "rude" {
        return Err(Rude);
    }
    Ok(format!(
        "{} {name} ({})",
        "hi".repeat(times.into()),
        ctx.job_id()
    ))
}

/// Asks for a retry through anyhow.
#[arq::job]
pub async fn retry_me() -> anyhow::Result<()> {
    Err(Retry::after(Duration::from_secs(2)).into())
}

/// An optional argument may be left out.
#[arq::job]
pub async fn optional(n: Option<i64>) -> i64 {
    n.unwrap_or(-1)
}

/// Takes the context by value.
#[arq::job]
pub async fn owned_ctx(ctx: Ctx) -> String {
    ctx.function_name().to_owned()
}

fn ctx(function: &str) -> Ctx {
    let pool = Pool::unconnected();
    Ctx::new(
        "job-1",
        1,
        0,
        0,
        "arq:queue",
        function,
        pool,
        Arc::new(State::new()),
    )
}

async fn run(f: &Function, positional: Vec<Value>, keyword: Vec<(&str, Value)>) -> String {
    let args = Args::new(
        f.name,
        positional,
        keyword
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    );
    match (f.handler)(ctx(f.name), args).await {
        Ok(value) => format!("ok {value:?}"),
        Err(err) => format!("err {err:?}"),
    }
}

fn s(text: &str) -> Value {
    Value::Str(text.to_owned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let greet = &greet::FUNCTION;
    assert_eq!(
        run(greet, vec![s("bob"), Value::Int(2)], vec![]).await,
        r#"ok Str("hihi bob (job-1)")"#
    );
    assert_eq!(
        run(greet, vec![s("bob")], vec![("times", Value::Int(1))]).await,
        r#"ok Str("hi bob (job-1)")"#
    );
    assert_eq!(
        run(
            greet,
            vec![],
            vec![("times", Value::Int(1)), ("name", s("al"))]
        )
        .await,
        r#"ok Str("hi al (job-1)")"#
    );
    let failed = run(greet, vec![s("rude"), Value::Int(1)], vec![]).await;
    assert!(
        failed.contains("Rude") && failed.contains("that was rude"),
        "{failed}"
    );
    let missing = run(greet, vec![s("bob")], vec![]).await;
    assert!(
        missing.contains("missing required argument: 'times'"),
        "{missing}"
    );
    let extra = run(greet, vec![s("bob"), Value::Int(1), Value::Nil], vec![]).await;
    assert!(
        extra.contains("takes 2 positional arguments but 3 were given"),
        "{extra}"
    );
    let unknown = run(
        greet,
        vec![s("bob"), Value::Int(1)],
        vec![("x", Value::Nil)],
    )
    .await;
    assert!(
        unknown.contains("unknown keyword argument 'x'"),
        "{unknown}"
    );
    let wrong = run(greet, vec![Value::Int(1), Value::Int(1)], vec![]).await;
    assert!(wrong.contains("argument 'name'"), "{wrong}");

    let retried = run(&retry_me::FUNCTION, vec![], vec![]).await;
    assert!(
        retried.starts_with("err Retry") && retried.contains("2s"),
        "{retried}"
    );

    assert_eq!(run(&optional::FUNCTION, vec![], vec![]).await, "ok Int(-1)");
    assert_eq!(
        run(&optional::FUNCTION, vec![Value::Int(5)], vec![]).await,
        "ok Int(5)"
    );
    assert_eq!(
        run(&owned_ctx::FUNCTION, vec![], vec![]).await,
        r#"ok Str("owned_ctx")"#
    );
}
