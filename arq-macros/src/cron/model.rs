//! Validates the function and the options together into the model `expand.rs` generates
//! from: the cron job's name, schedule, options, how the function takes the context and what
//! it returns. Every problem goes to the `Ctxt`, spanned at the token to fix.

use crate::cron::parse::{CronArgs, Field};
use crate::ctxt::Ctxt;
use crate::options::first_span;
use crate::runtime::Runtime;
use crate::signature::{check_qualifiers, ctx_kind, peel, result_generics, CtxKind};
pub(crate) use crate::signature::{CtxParam, Output};
use proc_macro2::{Ident, Span};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{FnArg, GenericArgument, ItemFn, ReturnType, Type, Visibility};

/// Python arq's default microsecond of a tick (ids end in `…123`).
pub(crate) const DEFAULT_MICROSECOND: u32 = 123_456;

/// Everything `expand.rs` needs.
pub(crate) struct CronModel {
    pub(crate) runtime: Runtime,
    pub(crate) vis: Visibility,
    pub(crate) ident: Ident,
    pub(crate) cfgs: Vec<syn::Attribute>,
    pub(crate) spec: CronSpec,
    /// How the function is called; `None` when its shape is wrong (a stub is generated).
    pub(crate) call: Option<Call>,
}

/// The cron job itself: name, schedule and options, from `#[arq::cron(...)]` alone (so a
/// function that is also a `#[arq::job]` gets the same).
pub(crate) struct CronSpec {
    /// The job function's name, `cron:<name>`.
    pub(crate) function_name: String,
    pub(crate) schedule: Schedule,
    pub(crate) microsecond: u32,
    pub(crate) timezone: Option<String>,
    pub(crate) run_at_startup: bool,
    pub(crate) unique: bool,
    pub(crate) max_tries: u32,
    pub(crate) timeout_ms: Option<u64>,
    /// Milliseconds; Python arq's cron default is 0 (no result kept).
    pub(crate) keep_result_ms: u64,
    pub(crate) keep_result_forever: Option<bool>,
}

/// A schedule from fields (bit masks, "any" = every bit of the range) or an expression.
pub(crate) enum Schedule {
    Masks([u64; 6]),
    Expr(String),
}

/// How to call a valid cron function.
pub(crate) struct Call {
    pub(crate) ctx: Option<CtxParam>,
    pub(crate) output: Output,
    /// Where "future cannot be sent between threads safely" points: the function's name.
    pub(crate) send_span: Span,
}

fn full_mask(field: Field) -> u64 {
    let (lo, hi) = field.range();
    (lo..=hi).fold(0, |m, v| m | (1 << v))
}

/// The most days each month can have (February: 29).
pub(crate) const MONTH_DAYS: [u64; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// Checks the function and the options; everything wrong is reported to `cx`.
pub(crate) fn build(item: &ItemFn, args: CronArgs, cx: &Ctxt) -> CronModel {
    let sig = &item.sig;
    CronModel {
        runtime: Runtime::new(args.krate.clone()),
        vis: item.vis.clone(),
        ident: sig.ident.clone(),
        cfgs: item
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("cfg"))
            .cloned()
            .collect(),
        spec: spec(&args, &sig.ident.unraw().to_string(), cx),
        call: check_fn(item, cx),
    }
}

/// The name, schedule and options; `default_name` names the job when `name` is not given.
pub(crate) fn spec(args: &CronArgs, default_name: &str, cx: &Ctxt) -> CronSpec {
    let base = args
        .name
        .as_ref()
        .map_or_else(|| default_name.to_owned(), |n| n.value.clone());

    // The schedule: an expression, or fields.
    let given: Vec<(Field, &crate::attr::Spanned<u64>)> = Field::ALL
        .iter()
        .zip(&args.fields)
        .filter_map(|(f, m)| m.as_ref().map(|m| (*f, m)))
        .collect();
    let schedule = match &args.expr {
        Some(expr) => {
            for (field, m) in &given {
                cx.error(
                    m.span,
                    format!(
                        "`{}` cannot be combined with a cron expression: put it in the \
                         expression, or use only fields",
                        field.name()
                    ),
                );
            }
            Schedule::Expr(expr.value.clone())
        }
        None => {
            let mut masks = [0u64; 6];
            for field in Field::ALL {
                masks[field as usize] = args.fields[field as usize]
                    .as_ref()
                    .map_or_else(|| default_mask(field), |m| m.value);
            }
            check_dates(&masks, args, cx);
            Schedule::Masks(masks)
        }
    };

    if let (Some(keep), Some(forever)) = (&args.keep_result, &args.keep_result_forever) {
        if forever.value {
            cx.error(
                keep.span,
                "`keep_result` has no effect with `keep_result_forever = true`: remove one of them",
            );
        }
    }

    CronSpec {
        function_name: format!("cron:{base}"),
        schedule,
        microsecond: args
            .microsecond
            .as_ref()
            .map_or(DEFAULT_MICROSECOND, |m| m.value),
        timezone: args.timezone.as_ref().map(|t| t.value.clone()),
        run_at_startup: args.run_at_startup.as_ref().is_some_and(|v| v.value),
        unique: args.unique.as_ref().is_none_or(|v| v.value),
        max_tries: args.max_tries.as_ref().map_or(1, |v| v.value),
        timeout_ms: args.timeout.as_ref().map(|v| v.value),
        keep_result_ms: args.keep_result.as_ref().map_or(0, |v| v.value),
        keep_result_forever: args.keep_result_forever.as_ref().map(|v| v.value),
    }
}

