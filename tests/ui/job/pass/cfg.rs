//! A `#[cfg]` written under `#[arq::job]` applies to the generated module too.
#![deny(warnings, missing_docs)]

/// Configured out: neither the function nor its module exist.
#[arq::job]
#[cfg(any())]
pub async fn gone() {}

/// Configured in.
#[arq::job]
#[cfg(all())]
pub async fn kept() {}

fn main() {
    assert_eq!(kept::NAME, "kept");
    assert!(!arq::Function::registered().any(|f| f.name == "gone"));
}
