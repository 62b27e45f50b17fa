use arq::Ctx;

#[arq::cron(hour = 8)]
async fn with_argument(ctx: &Ctx, count: u32) {
    let _ = (ctx, count);
}

#[arq::cron(hour = 8)]
fn not_async(ctx: &Ctx) {
    let _ = ctx;
}

#[arq::cron(hour = 8)]
async fn generic<T>() {}

fn main() {
    // The module is still generated, so uses of it add no errors of their own.
    let _ = with_argument::CRON;
    let _ = not_async::NAME;
}
