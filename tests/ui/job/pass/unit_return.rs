//! Jobs that return nothing: no return type, `-> ()`, and `Result<(), E>`.
#![deny(warnings, missing_docs)]

use arq::{Enqueue, Pool};

/// Returns nothing.
#[arq::job]
pub async fn fire_and_forget(message: String) {
    let _ = message;
}

/// Returns `()` explicitly.
#[arq::job]
pub async fn explicit_unit() -> () {}

/// Returns `Result<(), E>`.
#[arq::job]
pub async fn may_fail(fail: bool) -> Result<(), String> {
    if fail {
        Err("failed".to_owned())
    } else {
        Ok(())
    }
}

#[allow(dead_code)]
fn type_checks(pool: &Pool) -> [Enqueue<'_, ()>; 3] {
    [
        fire_and_forget::enqueue(pool, "hi".into()),
        explicit_unit::enqueue(pool),
        may_fail::enqueue(pool, false),
    ]
}

fn main() {
    let units: [fn() -> (); 3] = [
        || -> fire_and_forget::Output {},
        || -> explicit_unit::Output {},
        || -> may_fail::Output {},
    ];
    for unit in units {
        unit();
    }
}
