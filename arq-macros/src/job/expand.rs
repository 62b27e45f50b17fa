//! Generates the module beside a job function from the validated model.

use crate::job::model::{expr_in_module, DummyModel, JobArg, JobModel, Output};
use crate::param::ArgDefault;
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

/// The module of a valid job, with `extra` items inside it (the cron job of a function that
/// is both).
pub(crate) fn full(m: &JobModel, extra: TokenStream) -> TokenStream {
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
    let retry = opt(options
        .retry
        .as_ref()
        .map(|r| crate::job::retry::expand(r, &private)));
    let max_snoozes = opt(options
        .max_snoozes
        .map(|n| Literal::u32_unsuffixed(n).into_token_stream()));
    let dead_letter = opt(options.dead_letter.map(|b| quote!(#b)));
    // A failure hook is the user's `async fn(FailedJob)`, boxed by a small fn of ours.
    let hook = |path: &Option<crate::job::retry::Tokens>, name: &str| match path {
        None => (quote!(::core::option::Option::None), TokenStream::new()),
        Some(p) => {
            let p = &p.0;
            let f = Ident::new(name, Span::mixed_site());
            let job = Ident::new("job", Span::mixed_site());
            (
                quote!(::core::option::Option::Some(#private::FailureHook(#f))),
                quote! {
                    fn #f(#job: #private::FailedJob) -> #private::BoxFuture<'static, ()> {
                        ::std::boxed::Box::pin(#p(#job))
                    }
                },
            )
        }
    };
    let (on_failed, on_failed_fn) = hook(&options.on_failed, "__arq_on_failed");
    let (on_tries_exhausted, on_tries_exhausted_fn) =
        hook(&options.on_tries_exhausted, "__arq_on_tries_exhausted");

    let output_ty = match &m.output {
        Output::Unit => quote!(()),
        Output::Plain { ty, .. } => quote!(#ty),
        Output::Result { ok, .. } => quote!(#ok),
    };

    // One codec per argument, built where its bounds are checked (see `checks` below).
    let codecs: Vec<Ident> = (0..m.args.len())
        .map(|i| format_ident!("__ARQ_ARG_{}", i))
        .collect();
    let arg_tys: Vec<_> = m.args.iter().map(|a| &a.ty).collect();

    // enqueue: serialize each required argument, in order; those with a default are left to
    // the builder's setters.
    let required: Vec<(&JobArg, &Ident)> = m
        .args
        .iter()
        .zip(&codecs)
        .filter(|(a, _)| a.default.is_none())
        .collect();
    let req_idents: Vec<&Ident> = required.iter().map(|(a, _)| &a.ident).collect();
    let req_names: Vec<&str> = required.iter().map(|(a, _)| a.name.as_str()).collect();
    let req_tys: Vec<_> = required.iter().map(|(a, _)| &a.ty).collect();
    let req_codecs: Vec<&Ident> = required.iter().map(|(_, c)| *c).collect();
    let serialized = if required.is_empty() {
        quote!(::core::result::Result::Ok(::std::vec::Vec::new()))
    } else {
        quote! {
            ::core::iter::Iterator::collect(::core::iter::IntoIterator::into_iter([
                #( (#req_codecs.to_value)(#req_names, &#req_idents) ),*
            ]))
        }
    };
    let builder = Builder::new(m, &codecs);
    let (enqueue_ret, enqueue_body) = match &builder {
        None => (
            quote!(#private::Enqueue<'_, Output>),
            quote!(#private::enqueue(#pool, &FUNCTION, #serialized)),
        ),
        Some(b) => {
            let unset = b
                .setters
                .iter()
                .map(|_| quote!(::core::option::Option::None));
            (
                quote!(Enqueue<'_>),
                quote! {
                    Enqueue {
                        inner: #private::enqueue(#pool, &FUNCTION, #serialized),
                        defaults: [#(#unset),*],
                    }
                },
            )
        }
    };
    let builder_items = builder.as_ref().map(|b| b.items(ident));

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
    .fns({
        let takes = m.args.iter().zip(&codecs).zip(indices).map(|((a, codec), index)| {
            let name = a.name.as_str();
            let take = quote!((#codec.take)(&mut #args, #index, #name)?);
            match &a.default {
                None => take,
                Some(default) => {
                    let default = default_tokens(default);
                    quote! {
                        if #private::Args::has(&#args, #index, #name) { #take } else { #default }
                    }
                }
            }
        });
        quote! {
        #( let #locals: #arg_tys = #takes; )*
        #private::Args::finish(&#args, #count)?;
        #convert
        }
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
        job_doc,
        ..
    } = &docs;
    let enqueue_doc = match &builder {
        None => docs.enqueue_doc.clone(),
        Some(b) => docs.enqueue_with_defaults(&b.names()),
    };

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
                    retry: #retry,
                    max_snoozes: #max_snoozes,
                    dead_letter: #dead_letter,
                    on_failed: #on_failed,
                    on_tries_exhausted: #on_tries_exhausted,
                },
                handler: __handler,
            };

            #on_failed_fn
            #on_tries_exhausted_fn

            #[doc = #output_doc]
            pub type Output = #output_ty;

            #[doc = #enqueue_doc]
            #[allow(clippy::too_many_arguments)]
            pub fn enqueue(#pool: &#private::Pool #(, #req_idents: #req_tys)*) -> #enqueue_ret {
                #enqueue_body
            }

            #builder_items

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

            #extra
        }
    }
}

/// The handler's value for a parameter that was not passed.
fn default_tokens(default: &ArgDefault) -> TokenStream {
    match default {
        // Spanned at `default`, so a type without `Default` is reported there.
        ArgDefault::Trait { span } => quote_spanned!(*span=> ::core::default::Default::default()),
        ArgDefault::Expr(expr) => {
            let expr = expr_in_module(expr);
            quote!({ #expr })
        }
    }
}

/// The builder `enqueue` returns when some parameters have a default: `arq::Enqueue` with a
/// setter per defaulted parameter.
struct Builder<'a> {
    private: TokenStream,
    /// Per defaulted parameter: the argument and its codec.
    setters: Vec<(&'a JobArg, &'a Ident)>,
}

impl<'a> Builder<'a> {
    /// `None` when no parameter has a default (`enqueue` then returns `arq::Enqueue`).
    fn new(m: &'a JobModel, codecs: &'a [Ident]) -> Option<Self> {
        let setters: Vec<_> = m
            .args
            .iter()
            .zip(codecs)
            .filter(|(a, _)| a.default.is_some())
            .collect();
        (!setters.is_empty()).then(|| Builder {
            private: m.common.runtime.private(),
            setters,
        })
    }

    fn names(&self) -> Vec<&str> {
        self.setters.iter().map(|(a, _)| a.name.as_str()).collect()
    }

    /// The struct, its setters, the builder options it forwards, and its conversions.
    fn items(&self, ident: &Ident) -> TokenStream {
        let private = &self.private;
        let f = ident.to_string();
        let f = f.trim_start_matches("r#");
        let count = Literal::usize_unsuffixed(self.setters.len());
        let names = self.names();
        let slots = (0..self.setters.len()).map(Literal::usize_unsuffixed);
        let setters = self.setters.iter().zip(slots).map(|((a, codec), slot)| {
            let (arg, name, ty) = (&a.ident, a.name.as_str(), &a.ty);
            let doc = format!(
                "Passes `{name}` (as the keyword argument `{name}`, as Python would). Left \
                 unset, the worker uses the default written on `{f}`'s parameter."
            );
            quote! {
                #[doc = #doc]
                pub fn #arg(mut self, #arg: #ty) -> Self {
                    self.defaults[#slot] =
                        ::core::option::Option::Some((#codec.to_value)(#name, &#arg));
                    self
                }
            }
        });
        let struct_doc = format!(
            "The enqueue builder of `{f}`: `arq::Enqueue`'s options plus a setter per \
             parameter with a default ({}). `.await` it for the job's handle.",
            names
                .iter()
                .map(|n| format!("`.{n}(…)`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let inner = quote!(#private::Enqueue<'p, self::Output>);
        quote! {
            #[doc = #struct_doc]
            #[must_use = "an enqueue does nothing until it is awaited"]
            pub struct Enqueue<'p> {
                inner: #inner,
                defaults: [::core::option::Option<#private::Result<#private::Value>>; #count],
            }

            impl<'p> Enqueue<'p> {
                #(#setters)*

                /// Sets the job id (Python's `_job_id`); see `arq::Enqueue::job_id`.
                pub fn job_id(self, id: impl ::core::convert::Into<::std::string::String>) -> Self {
                    self.__map(|e| e.job_id(id))
                }

                /// Sends to this queue (Python's `_queue_name`); see `arq::Enqueue::queue_name`.
                pub fn queue_name(self, queue: impl ::core::convert::Into<::std::string::String>) -> Self {
                    self.__map(|e| e.queue_name(queue))
                }

                /// Runs no earlier than `delay` from now (Python's `_defer_by`).
                pub fn defer_by(self, delay: ::core::time::Duration) -> Self {
                    self.__map(|e| e.defer_by(delay))
                }

                /// Runs no earlier than `at` (Python's `_defer_until`): a `chrono::DateTime`
                /// or a `SystemTime`.
                pub fn defer_until(self, at: impl ::core::convert::Into<::std::time::SystemTime>) -> Self {
                    let at: ::std::time::SystemTime = at.into();
                    self.__map(|e| e.defer_until(::core::convert::From::from(at)))
                }

                /// Same as `defer_until`.
                pub fn run_at(self, at: impl ::core::convert::Into<::std::time::SystemTime>) -> Self {
                    self.defer_until(at)
                }

                /// The job expires after this long if not started (Python's `_expires`).
                pub fn expires(self, after: ::core::time::Duration) -> Self {
                    self.__map(|e| e.expires(after))
                }

                /// Sets the try number the job starts from (Python's `_job_try`).
                pub fn job_try(self, job_try: u32) -> Self {
                    self.__map(|e| e.job_try(job_try))
                }

                /// Replaces a stored result with the same id; see `arq::Enqueue::replace_result`.
                pub fn replace_result(self, yes: bool) -> Self {
                    self.__map(|e| e.replace_result(yes))
                }

                /// Adds a keyword argument (Python's `**kwargs`).
                pub fn kwarg(
                    self,
                    name: impl ::core::convert::Into<::std::string::String>,
                    value: impl #private::serde::Serialize,
                ) -> Self {
                    self.__map(|e| e.kwarg(name, value))
                }

                /// The plain `arq::Enqueue`, with the arguments set so far.
                pub fn into_enqueue(self) -> #inner {
                    let mut inner = self.inner;
                    let names: [&str; #count] = [#(#names),*];
                    for (name, value) in ::core::iter::Iterator::zip(
                        ::core::iter::IntoIterator::into_iter(names),
                        self.defaults,
                    ) {
                        inner = match value {
                            ::core::option::Option::None => inner,
                            ::core::option::Option::Some(::core::result::Result::Ok(value)) => {
                                inner.kwarg(name, value)
                            }
                            ::core::option::Option::Some(::core::result::Result::Err(error)) => {
                                inner.kwarg(name, __Unencodable(::std::string::ToString::to_string(&error)))
                            }
                        };
                    }
                    inner
                }

                fn __map(self, f: impl ::core::ops::FnOnce(#inner) -> #inner) -> Self {
                    Enqueue {
                        inner: f(self.inner),
                        defaults: self.defaults,
                    }
                }
            }

            impl<'p> ::core::convert::From<Enqueue<'p>> for #inner {
                fn from(enqueue: Enqueue<'p>) -> Self {
                    enqueue.into_enqueue()
                }
            }

            impl<'p> ::core::future::IntoFuture for Enqueue<'p> {
                type Output = <#inner as ::core::future::IntoFuture>::Output;
                type IntoFuture = <#inner as ::core::future::IntoFuture>::IntoFuture;

                fn into_future(self) -> Self::IntoFuture {
                    ::core::future::IntoFuture::into_future(self.into_enqueue())
                }
            }

            /// An argument that failed to serialize in its setter: fails the enqueue with the
            /// reason, as `arq::Enqueue::kwarg` does.
            struct __Unencodable(::std::string::String);

            impl #private::serde::Serialize for __Unencodable {
                fn serialize<S>(&self, _: S) -> ::core::result::Result<S::Ok, S::Error>
                where
                    S: #private::serde::Serializer,
                {
                    ::core::result::Result::Err(<S::Error as #private::serde::ser::Error>::custom(&self.0))
                }
            }
        }
    }
}

/// The stub module emitted when the function itself is wrong: `NAME`, and `enqueue`/`job`
/// with the function's signature when it has one a stub can repeat.
pub(crate) fn dummy(d: &DummyModel, extra: TokenStream) -> TokenStream {
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

            #extra
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
    /// `enqueue`'s doc when it returns the builder with setters.
    fn enqueue_with_defaults(&self, names: &[&str]) -> String {
        let setters = names
            .iter()
            .map(|n| format!("`.{n}(…)`"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "{} Parameters with a default are left out: set them on the builder ({setters}), \
             or the worker uses their defaults.",
            self.enqueue_doc
        )
    }
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
