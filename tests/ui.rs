//! Compile-time behaviour of `#[arq::job]`: what must expand (and run: pass tests have a
//! `main` that asserts), and the exact error of what must not.
//!
//! The `.stderr` snapshots depend on the rustc version, so they run on the pinned toolchain
//! only (`UI_TOOLCHAIN`; set `ARQ_UI_TESTS=1` to run them anyway). After a toolchain bump,
//! re-bless with `TRYBUILD=overwrite cargo test --test ui`, read every changed message, and
//! update `UI_TOOLCHAIN`.

/// The rustc release the snapshots were made with.
const UI_TOOLCHAIN: &str = "rustc 1.95.";

#[test]
fn ui() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if !version.starts_with(UI_TOOLCHAIN) && std::env::var_os("ARQ_UI_TESTS").is_none() {
        eprintln!("skipping UI snapshots: they were made with {UI_TOOLCHAIN}x, this is {version}");
        return;
    }
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/job/pass/*.rs");
    t.compile_fail("tests/ui/job/fail/*.rs");
    t.pass("tests/ui/cron/pass/*.rs");
    t.compile_fail("tests/ui/cron/fail/*.rs");
}
