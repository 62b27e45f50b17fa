use arq::Ctx;

#[arq::job]
#[arq::cron(hour = 8)]
async fn needs_default(ctx: &Ctx, count: u32) {
    let _ = (ctx, count);
}

#[arq::cron(hour = 8, crate = "::arq")]
#[arq::job(crate = "crate::reexport::arq")]
async fn two_crates() {}

#[arq::job]
#[arq::cron(hour = 8)]
#[arq::cron(hour = 9)]
async fn two_schedules() {}

mod reexport {
    pub use ::arq;
}

fn main() {
    // The module is still generated, so uses of it add no errors of their own.
    let _ = needs_default::CRON;
    let _ = two_schedules::NAME;
}
