//! `#[arq::job(retry = ...)]`: a retry policy, written either with the short forms
//! `fixed("1s")`, `linear("1s")`, `exponential("1s", cap = "10m", jitter = false,
//! timeouts = true, when = path::to::predicate)`, or as any `const` expression of type
//! `arq::RetryPolicy`.

use crate::attr::{as_lit, describe};
use crate::ctxt::Ctxt;
use crate::duration::{parse_duration, DURATION_HELP};
use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::{Expr, Lit};

/// Tokens compared by their text (for the model's `PartialEq` in tests).
#[derive(Clone)]
pub(crate) struct Tokens(pub(crate) TokenStream);

impl PartialEq for Tokens {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_string() == other.0.to_string()
    }
}

impl Eq for Tokens {}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The three backoffs of the short forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Fixed,
    Linear,
    Exponential,
}

impl Kind {
    fn parse(name: &str) -> Option<Kind> {
        match name {
            "fixed" => Some(Kind::Fixed),
            "linear" => Some(Kind::Linear),
            "exponential" => Some(Kind::Exponential),
            _ => None,
        }
    }

    fn constructor(self) -> &'static str {
        match self {
            Kind::Fixed => "fixed",
            Kind::Linear => "linear",
            Kind::Exponential => "exponential",
        }
    }
}

/// A parsed `retry = ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RetrySpec {
    /// A short form.
    Short {
        kind: Kind,
        base_ms: u64,
        cap_ms: Option<u64>,
        jitter: Option<bool>,
        timeouts: Option<bool>,
        when: Option<Tokens>,
    },
    /// A `const` expression of type `RetryPolicy`, used as written.
    Expr(Tokens),
}

const HELP: &str = "write `retry = exponential(\"1s\")` (or `fixed(...)`, `linear(...)`), \
                    optionally with `cap = \"10m\"`, `jitter = false`, `timeouts = true`, \
                    `when = my_predicate`, or a const `arq::RetryPolicy` expression";

/// Parses the value of `retry`.
pub(crate) fn parse(value: &Expr, cx: &Ctxt) -> Option<RetrySpec> {
    let Expr::Call(call) = value else {
        return match value {
            Expr::Path(_) | Expr::MethodCall(_) | Expr::Block(_) | Expr::Paren(_) => {
                Some(RetrySpec::Expr(Tokens(value.to_token_stream())))
            }
            _ => {
                cx.error_spanned_by(
                    value,
                    format!(
                        "`retry` expects a retry policy, found {}: {HELP}",
                        describe(value)
                    ),
                );
                None
            }
        };
    };
    let Expr::Path(func) = &*call.func else {
        return Some(RetrySpec::Expr(Tokens(value.to_token_stream())));
    };
    let kind = match func
        .path
        .get_ident()
        .and_then(|i| Kind::parse(&i.to_string()))
    {
        Some(k) => k,
        // `arq::RetryPolicy::fixed(...)`, or the user's own const fn: an expression.
        None => return Some(RetrySpec::Expr(Tokens(value.to_token_stream()))),
    };
    let mut args = call.args.iter();
    let Some(base) = args.next().filter(|a| !matches!(a, Expr::Assign(_))) else {
        cx.error_spanned_by(
            value,
            format!(
                "`{}(...)` needs its base delay first: `{}(\"1s\")`",
                kind.constructor(),
                kind.constructor()
            ),
        );
        return None;
    };
    let base_ms = duration(base, "the base delay", cx)?;
    let (mut cap_ms, mut jitter, mut timeouts, mut when) = (None, None, None, None);
    let mut ok = true;
    for arg in args {
        let Expr::Assign(a) = arg else {
            cx.error_spanned_by(
                arg,
                "after the base delay, write named settings: `cap = \"10m\"`, `jitter = false`, \
                 `timeouts = true`, `when = my_predicate`",
            );
            ok = false;
            continue;
        };
        let name = a.left.to_token_stream().to_string();
        match name.as_str() {
            "cap" => {
                cap_ms = duration(&a.right, "`cap`", cx).or_else(|| {
                    ok = false;
                    None
                })
            }
            "jitter" => {
                jitter = boolean(&a.right, "jitter", cx).or_else(|| {
                    ok = false;
                    None
                })
            }
            "timeouts" => {
                timeouts = boolean(&a.right, "timeouts", cx).or_else(|| {
                    ok = false;
                    None
                })
            }
            "when" => match &*a.right {
                Expr::Path(p) => when = Some(Tokens(p.to_token_stream())),
                other => {
                    cx.error_spanned_by(
                        other,
                        "`when` expects the path of a `fn(&arq::JobFailure) -> bool`",
                    );
                    ok = false;
                }
            },
            _ => {
                cx.error_spanned_by(
                    &a.left,
                    format!(
                        "unknown retry setting `{name}`; the settings are `cap`, `jitter`, \
                         `timeouts` and `when`"
                    ),
                );
                ok = false;
            }
        }
    }
    ok.then_some(RetrySpec::Short {
        kind,
        base_ms,
        cap_ms,
        jitter,
        timeouts,
        when,
    })
}

