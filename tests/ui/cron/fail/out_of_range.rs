#[arq::cron(hour = 24)]
async fn hour() {}

#[arq::cron(minute = 60)]
async fn minute() {}

#[arq::cron(second = [0, 30, 61])]
async fn second() {}

#[arq::cron(weekday = 7)]
async fn weekday() {}

#[arq::cron(month = 0)]
async fn month_zero() {}

#[arq::cron(month = 13)]
async fn month_thirteen() {}

#[arq::cron(day = 0)]
async fn day_zero() {}

#[arq::cron(day = 32)]
async fn day_thirty_two() {}

#[arq::cron(hour = 0..25)]
async fn range_end() {}

#[arq::cron(microsecond = 1000000)]
async fn micro() {}

fn main() {}
