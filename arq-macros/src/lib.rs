//! Procedural macros of the arq job queue.
//!
//! **This crate is semver-exempt.** Use the macros through the `arq` crate (`#[arq::job]`);
//! the code they generate names the runtime only through `arq::__private`, which is not public
//! API either.
//!
//! Each macro is a one-line entry point here; the logic lives in ordinary modules that take
//! `proc_macro2` tokens, so it is unit-tested: `job/parse.rs` (options) → `job/model.rs`
//! (validation) → `job/expand.rs` (code generation), with errors collected in `ctxt.rs`.

mod attr;
mod combined;
mod cron;
mod ctxt;
mod duration;
mod job;
mod options;
mod param;
mod runtime;
mod signature;

use proc_macro::TokenStream;

/// Turns an `async fn` into an arq job: registered with every worker linked into the binary,
/// and enqueued with typed arguments.
///
/// ```text
/// use arq::Ctx;
///
/// #[arq::job(max_tries = 5, timeout = "30s")]
/// async fn send_email(ctx: &Ctx, to: String, subject: String) -> Result<String, MailError> {
///     // ...
/// }
///
/// // Producer side: typed arguments, typed result.
/// let job = send_email::enqueue(&pool, "a@example.com".into(), "Hi".into()).await?;
/// let receipt: String = job.result(Duration::from_secs(30)).await?;
///
/// // The function is left as written: call it directly, e.g. in unit tests.
/// let out = send_email(&ctx, "a@example.com".into(), "Hi".into()).await;
/// ```
///
/// # The function
///
/// - It must be a free `async fn` (not a method, not `const`, `unsafe` or `extern`) and must
///   not be generic: the worker decodes arguments into concrete types.
/// - The first parameter may be the job context, `ctx: &Ctx` (any reference to a path whose
///   last segment is `Ctx`, such as `&arq::Ctx`; `Ctx` by value works too). It must come
///   first.
/// - Every other parameter is a job argument: a plain name (`to`, `mut to`; no patterns,
///   because Python callers may pass arguments by keyword, and the keyword is the parameter
///   name without `r#`) with an owned type that is `Serialize + DeserializeOwned` (`String`,
///   not `&str`). Arguments are taken by position first, then by name, so an `Option<T>`
///   argument may be left out.
/// - The return type decides what the job's result is read as (`Output`):
///   - none, or `()`: `()`;
///   - a path whose last segment is `Result` with a type argument (`Result<T, E>`,
///     `anyhow::Result<T>`, `std::io::Result<T>`): `T`. An `Err` fails the job, or retries it
///     when the error is (or wraps, as `source()` or in an `anyhow` chain) an `arq::Retry`.
///     `E` must be `anyhow::Error`, a `std::error::Error`, or convert into
///     `Box<dyn Error + Send + Sync>` (`String`, `&str`);
///   - any other type `T`: `T`.
///
///   `T` must be `Serialize + DeserializeOwned`, and the future must be `Send`.
///
/// Mistakes are reported at the token to fix, all at once; the function is still emitted so
/// the rest of the crate keeps compiling.
///
/// # Parameters with a default
///
/// Python's `async def send_email(ctx, to, from_addr="noreply@example.com", retries=0)` is
/// written with `#[arq(default = <expr>)]`, or `#[arq(default)]` for the type's `Default`:
///
/// ```text
/// #[arq::job]
/// async fn send_email(
///     ctx: &Ctx,
///     to: String,
///     #[arq(default = "noreply@example.com".to_owned())] from_addr: String,
///     #[arq(default)] retries: u32,
/// ) -> Result<String, MailError> { /* ... */ }
///
/// // `enqueue` takes the other arguments only; its builder has a setter per default.
/// send_email::enqueue(&pool, "a@example.com".into()).await?;
/// send_email::enqueue(&pool, "b@example.com".into())
///     .from_addr("me@example.com".into())
///     .job_id("mail-1")
///     .await?;
/// ```
///
/// - `enqueue` leaves such parameters out. Each one gets a setter of the same name on the
///   builder; it sends the value as a keyword argument, as Python would (setting it twice
///   sends the last value).
/// - The worker's handler uses the default when the caller passed the argument neither by
///   position nor by keyword, so Python callers may leave it out too. The expression is
///   evaluated at each such run, in the function's module (as if written beside it; it
///   cannot see the other parameters, as in Python).
/// - Parameters with a default come after the others, as in Python, and the context has
///   none. A defaulted parameter cannot be named like a builder method (`job_id`,
///   `queue_name`, `defer_by`, `defer_until`, `run_at`, `expires`, `job_try`,
///   `replace_result`, `kwarg`, `into_enqueue`, `into_future`).
/// - Calling the function directly is unchanged: Rust has no default arguments, so pass
///   every argument there.
///
/// With such parameters, `enqueue` returns `<fn>::Enqueue<'_>` rather than
/// `arq::Enqueue<'_, Output>`: the same options (`job_id`, `queue_name`, `defer_by`,
/// `defer_until`/`run_at` taking a `chrono::DateTime` or a `SystemTime`, `expires`,
/// `job_try`, `replace_result`, `kwarg`), the setters, and `.await`. `.into_enqueue()` (or
/// `From`) gives the plain `arq::Enqueue<'_, Output>` with what was set so far. A type of its
/// own per job keeps the setters inherent: nothing to import, and two jobs with a setter of
/// the same name never clash.
///
/// # Both a job and a cron job
///
/// Put `#[arq::cron(...)]` on the same function, above or below `#[arq::job(...)]`. The one
/// module then has the job's items and the cron job's `CRON`:
///
/// ```text
/// #[arq::job(timeout = "5m")]
/// #[arq::cron(hour = 6, minute = 0)]
/// async fn rebuild_index(ctx: &Ctx, #[arq(default)] full: bool) -> anyhow::Result<u64> { /* ... */ }
///
/// rebuild_index::enqueue(&pool).full(true).await?;   // by hand, as `rebuild_index`
/// // ... and every day at 06:00, as `cron:rebuild_index`, with `full = false`.
/// ```
///
/// As with Python's `func(f, …)` and `cron(f, …)`, `#[arq::job]`'s options apply to the
/// enqueued job and `#[arq::cron]`'s (schedule, `timeout`, `max_tries`, `keep_result`, …,
/// with the cron defaults) to the ticks. The cron job is named `cron:<job name>` unless
/// `#[arq::cron(name = …)]` says otherwise. Ticks run with no arguments, so every parameter
/// but the context needs a default. `crate = "…"` may be given on either attribute (the
/// same path if on both).
///
/// # Options
///
/// All optional, written `key = value` and separated by commas:
///
/// | option | value | meaning |
/// | --- | --- | --- |
/// | `name` | string | The name jobs are enqueued under, Python arq's function name. Default: the function's name. |
/// | `max_tries` | integer ≥ 1 | How many times the job may run, the first run included. Default: the worker's (5). |
/// | `timeout` | duration > 0 | How long one run may take. Default: the worker's (300 s). |
/// | `keep_result` | duration | How long the result is kept; `0` keeps none. Default: the worker's (1 h). |
/// | `keep_result_forever` | `true`/`false` | Keep the result without expiry (do not combine `true` with `keep_result`). |
/// | `queue` | string | The queue `enqueue` sends to, instead of the pool's default (`.queue_name(…)` on the builder still wins). |
/// | `retry` | retry policy | Which errors run again and after how long: `fixed("30s")`, `linear("10s")` or `exponential("1s")`, each optionally with `cap = "10m"` (default 1 h), `jitter = false` (default: full jitter), `timeouts = true` (default: a timeout is final) and `when = predicate` (a `fn(&arq::JobFailure) -> bool`); or any const `arq::RetryPolicy` expression. Default: the worker's (none: only a returned `Retry` runs a job again, as in Python arq). `max_tries` still bounds every retry. |
/// | `max_snoozes` | integer ≥ 0 | How many times the job may return `arq::Snooze` (run later without spending a try). Default: the worker's (25). |
/// | `dead_letter` | `true`/`false` | Whether a final failure goes to the queue's dead set. Default: the worker's (yes). |
/// | `on_failed` | path | An `async fn(arq::FailedJob)` run once when the job fails for good (besides the worker's `on_job_failed`). |
/// | `on_tries_exhausted` | path | An `async fn(arq::FailedJob)` run once when the job fails on its last try. |
/// | `crate` | string path | Where the `arq` crate is, when it is not `::arq`: `crate = "my_arq"` after renaming the dependency, or a re-export such as `crate = "crate::deps::arq"`. |
///
/// (This example is compiled and run in the `arq` crate's documentation, "Retries, snoozes
/// and dead letters".)
///
/// ```ignore
/// use std::time::Duration;
///
/// fn transient(failure: &arq::JobFailure) -> bool {
///     failure.class != "BadRequest"
/// }
///
/// async fn alert(job: arq::FailedJob) {
///     eprintln!("{} gave up after {} tries: {}", job.job_id(), job.job_try(), job.failure());
/// }
///
/// #[arq::job(
///     max_tries = 8,
///     retry = exponential("1s", cap = "5m", when = transient),
///     on_tries_exhausted = alert
/// )]
/// async fn sync_account(id: u64) -> anyhow::Result<()> {
///     if id == 0 {
///         // Final at once, whatever the policy.
///         return Err(arq::Permanent::new(std::io::Error::other("no account 0")).into());
///     }
///     Ok(())
/// }
/// # fn main() {
/// # assert_eq!(sync_account::FUNCTION.options.max_tries, Some(8));
/// # assert!(sync_account::FUNCTION.options.retry.is_some());
/// # }
/// ```
///
/// Durations are an integer number of seconds (`timeout = 90`) or a string of one or more
/// `<integer><unit>` parts with units `d`, `h`, `m`, `s`, `ms`, from largest to smallest
/// (`"30s"`, `"5m"`, `"1h30m"`, `"1m30s"`, `"250ms"`, `"2d"`); a string of digits alone is
/// seconds (`"90"`). There are no fractions (`"1.5s"` is `"1500ms"`), signs or spaces.
///
/// # What it generates
///
/// Beside the function, a module of the same name and visibility (functions live in the value
/// namespace and modules in the type namespace, so `send_email(…)` and `send_email::enqueue(…)`
/// coexist, and one `use path::send_email;` imports both):
///
/// - `NAME: &str`: the job's name.
/// - `FUNCTION: arq::Function`: name, options and the erased handler a worker runs. It is
///   registered with `inventory`, so `Function::registered()` (and a worker's default job
///   table) includes it whenever the crate is linked; it can also be given to a worker
///   explicitly.
/// - `type Output`: the result type (see above).
/// - `fn enqueue(pool: &Pool, <arguments…>) -> Enqueue<'_, Output>`: serializes the arguments
///   and returns the enqueue builder; set `job_id`, `defer_by`, `queue_name`, … on it, then
///   `.await` it for a `Job<Output>`. With parameters that have a default, it takes only the
///   others and returns `<fn>::Enqueue<'_>` (see above).
/// - `struct Enqueue<'p>`: only with parameters that have a default; the builder above.
/// - `CRON: arq::CronJob`: only when the function is also a `#[arq::cron]`.
/// - `fn job(pool: &Pool, job_id: impl Into<String>) -> Job<Output>`: a typed handle to a
///   job enqueued earlier, from its id.
///
/// Inside the module, `use super::*;` makes the function's types resolve as they do beside
/// it; paths starting with `self::` or `super::` (and a type named `Output`) are rewritten to
/// mean the same thing. The function must therefore be an item of a module, not a local item
/// inside a function body.
///
/// # Equivalent code without the macro
///
/// For the `send_email` above (`MailError` being a `std::error::Error`), `#[arq::job]`
/// generates the following beside the unchanged function (shortened: docs, attributes and
/// absolute paths left out). Without the macro, the same job is an `arq::Function` built with
/// `Function::new("send_email", handler).with_options(…)`, whose handler takes each argument
/// with `Args::take`, checks the rest with `Args::finish` and converts the result; the `arq`
/// crate's documentation ("Without the macros") has that as a compiled, tested example.
///
/// ```text
/// /// The job `send_email`, as registered by `#[arq::job]`: …
/// pub mod send_email {
///     use super::*;
///
///     pub const NAME: &str = "send_email";
///
///     pub const FUNCTION: ::arq::__private::Function = ::arq::__private::Function {
///         name: NAME,
///         options: ::arq::__private::JobOptions {
///             max_tries: Some(5),
///             timeout: Some(::arq::__private::millis(30000)),
///             keep_result: None,
///             keep_result_forever: None,
///             queue: None,
///             retry: None,
///             max_snoozes: None,
///             dead_letter: None,
///             on_failed: None,
///             on_tries_exhausted: None,
///         },
///         handler: __handler,
///     };
///
///     pub type Output = String;
///
///     pub fn enqueue(pool: &Pool, to: String, subject: String) -> Enqueue<'_, Output> {
///         ::arq::__private::enqueue(pool, &FUNCTION, [
///             (__ARQ_ARG_0.to_value)("to", &to),
///             (__ARQ_ARG_1.to_value)("subject", &subject),
///         ].into_iter().collect())
///     }
///
///     pub fn job(pool: &Pool, job_id: impl Into<String>) -> Job<Output> {
///         Pool::job::<Output>(pool, job_id)
///     }
///
///     fn __handler(ctx: Ctx, args: Args) -> BoxFuture<'static, Result<Value, JobError>> {
///         Box::pin(send_email(ctx, args))   // must be Send: reported at the fn's name
///     }
///
///     async fn send_email(ctx: Ctx, mut args: Args) -> Result<Value, JobError> {
///         let a0: String = (__ARQ_ARG_0.take)(&mut args, 0, "to")?;
///         let a1: String = (__ARQ_ARG_1.take)(&mut args, 1, "subject")?;
///         args.finish(2)?;   // extra positional or unknown keyword arguments fail the job
///         match super::send_email(&ctx, a0, a1).await {
///             Ok(value) => (__ARQ_OUTPUT.to_value)(value),
///             Err(error) => Err(/* classified: Retry, or a failure named after the error type */),
///         }
///     }
///
///     ::arq::__private::inventory::submit! { FUNCTION }
///
///     // The compile-time checks, spanned at each type so a missing derive is reported there
///     // (once); the codecs they return are what the code above uses.
///     const __ARQ_ARG_0: ArgCodec<String> = ::arq::__private::arg_codec::<String>();
///     const __ARQ_ARG_1: ArgCodec<String> = ::arq::__private::arg_codec::<String>();
///     const __ARQ_OUTPUT: OutputCodec<String> = ::arq::__private::output_codec::<String>();
/// }
/// ```
///
/// The real expansion spells every path absolutely (`::core::result::Result`,
/// `::std::boxed::Box`, `<crate>::__private::…`) and uses hygienic names for its locals, so
/// shadowing `Result`, `Option`, `Box`, `serde` or naming an argument `pool` or `args` does
/// not break it.
#[proc_macro_attribute]
pub fn job(args: TokenStream, item: TokenStream) -> TokenStream {
    job::expand(args.into(), item.into()).into()
}

