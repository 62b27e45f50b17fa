use arq::Ctx;

#[arq::job]
async fn send(to: String, ctx: &Ctx) {
    let _ = (ctx, to);
}

fn main() {}
