//! Cron expressions, positional or as `expr = "..."`, and a nickname.
#![deny(warnings, missing_docs)]
#![forbid(unsafe_code)]

use arq::Ctx;

/// Every five minutes, on the minute.
#[arq::cron("0 */5 * * * *")]
pub async fn sweep(ctx: &Ctx) {
    let _ = ctx;
}

/// Weekdays at 09:00 New York time, with `L`ast-day syntax elsewhere left to croner.
#[arq::cron(expr = "0 9 * * MON-FRI", timezone = "America/New_York")]
pub async fn standup() {}

/// Daily, at midnight.
#[arq::cron("@daily", run_at_startup = true)]
pub async fn nightly() {}

fn main() {
    assert_eq!(sweep::CRON.schedule().expression(), Some("0 */5 * * * *"));
    assert_eq!(standup::CRON.timezone_name(), Some("America/New_York"));
    assert!(nightly::CRON.runs_at_startup());
    for c in [sweep::CRON, standup::CRON, nightly::CRON] {
        c.validate().unwrap();
    }
}
