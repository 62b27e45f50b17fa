//! Validates the function and the options together into the model `expand.rs` generates
//! from: what the context parameter is, each job argument's name and type, what the job
//! returns, and the final option values. Every problem goes to the `Ctxt`, each spanned at
//! the token to fix.

use crate::ctxt::Ctxt;
use crate::job::parse::JobArgs;
use crate::job::retry::{RetrySpec, Tokens};
use crate::options::first_span;
use crate::param::{self, ArgDefault};
use crate::runtime::Runtime;
use crate::signature::{check_qualifiers, ctx_kind, peel, result_generics, CtxKind};
pub(crate) use crate::signature::{CtxParam, Output};
use proc_macro2::{Group, Ident, Punct, Spacing, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{FnArg, GenericArgument, ItemFn, Pat, PathArguments, ReturnType, Type, Visibility};

/// What to generate beside the function.
// One plan per macro call: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Plan {
    /// The function is a valid job (option errors aside, which fall back to defaults): the
    /// whole module.
    Full(JobModel),
    /// The function's shape is wrong: a stub module, so code that uses it does not add a
    /// cascade of errors to the real one.
    Dummy(DummyModel),
    /// The function is a method, inside an `impl`: nothing can be generated beside it.
    FnOnly,
}

/// What every plan knows: where the module goes and what it is called.
pub(crate) struct Common {
    pub(crate) runtime: Runtime,
    pub(crate) vis: Visibility,
    /// The function's (and the module's) identifier.
    pub(crate) ident: Ident,
    /// The name jobs are enqueued under.
    pub(crate) name: String,
    /// The function's `#[cfg(…)]` attributes, repeated on the module so both come and go
    /// together even when `#[arq::job]` is written above the `cfg`.
    pub(crate) cfgs: Vec<syn::Attribute>,
}

/// A valid job function.
pub(crate) struct JobModel {
    pub(crate) common: Common,
    pub(crate) options: Options,
    pub(crate) ctx: Option<CtxParam>,
    pub(crate) args: Vec<JobArg>,
    pub(crate) output: Output,
    /// Where "future cannot be sent between threads safely" points: the function's name.
    pub(crate) send_span: Span,
}

/// Final option values; `None` leaves the worker's default.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Options {
    pub(crate) max_tries: Option<u32>,
    pub(crate) timeout_ms: Option<u64>,
    pub(crate) keep_result_ms: Option<u64>,
    pub(crate) keep_result_forever: Option<bool>,
    pub(crate) queue: Option<String>,
    pub(crate) retry: Option<RetrySpec>,
    pub(crate) max_snoozes: Option<u32>,
    pub(crate) dead_letter: Option<bool>,
    pub(crate) on_failed: Option<Tokens>,
    pub(crate) on_tries_exhausted: Option<Tokens>,
}

/// One serialized argument.
pub(crate) struct JobArg {
    /// As written in the function (also the `enqueue` parameter).
    pub(crate) ident: Ident,
    /// The keyword name Python callers use: the identifier without `r#`.
    pub(crate) name: String,
    /// The type as it must be written inside the generated module.
    pub(crate) ty: Type,
    /// Where trait errors about the type point.
    pub(crate) span: Span,
    /// `#[arq(default …)]`: `enqueue` leaves the argument out, the builder gets a setter, and
    /// the handler uses the default when the caller did not pass it.
    pub(crate) default: Option<ArgDefault>,
}

/// The methods of the builder `enqueue` returns when the job has defaulted parameters; a
/// defaulted parameter cannot have one of these names, since its setter would clash.
pub(crate) const BUILDER_METHODS: &[&str] = &[
    "replace_result",
    "job_id",
    "queue_name",
    "defer_by",
    "defer_until",
    "run_at",
    "expires",
    "job_try",
    "kwarg",
    "into_enqueue",
    "into_future",
];

/// A function whose shape is wrong.
pub(crate) struct DummyModel {
    pub(crate) common: Common,
    /// `None` when the function is generic: a stub cannot name its types then.
    pub(crate) stub: Option<Stub>,
}

/// Signature of the stub `enqueue`/`job`, so callers keep type-checking.
pub(crate) struct Stub {
    pub(crate) arg_tys: Vec<Type>,
    pub(crate) output: Type,
}

