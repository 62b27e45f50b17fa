//! Compile-time behaviour of `#[arq::job]`: what must expand (and run: pass tests have a
//! `main` that asserts), and the exact error of what must not.
//!
//! The `.stderr` snapshots depend on the rustc version; after a toolchain bump, re-bless with
//! `TRYBUILD=overwrite cargo test --test ui` and read every changed message.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/job/pass/*.rs");
    t.compile_fail("tests/ui/job/fail/*.rs");
}
