//! Parses the options of `#[arq::job(...)]` into [`JobArgs`]: one field per option, each
//! value checked on its own (literal kind, range, duration syntax) and kept with its span.
//! Rules that involve several options are checked later, in `model.rs`.

use super::retry::{RetrySpec, Tokens};
use crate::attr::{RawOptions, Spanned};
use crate::ctxt::Ctxt;
use crate::options::{first_span, OptionSet};
use proc_macro2::TokenStream;

/// Every option `#[arq::job]` takes, in the order the docs list them.
pub(crate) const OPTIONS: &[&str] = &[
    "name",
    "max_tries",
    "timeout",
    "keep_result",
    "keep_result_forever",
    "queue",
    "retry",
    "max_snoozes",
    "dead_letter",
    "on_failed",
    "on_tries_exhausted",
    "crate",
];

/// What other job queues (and Python arq's keyword arguments) call our options.
const ALIASES: &[(&str, &str)] = &[
    ("retries", "max_tries"),
    ("max_retries", "max_tries"),
    ("tries", "max_tries"),
    ("job_timeout", "timeout"),
    ("timeout_s", "timeout"),
    ("keep_result_s", "keep_result"),
    ("queue_name", "queue"),
    ("function_name", "name"),
    ("crate_path", "crate"),
    ("backoff", "retry"),
    ("retry_policy", "retry"),
    ("on_failure", "on_failed"),
    ("on_exhausted", "on_tries_exhausted"),
    ("retries_exhausted", "on_tries_exhausted"),
    ("dead_letters", "dead_letter"),
];

/// How `#[arq::job]` reads its option values.
const JOB: OptionSet = OptionSet {
    attr: "#[arq::job]",
    options: OPTIONS,
    aliases: ALIASES,
    example,
    // `timeout = 30u64` is odd, but valid.
    int_suffixes: &[
        "", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
    ],
    negated_duration_is_invalid: true,
    any_negation_is_below_one: false,
};

/// The options as written, each validated on its own. `None` = not given (or invalid, in which
/// case an error was reported).
#[derive(Default)]
pub(crate) struct JobArgs {
    pub(crate) name: Option<Spanned<String>>,
    pub(crate) max_tries: Option<Spanned<u32>>,
    /// Milliseconds.
    pub(crate) timeout: Option<Spanned<u64>>,
    /// Milliseconds; zero keeps no result.
    pub(crate) keep_result: Option<Spanned<u64>>,
    pub(crate) keep_result_forever: Option<Spanned<bool>>,
    pub(crate) queue: Option<Spanned<String>>,
    pub(crate) retry: Option<RetrySpec>,
    pub(crate) max_snoozes: Option<u32>,
    pub(crate) dead_letter: Option<bool>,
    /// Paths of async fns taking an `arq::FailedJob`.
    pub(crate) on_failed: Option<Tokens>,
    pub(crate) on_tries_exhausted: Option<Tokens>,
    pub(crate) krate: Option<syn::Path>,
}

/// Parses the attribute's tokens. Syntax errors and invalid values go to `cx`; the options that
/// are valid are returned either way, so expansion can go on with them.
pub(crate) fn parse_args(tokens: TokenStream, cx: &Ctxt) -> JobArgs {
    let mut args = JobArgs::default();
    let raw = match syn::parse2::<RawOptions>(tokens) {
        Ok(RawOptions(raw)) => raw,
        Err(err) => {
            cx.push(syn::Error::new(
                err.span(),
                format!(
                    "{err}; #[arq::job] options are written `key = value`, separated by commas"
                ),
            ));
            return args;
        }
    };
    let mut seen: Vec<String> = Vec::new();
    for opt in raw {
        let key = opt.key.to_string();
        if !JOB.check_new(&opt, &mut seen, false, cx) {
            continue;
        }
        let Some(value) = &opt.value else {
            JOB.missing_value(&opt, cx);
            continue;
        };
        let span = first_span(value);
        match key.as_str() {
            "name" => args.name = JOB.string(&key, value, cx).map(|v| Spanned::new(v, span)),
            "queue" => args.queue = JOB.string(&key, value, cx).map(|v| Spanned::new(v, span)),
            "max_tries" => args.max_tries = JOB.max_tries(value, cx).map(|v| Spanned::new(v, span)),
            "timeout" => args.timeout = JOB.timeout(&key, value, cx).map(|v| Spanned::new(v, span)),
            "keep_result" => {
                args.keep_result = JOB.duration(&key, value, cx).map(|v| Spanned::new(v, span))
            }
            "keep_result_forever" => {
                args.keep_result_forever =
                    JOB.boolean(&key, value, cx).map(|v| Spanned::new(v, span))
            }
            "retry" => args.retry = super::retry::parse(value, cx),
            "max_snoozes" => args.max_snoozes = count(&key, value, cx),
            "dead_letter" => args.dead_letter = JOB.boolean(&key, value, cx),
            "on_failed" => args.on_failed = hook_path(&key, value, cx),
            "on_tries_exhausted" => args.on_tries_exhausted = hook_path(&key, value, cx),
            "crate" => args.krate = JOB.crate_path(value, cx),
            _ => unreachable!("every option in OPTIONS is handled"),
        }
    }
    args
}

