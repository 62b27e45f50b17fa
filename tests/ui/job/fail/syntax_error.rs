#[arq::job(name "send")]
async fn missing_eq() {}

fn main() {}
