//! Generates the module beside a job function from the validated model.

use crate::job::model::{DummyModel, JobModel, Output};
use crate::signature::{convert_output, ctx_tokens, output_check, Handler};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens as _};

/// `::core::option::Option::Some(v)` or `None`.
fn opt(value: Option<TokenStream>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

/// The module of a valid job.
pub(crate) fn full(m: &JobModel) -> TokenStream {
    let private = m.common.runtime.private();
    let vis = &m.common.vis;
    let ident = &m.common.ident;
    let name = &m.common.name;

    // Locals the macro introduces are hygienic (`mixed_site`), so they never clash with the
    // user's parameter names (a job argument may well be called `pool` or `args`).
    let pool = Ident::new("pool", Span::mixed_site());
    let ctx = Ident::new("ctx", Span::mixed_site());
    let args = Ident::new("args", Span::mixed_site());

    let options = &m.options;
    let max_tries = opt(options
        .max_tries
        .map(|n| Literal::u32_unsuffixed(n).into_token_stream()));
    let millis = |ms: u64| {
        let ms = Literal::u64_unsuffixed(ms);
        quote!(#private::millis(#ms))
    };
    let timeout = opt(options.timeout_ms.map(millis));
    let keep_result = opt(options.keep_result_ms.map(millis));
    let keep_result_forever = opt(options.keep_result_forever.map(|b| quote!(#b)));
    let queue = opt(options.queue.as_ref().map(|q| quote!(#q)));

    let output_ty = match &m.output {
        Output::Unit => quote!(()),
        Output::Plain { ty, .. } => quote!(#ty),
        Output::Result { ok, .. } => quote!(#ok),
    };

    // enqueue: serialize each argument, in order.
    let arg_idents: Vec<&Ident> = m.args.iter().map(|a| &a.ident).collect();
    let arg_names: Vec<&str> = m.args.iter().map(|a| a.name.as_str()).collect();
    let arg_tys: Vec<_> = m.args.iter().map(|a| &a.ty).collect();
    // One codec per argument, built where its bounds are checked (see `checks` below).
    let codecs: Vec<Ident> = (0..m.args.len())
        .map(|i| format_ident!("__ARQ_ARG_{}", i))
        .collect();
    let serialized = if m.args.is_empty() {
        quote!(::core::result::Result::Ok(::std::vec::Vec::new()))
    } else {
        quote! {
            ::core::iter::Iterator::collect(::core::iter::IntoIterator::into_iter([
                #( (#codecs.to_value)(#arg_names, &#arg_idents) ),*
            ]))
        }
    };

    // The handler: take each argument by position or name, call the function, convert.
    let locals: Vec<Ident> = (0..m.args.len())
        .map(|i| format_ident!("__arq_arg{}", i, span = Span::mixed_site()))
        .collect();
    let indices = (0..m.args.len()).map(Literal::usize_unsuffixed);
    let count = Literal::usize_unsuffixed(m.args.len());
    let args_param = if m.args.is_empty() {
        quote!(#args)
    } else {
        quote!(mut #args)
    };
    let (ctx_param, ctx_arg) = ctx_tokens(m.ctx, &ctx);
    let ctx_arg = if m.ctx.is_some() {
        quote!(#ctx_arg,)
    } else {
        ctx_arg
    };
    let call = quote!(super::#ident(#ctx_arg #(#locals),*).await);
    let convert = convert_output(&m.output, call, &private);
    let handler = Handler {
        private: &private,
        ident,
        taken: &["enqueue", "job", "__handler"],
        send_span: m.send_span,
        ctx: &ctx,
        ctx_param,
        args: &args,
        args_param,
    }
    .fns(quote! {
        #( let #locals: #arg_tys = (#codecs.take)(&mut #args, #indices, #arg_names)?; )*
        #private::Args::finish(&#args, #count)?;
        #convert
    });

    // Compile-time checks, each spanned at the user's type so the trait error points there.
    // Each yields the codec the code above uses, so that code adds no errors of its own.
    let arg_checks = m.args.iter().zip(&codecs).map(|(a, codec)| {
        let at = m.common.runtime.private_at(a.span);
        let ty = &a.ty;
        quote_spanned! {a.span=>
            const #codec: #private::ArgCodec<#ty> = #at::arg_codec::<#ty>();
        }
    });
    let output_check = output_check(&m.output, &m.common.runtime);

    let docs = Docs::new(ident, name);
    let Docs {
        module,
        name_doc,
        function_doc,
        output_doc,
        enqueue_doc,
        job_doc,
    } = &docs;

    let cfgs = &m.common.cfgs;

    quote! {
        #(#cfgs)*
        #[doc = #module]
        #[allow(dead_code, unreachable_pub)]
        #vis mod #ident {
            #[allow(unused_imports)]
            use super::*;

            #[doc = #name_doc]
            pub const NAME: &str = #name;

            #[doc = #function_doc]
            pub const FUNCTION: #private::Function = #private::Function {
                name: NAME,
                options: #private::JobOptions {
                    max_tries: #max_tries,
                    timeout: #timeout,
                    keep_result: #keep_result,
                    keep_result_forever: #keep_result_forever,
                    queue: #queue,
                },
                handler: __handler,
            };

            #[doc = #output_doc]
            pub type Output = #output_ty;

            #[doc = #enqueue_doc]
            #[allow(clippy::too_many_arguments)]
            pub fn enqueue(#pool: &#private::Pool #(, #arg_idents: #arg_tys)*) -> #private::Enqueue<'_, Output> {
                #private::enqueue(#pool, &FUNCTION, #serialized)
            }

            #[doc = #job_doc]
            pub fn job(
                #pool: &#private::Pool,
                job_id: impl ::core::convert::Into<::std::string::String>,
            ) -> #private::Job<Output> {
                #private::Pool::job::<Output>(#pool, job_id)
            }

            #handler

            #private::inventory::submit! { FUNCTION }

            #(#arg_checks)*
            #output_check
        }
    }
}

/// The stub module emitted when the function itself is wrong: `NAME`, and `enqueue`/`job`
/// with the function's signature when it has one a stub can repeat.
pub(crate) fn dummy(d: &DummyModel) -> TokenStream {
    let private = d.common.runtime.private();
    let vis = &d.common.vis;
    let ident = &d.common.ident;
    let name = &d.common.name;
    let docs = Docs::new(ident, name);
    let module_doc = &docs.module;
    let stub = d.stub.as_ref().map(|stub| {
        let output = &stub.output;
        let tys = &stub.arg_tys;
        quote! {
            pub type Output = #output;

            pub fn enqueue<'__arq>(
                _: &'__arq #private::Pool #(, _: #tys)*
            ) -> #private::Enqueue<'__arq, Output> {
                ::core::unimplemented!("#[arq::job] failed to expand")
            }

            pub fn job(
                _: &#private::Pool,
                _: impl ::core::convert::Into<::std::string::String>,
            ) -> #private::Job<Output> {
                ::core::unimplemented!("#[arq::job] failed to expand")
            }
        }
    });
    let cfgs = &d.common.cfgs;
    quote! {
        #(#cfgs)*
        #[doc = #module_doc]
        #[allow(dead_code, missing_docs, unreachable_pub, unused_imports, clippy::all)]
        #vis mod #ident {
            use super::*;

            pub const NAME: &str = #name;

            #stub
        }
    }
}

/// Doc comments of the generated items (the facade's CI denies `missing_docs`).
struct Docs {
    module: String,
    name_doc: String,
    function_doc: String,
    output_doc: String,
    enqueue_doc: String,
    job_doc: String,
}

impl Docs {
    fn new(ident: &Ident, name: &str) -> Self {
        let f = ident.to_string();
        let f = f.trim_start_matches("r#");
        Docs {
            module: format!(
                "The job `{f}`, as registered by `#[arq::job]`: its name, options, typed \
                 `enqueue` and result handle.\n\n\
                 The function `{f}` itself is unchanged and can still be called directly."
            ),
            name_doc: format!("The name jobs of `{f}` are enqueued under: `{:?}`.", name),
            function_doc: "The registered function: its name, options and the handler a \
                           worker runs. Give it to a worker explicitly when the automatic \
                           registry is not wanted."
                .to_owned(),
            output_doc: format!(
                "What `{f}` produces when it succeeds: the type its result is read as."
            ),
            enqueue_doc: format!(
                "Enqueues `{f}` with typed arguments; set options on the returned builder \
                 (`job_id`, `defer_by`, `queue_name`, …), then `.await` it for the job's handle."
            ),
            job_doc: format!(
                "A handle to an already enqueued job of `{f}`, from its id: read its status or \
                 its result."
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::job::expand as expand_job;
    use quote::quote;

    fn expand(attr: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> String {
        expand_job(attr, item).to_string()
    }

    #[test]
    fn output_parses_as_items() {
        let out = expand_job(
            quote!(max_tries = 3, timeout = "30s", queue = "q"),
            quote!(
                pub async fn send_email(ctx: &Ctx, to: String) -> Result<u32, E> {
                    todo!()
                }
            ),
        );
        let file: syn::File = syn::parse2(out).unwrap();
        assert_eq!(file.items.len(), 2);
        let syn::Item::Mod(m) = &file.items[1] else {
            panic!("expected the module")
        };
        assert_eq!(m.ident, "send_email");
        assert!(matches!(m.vis, syn::Visibility::Public(_)));
    }

    #[test]
    fn options_are_written_out() {
        let out = expand(
            quote!(
                max_tries = 3,
                timeout = "30s",
                keep_result = 0,
                keep_result_forever = false,
                queue = "q"
            ),
            quote!(
                async fn f() {}
            ),
        );
        assert!(
            out.contains("max_tries : :: core :: option :: Option :: Some (3)"),
            "{out}"
        );
        assert!(out.contains("timeout : :: core :: option :: Option :: Some (:: arq :: __private :: millis (30000))"), "{out}");
        assert!(out.contains("keep_result : :: core :: option :: Option :: Some (:: arq :: __private :: millis (0))"), "{out}");
        assert!(
            out.contains("keep_result_forever : :: core :: option :: Option :: Some (false)"),
            "{out}"
        );
        assert!(
            out.contains("queue : :: core :: option :: Option :: Some (\"q\")"),
            "{out}"
        );
        assert!(out.contains("pub const NAME : & str = \"f\""), "{out}");
        assert!(out.contains("pub type Output = ()"), "{out}");
    }

    #[test]
    fn crate_override() {
        let out = expand(
            quote!(crate = "my_arq"),
            quote!(
                async fn f() {}
            ),
        );
        assert!(out.contains("my_arq :: __private :: Function"), "{out}");
        assert!(!out.contains(":: arq ::"), "{out}");
    }

    #[test]
    fn call_and_conversion() {
        let out = expand(
            quote!(),
            quote!(
                async fn f(ctx: &Ctx, a: u8, b: u8) -> String {
                    todo!()
                }
            ),
        );
        assert!(
            out.contains("super :: f (& ctx , __arq_arg0 , __arq_arg1) . await"),
            "{out}"
        );
        assert!(
            out.contains(":: arq :: __private :: Args :: finish (& args , 2) ?"),
            "{out}"
        );
        assert!(
            out.contains("(__ARQ_OUTPUT . to_value) (super :: f"),
            "{out}"
        );
        assert!(out.contains("const __ARQ_OUTPUT : :: arq :: __private :: OutputCodec < String > = :: arq :: __private :: output_codec :: < String > ()"), "{out}");
        assert!(out.contains("const __ARQ_ARG_1 : :: arq :: __private :: ArgCodec < u8 > = :: arq :: __private :: arg_codec :: < u8 > ()"), "{out}");
        assert!(
            out.contains("let __arq_arg1 : u8 = (__ARQ_ARG_1 . take) (& mut args , 1 , \"b\") ?"),
            "{out}"
        );
        assert!(
            out.contains("async fn f (ctx : :: arq :: __private :: Ctx , mut args"),
            "{out}"
        );
        let out = expand(
            quote!(),
            quote!(
                async fn f() -> anyhow::Result<u8> {
                    todo!()
                }
            ),
        );
        assert!(out.contains("__arq_classify"), "{out}");
        assert!(out.contains("pub type Output = u8"), "{out}");
    }

    #[test]
    fn no_bare_prelude_names() {
        let out = expand(
            quote!(),
            quote!(
                async fn f(ctx: &Ctx, a: u8) -> Result<u8, E> {
                    todo!()
                }
            ),
        );
        for bare in [
            "Result", "Option", "Box", "Vec", "Ok", "Err", "Some", "None", "String", "Into",
        ] {
            let tokens: Vec<&str> = out.split(' ').collect();
            for (i, t) in tokens.iter().enumerate() {
                if *t == bare {
                    // Only allowed as the last segment of an absolute path, or the user's own
                    // return type (`Result < u8 , E >` right after `->` of the original fn).
                    let qualified = i > 0 && tokens[i - 1] == "::";
                    let users = bare == "Result"
                        && i > 0
                        && tokens[i - 1] == "->"
                        && tokens[i + 1] == "<"
                        && tokens[i + 2] == "u8";
                    assert!(qualified || users, "bare `{bare}` in {out}");
                }
            }
        }
    }

    #[test]
    fn cfg_is_repeated_on_the_module() {
        let out = expand(
            quote!(),
            quote!(
                #[cfg(feature = "jobs")]
                #[doc = "x"]
                async fn f() {}
            ),
        );
        let file: syn::File = syn::parse2(out.parse().unwrap()).unwrap();
        let syn::Item::Mod(m) = &file.items[1] else {
            panic!("expected the module")
        };
        let cfgs = m.attrs.iter().filter(|a| a.path().is_ident("cfg")).count();
        assert_eq!(cfgs, 1);
    }

    #[test]
    fn errors_keep_the_function() {
        let out = expand(
            quote!(),
            quote!(
                fn f(x: u8) -> u8 {
                    x
                }
            ),
        );
        assert!(out.starts_with("fn f (x : u8) -> u8 { x }"), "{out}");
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("pub const NAME"), "{out}");
        assert!(out.contains("pub fn enqueue"), "{out}");
        let out = expand(
            quote!(),
            quote!(
                async fn f(&self) {}
            ),
        );
        assert!(!out.contains("mod f"), "{out}");
        let out = expand(
            quote!(),
            quote!(
                struct S;
            ),
        );
        assert!(out.starts_with("struct S ;"), "{out}");
        assert!(out.contains("#[arq::job] goes on an `async fn`"), "{out}");
    }
}
