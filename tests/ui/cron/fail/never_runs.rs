#[arq::cron(month = 2, day = 30)]
async fn february_30() {}

#[arq::cron(month = [4, 6, 9, 11], day = 31)]
async fn short_months() {}

fn main() {}