/// A non-negative integer.
fn count(key: &str, value: &syn::Expr, cx: &Ctxt) -> Option<u32> {
    match crate::attr::as_lit(value) {
        Some(syn::Lit::Int(i)) => match i.base10_parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                cx.error_spanned_by(
                    value,
                    format!("`{key}` must be an integer from 0 to {}", u32::MAX),
                );
                None
            }
        },
        _ => {
            JOB.wrong_kind(key, "an integer", value, cx);
            None
        }
    }
}

/// The path of a failure hook.
fn hook_path(key: &str, value: &syn::Expr, cx: &Ctxt) -> Option<Tokens> {
    match value {
        syn::Expr::Path(p) => Some(Tokens(quote::ToTokens::to_token_stream(p))),
        _ => {
            cx.error_spanned_by(
                value,
                format!(
                    "`{key}` expects the path of an `async fn(arq::FailedJob)`, found {}: write \
                     `{key} = {}`",
                    crate::attr::describe(value),
                    example(key)
                ),
            );
            None
        }
    }
}

/// How each option is written, for messages.
fn example(key: &str) -> &'static str {
    match key {
        "name" => "\"send_email\"",
        "queue" => "\"arq:queue\"",
        "max_tries" => "5",
        "timeout" => "\"30s\"",
        "keep_result" => "\"1h\"",
        "keep_result_forever" => "true",
        "retry" => "exponential(\"1s\", cap = \"10m\")",
        "max_snoozes" => "25",
        "dead_letter" => "false",
        "on_failed" => "notify_failure",
        "on_tries_exhausted" => "notify_exhausted",
        "crate" => "\"::arq\"",
        _ => "...",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse(tokens: TokenStream) -> (JobArgs, Vec<String>) {
        Ctxt::collect(|cx| parse_args(tokens, cx))
    }

    fn errors(tokens: TokenStream) -> Vec<String> {
        parse(tokens).1
    }

    #[test]
    fn empty() {
        let (args, errs) = parse(quote!());
        assert!(errs.is_empty());
        assert!(args.name.is_none() && args.max_tries.is_none() && args.krate.is_none());
    }

    #[test]
    fn all_options() {
        let (args, errs) = parse(quote!(
            name = "mail",
            max_tries = 3,
            timeout = "1h30m",
            keep_result = 0,
            keep_result_forever = false,
            queue = "emails",
            crate = "::my_arq",
        ));
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(args.name.unwrap().value, "mail");
        assert_eq!(args.max_tries.unwrap().value, 3);
        assert_eq!(args.timeout.unwrap().value, 5_400_000);
        assert_eq!(args.keep_result.unwrap().value, 0);
        assert!(!args.keep_result_forever.unwrap().value);
        assert_eq!(args.queue.unwrap().value, "emails");
        let krate = args.krate.unwrap();
        assert!(krate.leading_colon.is_some());
        assert_eq!(quote!(#krate).to_string(), ":: my_arq");
    }

    #[test]
    fn durations_as_integers_and_strings() {
        let (args, errs) = parse(quote!(timeout = 90, keep_result = "250ms"));
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(args.timeout.unwrap().value, 90_000);
        assert_eq!(args.keep_result.unwrap().value, 250);
        let (args, _) = parse(quote!(keep_result = "2d"));
        assert_eq!(args.keep_result.unwrap().value, 172_800_000);
    }

    #[test]
    fn unknown_option_lists_valid_ones_and_suggests() {
        let errs = errors(quote!(retries = 3));
        assert_eq!(
            errs,
            ["unknown #[arq::job] option `retries`; did you mean `max_tries`? valid options are: `name`, `max_tries`, `timeout`, `keep_result`, `keep_result_forever`, `queue`, `retry`, `max_snoozes`, `dead_letter`, `on_failed`, `on_tries_exhausted`, `crate`"]
        );
        let errs = errors(quote!(colour = 3));
        assert!(
            errs[0].starts_with("unknown #[arq::job] option `colour`; valid options are: `name`")
        );
    }

    #[test]
    fn duplicate() {
        assert_eq!(
            errors(quote!(timeout = 5, timeout = 6)),
            ["`timeout` specified more than once"]
        );
        // A duplicate of an invalid value is still a duplicate.
        assert_eq!(errors(quote!(max_tries = 0, max_tries = 2)).len(), 2);
    }

    #[test]
    fn wrong_literal_kinds() {
        assert_eq!(
            errors(quote!(max_tries = "5")),
            ["`max_tries` expects an integer, found a string: write `max_tries = 5`"]
        );
        assert_eq!(
            errors(quote!(name = 5)),
            ["`name` expects a string, found an integer: write `name = \"send_email\"`"]
        );
        assert_eq!(
            errors(quote!(keep_result_forever = "yes")),
            ["`keep_result_forever` expects `true` or `false`, found a string"]
        );
        assert_eq!(
            errors(quote!(crate = arq)),
            ["`crate` expects a path in a string, found a path: write `crate = \"::arq\"`"]
        );
        assert_eq!(
            errors(quote!(timeout = some_const)),
            ["`timeout` expects a duration, found a path: use a number of seconds or a string like \"30s\", \"5m\", \"1h30m\", \"250ms\""]
        );
    }

    #[test]
    fn max_tries_range() {
        let msg = "`max_tries` must be at least 1: it counts every run, the first one included";
        assert_eq!(errors(quote!(max_tries = 0)), [msg]);
        assert_eq!(errors(quote!(max_tries = -1)), [msg]);
        assert_eq!(
            errors(quote!(max_tries = 5000000000)),
            ["`max_tries` must be an integer from 1 to 4294967295"]
        );
    }

    #[test]
    fn bad_durations() {
        let help = "use a number of seconds or a string like \"30s\", \"5m\", \"1h30m\", \"250ms\"";
        for (tokens, shown) in [
            (quote!(timeout = "30x"), "30x"),
            (quote!(timeout = "abc"), "abc"),
            (quote!(timeout = "-5s"), "-5s"),
            (quote!(timeout = -5), "-5"),
            (quote!(keep_result = 1.5), "1.5"),
            (quote!(keep_result = 5x), "5x"),
        ] {
            assert_eq!(
                errors(tokens),
                [format!("invalid duration `{shown}`: {help}")]
            );
        }
        assert_eq!(
            errors(quote!(timeout = "")),
            [format!("invalid duration: the string is empty; {help}")]
        );
        assert_eq!(
            errors(quote!(timeout = 30s)),
            ["put the duration in quotes: `timeout = \"30s\"`"]
        );
        assert_eq!(
            errors(quote!(timeout = 0)),
            ["`timeout` must be longer than zero: a zero timeout fails every run"]
        );
        assert_eq!(
            errors(quote!(timeout = 99999999999999999999)),
            ["duration `99999999999999999999` is too long"]
        );
    }

    #[test]
    fn empty_strings() {
        assert_eq!(errors(quote!(name = "")), ["`name` cannot be empty"]);
        assert_eq!(errors(quote!(queue = "")), ["`queue` cannot be empty"]);
    }

    #[test]
    fn missing_value() {
        assert_eq!(
            errors(quote!(keep_result_forever)),
            ["expected a value: write `keep_result_forever = true`"]
        );
    }

    #[test]
    fn bad_crate_path() {
        assert_eq!(
            errors(quote!(crate = "not a path")),
            ["`crate` expects the path of the arq crate, like \"::arq\" or \"my_arq\"; `not a path` is not a path"]
        );
    }

    #[test]
    fn every_error_is_reported() {
        let errs = errors(quote!(max_tries = 0, timeout = "x", bogus = 1, name = 3));
        assert_eq!(errs.len(), 4, "{errs:?}");
    }

    #[test]
    fn syntax_error_says_how_options_are_written() {
        let errs = errors(quote!(name "x"));
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].ends_with("#[arq::job] options are written `key = value`, separated by commas"),
            "{errs:?}"
        );
    }
}
