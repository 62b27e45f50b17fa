#[arq::job]
async fn point((x, y): (i32, i32)) -> i32 {
    x + y
}

#[arq::job]
async fn ignored(_: String) {}

fn main() {}
