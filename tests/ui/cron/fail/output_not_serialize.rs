struct NotSerializable;

#[arq::cron(hour = 8)]
async fn report() -> NotSerializable {
    NotSerializable
}

fn main() {}
