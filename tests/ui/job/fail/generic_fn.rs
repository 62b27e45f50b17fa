use serde::Serialize;

#[arq::job]
async fn store<T: Serialize>(value: T) {
    let _ = value;
}

#[arq::job]
async fn sized<const N: usize>(values: [u8; N]) {
    let _ = values;
}

#[arq::job]
async fn bounded(value: String)
where
    String: Clone,
{
    let _ = value;
}

#[arq::job]
async fn hidden_generic(value: impl Serialize) {
    let _ = value;
}

fn main() {}
