//! `crate = "…"` points the expansion at the arq crate under another path: `::arq` spelled
//! out, a renamed crate, and a re-export inside the user's crate.
#![deny(warnings, missing_docs)]

extern crate arq as renamed;

/// A facade of the user's own that re-exports arq.
pub mod reexport {
    pub use ::arq as inner;
}

/// The default path, spelled out.
#[arq::job(crate = "::arq")]
pub async fn spelled_out() -> u8 {
    1
}

/// The crate under another name.
#[renamed::job(crate = "renamed", max_tries = 2)]
pub async fn through_rename(x: u8) -> u8 {
    x
}

/// Through a re-export.
#[reexport::inner::job(crate = "crate::reexport::inner")]
pub async fn through_reexport(ctx: &reexport::inner::Ctx) -> String {
    ctx.job_id().to_owned()
}

#[allow(dead_code)]
fn type_checks(pool: &renamed::Pool) {
    let _: renamed::Enqueue<'_, u8> = spelled_out::enqueue(pool);
    let _: renamed::Enqueue<'_, u8> = through_rename::enqueue(pool, 1);
    let _: renamed::Job<String> = through_reexport::job(pool, "id");
}

fn main() {
    assert_eq!(through_rename::FUNCTION.options.max_tries, Some(2));
    let names: Vec<&str> = renamed::Function::registered().map(|f| f.name).collect();
    for name in ["spelled_out", "through_rename", "through_reexport"] {
        assert!(names.contains(&name), "{name} registered: {names:?}");
    }
}
