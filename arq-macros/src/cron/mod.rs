//! `#[arq::cron]`: parse the options (`parse.rs`), validate them with the function into a
//! model (`model.rs`), generate the module (`expand.rs`).

mod expand;
mod model;
mod parse;

use crate::ctxt::Ctxt;
use crate::signature::{finish, parse_fn};
use proc_macro2::TokenStream;

/// Expands `#[arq::cron(attr)] item`. Never fails: errors come out as `compile_error!`s next
/// to the function, which is always emitted unchanged.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item_fn = match parse_fn("#[arq::cron]", &item) {
        Ok(item_fn) => item_fn,
        Err(tokens) => return tokens,
    };
    let cx = Ctxt::new();
    let args = parse::parse_args(attr, &cx);
    let model = model::build(&item_fn, args, &cx);
    // A method cannot have a module beside it.
    let receiver = item_fn
        .sig
        .inputs
        .iter()
        .any(|i| matches!(i, syn::FnArg::Receiver(_)));
    let generated = if receiver {
        TokenStream::new()
    } else {
        expand::module(&model)
    };
    finish(item, generated, cx)
}