/// Turns an `async fn` that takes only the job context into a cron job: every worker linked
/// with it enqueues it on its schedule, and each tick runs once across all workers.
///
/// ```text
/// use arq::Ctx;
///
/// // 08:00 London time, every day.
/// #[arq::cron(hour = 8, minute = 0, timezone = "Europe/London")]
/// async fn morning_report(ctx: &Ctx) -> anyhow::Result<()> { /* ... */ }
///
/// // A cron expression (croner syntax; seconds optional): every five minutes.
/// #[arq::cron("0 */5 * * * *")]
/// async fn sweep() {}
///
/// // Weekdays at 09:30, also once when the workers start.
/// #[arq::cron(weekday = ["mon", "tue", "wed", "thu", "fri"], hour = 9, minute = 30, run_at_startup)]
/// async fn standup(ctx: &Ctx) {}
/// ```
///
/// The function must be a free, non-generic `async fn` whose only parameter, if any, is the
/// context (`ctx: &Ctx` or `Ctx`), unless it is also a `#[arq::job]` (see "Both a job and a
/// cron job" there: then its other parameters need defaults). Its return type follows the rules of `#[arq::job]`: `()`,
/// a serializable `T`, or `Result<T, E>` (an `Err` fails the run, or retries it for an
/// `arq::Retry`).
///
/// # Schedule
///
/// Either Python arq's fields, each a value, a list (`[0, 30]`) or a range (`9..=17`,
/// `0..60`); all given fields must match, a field left out matches any value, except
/// `second`, which defaults to 0 (so the default is every minute):
///
/// | field | values |
/// | --- | --- |
/// | `month` | 1-12 |
/// | `day` | 1-31 (a day a month lacks is skipped there) |
/// | `weekday` | 0 (Monday) - 6 (Sunday), or names: `"mon"`, `"tues"`, `"thursday"`, … |
/// | `hour` | 0-23 |
/// | `minute` | 0-59 |
/// | `second` | 0-59 (default 0) |
/// | `microsecond` | 0-999999 (default 123456, as Python arq: tick ids end in `…123`) |
///
/// or a cron expression, as the first argument or `expr = "..."`: 5 fields
/// (`minute hour day month weekday`) or 6 (seconds first), names, ranges, steps, `L`, `W`,
/// `#` and `@daily`-style nicknames, parsed by `croner`. There weekday 0 is Sunday and a
/// restricted day and weekday match when either does (cron's rules). Out-of-range values are
/// compile errors; the rest of an expression is checked when a worker starts.
///
/// # Options
///
/// | option | value | meaning |
/// | --- | --- | --- |
/// | `timezone` | string | IANA zone the schedule is read in (`"Europe/London"`); default: the system's local zone, as Python arq. Checked when a worker starts. |
/// | `name` | string | The job is `cron:<name>` (default `cron:<fn name>`, as Python arq names `cron(fn)`). |
/// | `run_at_startup` | flag or bool | Also run the tick due when the workers start (once across workers). |
/// | `unique` | bool | Each tick once across workers (default `true`); `false`: every worker runs every tick. |
/// | `timeout` | duration | Per run; default: the worker's. |
/// | `max_tries` | integer ≥ 1 | Default 1. |
/// | `keep_result` | duration | Default 0: no result kept. |
/// | `keep_result_forever` | flag or bool | Keep the result without expiry. |
/// | `crate` | string path | Where the `arq` crate is, when it is not `::arq`. |
///
/// # What it generates
///
/// Beside the unchanged function, a module of the same name with `NAME` (`"cron:<name>"`) and
/// `CRON: arq::CronJob`, registered with `inventory` so every worker schedules it (or pass
/// `[<fn>::CRON]` to `WorkerSettings::cron_jobs`). Without the macro, the same job is
/// `CronJob::new(name, CronSchedule::new().hour(8)?…, handler)`.
#[proc_macro_attribute]
pub fn cron(args: TokenStream, item: TokenStream) -> TokenStream {
    cron::expand(args.into(), item.into()).into()
}