/// Python arq's defaults: any value, except `second`, which is 0.
fn default_mask(field: Field) -> u64 {
    match field {
        Field::Second => 1,
        f => full_mask(f),
    }
}

/// Refuses a day/month combination that never occurs (`day = 30, month = 2`).
fn check_dates(masks: &[u64; 6], args: &CronArgs, cx: &Ctxt) {
    let months = masks[Field::Month as usize];
    let days = masks[Field::Day as usize];
    let longest = (1..=12)
        .filter(|m| months & (1 << m) != 0)
        .map(|m| MONTH_DAYS[m - 1])
        .max()
        .unwrap_or(31);
    let first_day = (1..=31).find(|d| days & (1 << d) != 0).unwrap_or(1);
    if first_day > longest {
        let span = args.fields[Field::Day as usize]
            .as_ref()
            .map_or_else(Span::call_site, |d| d.span);
        cx.error(
            span,
            format!(
                "this cron job would never run: none of its months has {} days",
                first_day
            ),
        );
    }
}

/// The shape of the function: `async fn name(ctx: &Ctx) -> T`, or without the context.
fn check_fn(item: &ItemFn, cx: &Ctxt) -> Option<Call> {
    let sig = &item.sig;
    let mut valid = check_qualifiers(
        sig,
        "#[arq::cron]",
        "#[arq::cron] functions cannot be `unsafe`",
        false,
        cx,
    );
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        cx.error_spanned_by(
            &sig.generics,
            "cron job functions cannot be generic: the worker calls one concrete function",
        );
        valid = false;
    }
    let mut ctx = None;
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => {
                cx.error_spanned_by(
                    r,
                    "#[arq::cron] works on free functions, not methods: move it out of the `impl` block",
                );
                valid = false;
            }
            FnArg::Typed(typed) => match ctx_kind(&typed.ty) {
                Some(_) if ctx.is_some() => {
                    cx.error_spanned_by(
                        typed,
                        "the job context is taken once: remove this parameter",
                    );
                    valid = false;
                }
                Some(CtxKind::MutRef) => {
                    cx.error_spanned_by(
                        &typed.ty,
                        "the job context is shared: take it as `&Ctx`, not `&mut Ctx`",
                    );
                    valid = false;
                }
                Some(CtxKind::Ref) => ctx = Some(CtxParam::Ref),
                Some(CtxKind::Owned) => ctx = Some(CtxParam::Owned),
                None => {
                    cx.error_spanned_by(
                        typed,
                        format!(
                            "cron jobs take only the job context (`ctx: &Ctx`), or nothing: the \
                             worker calls them with no arguments; remove `{}`",
                            typed.to_token_stream().to_string().replace(" : ", ": ")
                        ),
                    );
                    valid = false;
                }
            },
        }
    }
    let output = output(&sig.output, cx);
    match output {
        Some(output) if valid => Some(Call {
            ctx,
            output,
            send_span: sig.ident.span(),
        }),
        _ => None,
    }
}

