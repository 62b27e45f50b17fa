#[arq::job(keep_result = "1h", keep_result_forever = true)]
async fn both() {}

fn main() {}
