//! `#[arq::cron]`: parse the options (`parse.rs`), validate them with the function into a
//! model (`model.rs`), generate the module (`expand.rs`).

mod expand;
mod model;
mod parse;

use crate::ctxt::Ctxt;
use proc_macro2::{Span, TokenStream};
use quote::quote;

/// Expands `#[arq::cron(attr)] item`. Never fails: errors come out as `compile_error!`s next
/// to the function, which is always emitted unchanged.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item_fn = match syn::parse2::<syn::ItemFn>(item.clone()) {
        Ok(item_fn) => item_fn,
        Err(_) => {
            let err = syn::Error::new(
                Span::call_site(),
                "#[arq::cron] goes on an `async fn` with a body, outside any `impl` or trait",
            )
            .to_compile_error();
            return quote!(#item #err);
        }
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
    let errors = cx.check().err().map(|e| e.to_compile_error());
    quote! {
        #item
        #generated
        #errors
    }
}
