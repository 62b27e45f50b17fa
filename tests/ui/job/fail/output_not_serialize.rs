struct Receipt;

#[arq::job]
async fn send(to: String) -> Receipt {
    let _ = to;
    Receipt
}

#[derive(Debug)]
struct MyError;

impl std::fmt::Display for MyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("my error")
    }
}

impl std::error::Error for MyError {}

#[arq::job]
async fn send_checked(to: String) -> Result<Receipt, MyError> {
    let _ = to;
    Ok(Receipt)
}

fn main() {}
