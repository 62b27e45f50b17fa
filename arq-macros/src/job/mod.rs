//! `#[arq::job]`: parse the options (`parse.rs`), validate them with the function into a
//! model (`model.rs`), generate the module (`expand.rs`).

mod expand;
mod model;
mod parse;

use crate::ctxt::Ctxt;
use model::Plan;
use proc_macro2::{Span, TokenStream};
use quote::quote;

/// Expands `#[arq::job(attr)] item`. Never fails: errors come out as `compile_error!`s next
/// to the function, which is always emitted unchanged so the rest of the crate (and the IDE)
/// keeps working.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item_fn = match syn::parse2::<syn::ItemFn>(item.clone()) {
        Ok(item_fn) => item_fn,
        Err(_) => {
            let err = syn::Error::new(
                Span::call_site(),
                "#[arq::job] goes on an `async fn` with a body, outside any `impl` or trait",
            )
            .to_compile_error();
            return quote!(#item #err);
        }
    };
    let cx = Ctxt::new();
    let args = parse::parse_args(attr, &cx);
    let plan = model::build(&item_fn, args, &cx);
    let generated = match &plan {
        Plan::Full(m) => expand::full(m),
        Plan::Dummy(d) => expand::dummy(d),
        Plan::FnOnly => TokenStream::new(),
    };
    let errors = cx.check().err().map(|e| e.to_compile_error());
    quote! {
        #item
        #generated
        #errors
    }
}
