//! The function side shared by `#[arq::job]` and `#[arq::cron]`: entry and exit of the
//! expansion, the checks of the function's shape, how it takes the job context and what it
//! returns, and the generated code that calls it.

use crate::ctxt::Ctxt;
use crate::runtime::{respan, Runtime};
use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::punctuated::Punctuated;
use syn::{GenericArgument, ItemFn, PathArguments, Signature, Token, Type};

/// The function under the attribute `attr` (`#[arq::job]`), or the tokens to emit instead:
/// the item unchanged and an error saying where the attribute goes.
pub(crate) fn parse_fn(attr: &str, item: &TokenStream) -> Result<ItemFn, TokenStream> {
    syn::parse2::<ItemFn>(item.clone()).map_err(|_| {
        let err = syn::Error::new(
            Span::call_site(),
            format!("{attr} goes on an `async fn` with a body, outside any `impl` or trait"),
        )
        .to_compile_error();
        quote!(#item #err)
    })
}

/// The function unchanged, what was generated beside it, and every error collected.
pub(crate) fn finish(item: TokenStream, generated: TokenStream, cx: Ctxt) -> TokenStream {
    let errors = cx.check().err().map(|e| e.to_compile_error());
    quote! {
        #item
        #generated
        #errors
    }
}

/// The qualifiers a function under `attr` cannot have (`const`, `unsafe`, `extern`, variadic
/// when `variadic` is set), and the one it must have (`async`). Returns whether all is well.
pub(crate) fn check_qualifiers(
    sig: &Signature,
    attr: &str,
    unsafe_msg: &str,
    variadic: bool,
    cx: &Ctxt,
) -> bool {
    let mut valid = true;
    if let Some(token) = &sig.constness {
        cx.error(
            token.span,
            format!("{attr} functions cannot be `const`: remove `const`"),
        );
        valid = false;
    }
    if let Some(token) = &sig.unsafety {
        cx.error(token.span, unsafe_msg);
        valid = false;
    }
    if let Some(abi) = &sig.abi {
        cx.error_spanned_by(
            abi,
            format!("{attr} functions cannot be `extern`: remove the ABI"),
        );
        valid = false;
    }
    if let (true, Some(variadic)) = (variadic, &sig.variadic) {
        cx.error_spanned_by(
            variadic,
            format!("{attr} functions cannot be variadic: list each argument with its type"),
        );
        valid = false;
    }
    if sig.asyncness.is_none() {
        cx.error(
            sig.fn_token.span,
            format!(
                "{attr} functions must be `async fn`: write `async fn {}`",
                sig.ident
            ),
        );
        valid = false;
    }
    valid
}

/// How the function takes the job context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CtxParam {
    /// `ctx: &Ctx`
    Ref,
    /// `ctx: Ctx`
    Owned,
}

/// What the function returns, and what its result is read as.
pub(crate) enum Output {
    /// No return type, or `()`.
    Unit,
    /// Any other type `T`: the result is `T`.
    Plain { ty: Type, span: Span },
    /// `Result<T, E>` (or an alias such as `anyhow::Result<T>`): the result is `T`, and `E`
    /// is classified into a failure or a retry. `err_span` is where an error type that cannot
    /// be classified is reported: at `E`, or at the alias.
    Result {
        ok: Type,
        span: Span,
        err_span: Span,
    },
}

/// How a parameter type takes the job context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CtxKind {
    Ref,
    MutRef,
    Owned,
}

/// Looks through the invisible groups and parentheses a type may come wrapped in.
pub(crate) fn peel(ty: &Type) -> &Type {
    match ty {
        Type::Group(g) => peel(&g.elem),
        Type::Paren(p) => peel(&p.elem),
        _ => ty,
    }
}

/// Whether a parameter type is the job context: `&Ctx`, `&arq::Ctx`, … (any path whose last
/// segment is `Ctx`), or `Ctx` by value.
pub(crate) fn ctx_kind(ty: &Type) -> Option<CtxKind> {
    fn is_ctx_path(ty: &Type) -> bool {
        match peel(ty) {
            Type::Path(p) => {
                p.qself.is_none()
                    && p.path.segments.last().is_some_and(|s| {
                        s.ident == "Ctx" && matches!(s.arguments, PathArguments::None)
                    })
            }
            _ => false,
        }
    }
    match peel(ty) {
        Type::Reference(r) if is_ctx_path(&r.elem) => Some(if r.mutability.is_some() {
            CtxKind::MutRef
        } else {
            CtxKind::Ref
        }),
        ty if is_ctx_path(ty) => Some(CtxKind::Owned),
        _ => None,
    }
}

