#[arq::job(max_tries = "5")]
async fn string_for_int() {}

#[arq::job(name = send)]
async fn path_for_string() {}

#[arq::job(keep_result_forever = 1)]
async fn int_for_bool() {}

#[arq::job(queue = 'q')]
async fn char_for_string() {}

#[arq::job(crate = arq)]
async fn unquoted_crate() {}

fn main() {}
