//! Shared parsing of `key = value` macro options: the raw syntax, values that keep their span,
//! and "did you mean" suggestions for unknown keys.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, Lit, Token};

/// A value together with the span of the tokens it came from, so later checks can point
/// back at the option.
#[derive(Debug, Clone)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

impl<T> Spanned<T> {
    pub(crate) fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

/// One option as written: `key = value`, or a bare `key` (which is always an error, but is
/// parsed so the message can say what to write).
pub(crate) struct RawOption {
    pub(crate) key: Ident,
    pub(crate) value: Option<Expr>,
}

impl Parse for RawOption {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        // `parse_any` so that `crate = "..."` works although `crate` is a keyword.
        let key = Ident::parse_any(input)?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse::<Expr>()?)
        } else {
            None
        };
        Ok(RawOption { key, value })
    }
}

/// A comma-separated option list, as found between the attribute's parentheses.
pub(crate) struct RawOptions(pub(crate) Punctuated<RawOption, Token![,]>);

impl Parse for RawOptions {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        Punctuated::parse_terminated(input).map(RawOptions)
    }
}

/// What kind of value an expression is, for "expected X, found Y" messages.
pub(crate) fn describe(expr: &Expr) -> &'static str {
    match expr {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Str(_) => "a string",
            Lit::Int(_) => "an integer",
            Lit::Float(_) => "a float",
            Lit::Bool(_) => "a boolean",
            Lit::Char(_) => "a character",
            Lit::Byte(_) | Lit::ByteStr(_) | Lit::CStr(_) => "a byte literal",
            _ => "a literal",
        },
        Expr::Unary(_) => "an expression",
        Expr::Path(_) => "a path",
        _ => "an expression",
    }
}

/// The literal inside `expr`, looking through invisible groups (from `macro_rules!`).
pub(crate) fn as_lit(expr: &Expr) -> Option<&Lit> {
    match expr {
        Expr::Lit(lit) => Some(&lit.lit),
        Expr::Group(group) => as_lit(&group.expr),
        _ => None,
    }
}

/// The closest valid key to an unknown one, if any is close enough to be a likely typo, or a
/// known alias (what other job queues call the option).
pub(crate) fn suggest<'a>(
    unknown: &str,
    valid: &[&'a str],
    aliases: &[(&str, &'a str)],
) -> Option<&'a str> {
    if let Some((_, to)) = aliases.iter().find(|(from, _)| *from == unknown) {
        return Some(to);
    }
    valid
        .iter()
        .map(|v| (edit_distance(unknown, v), *v))
        .filter(|(d, v)| *d <= 2.max(v.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, v)| v)
}

/// Levenshtein distance, on chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn parses_keyword_keys_and_trailing_comma() {
        let RawOptions(opts) =
            syn::parse2(quote!(crate = "::arq", max_tries = 3, keep_result_forever,)).unwrap();
        let keys: Vec<String> = opts.iter().map(|o| o.key.to_string()).collect();
        assert_eq!(keys, ["crate", "max_tries", "keep_result_forever"]);
        assert!(opts[0].value.is_some());
        assert!(opts[2].value.is_none());
    }

    #[test]
    fn empty_is_fine() {
        let RawOptions(opts) = syn::parse2(quote!()).unwrap();
        assert!(opts.is_empty());
    }

    #[test]
    fn missing_comma_is_a_syntax_error() {
        assert!(syn::parse2::<RawOptions>(quote!(name = "a" queue = "b")).is_err());
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("timeout", "timeout"), 0);
        assert_eq!(edit_distance("max_try", "max_tries"), 3);
    }

    #[test]
    fn suggestions() {
        let valid = ["name", "max_tries", "timeout", "queue"];
        let aliases = [("retries", "max_tries")];
        assert_eq!(suggest("timout", &valid, &aliases), Some("timeout"));
        assert_eq!(suggest("max_try", &valid, &aliases), Some("max_tries"));
        assert_eq!(suggest("retries", &valid, &aliases), Some("max_tries"));
        assert_eq!(suggest("colour", &valid, &aliases), None);
    }
}
