#[arq::cron("* * *")]
async fn too_few_fields() {}

#[arq::cron("0 60 * * * *")]
async fn minute_out_of_range() {}

#[arq::cron("*/5 * * * *", hour = 3)]
async fn mixed_with_fields() {}

#[arq::cron("@fortnightly")]
async fn unknown_nickname() {}

fn main() {}
