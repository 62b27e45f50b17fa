use arq::Ctx;

#[arq::job]
async fn on_ctx(#[arq(default)] ctx: &Ctx, n: u32) {
    let _ = (ctx, n);
}

#[arq::job]
async fn required_after_default(to: String, #[arq(default)] retries: u32, subject: String) {
    let _ = (to, retries, subject);
}

#[arq::job]
async fn unknown_key(#[arq(defualt = 3)] n: u32) {
    let _ = n;
}

#[arq::job]
async fn bare(#[arq] n: u32) {
    let _ = n;
}

#[arq::job]
async fn clashes_with_the_builder(#[arq(default)] job_id: String) {
    let _ = job_id;
}

fn main() {}
