//! Compile-time behaviour of `#[arq::job]`: what must expand (and run: pass tests have a
//! `main` that asserts), and the exact error of what must not.
//!
//! The `.stderr` snapshots depend on the rustc version: they were made with `UI_TOOLCHAIN`.
//! On another rustc the test runs the pass cases (they do not depend on the compiler's
//! wording), then fails and says so: it is never skipped. After a toolchain bump, re-bless
//! with `TRYBUILD=overwrite cargo test --test ui`, read every changed message, and update
//! `UI_TOOLCHAIN`.

/// The rustc release the snapshots were made with.
const UI_TOOLCHAIN: &str = "rustc 1.95.";

/// One `TestCases` (trybuild builds all its cases in one project directory).
#[test]
fn ui() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(&rustc)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_else(|e| panic!("could not run {rustc} --version: {e}"));
    let snapshots_apply = version.starts_with(UI_TOOLCHAIN);
    {
        let t = trybuild::TestCases::new();
        t.pass("tests/ui/job/pass/*.rs");
        t.pass("tests/ui/cron/pass/*.rs");
        if snapshots_apply {
            t.compile_fail("tests/ui/job/fail/*.rs");
            t.compile_fail("tests/ui/cron/fail/*.rs");
        }
    }
    assert!(
        snapshots_apply,
        "the pass cases passed, but the error snapshots were made with {UI_TOOLCHAIN}x and this \
         is {version}: run the tests with that toolchain, or re-bless them \
         (TRYBUILD=overwrite cargo test --test ui), read every changed message and update \
         UI_TOOLCHAIN"
    );
}
