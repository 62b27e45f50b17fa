#[arq::job(timeout = "30x")]
async fn unknown_unit() {}

#[arq::job(timeout = "abc")]
async fn not_a_number() {}

#[arq::job(keep_result = "")]
async fn empty() {}

#[arq::job(timeout = -5)]
async fn negative() {}

#[arq::job(keep_result = "1.5s")]
async fn fraction() {}

#[arq::job(timeout = 30s)]
async fn unquoted() {}

#[arq::job(timeout = 0)]
async fn zero_timeout() {}

fn main() {}
