//! `#[arq::job]`: parse the options (`parse.rs`), validate them with the function into a
//! model (`model.rs`), generate the module (`expand.rs`).

mod expand;
mod model;
mod parse;

use crate::ctxt::Ctxt;
use crate::signature::{finish, parse_fn};
use model::Plan;
use proc_macro2::TokenStream;

/// Expands `#[arq::job(attr)] item`. Never fails: errors come out as `compile_error!`s next
/// to the function, which is always emitted unchanged so the rest of the crate (and the IDE)
/// keeps working.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item_fn = match parse_fn("#[arq::job]", &item) {
        Ok(item_fn) => item_fn,
        Err(tokens) => return tokens,
    };
    let cx = Ctxt::new();
    let args = parse::parse_args(attr, &cx);
    let plan = model::build(&item_fn, args, &cx);
    let generated = match &plan {
        Plan::Full(m) => expand::full(m),
        Plan::Dummy(d) => expand::dummy(d),
        Plan::FnOnly => TokenStream::new(),
    };
    finish(item, generated, cx)
}
