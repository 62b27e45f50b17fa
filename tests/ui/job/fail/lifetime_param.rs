#[arq::job]
async fn greet<'a>(name: String) -> String {
    name
}

fn main() {}
