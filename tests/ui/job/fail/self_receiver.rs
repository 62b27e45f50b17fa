struct Mailer;

impl Mailer {
    #[arq::job]
    async fn send(&self, to: String) -> String {
        to
    }
}

fn main() {
    let _ = Mailer;
}
