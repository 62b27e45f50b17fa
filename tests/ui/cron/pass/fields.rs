//! Field schedules in every written form, with the context by reference, by value, or none.
#![deny(warnings, missing_docs)]
#![forbid(unsafe_code)]

use arq::{CronJob, Ctx};
use std::time::Duration;

/// 08:00 every day, London time.
#[arq::cron(hour = 8, minute = 0, timezone = "Europe/London")]
pub async fn morning(ctx: &Ctx) {
    let _ = ctx.job_id();
}

/// Weekdays by name and number, hours as a range, minutes as a list.
#[arq::cron(weekday = ["mon", "wednesday", 4], hour = 9..=17, minute = [0, 30], run_at_startup)]
pub async fn office_hours(ctx: Ctx) -> Result<u32, std::io::Error> {
    let _ = ctx;
    Ok(1)
}

/// Every second (`0..60` ends one past the last second), not unique, with job options.
#[arq::cron(
    second = 0..60,
    unique = false,
    timeout = "30s",
    max_tries = 3,
    keep_result = "1h",
    microsecond = 0,
    name = "tick"
)]
pub async fn every_second() -> anyhow::Result<String> {
    Ok("tick".into())
}

/// February 29th.
#[arq::cron(month = 2, day = 29, hour = 0, minute = 0)]
async fn leap_day() {}

fn main() {
    assert_eq!(morning::NAME, "cron:morning");
    let c: CronJob = morning::CRON;
    assert_eq!(c.function_name(), "cron:morning");
    assert_eq!(c.timezone_name(), Some("Europe/London"));
    assert!(c.is_unique() && !c.runs_at_startup());
    assert_eq!(c.function().options.max_tries, Some(1));
    assert_eq!(c.function().options.keep_result, Some(Duration::ZERO));
    c.validate().unwrap();

    let o = office_hours::CRON;
    assert!(o.runs_at_startup());
    assert_eq!(
        o.schedule(),
        &arq::CronSchedule::new()
            .weekday([0, 2, 4])
            .unwrap()
            .hour(9..=17)
            .unwrap()
            .minute([0, 30])
            .unwrap()
    );

    let t = every_second::CRON;
    assert_eq!(t.function_name(), "cron:tick");
    assert!(!t.is_unique());
    let opts = t.function().options;
    assert_eq!(opts.timeout, Some(Duration::from_secs(30)));
    assert_eq!(opts.max_tries, Some(3));
    assert_eq!(opts.keep_result, Some(Duration::from_secs(3600)));
    assert_eq!(t.schedule().get_microsecond(), 0);

    leap_day::CRON.validate().unwrap();
    let names: Vec<&str> = CronJob::registered().map(|c| c.function_name()).collect();
    for n in [
        "cron:morning",
        "cron:office_hours",
        "cron:tick",
        "cron:leap_day",
    ] {
        assert!(names.contains(&n), "{n} registered");
    }
}
