//! Generates the module beside a cron function from the validated model.

use crate::cron::model::{Call, CronModel, CronSpec, Schedule};
use crate::cron::parse::Field;
use crate::signature::{convert_output, ctx_tokens, output_check, Handler};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;

/// `::core::option::Option::Some(v)` or `None`.
fn opt(value: Option<TokenStream>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

/// The module: `NAME`, `CRON` (registered with inventory when the function is valid), and the
/// handler.
pub(crate) fn module(m: &CronModel) -> TokenStream {
    let private = m.runtime.private();
    let vis = &m.vis;
    let ident = &m.ident;
    let name = &m.spec.function_name;
    let cfgs = &m.cfgs;

    let ctx = Ident::new("ctx", Span::mixed_site());
    let args = Ident::new("args", Span::mixed_site());
    let (handler, extra) = match &m.call {
        Some(call) => handler(m, call, &ctx, &args),
        None => (stub_handler(&private), TokenStream::new()),
    };
    // Only a valid cron job is scheduled.
    let cron = cron_job(&m.spec, &private, m.call.is_some());

    let f = ident.to_string();
    let f = f.trim_start_matches("r#");
    let module_doc = format!(
        "The cron job `{f}`, as registered by `#[arq::cron]`: its name and its schedule.\n\n\
         The function `{f}` itself is unchanged and can still be called directly."
    );
    let name_doc = format!("The job function's name, `{name}`; tick ids are `{name}:<ms>`.");

    quote! {
        #(#cfgs)*
        #[doc = #module_doc]
        #[allow(dead_code, unreachable_pub)]
        #vis mod #ident {
            #[allow(unused_imports)]
            use super::*;

            #[doc = #name_doc]
            pub const NAME: &str = #name;

            #cron

            #handler

            #extra
        }
    }
}

/// A `__handler` for a function whose shape is wrong: never run, since nothing is registered.
pub(crate) fn stub_handler(private: &TokenStream) -> TokenStream {
    quote! {
        #[doc(hidden)]
        fn __handler(
            _: #private::Ctx,
            _: #private::Args,
        ) -> #private::BoxFuture<'static, ::core::result::Result<#private::Value, #private::JobError>> {
            ::core::unimplemented!("#[arq::cron] failed to expand")
        }
    }
}

