//! `#[arq::cron]`: parse the options (`parse.rs`), validate them with the function into a
//! model (`model.rs`), generate the module (`expand.rs`).

pub(crate) mod expand;
pub(crate) mod model;
pub(crate) mod parse;

use crate::combined::{self, Kind};
use crate::ctxt::Ctxt;
use crate::param;
use crate::signature::finish;
use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::ItemFn;

/// Expands `#[arq::cron(attr)] item`. Never fails: errors come out as `compile_error!`s next
/// to the function, which is always emitted. With `#[arq::job]` on the same function, both
/// become one module (`combined.rs`).
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    combined::expand(Kind::Cron, attr, item, alone)
}

/// `#[arq::cron]` without `#[arq::job]`.
fn alone(attr: TokenStream, item_fn: ItemFn, item: TokenStream, cx: Ctxt) -> TokenStream {
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
    let item = param::strip(&item_fn).map_or(item, |f| f.to_token_stream());
    finish(item, generated, cx)
}