/// Checks the function and the options; everything wrong is reported to `cx`.
pub(crate) fn build(item: &ItemFn, args: JobArgs, cx: &Ctxt) -> Plan {
    let sig = &item.sig;
    let ident = sig.ident.clone();
    let common = Common {
        runtime: Runtime::new(args.krate.clone()),
        vis: item.vis.clone(),
        name: args
            .name
            .as_ref()
            .map_or_else(|| ident.unraw().to_string(), |n| n.value.clone()),
        ident,
        cfgs: item
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("cfg"))
            .cloned()
            .collect(),
    };
    let options = options(&args, cx);

    // Shape of the function itself.
    let mut valid = check_qualifiers(
        sig,
        "#[arq::job]",
        "#[arq::job] functions cannot be `unsafe`: the worker calls them with data from the queue, so they must be safe to call",
        true,
        cx,
    );
    let mut generic = false;
    const GENERIC: &str =
        "job functions cannot be generic: the worker must know concrete argument types";
    if !sig.generics.params.is_empty() {
        cx.error_spanned_by(&sig.generics, GENERIC);
        generic = true;
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        cx.error_spanned_by(where_clause, GENERIC);
        generic = true;
    }

    // Parameters.
    let mut ctx = None;
    let mut job_args = Vec::new();
    let mut stub_tys = Vec::new();
    let mut receiver = false;
    for (index, input) in sig.inputs.iter().enumerate() {
        let typed = match input {
            FnArg::Receiver(r) => {
                cx.error_spanned_by(
                    r,
                    format!(
                        "#[arq::job] works on free functions, not methods: move `{}` out of the `impl` block and pass what it needs from `self` as arguments",
                        sig.ident
                    ),
                );
                receiver = true;
                continue;
            }
            FnArg::Typed(typed) => typed,
        };
        let attrs = param::parse(&typed.attrs, cx);
        if let Some(kind) = ctx_kind(&typed.ty) {
            if let (Some(_), Some(attr)) = (&attrs.default, &attrs.attr) {
                cx.error_spanned_by(
                    attr,
                    "the job context has no default: the worker always passes it; remove `#[arq(...)]` from it",
                );
            }
            if index != 0 {
                cx.error_spanned_by(
                    typed,
                    "the job context must be the first parameter: move it before the job's arguments",
                );
                valid = false;
            }
            match kind {
                CtxKind::MutRef => {
                    cx.error_spanned_by(
                        &typed.ty,
                        "the job context is shared: take it as `&Ctx`, not `&mut Ctx`",
                    );
                    valid = false;
                }
                CtxKind::Ref if ctx.is_none() => ctx = Some(CtxParam::Ref),
                CtxKind::Owned if ctx.is_none() => ctx = Some(CtxParam::Owned),
                _ => {}
            }
            continue;
        }

        let ty_span = first_span(&typed.ty);
        stub_tys.push(in_module(&typed.ty));
        let ident = match &*typed.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(p.ident.clone()),
            pat => {
                cx.error_spanned_by(
                    pat,
                    "use a plain parameter name: job arguments are passed by name (Python callers may use keyword arguments), so patterns are not supported; destructure inside the function",
                );
                valid = false;
                None
            }
        };
        if !check_owned(&typed.ty, "arguments", "take", cx) {
            valid = false;
        }
        if let Some(impl_span) = find_impl(&typed.ty) {
            cx.error(impl_span, GENERIC);
            generic = true;
        }
        if let Some(ident) = ident {
            check_default_order(&job_args, &ident, attrs.default.is_some(), cx);
            let mut default = attrs.default;
            if let (Some(_), Some(attr)) = (&default, &attrs.attr) {
                let name = ident.unraw().to_string();
                if BUILDER_METHODS.contains(&name.as_str()) {
                    // Left without its default, so no clashing setter is generated.
                    default = None;
                    cx.error_spanned_by(
                        attr,
                        format!(
                            "a parameter with a default gets a setter on the enqueue builder, \
                             and `{name}` is already one of the builder's methods: remove \
                             `#[arq(...)]` so callers pass `{name}` to `enqueue`, or rename the \
                             parameter"
                        ),
                    );
                }
            }
            job_args.push(JobArg {
                name: ident.unraw().to_string(),
                ident,
                ty: in_module(&typed.ty),
                span: ty_span,
                default,
            });
        }
    }
    if receiver {
        return Plan::FnOnly;
    }

    // Return type.
    let output = output(&sig.output);
    if let ReturnType::Type(_, ty) = &sig.output {
        if let Some(impl_span) = find_impl(ty) {
            cx.error(
                impl_span,
                "job functions must name their return type: the result is serialized, so the worker needs its concrete type",
            );
            valid = false;
        } else {
            let checked: &Type = match &output {
                Output::Result { .. } => result_ok_arg(ty).unwrap_or(ty),
                _ => ty,
            };
            if !check_owned(checked, "results", "return", cx) {
                valid = false;
            }
        }
    }

    if valid && !generic {
        Plan::Full(JobModel {
            send_span: common.ident.span(),
            common,
            options,
            ctx,
            args: job_args,
            output,
        })
    } else {
        let stub = (!generic).then(|| Stub {
            arg_tys: stub_tys,
            output: match &output {
                Output::Unit => syn::parse_quote!(()),
                Output::Plain { ty, .. } | Output::Result { ok: ty, .. }
                    if find_impl(ty).is_none() =>
                {
                    ty.clone()
                }
                _ => {
                    let private = common.runtime.private();
                    syn::parse_quote!(#private::Value)
                }
            },
        });
        Plan::Dummy(DummyModel { common, stub })
    }
}

