#[arq::job(timeout = "30s", max_tries = 3, timeout = "1m")]
async fn twice() {}

fn main() {}
