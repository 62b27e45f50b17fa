use arq::Ctx;

#[arq::job]
fn send_email(ctx: &Ctx, to: String) -> String {
    let _ = ctx;
    to
}

fn main() {
    // The stub module keeps callers compiling: no second error here.
    let _ = send_email::NAME;
}

#[allow(dead_code)]
fn producer(pool: &arq::Pool) {
    // So do the `enqueue` and `job` stubs, with the function's signature.
    let _ = send_email::enqueue(pool, "to".into());
    let _: arq::Job<String> = send_email::job(pool, "id");
}
