#[arq::job]
struct SendEmail {
    to: String,
}

fn main() {}
