//! A function that is both a job and a cron job: `#[arq::job(...)]` and `#[arq::cron(...)]`
//! on one `async fn`, in either order.
//!
//! Whichever attribute rustc expands first (the outer one) still sees the other on the item.
//! It takes that attribute off, parses both with their own parsers, and emits one module: the
//! job's (`job/expand.rs`) with the cron job's `CRON` (`cron/expand.rs`) inside, whose
//! handler is the job's. The inner attribute is gone, so it never expands.

use crate::cron;
use crate::ctxt::Ctxt;
use crate::job;
use crate::job::model::Plan;
use crate::param;
use crate::signature::finish;
use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{Attribute, ItemFn};

/// One of the two attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Job,
    Cron,
}

impl Kind {
    fn last_segment(self) -> &'static str {
        match self {
            Kind::Job => "job",
            Kind::Cron => "cron",
        }
    }

    fn written(self) -> &'static str {
        match self {
            Kind::Job => "#[arq::job]",
            Kind::Cron => "#[arq::cron]",
        }
    }
}

/// Whether `attr` is `#[arq::job]` / `#[arq::cron]`: a path ending in `job`/`cron`, whatever
/// the crate is called (`#[arq::cron]`, `#[cron]` after `use arq::cron`, `#[my_arq::cron]`).
fn is(attr: &Attribute, kind: Kind) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == kind.last_segment() && s.arguments.is_none())
}

/// The options of a sibling attribute: the tokens between its parentheses (none for a bare
/// `#[arq::cron]`).
fn options(attr: &Attribute, kind: Kind, cx: &Ctxt) -> TokenStream {
    match &attr.meta {
        syn::Meta::Path(_) => TokenStream::new(),
        syn::Meta::List(list) => list.tokens.clone(),
        syn::Meta::NameValue(nv) => {
            cx.error_spanned_by(
                nv,
                format!(
                    "write the options in parentheses: `{}(...)`",
                    kind.written().trim_end_matches(']')
                ),
            );
            TokenStream::new()
        }
    }
}

/// Expands the attribute `outer` (with options `attr`) on `item`. When the item also carries
/// the other attribute, both become one expansion; a second copy of `outer` itself is an
/// error. Otherwise `alone` expands as usual.
pub(crate) fn expand(
    outer: Kind,
    attr: TokenStream,
    item: TokenStream,
    alone: fn(TokenStream, ItemFn, TokenStream, Ctxt) -> TokenStream,
) -> TokenStream {
    let mut item_fn = match crate::signature::parse_fn(outer.written(), &item) {
        Ok(item_fn) => item_fn,
        Err(tokens) => return tokens,
    };
    let cx = Ctxt::new();
    let other = match outer {
        Kind::Job => Kind::Cron,
        Kind::Cron => Kind::Job,
    };

    // Take our own duplicates and the other attribute off the item.
    let mut sibling: Option<TokenStream> = None;
    let before = item_fn.attrs.len();
    item_fn.attrs.retain(|a| {
        if is(a, outer) {
            cx.error_spanned_by(
                a,
                format!(
                    "{} is given twice: remove this one (one function is one job{})",
                    outer.written(),
                    if outer == Kind::Cron {
                        " with one schedule; for another schedule, write a second function \
                         that calls this one"
                    } else {
                        ""
                    }
                ),
            );
            return false;
        }
        if is(a, other) {
            if sibling.is_some() {
                cx.error_spanned_by(
                    a,
                    format!("{} is given twice: remove this one", other.written()),
                );
            } else {
                sibling = Some(options(a, other, &cx));
            }
            return false;
        }
        true
    });
    let changed = item_fn.attrs.len() != before;

    let Some(sibling) = sibling else {
        // Emit the item as written unless an attribute was taken off.
        let item = if changed {
            item_fn.to_token_stream()
        } else {
            item
        };
        return alone(attr, item_fn, item, cx);
    };
    let (job_attr, cron_attr) = match outer {
        Kind::Job => (attr, sibling),
        Kind::Cron => (sibling, attr),
    };
    both(job_attr, cron_attr, item_fn, cx)
}

