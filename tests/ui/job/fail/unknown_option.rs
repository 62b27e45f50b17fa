#[arq::job(retries = 3)]
async fn alias() {}

#[arq::job(timout = "30s")]
async fn typo() {}

#[arq::job(colour = "blue")]
async fn unrelated() {}

fn main() {}
