//! A job that takes the context and returns `Result<T, MyError>` with a hand-written error.
#![deny(warnings, missing_docs)]

use arq::{Ctx, Job, Pool};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a sent email leaves behind.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Receipt {
    /// Who it went to.
    pub to: String,
    /// Which run sent it.
    pub attempt: u32,
}

/// Why sending failed.
#[derive(Debug)]
pub enum MailError {
    /// No such mailbox.
    NoMailbox(String),
}

impl fmt::Display for MailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailError::NoMailbox(to) => write!(f, "no mailbox {to}"),
        }
    }
}

impl std::error::Error for MailError {}

/// Sends an email.
#[arq::job]
pub async fn send_email(ctx: &Ctx, to: String, subject: String) -> Result<Receipt, MailError> {
    if to.is_empty() {
        return Err(MailError::NoMailbox(subject));
    }
    Ok(Receipt {
        to,
        attempt: ctx.job_try(),
    })
}

/// The context may also be named through the crate path, and ignored.
#[arq::job]
async fn ping(_: &arq::Ctx) -> Result<bool, MailError> {
    Ok(true)
}

#[allow(dead_code)]
fn type_checks(pool: &Pool) {
    // `Output` is the `T` of `Result<T, E>`: the handle reads a `Receipt`.
    let _enqueue: arq::Enqueue<'_, Receipt> =
        send_email::enqueue(pool, "a@b.c".into(), "hi".into());
    let _handle: Job<Receipt> = send_email::job(pool, String::from("id"));
    let _ping: arq::Enqueue<'_, bool> = ping::enqueue(pool);
}

fn main() {
    let receipt: send_email::Output = Receipt {
        to: "x".into(),
        attempt: 1,
    };
    assert_eq!(receipt.attempt, 1);
    assert_eq!(send_email::NAME, "send_email");
    assert_eq!(ping::FUNCTION.name, "ping");
}
