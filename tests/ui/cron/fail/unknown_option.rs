#[arq::cron(hours = 8)]
async fn alias() {}

#[arq::cron(tz = "UTC")]
async fn tz_alias() {}

#[arq::cron(minute = 0, colour = "blue")]
async fn unrelated() {}

#[arq::cron(hour = 1, hour = 2)]
async fn duplicate() {}

#[arq::cron(timezone = "Europe London", name = "cron:x")]
async fn bad_strings() {}

fn main() {}
