//! Every option, and the values they end up as.
#![deny(warnings, missing_docs)]

use arq::JobOptions;
use std::time::Duration;

/// All options set.
#[arq::job(
    name = "email.send",
    max_tries = 7,
    timeout = "1h30m",
    keep_result = "2d",
    keep_result_forever = false,
    queue = "arq:emails"
)]
pub async fn send(to: String) -> String {
    to
}

/// Integer seconds, milliseconds, and keeping results forever.
#[arq::job(timeout = 90, keep_result_forever = true, max_tries = 1)]
pub async fn forever() {}

/// `keep_result = 0` keeps no result; "1m30s" and "250ms" forms.
#[arq::job(keep_result = 0, timeout = "1m30s")]
pub async fn keep_none() {}

/// Milliseconds.
#[arq::job(timeout = "250ms", keep_result = "90")]
pub async fn quick() {}

/// A predicate for `when`.
fn transient(failure: &arq::JobFailure) -> bool {
    failure.class != "BadRequest"
}

/// A failure hook.
async fn notify(_job: arq::FailedJob) {}

/// What runs again, how often it may snooze, dead letters and hooks.
#[arq::job(
    max_tries = 4,
    retry = exponential("1s", cap = "10m", jitter = false, timeouts = true, when = transient),
    max_snoozes = 3,
    dead_letter = false,
    on_failed = notify,
    on_tries_exhausted = notify
)]
pub async fn resilient() {}

/// A retry policy given as a const expression.
const POLICY: arq::RetryPolicy = arq::RetryPolicy::fixed(Duration::from_secs(5));

/// `retry = <const expression>`.
#[arq::job(retry = POLICY)]
pub async fn by_const() {}

fn main() {
    let o = resilient::FUNCTION.options;
    assert_eq!(
        o.retry,
        Some(
            arq::RetryPolicy::exponential(Duration::from_secs(1))
                .cap(Duration::from_secs(600))
                .jitter(false)
                .retry_timeouts(true)
                .when(transient)
        )
    );
    assert_eq!(
        (o.max_snoozes, o.dead_letter, o.on_failed.is_some(), o.on_tries_exhausted.is_some()),
        (Some(3), Some(false), true, true)
    );
    assert_eq!(by_const::FUNCTION.options.retry, Some(POLICY));

    assert_eq!(send::NAME, "email.send");
    assert_eq!(send::FUNCTION.name, "email.send");
    assert_eq!(
        send::FUNCTION.options,
        JobOptions {
            max_tries: Some(7),
            timeout: Some(Duration::from_secs(90 * 60)),
            keep_result: Some(Duration::from_secs(2 * 24 * 3600)),
            keep_result_forever: Some(false),
            queue: Some("arq:emails"),
            ..JobOptions::new()
        }
    );
    assert_eq!(
        forever::FUNCTION.options,
        JobOptions {
            max_tries: Some(1),
            timeout: Some(Duration::from_secs(90)),
            keep_result: None,
            keep_result_forever: Some(true),
            queue: None,
            ..JobOptions::new()
        }
    );
    assert_eq!(forever::NAME, "forever");
    assert_eq!(
        keep_none::FUNCTION.options.keep_result,
        Some(Duration::ZERO)
    );
    assert_eq!(
        keep_none::FUNCTION.options.timeout,
        Some(Duration::from_secs(90))
    );
    assert_eq!(
        quick::FUNCTION.options.timeout,
        Some(Duration::from_millis(250))
    );
    assert_eq!(
        quick::FUNCTION.options.keep_result,
        Some(Duration::from_secs(90))
    );
    // The name is what the registry knows the job by.
    assert!(arq::Function::registered().any(|f| f.name == "email.send"));
    assert!(!arq::Function::registered().any(|f| f.name == "send"));
}