fn duration(value: &Expr, what: &str, cx: &Ctxt) -> Option<u64> {
    match as_lit(value) {
        Some(Lit::Str(s)) => match parse_duration(&s.value()) {
            Ok(ms) => Some(ms),
            Err(e) => {
                cx.error_spanned_by(value, e.message(&s.value()));
                None
            }
        },
        _ => {
            cx.error_spanned_by(
                value,
                format!(
                    "{what} expects a duration in quotes, found {}: {DURATION_HELP}",
                    describe(value)
                ),
            );
            None
        }
    }
}

fn boolean(value: &Expr, name: &str, cx: &Ctxt) -> Option<bool> {
    match as_lit(value) {
        Some(Lit::Bool(b)) => Some(b.value),
        _ => {
            cx.error_spanned_by(
                value,
                format!(
                    "`{name}` expects `true` or `false`, found {}",
                    describe(value)
                ),
            );
            None
        }
    }
}

/// The `RetryPolicy` const expression of a spec.
pub(crate) fn expand(spec: &RetrySpec, private: &TokenStream) -> TokenStream {
    match spec {
        RetrySpec::Expr(t) => t.0.clone(),
        RetrySpec::Short {
            kind,
            base_ms,
            cap_ms,
            jitter,
            timeouts,
            when,
        } => {
            let ctor = syn::Ident::new(kind.constructor(), proc_macro2::Span::call_site());
            let base = proc_macro2::Literal::u64_unsuffixed(*base_ms);
            let mut e = quote!(#private::RetryPolicy::#ctor(#private::millis(#base)));
            if let Some(cap) = cap_ms {
                let cap = proc_macro2::Literal::u64_unsuffixed(*cap);
                e = quote!(#e.cap(#private::millis(#cap)));
            }
            if let Some(j) = jitter {
                e = quote!(#e.jitter(#j));
            }
            if let Some(t) = timeouts {
                e = quote!(#e.retry_timeouts(#t));
            }
            if let Some(w) = when {
                let w = &w.0;
                e = quote!(#e.when(#w));
            }
            e
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn run(e: Expr) -> (Option<RetrySpec>, Vec<String>) {
        Ctxt::collect(|cx| parse(&e, cx))
    }

    #[test]
    fn short_forms() {
        let (spec, errs) = run(parse_quote!(exponential(
            "1s",
            cap = "10m",
            jitter = false,
            timeouts = true,
            when = transient
        )));
        assert!(errs.is_empty(), "{errs:?}");
        let spec = spec.unwrap();
        assert_eq!(
            spec,
            RetrySpec::Short {
                kind: Kind::Exponential,
                base_ms: 1000,
                cap_ms: Some(600_000),
                jitter: Some(false),
                timeouts: Some(true),
                when: Some(Tokens(quote!(transient))),
            }
        );
        assert_eq!(
            expand(&spec, &quote!(::arq::__private)).to_string(),
            quote!(
                ::arq::__private::RetryPolicy::exponential(::arq::__private::millis(1000))
                    .cap(::arq::__private::millis(600000))
                    .jitter(false)
                    .retry_timeouts(true)
                    .when(transient)
            )
            .to_string()
        );
        let (spec, errs) = run(parse_quote!(fixed("250ms")));
        assert!(errs.is_empty());
        assert!(matches!(
            spec,
            Some(RetrySpec::Short {
                kind: Kind::Fixed,
                base_ms: 250,
                cap_ms: None,
                ..
            })
        ));
    }

    #[test]
    fn expressions_pass_through() {
        let (spec, errs) = run(parse_quote!(MY_POLICY));
        assert!(errs.is_empty());
        assert_eq!(spec, Some(RetrySpec::Expr(Tokens(quote!(MY_POLICY)))));
        let (spec, _) = run(parse_quote!(arq::RetryPolicy::linear(D).cap(C)));
        assert!(matches!(spec, Some(RetrySpec::Expr(_))));
    }

    #[test]
    fn mistakes_are_explained() {
        let (_, errs) = run(parse_quote!(exponential()));
        assert_eq!(
            errs,
            ["`exponential(...)` needs its base delay first: `exponential(\"1s\")`"]
        );
        let (_, errs) = run(parse_quote!(fixed("1s", max = "1m")));
        assert!(
            errs[0].starts_with("unknown retry setting `max`"),
            "{errs:?}"
        );
        let (_, errs) = run(parse_quote!(fixed(5)));
        assert!(
            errs[0].starts_with("the base delay expects a duration in quotes"),
            "{errs:?}"
        );
        let (_, errs) = run(parse_quote!(fixed("1s", jitter = 1)));
        assert_eq!(
            errs,
            ["`jitter` expects `true` or `false`, found an integer"]
        );
        let (_, errs) = run(parse_quote!("1s"));
        assert!(
            errs[0].starts_with("`retry` expects a retry policy, found a string"),
            "{errs:?}"
        );
    }
}
