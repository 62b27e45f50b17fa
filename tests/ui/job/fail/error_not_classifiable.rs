/// Not an error type: no `std::error::Error`, no `Into<Box<dyn Error>>`.
#[derive(Debug)]
struct Code(i32);

#[arq::job]
async fn check(n: i32) -> Result<i32, Code> {
    if n < 0 {
        return Err(Code(n));
    }
    Ok(n)
}

fn main() {}
