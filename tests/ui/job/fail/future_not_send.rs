use std::rc::Rc;

#[arq::job]
async fn holds_rc(n: u32) -> u32 {
    let shared = Rc::new(n);
    tokio::task::yield_now().await;
    *shared
}

fn main() {}
