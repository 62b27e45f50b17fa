//! Parameters with a default: `enqueue` leaves them out, its builder sets them, and the
//! handler uses the default when a caller (Python included) does not pass them.
#![deny(warnings, missing_docs)]

use arq::{Args, Ctx, Function, Pool, State, Value};
use std::sync::Arc;
use std::time::Duration;

/// Python: `async def send_email(ctx, to, from_addr="noreply@example.com", retries=0)`.
#[arq::job]
pub async fn send_email(
    ctx: &Ctx,
    to: String,
    #[arq(default = "noreply@example.com".to_owned())] from_addr: String,
    #[arq(default)] retries: u32,
) -> String {
    let _ = ctx;
    format!("{to} from {from_addr} x{retries}")
}

/// A default may use names from the function's module, through `self::` too.
pub const FALLBACK: i64 = 7;

/// Only defaulted parameters; one of them is an `Option`.
#[arq::job(name = "only_defaults")]
pub async fn only_defaults(
    #[arq(default = self::FALLBACK * 2)] n: i64,
    #[arq(default)] label: Option<String>,
) -> String {
    format!("{n} {label:?}")
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
        Ok(Value::Str(s)) => s,
        Ok(other) => format!("ok {other:?}"),
        Err(err) => format!("err {err:?}"),
    }
}

fn s(text: &str) -> Value {
    Value::Str(text.to_owned())
}

/// The builder's type, named: `send_email::Enqueue<'_>`, and what it converts into.
fn builder(pool: &Pool) -> send_email::Enqueue<'_> {
    send_email::enqueue(pool, "a@example.com".into())
        .from_addr("me@example.com".into())
        .retries(3)
        .job_id("mail-1")
        .queue_name("mail")
        .defer_by(Duration::from_secs(1))
        .expires(Duration::from_secs(60))
        .job_try(1)
        .replace_result(false)
        .kwarg("extra", 1)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let f = &send_email::FUNCTION;
    // Omitted: the defaults.
    assert_eq!(
        run(f, vec![s("bob")], vec![]).await,
        "bob from noreply@example.com x0"
    );
    // By keyword, as the builder's setters and Python's keyword arguments send them.
    assert_eq!(
        run(f, vec![s("bob")], vec![("retries", Value::Int(2))]).await,
        "bob from noreply@example.com x2"
    );
    // By position, as Python may also pass them.
    assert_eq!(
        run(f, vec![s("bob"), s("x@y"), Value::Int(1)], vec![]).await,
        "bob from x@y x1"
    );
    let too_many = run(f, vec![s("b"), s("x"), Value::Int(1), Value::Nil], vec![]).await;
    assert!(
        too_many.contains("takes 3 positional arguments"),
        "{too_many}"
    );
    let missing = run(f, vec![], vec![]).await;
    assert!(
        missing.contains("missing required argument: 'to'"),
        "{missing}"
    );

    assert_eq!(
        run(&only_defaults::FUNCTION, vec![], vec![]).await,
        "14 None"
    );
    assert_eq!(
        run(&only_defaults::FUNCTION, vec![], vec![("label", s("x"))]).await,
        "14 Some(\"x\")"
    );

    // The builder: every option of `arq::Enqueue`, and conversion into it (nothing is sent).
    let pool = Pool::unconnected();
    let plain: arq::Enqueue<'_, String> = builder(&pool).into();
    drop(plain);
    let _ = send_email::enqueue(&pool, "a".into()).defer_until(chrono::Utc::now());
    let _ = send_email::enqueue(&pool, "a".into()).run_at(std::time::SystemTime::now());
    let _: arq::Enqueue<'_, String> = only_defaults::enqueue(&pool)
        .n(1)
        .label(None)
        .into_enqueue();
}
