//! `#[arq::job]`: parse the options (`parse.rs`), validate them with the function into a
//! model (`model.rs`), generate the module (`expand.rs`).

pub(crate) mod expand;
pub(crate) mod model;
pub(crate) mod parse;
pub(crate) mod retry;

use crate::combined::{self, Kind};
use crate::ctxt::Ctxt;
use crate::param;
use crate::signature::finish;
use model::Plan;
use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::ItemFn;

/// Expands `#[arq::job(attr)] item`. Never fails: errors come out as `compile_error!`s next
/// to the function, which is always emitted (without `#[arq(...)]` on its parameters) so the
/// rest of the crate (and the IDE) keeps working. With `#[arq::cron]` on the same function,
/// both become one module (`combined.rs`).
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    combined::expand(Kind::Job, attr, item, alone)
}

/// `#[arq::job]` without `#[arq::cron]`.
fn alone(attr: TokenStream, item_fn: ItemFn, item: TokenStream, cx: Ctxt) -> TokenStream {
    let args = parse::parse_args(attr, &cx);
    let plan = model::build(&item_fn, args, &cx);
    let generated = match &plan {
        Plan::Full(m) => expand::full(m, TokenStream::new()),
        Plan::Dummy(d) => expand::dummy(d, TokenStream::new()),
        Plan::FnOnly => TokenStream::new(),
    };
    let item = param::strip(&item_fn).map_or(item, |f| f.to_token_stream());
    finish(item, generated, cx)
}
