//! The simplest job: no context, a plain return type, default options.
#![deny(warnings, missing_docs)]
#![forbid(unsafe_code)]

use arq::{Enqueue, Function, Job, JobOptions, Pool};

/// Adds two numbers.
#[arq::job]
pub async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// `enqueue` takes the pool and each argument, typed; it is never awaited here (no Redis).
#[allow(dead_code)]
fn enqueue_type_checks(pool: &Pool) -> Enqueue<'_, i64> {
    add::enqueue(pool, 1, 2).job_id("add-1")
}

/// `job` builds a typed handle from an id.
#[allow(dead_code)]
fn handle_type_checks(pool: &Pool) -> Job<i64> {
    add::job(pool, "add-1")
}

fn main() {
    assert_eq!(add::NAME, "add");
    assert_eq!(add::FUNCTION.name, "add");
    assert_eq!(add::FUNCTION.options, JobOptions::new());
    let output: add::Output = 3_i64;
    assert_eq!(output, 3);
    assert!(
        Function::registered().any(|f| f.name == "add"),
        "the job is in the inventory registry"
    );
}
