#[arq::job(crate = "::not_arq")]
async fn lost() {}

fn main() {}
