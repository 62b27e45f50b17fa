struct Recipient {
    address: String,
}

#[arq::job]
async fn send(to: Recipient, subject: String) {
    let _ = (to.address, subject);
}

fn main() {}