/// The one module of a function that is both a job and a cron job.
fn both(job_attr: TokenStream, cron_attr: TokenStream, item_fn: ItemFn, cx: Ctxt) -> TokenStream {
    let mut job_args = job::parse::parse_args(job_attr, &cx);
    let cron_args = cron::parse::parse_args(cron_attr, &cx);

    // `crate` is one fact: where arq is. Given on one attribute, it holds for both.
    match (&job_args.krate, &cron_args.krate) {
        (Some(a), Some(b))
            if a.to_token_stream().to_string() != b.to_token_stream().to_string() =>
        {
            cx.error_spanned_by(
                b,
                format!(
                    "`crate` differs between #[arq::job] and #[arq::cron]: give it once, on \
                     #[arq::job(crate = \"{}\")], and remove it here",
                    a.to_token_stream().to_string().replace(' ', "")
                ),
            );
        }
        (None, Some(b)) => job_args.krate = Some(b.clone()),
        _ => {}
    }

    let plan = job::model::build(&item_fn, job_args, &cx);
    let generated = match &plan {
        Plan::Full(m) => {
            // The scheduler runs the function with no arguments.
            for arg in m.args.iter().filter(|a| a.default.is_none()) {
                let name = &arg.name;
                cx.error(
                    arg.ident.span(),
                    format!(
                        "`{name}` needs a default: a function that is also a cron job is run on \
                         its schedule with no arguments; write `#[arq(default = ...)] {name}` \
                         (or `#[arq(default)]` for the type's `Default`), or drop `{name}`"
                    ),
                );
            }
            // The cron job is named after the job unless `#[arq::cron(name = ...)]` says
            // otherwise, so it matches Python's `cron(<job's function>)`.
            let spec = cron::model::spec(&cron_args, &m.common.name, &cx);
            let private = m.common.runtime.private();
            let cron = cron::expand::cron_job(&spec, &private, true);
            job::expand::full(m, cron)
        }
        Plan::Dummy(d) => {
            let spec = cron::model::spec(&cron_args, &d.common.name, &cx);
            let private = d.common.runtime.private();
            let mut cron = cron::expand::cron_job(&spec, &private, false);
            cron.extend(cron::expand::stub_handler(&private));
            job::expand::dummy(d, cron)
        }
        Plan::FnOnly => TokenStream::new(),
    };
    let item = param::strip(&item_fn).unwrap_or(item_fn);
    finish(item.to_token_stream(), generated, cx)
}

#[cfg(test)]
mod tests {
    use quote::quote;

    fn module_items(out: proc_macro2::TokenStream) -> Vec<String> {
        let file: syn::File = syn::parse2(out).unwrap();
        let mods: Vec<&syn::ItemMod> = file
            .items
            .iter()
            .filter_map(|i| match i {
                syn::Item::Mod(m) => Some(m),
                _ => None,
            })
            .collect();
        assert_eq!(mods.len(), 1, "one module");
        let (_, items) = mods[0].content.as_ref().unwrap();
        items
            .iter()
            .filter_map(|i| match i {
                syn::Item::Const(c) => Some(c.ident.to_string()),
                syn::Item::Fn(f) => Some(f.sig.ident.to_string()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn either_order_gives_one_module_with_both() {
        let item = quote!(
            async fn f(#[arq(default)] n: u8) {}
        );
        let job_first =
            crate::job::expand(quote!(max_tries = 2), quote!(#[arq::cron(hour = 8)] #item));
        let cron_first =
            crate::cron::expand(quote!(hour = 8), quote!(#[arq::job(max_tries = 2)] #item));
        assert_eq!(job_first.to_string(), cron_first.to_string());
        let items = module_items(job_first.clone());
        for name in ["NAME", "FUNCTION", "CRON", "enqueue", "job", "__handler"] {
            assert!(items.iter().any(|i| i == name), "{name} in {items:?}");
        }
        let text = job_first.to_string();
        assert!(!text.contains("arq :: cron"), "{text}");
        assert!(!text.contains("# [arq"), "{text}");
        assert!(text.contains("name : \"cron:f\""), "{text}");
    }
}