/// What the function returns; `None` (after an error) for `impl Trait`.
fn output(ret: &ReturnType, cx: &Ctxt) -> Option<Output> {
    let ReturnType::Type(_, ty) = ret else {
        return Some(Output::Unit);
    };
    if contains_impl(ty) {
        cx.error_spanned_by(
            ty,
            "cron job functions must name their return type: the result is serialized, so the worker needs its concrete type",
        );
        return None;
    }
    if let Type::Tuple(t) = peel(ty) {
        if t.elems.is_empty() {
            return Some(Output::Unit);
        }
    }
    Some(match result_args(ty) {
        Some((ok, err)) => Output::Result {
            ok: ok.clone(),
            span: first_span(ok),
            err_span: err.map_or_else(|| first_span(ty), first_span),
        },
        None => Output::Plain {
            ty: (**ty).clone(),
            span: first_span(ty),
        },
    })
}

/// `T` (and `E`, if written) of a path type whose last segment is `Result<T, …>`.
fn result_args(ty: &Type) -> Option<(&Type, Option<&Type>)> {
    let mut types = result_generics(ty)?.iter().filter_map(|a| match a {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    });
    let ok = types.next()?;
    Some((ok, types.next()))
}

fn contains_impl(ty: &Type) -> bool {
    ty.to_token_stream()
        .into_iter()
        .any(|t| matches!(&t, proc_macro2::TokenTree::Ident(i) if i == "impl"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cron::parse::parse_args;
    use quote::quote;

    fn model(
        attr: proc_macro2::TokenStream,
        item: proc_macro2::TokenStream,
    ) -> (CronModel, Vec<String>) {
        let item: ItemFn = syn::parse2(item).unwrap();
        Ctxt::collect(|cx| build(&item, parse_args(attr, cx), cx))
    }

    #[test]
    fn defaults_are_pythons() {
        let (m, errs) = model(
            quote!(),
            quote!(
                async fn report(ctx: &Ctx) {}
            ),
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(m.spec.function_name, "cron:report");
        assert_eq!(m.spec.microsecond, 123_456);
        assert!(m.spec.unique && !m.spec.run_at_startup);
        assert_eq!(
            (m.spec.max_tries, m.spec.keep_result_ms, m.spec.timeout_ms),
            (1, 0, None)
        );
        let Schedule::Masks(masks) = m.spec.schedule else {
            panic!()
        };
        assert_eq!(masks[Field::Second as usize], 1);
        assert_eq!(masks[Field::Hour as usize], 0xff_ffff);
        assert_eq!(m.call.unwrap().ctx, Some(CtxParam::Ref));
    }

    #[test]
    fn only_the_context() {
        let (_, errs) = model(
            quote!(),
            quote!(
                async fn report(ctx: &Ctx, n: u32) {}
            ),
        );
        assert_eq!(
            errs,
            ["cron jobs take only the job context (`ctx: &Ctx`), or nothing: the worker calls them with no arguments; remove `n: u32`"]
        );
        let (m, errs) = model(
            quote!(),
            quote!(
                async fn report() -> Result<u32, E> {
                    todo!()
                }
            ),
        );
        assert!(errs.is_empty());
        let call = m.call.unwrap();
        assert!(call.ctx.is_none());
        assert!(matches!(call.output, Output::Result { .. }));
        let (m, errs) = model(
            quote!(),
            quote!(
                fn report(ctx: &Ctx) {}
            ),
        );
        assert_eq!(
            errs,
            ["#[arq::cron] functions must be `async fn`: write `async fn report`"]
        );
        assert!(m.call.is_none());
    }

    #[test]
    fn expression_and_fields_do_not_mix() {
        let (_, errs) = model(
            quote!("* * * * *", hour = 3),
            quote!(
                async fn f() {}
            ),
        );
        assert_eq!(
            errs,
            ["`hour` cannot be combined with a cron expression: put it in the expression, or use only fields"]
        );
    }

    #[test]
    fn impossible_dates() {
        let (_, errs) = model(
            quote!(month = 2, day = 30),
            quote!(
                async fn f() {}
            ),
        );
        assert_eq!(
            errs,
            ["this cron job would never run: none of its months has 30 days"]
        );
        let (_, errs) = model(
            quote!(month = 2, day = 29),
            quote!(
                async fn f() {}
            ),
        );
        assert!(errs.is_empty());
    }

    #[test]
    fn name_option() {
        let (m, _) = model(
            quote!(name = "nightly"),
            quote!(
                async fn r#f() {}
            ),
        );
        assert_eq!(m.spec.function_name, "cron:nightly");
        let (m, _) = model(
            quote!(),
            quote!(
                async fn r#type() {}
            ),
        );
        assert_eq!(m.spec.function_name, "cron:type");
    }
}
