use arq::Ctx;

#[arq::job]
async fn send(ctx: &Ctx, to: &str) {
    let _ = (ctx, to);
}

#[arq::job]
async fn upload(data: &[u8]) {
    let _ = data;
}

#[arq::job]
async fn nested(names: Vec<&'static str>) {
    let _ = names;
}

fn main() {}
