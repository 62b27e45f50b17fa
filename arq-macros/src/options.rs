//! Value readers shared by the option parsers of `#[arq::job]` and `#[arq::cron]`: each
//! checks one `key = value` on its own (literal kind, range, duration syntax), reports what is
//! wrong to the `Ctxt`, and returns the value when it is valid.

use crate::attr::{as_lit, describe, suggest, RawOption};
use crate::ctxt::Ctxt;
use crate::duration::{parse_duration, seconds_to_ms, DurationError, DURATION_HELP};
use proc_macro2::Span;
use quote::ToTokens;
use syn::{Expr, Lit, UnOp};

/// What one attribute macro accepts, for the messages of the shared readers.
pub(crate) struct OptionSet {
    /// The attribute as users write it: `#[arq::job]`.
    pub(crate) attr: &'static str,
    /// Every option it takes, in the order the docs list them.
    pub(crate) options: &'static [&'static str],
    /// What other queues and schedulers call its options.
    pub(crate) aliases: &'static [(&'static str, &'static str)],
    /// How each option is written, for messages.
    pub(crate) example: fn(&str) -> &'static str,
    /// Integer suffixes accepted on a number of seconds (`""` for none).
    pub(crate) int_suffixes: &'static [&'static str],
    /// Whether a negated literal duration (`-5`) is an invalid duration rather than a value of
    /// the wrong kind.
    pub(crate) negated_duration_is_invalid: bool,
    /// Whether `max_tries` reports any negated value as below one, rather than only negated
    /// integer literals.
    pub(crate) any_negation_is_below_one: bool,
}

/// The span of the first token of `tokens` (the call site when there is none).
pub(crate) fn first_span(tokens: &impl ToTokens) -> Span {
    tokens
        .to_token_stream()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |t| t.span())
}

