#[arq::cron(weekday = "funday")]
async fn named() {}

#[arq::cron(weekday = ["mon", "tuesdy"])]
async fn in_list() {}

#[arq::cron(hour = "8")]
async fn string_hour() {}

fn main() {}