/// `CRON`, running the module's `__handler` on the schedule, and its registration when
/// `register` is set. Shared by `#[arq::cron]` and a function that is also a `#[arq::job]`.
pub(crate) fn cron_job(spec: &CronSpec, private: &TokenStream, register: bool) -> TokenStream {
    let name = &spec.function_name;
    let millis = |ms: u64| {
        let ms = Literal::u64_unsuffixed(ms);
        quote!(#private::millis(#ms))
    };
    let max_tries = Literal::u32_unsuffixed(spec.max_tries);
    let timeout = opt(spec.timeout_ms.map(millis));
    let keep_result = millis(spec.keep_result_ms);
    let keep_result_forever = opt(spec.keep_result_forever.map(|b| quote!(#b)));
    let micro = Literal::u32_suffixed(spec.microsecond);
    let schedule = match &spec.schedule {
        Schedule::Expr(e) => quote!(#private::CronSchedule::__from_expr(#e, #micro)),
        Schedule::Masks(masks) => {
            let mask = |f: Field| masks[f as usize];
            let months = Literal::u16_suffixed(mask(Field::Month) as u16);
            let days = Literal::u32_suffixed(mask(Field::Day) as u32);
            let weekdays = Literal::u8_suffixed(mask(Field::Weekday) as u8);
            let hours = Literal::u32_suffixed(mask(Field::Hour) as u32);
            let minutes = Literal::u64_suffixed(mask(Field::Minute));
            let seconds = Literal::u64_suffixed(mask(Field::Second));
            quote! {
                #private::CronSchedule::__from_masks(
                    #months, #days, #weekdays, #hours, #minutes, #seconds, #micro
                )
            }
        }
    };
    let timezone = opt(spec.timezone.as_ref().map(|tz| quote!(#tz)));
    let run_at_startup = spec.run_at_startup;
    let unique = spec.unique;
    let submit = register.then(|| quote!(#private::inventory::submit! { CRON }));
    let cron_doc = format!(
        "The cron job `{name}`: schedule, options and the handler a worker runs. Every \
         worker linked with it schedules it; give it to `WorkerSettings::cron_jobs` to choose \
         explicitly."
    );
    quote! {
        #[doc = #cron_doc]
        pub const CRON: #private::CronJob = #private::CronJob::__from_macro(
            #private::Function {
                name: #name,
                options: #private::JobOptions {
                    max_tries: ::core::option::Option::Some(#max_tries),
                    timeout: #timeout,
                    keep_result: ::core::option::Option::Some(#keep_result),
                    keep_result_forever: #keep_result_forever,
                    queue: ::core::option::Option::None,
                    ..#private::JobOptions::new()
                },
                handler: __handler,
            },
            #schedule,
            #timezone,
            #run_at_startup,
            #unique,
        );

        #submit
    }
}

/// The handler of a valid function, and its compile-time checks.
fn handler(m: &CronModel, call: &Call, ctx: &Ident, args: &Ident) -> (TokenStream, TokenStream) {
    let private = m.runtime.private();
    let ident = &m.ident;
    let (ctx_param, ctx_arg) = ctx_tokens(call.ctx, ctx);
    let invoke = quote!(super::#ident(#ctx_arg).await);
    let convert = convert_output(&call.output, invoke, &private);
    let output_check = output_check(&call.output, &m.runtime);
    let handler = Handler {
        private: &private,
        ident,
        taken: &["__handler"],
        send_span: call.send_span,
        ctx,
        ctx_param,
        args,
        args_param: quote!(#args),
    }
    .fns(quote! {
        // A cron job takes no arguments; a caller that passed some gets a TypeError.
        #private::Args::finish(&#args, 0)?;
        #convert
    });
    (handler, output_check)
}

#[cfg(test)]
mod tests {
    use crate::cron::expand as expand_cron;
    use quote::quote;

    #[test]
    fn output_parses_as_items() {
        let out = expand_cron(
            quote!(
                hour = 8,
                minute = 0,
                timezone = "Europe/London",
                run_at_startup
            ),
            quote!(
                pub async fn report(ctx: &Ctx) -> Result<u32, E> {
                    todo!()
                }
            ),
        );
        let file: syn::File = syn::parse2(out.clone()).unwrap();
        assert_eq!(file.items.len(), 2);
        let text = out.to_string();
        assert!(
            text.contains("pub const NAME : & str = \"cron:report\""),
            "{text}"
        );
        assert!(
            text.contains(
                "__from_masks (8190u16 , 4294967294u32 , 127u8 , 256u32 , 1u64 , 1u64 , 123456u32)"
            ),
            "{text}"
        );
        assert!(
            text.contains("Some (\"Europe/London\") , true , true"),
            "{text}"
        );
        assert!(text.contains("inventory :: submit !"), "{text}");
    }

    #[test]
    fn expression_schedule() {
        let text = expand_cron(
            quote!("*/5 * * * * *"),
            quote!(
                async fn tick() {}
            ),
        )
        .to_string();
        assert!(
            text.contains("__from_expr (\"*/5 * * * * *\" , 123456u32)"),
            "{text}"
        );
    }

    #[test]
    fn broken_function_is_not_registered() {
        let text = expand_cron(
            quote!(),
            quote!(
                fn report(n: u32) {}
            ),
        )
        .to_string();
        assert!(text.contains("compile_error"), "{text}");
        assert!(text.contains("pub const CRON"), "{text}");
        assert!(!text.contains("inventory :: submit !"), "{text}");
    }
}
