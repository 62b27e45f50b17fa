//! `#[arq(...)]` on a job's parameters: `#[arq(default)]` and `#[arq(default = <expr>)]`.
//! Parsed here, checked against the function in `job/model.rs`, and removed from the function
//! that is emitted (rustc knows no `arq` attribute).

use crate::attr::RawOptions;
use crate::ctxt::Ctxt;
use crate::options::OptionSet;
use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::{Attribute, Expr, FnArg, ItemFn};

/// Every key `#[arq(...)]` takes on a parameter.
const OPTIONS: &[&str] = &["default"];

/// What other libraries call them.
const ALIASES: &[(&str, &str)] = &[("default_value", "default"), ("or", "default")];

/// How `#[arq(...)]` on a parameter reads its keys (only the unknown-key and duplicate
/// messages are used).
const PARAM: OptionSet = OptionSet {
    attr: "#[arq(...)] parameter",
    options: OPTIONS,
    aliases: ALIASES,
    example: |_| "...",
    int_suffixes: &[""],
    negated_duration_is_invalid: false,
    any_negation_is_below_one: false,
};

/// A parameter's default, as written.
pub(crate) enum ArgDefault {
    /// `#[arq(default)]`: `Default::default()`, reported at `span` when the type has none.
    Trait { span: Span },
    /// `#[arq(default = <expr>)]`.
    Expr(Box<Expr>),
}

/// What `#[arq(...)]` says about one parameter.
#[derive(Default)]
pub(crate) struct ParamAttrs {
    pub(crate) default: Option<ArgDefault>,
    /// The first `#[arq(...)]` attribute, for errors about the default as a whole.
    pub(crate) attr: Option<TokenStream>,
}

/// Whether `attr` is `#[arq(...)]` (or `#[arq]`, `#[arq = …]`).
fn is_arq(attr: &Attribute) -> bool {
    attr.path().is_ident("arq")
}

/// Reads the `#[arq(...)]` attributes of a parameter; problems go to `cx`.
pub(crate) fn parse(attrs: &[Attribute], cx: &Ctxt) -> ParamAttrs {
    let mut out = ParamAttrs::default();
    let mut seen = Vec::new();
    for attr in attrs.iter().filter(|a| is_arq(a)) {
        out.attr.get_or_insert_with(|| attr.to_token_stream());
        let list = match &attr.meta {
            syn::Meta::List(list) => list,
            _ => {
                cx.error_spanned_by(
                    attr,
                    "write `#[arq(default)]` (the type's `Default`) or `#[arq(default = <expr>)]`",
                );
                continue;
            }
        };
        let raw = match syn::parse2::<RawOptions>(list.tokens.clone()) {
            Ok(RawOptions(raw)) => raw,
            Err(err) => {
                cx.push(syn::Error::new(
                    err.span(),
                    format!(
                        "{err}; write `#[arq(default)]` (the type's `Default`) or \
                         `#[arq(default = <expr>)]`"
                    ),
                ));
                continue;
            }
        };
        for opt in raw {
            if !PARAM.check_new(&opt, &mut seen, false, cx) {
                continue;
            }
            out.default = Some(match opt.value {
                None => ArgDefault::Trait {
                    span: opt.key.span(),
                },
                Some(expr) => ArgDefault::Expr(Box::new(expr)),
            });
        }
    }
    out
}

/// The function as rustc must see it: without `#[arq(...)]` on its parameters. `None` when it
/// has none (the item is then emitted exactly as written).
pub(crate) fn strip(item: &ItemFn) -> Option<ItemFn> {
    let has = item.sig.inputs.iter().any(|input| match input {
        FnArg::Typed(t) => t.attrs.iter().any(is_arq),
        FnArg::Receiver(r) => r.attrs.iter().any(is_arq),
    });
    if !has {
        return None;
    }
    let mut item = item.clone();
    for input in &mut item.sig.inputs {
        match input {
            FnArg::Typed(t) => t.attrs.retain(|a| !is_arq(a)),
            FnArg::Receiver(r) => r.attrs.retain(|a| !is_arq(a)),
        }
    }
    Some(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn parse_one(f: ItemFn) -> (ParamAttrs, Vec<String>) {
        let FnArg::Typed(t) = f.sig.inputs.first().unwrap() else {
            panic!()
        };
        let attrs = t.attrs.clone();
        Ctxt::collect(|cx| parse(&attrs, cx))
    }

    #[test]
    fn forms() {
        let (p, errs) = parse_one(parse_quote!(
            async fn f(#[arq(default)] n: u32) {}
        ));
        assert!(errs.is_empty());
        assert!(matches!(p.default, Some(ArgDefault::Trait { .. })));
        let (p, errs) = parse_one(parse_quote!(
            async fn f(#[arq(default = "x".to_owned())] s: String) {}
        ));
        assert!(errs.is_empty());
        assert!(matches!(p.default, Some(ArgDefault::Expr(_))));
        let (p, errs) = parse_one(parse_quote!(
            async fn f(n: u32) {}
        ));
        assert!(errs.is_empty() && p.default.is_none() && p.attr.is_none());
    }

    #[test]
    fn mistakes() {
        let (_, errs) = parse_one(parse_quote!(
            async fn f(#[arq(defualt = 1)] n: u32) {}
        ));
        assert_eq!(
            errs,
            ["unknown #[arq(...)] parameter option `defualt`; did you mean `default`? valid options are: `default`"]
        );
        let (_, errs) = parse_one(parse_quote!(
            async fn f(#[arq(default, default = 2)] n: u32) {}
        ));
        assert_eq!(errs, ["`default` specified more than once"]);
        let (_, errs) = parse_one(parse_quote!(
            async fn f(#[arq] n: u32) {}
        ));
        assert_eq!(
            errs,
            ["write `#[arq(default)]` (the type's `Default`) or `#[arq(default = <expr>)]`"]
        );
    }

    #[test]
    fn strips_only_arq_attributes() {
        let f: ItemFn = parse_quote!(
            async fn f(
                #[arq(default)]
                #[allow(unused)]
                n: u32,
            ) {
            }
        );
        let stripped = strip(&f).unwrap();
        let FnArg::Typed(t) = stripped.sig.inputs.first().unwrap() else {
            panic!()
        };
        assert_eq!(t.attrs.len(), 1);
        assert!(strip(&stripped).is_none());
    }
}