/// The generic arguments of a path type whose last segment is `Result<…>`.
pub(crate) fn result_generics(ty: &Type) -> Option<&Punctuated<GenericArgument, Token![,]>> {
    let Type::Path(p) = peel(ty) else {
        return None;
    };
    if p.qself.is_some() {
        return None;
    }
    let last = p.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    Some(&args.args)
}

/// The handler's pattern for the context, and the argument that passes it to the function
/// (empty when the function does not take it).
pub(crate) fn ctx_tokens(ctx: Option<CtxParam>, ident: &Ident) -> (TokenStream, TokenStream) {
    match ctx {
        Some(CtxParam::Ref) => (quote!(#ident), quote!(&#ident)),
        Some(CtxParam::Owned) => (quote!(#ident), quote!(#ident)),
        None => (quote!(_), quote!()),
    }
}

/// The name of the constant holding the output codec.
pub(crate) fn output_codec() -> Ident {
    format_ident!("__ARQ_OUTPUT")
}

/// Turns the awaited call `invoke` into the handler's result.
pub(crate) fn convert_output(
    output: &Output,
    invoke: TokenStream,
    private: &TokenStream,
) -> TokenStream {
    let output_codec = output_codec();
    match output {
        Output::Unit => quote! {
            #invoke;
            #private::output(())
        },
        Output::Plain { .. } => quote!((#output_codec.to_value)(#invoke)),
        Output::Result { err_span, .. } => {
            let value = Ident::new("value", Span::mixed_site());
            let error = Ident::new("error", Span::mixed_site());
            // Errors of a type none of the classifiers accepts are reported at the return type.
            let classify = quote_spanned! {*err_span=>
                (&&&#private::ErrorWrap::new(#error)).__arq_classify()
            };
            quote! {
                match #invoke {
                    ::core::result::Result::Ok(#value) => (#output_codec.to_value)(#value),
                    ::core::result::Result::Err(#error) => {
                        #[allow(unused_imports)]
                        use #private::{ClassifyAnyhow as _, ClassifyInto as _, ClassifyStd as _};
                        ::core::result::Result::Err(#classify)
                    }
                }
            }
        }
    }
}

/// The handler a worker calls, and the async fn it boxes.
pub(crate) struct Handler<'a> {
    pub(crate) private: &'a TokenStream,
    /// The function's name.
    pub(crate) ident: &'a Ident,
    /// Names defined inside the module, which the async fn cannot take.
    pub(crate) taken: &'a [&'a str],
    /// Where "future cannot be sent between threads safely" points.
    pub(crate) send_span: Span,
    pub(crate) ctx: &'a Ident,
    /// The async fn's pattern for the context.
    pub(crate) ctx_param: TokenStream,
    pub(crate) args: &'a Ident,
    /// The async fn's pattern for the arguments.
    pub(crate) args_param: TokenStream,
}

impl Handler<'_> {
    /// `__handler`, and the async fn running `body`. The async fn is named like the
    /// function, so that a future that is not `Send` is reported as "future returned by
    /// `<name>` is not `Send`", at `send_span` (unless that name is taken inside the module).
    pub(crate) fn fns(&self, body: TokenStream) -> TokenStream {
        let Handler {
            private,
            ident,
            taken,
            send_span,
            ctx,
            ctx_param,
            args,
            args_param,
        } = self;
        let run = if taken.contains(&ident.to_string().as_str()) {
            format_ident!("__run")
        } else {
            let mut run = (*ident).clone();
            run.set_span(Span::call_site());
            run
        };
        let boxed = {
            let box_pin = respan(quote!(::std::boxed::Box::pin), *send_span);
            quote_spanned!(*send_span=> #box_pin(#run(#ctx, #args)))
        };
        quote! {
            #[doc(hidden)]
            fn __handler(
                #ctx: #private::Ctx,
                #args: #private::Args,
            ) -> #private::BoxFuture<'static, ::core::result::Result<#private::Value, #private::JobError>> {
                #boxed
            }

            #[doc(hidden)]
            #[allow(deprecated)]
            async fn #run(
                #ctx_param: #private::Ctx,
                #args_param: #private::Args,
            ) -> ::core::result::Result<#private::Value, #private::JobError> {
                #body
            }
        }
    }
}

/// The output codec, built where the return type is written so a trait error points there.
pub(crate) fn output_check(output: &Output, runtime: &Runtime) -> TokenStream {
    let private = runtime.private();
    let output_codec = output_codec();
    match output {
        Output::Unit => quote!(),
        Output::Plain { ty, span } | Output::Result { ok: ty, span, .. } => {
            let at = runtime.private_at(*span);
            quote_spanned! {*span=>
                const #output_codec: #private::OutputCodec<#ty> = #at::output_codec::<#ty>();
            }
        }
    }
}
