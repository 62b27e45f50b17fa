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

fn main() {
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
