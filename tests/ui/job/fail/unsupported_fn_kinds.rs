#[arq::job]
async unsafe fn dangerous() {}

#[arq::job]
const fn constant() {}

#[arq::job]
async extern "C" fn foreign() {}

fn main() {}
