//! The function stays exactly as written: callable directly, e.g. from unit tests.
#![deny(warnings, missing_docs)]

use std::fmt;

/// A validation error.
#[derive(Debug, PartialEq)]
pub struct Invalid(String);

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid: {}", self.0)
    }
}

impl std::error::Error for Invalid {}

/// Adds two numbers.
#[arq::job(max_tries = 2)]
pub async fn add(a: i32, b: i32) -> i32 {
    a + b
}

/// Validates a word.
#[arq::job]
pub async fn validate(word: String) -> Result<usize, Invalid> {
    if word.chars().all(char::is_alphabetic) {
        Ok(word.len())
    } else {
        Err(Invalid(word))
    }
}

/// Takes its arguments by pattern-free `mut` binding.
#[arq::job]
pub async fn shout(mut text: String) -> String {
    text.make_ascii_uppercase();
    text
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(add(2, 3).await, 5);
    assert_eq!(validate("hello".into()).await, Ok(5));
    assert_eq!(validate("h3llo".into()).await, Err(Invalid("h3llo".into())));
    assert_eq!(shout("hi".into()).await, "HI");
    // The function item and the module coexist.
    let f: fn(i32, i32) -> _ = add;
    assert_eq!(f(1, 1).await, 2);
    assert_eq!(add::NAME, "add");
}
