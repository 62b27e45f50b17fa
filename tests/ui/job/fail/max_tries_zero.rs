#[arq::job(max_tries = 0)]
async fn never_runs() {}

fn main() {}