/// Refuses a parameter without a default after one with a default: `enqueue` sends the
/// required arguments by position, and Python (like this rule) puts defaults last.
fn check_default_order(before: &[JobArg], ident: &Ident, has_default: bool, cx: &Ctxt) {
    if has_default {
        return;
    }
    if let Some(defaulted) = before.iter().find(|a| a.default.is_some()) {
        cx.error(
            ident.span(),
            format!(
                "`{}` has no default but comes after `{}`, which has one: parameters with a \
                 default go last, as in Python; move `{}` before `{}`, or give it a default too \
                 with `#[arq(default = ...)]`",
                ident.unraw(),
                defaulted.name,
                ident.unraw(),
                defaulted.name,
            ),
        );
    }
}

/// Final options, and the rules that involve more than one of them.
fn options(args: &JobArgs, cx: &Ctxt) -> Options {
    if let (Some(keep), Some(forever)) = (&args.keep_result, &args.keep_result_forever) {
        if forever.value {
            cx.error(
                keep.span,
                "`keep_result` has no effect with `keep_result_forever = true`: remove one of them",
            );
        }
    }
    Options {
        max_tries: args.max_tries.as_ref().map(|v| v.value),
        timeout_ms: args.timeout.as_ref().map(|v| v.value),
        keep_result_ms: args.keep_result.as_ref().map(|v| v.value),
        keep_result_forever: args.keep_result_forever.as_ref().map(|v| v.value),
        queue: args.queue.as_ref().map(|v| v.value.clone()),
        retry: args.retry.clone(),
        max_snoozes: args.max_snoozes,
        dead_letter: args.dead_letter,
        on_failed: args.on_failed.clone(),
        on_tries_exhausted: args.on_tries_exhausted.clone(),
    }
}

/// What the job returns.
fn output(ret: &ReturnType) -> Output {
    let ReturnType::Type(_, ty) = ret else {
        return Output::Unit;
    };
    match peel(ty) {
        Type::Tuple(t) if t.elems.is_empty() => Output::Unit,
        _ => match result_ok_arg(ty) {
            Some(ok) => Output::Result {
                ok: in_module(ok),
                span: first_span(ok),
                err_span: result_err_arg(ty).map_or_else(|| first_span(ty), first_span),
            },
            None => Output::Plain {
                ty: in_module(ty),
                span: first_span(ty),
            },
        },
    }
}

