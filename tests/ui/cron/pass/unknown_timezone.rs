//! A time zone name the macro cannot check (it has no time zone database) compiles, and stops
//! every worker that would schedule it at start, naming the cron job.
#![deny(warnings, missing_docs)]

use arq::{Pool, Worker, WorkerSettings};

/// Scheduled in a zone that does not exist.
#[arq::cron(hour = 8, timezone = "Mars/Olympus_Mons")]
async fn on_mars() {}

fn main() {
    let expected = "configuration error: cron job \"cron:on_mars\": unknown time zone \
                    \"Mars/Olympus_Mons\": use an IANA name such as \"Europe/London\", \
                    \"America/New_York\" or \"UTC\"";
    assert_eq!(on_mars::CRON.validate().unwrap_err().to_string(), expected);
    // The default settings schedule every registered cron job, this one included.
    let err = Worker::new(Pool::unconnected(), WorkerSettings::new()).unwrap_err();
    assert_eq!(err.to_string(), expected);
    // A worker given other cron jobs starts.
    assert!(Worker::new(Pool::unconnected(), WorkerSettings::new().cron_jobs([])).is_ok());
}