impl OptionSet {
    /// Whether `opt` is one of the options; if not, reports it with a suggestion.
    fn check_known(&self, opt: &RawOption, cx: &Ctxt) -> bool {
        let key = opt.key.to_string();
        if self.options.contains(&key.as_str()) {
            return true;
        }
        let valid = self
            .options
            .iter()
            .map(|o| format!("`{o}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let hint = match suggest(&key, self.options, self.aliases) {
            Some(s) => format!("did you mean `{s}`? "),
            None => String::new(),
        };
        cx.error(
            opt.key.span(),
            format!(
                "unknown {} option `{key}`; {hint}valid options are: {valid}",
                self.attr
            ),
        );
        false
    }

    /// Whether `opt` is to be read: a known option (see [`OptionSet::check_known`]) not in
    /// `seen` and not `given_otherwise`; it is added to `seen`. Reports why not.
    pub(crate) fn check_new(
        &self,
        opt: &RawOption,
        seen: &mut Vec<String>,
        given_otherwise: bool,
        cx: &Ctxt,
    ) -> bool {
        let key = opt.key.to_string();
        if !self.check_known(opt, cx) {
            return false;
        }
        if seen.contains(&key) || given_otherwise {
            cx.error(opt.key.span(), format!("`{key}` specified more than once"));
            return false;
        }
        seen.push(key);
        true
    }

    /// `key` written without `= value`.
    pub(crate) fn missing_value(&self, opt: &RawOption, cx: &Ctxt) {
        let key = opt.key.to_string();
        cx.error(
            opt.key.span(),
            format!("expected a value: write `{key} = {}`", (self.example)(&key)),
        );
    }

    pub(crate) fn wrong_kind(&self, key: &str, expected: &str, value: &Expr, cx: &Ctxt) {
        cx.error_spanned_by(
            value,
            format!(
                "`{key}` expects {expected}, found {}: write `{key} = {}`",
                describe(value),
                (self.example)(key)
            ),
        );
    }

    /// A string that is not empty.
    pub(crate) fn string(&self, key: &str, value: &Expr, cx: &Ctxt) -> Option<String> {
        match as_lit(value) {
            Some(Lit::Str(s)) => {
                let s = s.value();
                if s.is_empty() {
                    cx.error_spanned_by(value, format!("`{key}` cannot be empty"));
                    None
                } else {
                    Some(s)
                }
            }
            _ => {
                self.wrong_kind(key, "a string", value, cx);
                None
            }
        }
    }

    pub(crate) fn boolean(&self, key: &str, value: &Expr, cx: &Ctxt) -> Option<bool> {
        match as_lit(value) {
            Some(Lit::Bool(b)) => Some(b.value),
            _ => {
                cx.error_spanned_by(
                    value,
                    format!(
                        "`{key}` expects `true` or `false`, found {}",
                        describe(value)
                    ),
                );
                None
            }
        }
    }

    pub(crate) fn max_tries(&self, value: &Expr, cx: &Ctxt) -> Option<u32> {
        const AT_LEAST_ONE: &str =
            "`max_tries` must be at least 1: it counts every run, the first one included";
        if let Expr::Unary(u) = value {
            if matches!(u.op, UnOp::Neg(_))
                && (self.any_negation_is_below_one || matches!(as_lit(&u.expr), Some(Lit::Int(_))))
            {
                cx.error_spanned_by(value, AT_LEAST_ONE);
                return None;
            }
        }
        let Some(Lit::Int(int)) = as_lit(value) else {
            self.wrong_kind("max_tries", "an integer", value, cx);
            return None;
        };
        match int.base10_parse::<u32>() {
            Ok(0) => {
                cx.error_spanned_by(value, AT_LEAST_ONE);
                None
            }
            Ok(n) => Some(n),
            Err(_) => {
                cx.error_spanned_by(
                    value,
                    format!("`max_tries` must be an integer from 1 to {}", u32::MAX),
                );
                None
            }
        }
    }

    /// A duration in milliseconds: a string in the duration grammar or an integer of seconds.
    pub(crate) fn duration(&self, key: &str, value: &Expr, cx: &Ctxt) -> Option<u64> {
        let invalid = |text: String, err: DurationError| {
            cx.error_spanned_by(value, err.message(&text));
            None
        };
        match as_lit(value) {
            Some(Lit::Str(s)) => match parse_duration(&s.value()) {
                Ok(ms) => Some(ms),
                Err(e) => invalid(s.value(), e),
            },
            Some(Lit::Int(int)) => {
                if !self.int_suffixes.contains(&int.suffix()) {
                    let text = int.to_string();
                    if parse_duration(&text).is_ok() {
                        cx.error_spanned_by(
                            value,
                            format!("put the duration in quotes: `{key} = \"{text}\"`"),
                        );
                        return None;
                    }
                    return invalid(text, DurationError::Invalid);
                }
                match int.base10_parse::<u64>() {
                    Ok(secs) => match seconds_to_ms(secs) {
                        Ok(ms) => Some(ms),
                        Err(e) => invalid(int.to_string(), e),
                    },
                    // Negative (`-5i64` can't reach here: it's a unary minus) or too big.
                    Err(_) => invalid(int.to_string(), DurationError::TooLong),
                }
            }
            Some(Lit::Float(f)) => invalid(f.to_string(), DurationError::Invalid),
            _ => match value {
                Expr::Unary(u)
                    if self.negated_duration_is_invalid
                        && matches!(u.op, UnOp::Neg(_))
                        && as_lit(&u.expr).is_some() =>
                {
                    let text = value.to_token_stream().to_string().replace(' ', "");
                    invalid(text, DurationError::Invalid)
                }
                _ => {
                    cx.error_spanned_by(
                        value,
                        format!(
                            "`{key}` expects a duration, found {}: {DURATION_HELP}",
                            describe(value)
                        ),
                    );
                    None
                }
            },
        }
    }

    /// `timeout`: a duration longer than zero.
    pub(crate) fn timeout(&self, key: &str, value: &Expr, cx: &Ctxt) -> Option<u64> {
        self.duration(key, value, cx).and_then(|ms| {
            if ms == 0 {
                cx.error_spanned_by(
                    value,
                    "`timeout` must be longer than zero: a zero timeout fails every run",
                );
                None
            } else {
                Some(ms)
            }
        })
    }

    pub(crate) fn crate_path(&self, value: &Expr, cx: &Ctxt) -> Option<syn::Path> {
        match as_lit(value) {
            Some(Lit::Str(s)) => match s.parse::<syn::Path>() {
                Ok(path) => Some(path),
                Err(_) => {
                    cx.error_spanned_by(
                        value,
                        format!(
                            "`crate` expects the path of the arq crate, like \"::arq\" or \"my_arq\"; `{}` is not a path",
                            s.value()
                        ),
                    );
                    None
                }
            },
            _ => {
                self.wrong_kind("crate", "a path in a string", value, cx);
                None
            }
        }
    }
}