/// `T` of a path type whose last segment is `Result` with at least one type argument.
fn result_ok_arg(ty: &Type) -> Option<&Type> {
    match result_generics(ty)?.first()? {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

/// `E` of `Result<T, E>`, when written out.
fn result_err_arg(ty: &Type) -> Option<&Type> {
    match result_generics(ty)?.iter().nth(1)? {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

/// Refuses borrowed types (`&str`, `Vec<&str>`, raw pointers): what crosses the queue is
/// serialized, so it must be owned. Returns whether the type is fine.
fn check_owned(ty: &Type, what: &str, verb: &str, cx: &Ctxt) -> bool {
    let outer = peel(ty);
    let (reference, elem) = match outer {
        Type::Reference(r) => (outer, Some(&*r.elem)),
        Type::Ptr(p) => (outer, Some(&*p.elem)),
        _ => match find_reference(ty) {
            Some(inner) => (inner, None),
            None => return true,
        },
    };
    let shown = tokens_text(reference);
    let hint = match elem.map(peel) {
        Some(Type::Path(p)) if p.path.is_ident("str") => {
            format!("{verb} `String` instead of `{shown}`")
        }
        Some(Type::Path(p)) if p.path.is_ident("Path") => {
            format!("{verb} `PathBuf` instead of `{shown}`")
        }
        Some(Type::Slice(s)) => format!(
            "{verb} `Vec<{}>` instead of `{shown}`",
            tokens_text(&*s.elem)
        ),
        Some(elem) => format!("{verb} `{}` instead of `{shown}`", tokens_text(elem)),
        None => format!("use an owned type instead of `{shown}`"),
    };
    cx.error_spanned_by(
        reference,
        format!("job {what} are serialized, so they must be owned: {hint}"),
    );
    false
}

/// A reference type nested anywhere inside `ty` (`Vec<&str>`).
fn find_reference(ty: &Type) -> Option<&Type> {
    match ty {
        Type::Reference(_) | Type::Ptr(_) => Some(ty),
        Type::Group(g) => find_reference(&g.elem),
        Type::Paren(p) => find_reference(&p.elem),
        Type::Array(a) => find_reference(&a.elem),
        Type::Slice(s) => find_reference(&s.elem),
        Type::Tuple(t) => t.elems.iter().find_map(find_reference),
        Type::Path(p) => {
            let qself = p.qself.as_ref().and_then(|q| find_reference(&q.ty));
            qself.or_else(|| {
                p.path.segments.iter().find_map(|s| match &s.arguments {
                    PathArguments::AngleBracketed(a) => a.args.iter().find_map(|arg| match arg {
                        GenericArgument::Type(t) => find_reference(t),
                        _ => None,
                    }),
                    _ => None,
                })
            })
        }
        _ => None,
    }
}

/// The span of an `impl` keyword anywhere in the type (`impl Trait` is a hidden generic).
fn find_impl(ty: &Type) -> Option<Span> {
    fn walk(tokens: TokenStream) -> Option<Span> {
        tokens.into_iter().find_map(|tt| match tt {
            TokenTree::Ident(i) if i == "impl" => Some(i.span()),
            TokenTree::Group(g) => walk(g.stream()),
            _ => None,
        })
    }
    walk(ty.to_token_stream())
}

/// A type as source text, for messages: `Vec<&str>`, not `Vec < & str >`.
fn tokens_text(tokens: &dyn ToTokens) -> String {
    let text = tokens.to_token_stream().to_string();
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if *c == ' ' {
            let prev = if i > 0 { chars[i - 1] } else { ' ' };
            let next = chars.get(i + 1).copied().unwrap_or(' ');
            let keep = (prev.is_alphanumeric() || prev == '_' || prev == '\'')
                && (next.is_alphanumeric() || next == '_')
                || prev == ','
                || prev == ';';
            if !keep {
                continue;
            }
        }
        out.push(*c);
    }
    out
}

/// Rewrites a type written for the function's module so that it means the same inside the
/// generated child module (which has `use super::*`): a leading `self::` becomes `super::`,
/// a leading `super::` becomes `super::super::`, and a path starting with `Output` or
/// `Enqueue` (the names of generated types) becomes `super::Output`/`super::Enqueue`. Spans
/// are kept.
pub(crate) fn in_module(ty: &Type) -> Type {
    let rewritten = rewrite_paths(ty.to_token_stream());
    syn::parse2(rewritten).unwrap_or_else(|_| ty.clone())
}

/// [`in_module`] for the tokens of a default expression.
pub(crate) fn expr_in_module(expr: &syn::Expr) -> TokenStream {
    rewrite_paths(expr.to_token_stream())
}

fn rewrite_paths(tokens: TokenStream) -> TokenStream {
    let tts: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(tts.len());
    for (i, tt) in tts.iter().enumerate() {
        let after_path_sep = i >= 2
            && matches!(&tts[i - 1], TokenTree::Punct(p) if p.as_char() == ':')
            && matches!(&tts[i - 2], TokenTree::Punct(p) if p.as_char() == ':' && p.spacing() == Spacing::Joint);
        match tt {
            TokenTree::Ident(ident) if !after_path_sep => {
                let span = ident.span();
                let sup = || TokenTree::Ident(Ident::new("super", span));
                if ident == "self" {
                    out.push(sup());
                } else if ident == "super" {
                    out.push(sup());
                    out.extend(path_sep(span));
                    out.push(sup());
                } else if (ident == "Output" || ident == "Enqueue") && !is_binding(&tts[i + 1..]) {
                    out.push(sup());
                    out.extend(path_sep(span));
                    out.push(tt.clone());
                } else {
                    out.push(tt.clone());
                }
            }
            TokenTree::Group(g) => {
                let mut group = Group::new(g.delimiter(), rewrite_paths(g.stream()));
                group.set_span(g.span());
                out.push(TokenTree::Group(group));
            }
            _ => out.push(tt.clone()),
        }
    }
    out.into_iter().collect()
}

/// Whether an identifier followed by `rest` is an associated item binding
/// (`Future<Output = T>`, `Output: Bound`) rather than a path.
fn is_binding(rest: &[TokenTree]) -> bool {
    match rest {
        [TokenTree::Punct(p), ..] if p.as_char() == '=' => true,
        [TokenTree::Punct(p), TokenTree::Punct(q), ..] if p.as_char() == ':' => {
            !(p.spacing() == Spacing::Joint && q.as_char() == ':')
        }
        [TokenTree::Punct(p)] if p.as_char() == ':' => true,
        _ => false,
    }
}

fn path_sep(span: Span) -> [TokenTree; 2] {
    let mut a = Punct::new(':', Spacing::Joint);
    a.set_span(span);
    let mut b = Punct::new(':', Spacing::Alone);
    b.set_span(span);
    [TokenTree::Punct(a), TokenTree::Punct(b)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::parse::parse_args;
    use quote::quote;
    use syn::parse_quote;

    fn plan(attr: TokenStream, item: ItemFn) -> (Plan, Vec<String>) {
        Ctxt::collect(|cx| build(&item, parse_args(attr, cx), cx))
    }

    fn full(item: ItemFn) -> JobModel {
        match plan(quote!(), item) {
            (Plan::Full(m), errs) if errs.is_empty() => m,
            (_, errs) => panic!("not a valid job: {errs:?}"),
        }
    }

    fn errors(item: ItemFn) -> Vec<String> {
        plan(quote!(), item).1
    }

    fn text(ty: &Type) -> String {
        ty.to_token_stream().to_string()
    }

    #[test]
    fn plain_job() {
        let m = full(parse_quote!(
            pub async fn send_email(to: String, r#type: u8) -> String {
                to
            }
        ));
        assert_eq!(m.common.name, "send_email");
        assert_eq!(m.ctx, None);
        let names: Vec<&str> = m.args.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["to", "type"]);
        assert!(matches!(m.output, Output::Plain { ref ty, .. } if text(ty) == "String"));
        assert_eq!(m.options, Options::default());
    }

    #[test]
    fn context_forms() {
        let m = full(parse_quote!(
            async fn f(ctx: &Ctx, n: u32) {}
        ));
        assert_eq!(m.ctx, Some(CtxParam::Ref));
        assert_eq!(m.args.len(), 1);
        assert!(matches!(m.output, Output::Unit));
        let m = full(parse_quote!(
            async fn f(_: &arq::Ctx) -> () {}
        ));
        assert_eq!(m.ctx, Some(CtxParam::Ref));
        assert!(matches!(m.output, Output::Unit));
        let m = full(parse_quote!(
            async fn f(ctx: ::arq::Ctx) {}
        ));
        assert_eq!(m.ctx, Some(CtxParam::Owned));
    }

    #[test]
    fn result_outputs() {
        for ret in [
            quote!(Result<u64, MyError>),
            quote!(anyhow::Result<u64>),
            quote!(std::io::Result<u64>),
        ] {
            let item: ItemFn = parse_quote!(async fn f() -> #ret { todo!() });
            let m = full(item);
            assert!(
                matches!(m.output, Output::Result { ref ok, .. } if text(ok) == "u64"),
                "{ret}"
            );
        }
        let m = full(parse_quote!(
            async fn f() -> Result {
                todo!()
            }
        ));
        assert!(matches!(m.output, Output::Plain { .. }));
    }

    #[test]
    fn options_and_name() {
        let (p, errs) = plan(
            quote!(
                name = "mail",
                max_tries = 2,
                timeout = "1m",
                keep_result = 0,
                queue = "q"
            ),
            parse_quote!(
                async fn f() {}
            ),
        );
        assert!(errs.is_empty());
        let Plan::Full(m) = p else { panic!() };
        assert_eq!(m.common.name, "mail");
        assert_eq!(
            m.options,
            Options {
                max_tries: Some(2),
                timeout_ms: Some(60_000),
                keep_result_ms: Some(0),
                keep_result_forever: None,
                queue: Some("q".into()),
                ..Options::default()
            }
        );
    }

    #[test]
    fn keep_result_conflict() {
        let (_, errs) = plan(
            quote!(keep_result = "1h", keep_result_forever = true),
            parse_quote!(
                async fn f() {}
            ),
        );
        assert_eq!(
            errs,
            ["`keep_result` has no effect with `keep_result_forever = true`: remove one of them"]
        );
        let (_, errs) = plan(
            quote!(keep_result = "1h", keep_result_forever = false),
            parse_quote!(
                async fn f() {}
            ),
        );
        assert!(errs.is_empty());
    }

    #[test]
    fn option_errors_keep_the_full_plan() {
        let (p, errs) = plan(
            quote!(timeout = "x"),
            parse_quote!(
                async fn f() {}
            ),
        );
        assert_eq!(errs.len(), 1);
        assert!(matches!(p, Plan::Full(_)));
    }

    #[test]
    fn shape_errors() {
        assert_eq!(
            errors(parse_quote!(
                fn f() {}
            )),
            ["#[arq::job] functions must be `async fn`: write `async fn f`"]
        );
        let generic =
            "job functions cannot be generic: the worker must know concrete argument types";
        assert_eq!(
            errors(parse_quote!(
                async fn f<T>(t: T) {}
            )),
            [generic]
        );
        assert_eq!(
            errors(parse_quote!(
                async fn f<const N: usize>() {}
            )),
            [generic]
        );
        assert_eq!(
            errors(parse_quote!(
                async fn f(x: impl Clone) {}
            )),
            [generic]
        );
        assert_eq!(
            errors(parse_quote!(
                async fn f()
                where
                    u8: Copy,
                {
                }
            )),
            [generic]
        );
        assert_eq!(
            errors(parse_quote!(
                async unsafe fn f() {}
            ))
            .len(),
            1
        );
        assert_eq!(
            errors(parse_quote!(
                const fn f() {}
            ))
            .len(),
            2
        );
        assert_eq!(
            errors(parse_quote!(
                async extern "C" fn f() {}
            ))
            .len(),
            1
        );
    }

    #[test]
    fn methods_are_refused() {
        let (p, errs) = plan(
            quote!(),
            parse_quote!(
                async fn f(&self) {}
            ),
        );
        assert!(matches!(p, Plan::FnOnly));
        assert!(errs[0].starts_with("#[arq::job] works on free functions, not methods"));
    }

    #[test]
    fn borrowed_arguments() {
        let cases = [
            (quote!(&str), "take `String` instead of `&str`"),
            (
                quote!(&'static str),
                "take `String` instead of `&'static str`",
            ),
            (quote!(&[u8]), "take `Vec<u8>` instead of `&[u8]`"),
            (quote!(&Path), "take `PathBuf` instead of `&Path`"),
            (quote!(&MyType), "take `MyType` instead of `&MyType`"),
            (quote!(Vec<&str>), "use an owned type instead of `&str`"),
        ];
        for (ty, hint) in cases {
            let item: ItemFn = parse_quote!(async fn f(x: #ty) {});
            assert_eq!(
                errors(item),
                [format!(
                    "job arguments are serialized, so they must be owned: {hint}"
                )]
            );
        }
        assert_eq!(
            errors(parse_quote!(async fn f() -> Result<&'static str, E> { todo!() })),
            ["job results are serialized, so they must be owned: return `String` instead of `&'static str`"]
        );
    }

    #[test]
    fn context_position() {
        let errs = errors(parse_quote!(
            async fn f(n: u32, ctx: &Ctx) {}
        ));
        assert_eq!(
            errs,
            ["the job context must be the first parameter: move it before the job's arguments"]
        );
        let errs = errors(parse_quote!(
            async fn f(ctx: &mut Ctx) {}
        ));
        assert_eq!(
            errs,
            ["the job context is shared: take it as `&Ctx`, not `&mut Ctx`"]
        );
    }

    #[test]
    fn patterns() {
        let errs = errors(parse_quote!(
            async fn f((a, b): (u8, u8), _: u8, ref c: u8) {}
        ));
        assert_eq!(errs.len(), 3);
        assert!(errs[0].starts_with("use a plain parameter name"));
        assert!(
            full(parse_quote!(
                async fn f(mut a: u8, _b: u8) {}
            ))
            .args
            .len()
                == 2
        );
    }

    #[test]
    fn dummy_stub() {
        let (p, _) = plan(
            quote!(),
            parse_quote!(
                fn f(a: u8, (b, c): (u8, u8)) -> Result<String, E> {
                    todo!()
                }
            ),
        );
        let Plan::Dummy(d) = p else { panic!() };
        let stub = d.stub.unwrap();
        assert_eq!(stub.arg_tys.len(), 2);
        assert_eq!(text(&stub.output), "String");
        let (p, _) = plan(
            quote!(),
            parse_quote!(
                async fn f<T>(t: T) {}
            ),
        );
        let Plan::Dummy(d) = p else { panic!() };
        assert!(d.stub.is_none());
    }

    #[test]
    fn module_paths() {
        let cases = [
            (quote!(String), "String"),
            (quote!(self::Foo), "super :: Foo"),
            (quote!(super::Foo), "super :: super :: Foo"),
            (quote!(Vec<self::a::B>), "Vec < super :: a :: B >"),
            (quote!(crate::Foo), "crate :: Foo"),
            (quote!(::std::string::String), ":: std :: string :: String"),
            (quote!(Output), "super :: Output"),
            (quote!(Vec<Output>), "Vec < super :: Output >"),
            (quote!(m::Output), "m :: Output"),
            (
                quote!(Box<dyn Future<Output = u8>>),
                "Box < dyn Future < Output = u8 > >",
            ),
            (quote!((Output, self::X)), "(super :: Output , super :: X)"),
        ];
        for (ty, expected) in cases {
            let ty: Type = syn::parse2(ty).unwrap();
            assert_eq!(text(&in_module(&ty)), expected);
        }
    }

    #[test]
    fn defaults() {
        let m = full(parse_quote!(
            async fn f(ctx: &Ctx, to: String, #[arq(default)] n: u32, #[arq(default = 1)] m: u8) {}
        ));
        let defaulted: Vec<bool> = m.args.iter().map(|a| a.default.is_some()).collect();
        assert_eq!(defaulted, [false, true, true]);
        let errs = errors(parse_quote!(
            async fn f(#[arq(default)] n: u32, to: String) {}
        ));
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].starts_with("`to` has no default but comes after `n`"),
            "{errs:?}"
        );
        let errs = errors(parse_quote!(
            async fn f(#[arq(default)] ctx: &Ctx) {}
        ));
        assert!(
            errs[0].starts_with("the job context has no default"),
            "{errs:?}"
        );
        let (p, errs) = plan(
            quote!(),
            parse_quote!(
                async fn f(#[arq(default)] expires: u32) {}
            ),
        );
        assert!(errs[0].contains("`expires` is already one of the builder's methods"));
        let Plan::Full(m) = p else { panic!() };
        assert!(m.args[0].default.is_none());
    }

    #[test]
    fn type_text() {
        let ty: Type = parse_quote!(std::collections::HashMap<&'a str, Vec<[u8; 4]>>);
        assert_eq!(
            tokens_text(&ty),
            "std::collections::HashMap<&'a str, Vec<[u8; 4]>>"
        );
    }
}
