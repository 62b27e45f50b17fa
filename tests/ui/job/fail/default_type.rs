/// Not `Default`.
#[derive(serde::Serialize, serde::Deserialize)]
struct Mode(u8);

#[arq::job]
async fn no_default_impl(#[arq(default)] mode: Mode) {
    let _ = mode;
}

#[arq::job]
async fn wrong_type(#[arq(default = 5)] name: String) {
    let _ = name;
}

fn main() {}
