//! Parses the options of `#[arq::cron(...)]` into [`CronArgs`]: an optional leading cron
//! expression string, then `key = value` options. Each value is checked on its own here
//! (schedule fields against their ranges, at the offending value's span); rules that involve
//! several options are checked in `model.rs`.

use crate::attr::{as_lit, describe, RawOption, Spanned};
use crate::ctxt::Ctxt;
use crate::options::{first_span, OptionSet};
use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Lit, LitStr, RangeLimits, Token, UnOp};

/// Every option `#[arq::cron]` takes, in the order the docs list them.
pub(crate) const OPTIONS: &[&str] = &[
    "month",
    "day",
    "weekday",
    "hour",
    "minute",
    "second",
    "microsecond",
    "expr",
    "timezone",
    "name",
    "run_at_startup",
    "unique",
    "timeout",
    "max_tries",
    "keep_result",
    "keep_result_forever",
    "crate",
];

/// What other schedulers (and Python arq) call our options.
const ALIASES: &[(&str, &str)] = &[
    ("months", "month"),
    ("days", "day"),
    ("day_of_month", "day"),
    ("weekdays", "weekday"),
    ("day_of_week", "weekday"),
    ("dow", "weekday"),
    ("hours", "hour"),
    ("minutes", "minute"),
    ("seconds", "second"),
    ("microseconds", "microsecond"),
    ("cron", "expr"),
    ("pattern", "expr"),
    ("schedule", "expr"),
    ("expression", "expr"),
    ("tz", "timezone"),
    ("time_zone", "timezone"),
    ("retries", "max_tries"),
    ("max_retries", "max_tries"),
    ("job_timeout", "timeout"),
    ("job_id", "name"),
    ("crate_path", "crate"),
];

/// How `#[arq::cron]` reads its option values.
const CRON: OptionSet = OptionSet {
    attr: "#[arq::cron]",
    options: OPTIONS,
    aliases: ALIASES,
    example,
    int_suffixes: &[""],
    negated_duration_is_invalid: false,
    any_negation_is_below_one: true,
};

/// A schedule field of Python arq's `cron()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Month,
    Day,
    Weekday,
    Hour,
    Minute,
    Second,
}

impl Field {
    pub(crate) const ALL: [Field; 6] = [
        Field::Month,
        Field::Day,
        Field::Weekday,
        Field::Hour,
        Field::Minute,
        Field::Second,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Field::Month => "month",
            Field::Day => "day",
            Field::Weekday => "weekday",
            Field::Hour => "hour",
            Field::Minute => "minute",
            Field::Second => "second",
        }
    }

    fn from_key(key: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == key)
    }

    pub(crate) fn range(self) -> (u64, u64) {
        match self {
            Field::Month => (1, 12),
            Field::Day => (1, 31),
            Field::Weekday => (0, 6),
            Field::Hour => (0, 23),
            Field::Minute | Field::Second => (0, 59),
        }
    }

    /// The message for a value outside the range.
    fn out_of_range(self, found: &str) -> String {
        let (lo, hi) = self.range();
        match self {
            Field::Weekday => format!(
                "`weekday` must be 0 (Monday) to 6 (Sunday), or a name like \"mon\", found {found}"
            ),
            _ => format!(
                "`{}` must be between {lo} and {hi}, found {found}",
                self.name()
            ),
        }
    }
}

/// Weekday names: Python arq's (`mon`, `tues`, `wed`, `thurs`, `fri`, `sat`, `sun`) plus the
/// usual three-letter and full forms, case-insensitive. 0 is Monday.
fn weekday(name: &str) -> Option<u64> {
    Some(match name.to_ascii_lowercase().as_str() {
        "mon" | "monday" => 0,
        "tue" | "tues" | "tuesday" => 1,
        "wed" | "weds" | "wednesday" => 2,
        "thu" | "thur" | "thurs" | "thursday" => 3,
        "fri" | "friday" => 4,
        "sat" | "saturday" => 5,
        "sun" | "sunday" => 6,
        _ => return None,
    })
}

/// The attribute's tokens: an optional expression string first, then options.
struct CronAttr {
    expr: Option<LitStr>,
    options: Punctuated<RawOption, Token![,]>,
}

impl Parse for CronAttr {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let expr = if input.peek(LitStr) {
            let lit: LitStr = input.parse()?;
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
            Some(lit)
        } else {
            None
        };
        Ok(CronAttr {
            expr,
            options: Punctuated::parse_terminated(input)?,
        })
    }
}

/// The options as written, each validated on its own. `None` = not given (or invalid, in which
/// case an error was reported).
#[derive(Default)]
pub(crate) struct CronArgs {
    /// The cron expression, from the leading string or `expr = "..."`.
    pub(crate) expr: Option<Spanned<String>>,
    /// Bit masks of the schedule fields, in [`Field::ALL`] order.
    pub(crate) fields: [Option<Spanned<u64>>; 6],
    pub(crate) microsecond: Option<Spanned<u32>>,
    pub(crate) timezone: Option<Spanned<String>>,
    pub(crate) name: Option<Spanned<String>>,
    pub(crate) run_at_startup: Option<Spanned<bool>>,
    pub(crate) unique: Option<Spanned<bool>>,
    /// Milliseconds.
    pub(crate) timeout: Option<Spanned<u64>>,
    pub(crate) max_tries: Option<Spanned<u32>>,
    /// Milliseconds.
    pub(crate) keep_result: Option<Spanned<u64>>,
    pub(crate) keep_result_forever: Option<Spanned<bool>>,
    pub(crate) krate: Option<syn::Path>,
}

/// Parses the attribute's tokens. Syntax errors and invalid values go to `cx`; the valid
/// options are returned either way, so expansion can go on with them.
pub(crate) fn parse_args(tokens: TokenStream, cx: &Ctxt) -> CronArgs {
    let mut args = CronArgs::default();
    let attr = match syn::parse2::<CronAttr>(tokens) {
        Ok(attr) => attr,
        Err(err) => {
            cx.push(syn::Error::new(
                err.span(),
                format!(
                    "{err}; #[arq::cron] takes an optional cron expression string, then \
                     options written `key = value`, separated by commas"
                ),
            ));
            return args;
        }
    };
    if let Some(lit) = &attr.expr {
        args.expr = expression(lit, cx).map(|e| Spanned::new(e, lit.span()));
    }
    let mut seen: Vec<String> = Vec::new();
    for opt in &attr.options {
        let key = opt.key.to_string();
        if !CRON.check_new(opt, &mut seen, key == "expr" && attr.expr.is_some(), cx) {
            continue;
        }
        let flag = matches!(
            key.as_str(),
            "run_at_startup" | "unique" | "keep_result_forever"
        );
        let value = match &opt.value {
            Some(v) => v,
            None if flag => {
                let yes = Some(Spanned::new(true, opt.key.span()));
                match key.as_str() {
                    "run_at_startup" => args.run_at_startup = yes,
                    "unique" => args.unique = yes,
                    _ => args.keep_result_forever = yes,
                }
                continue;
            }
            None => {
                CRON.missing_value(opt, cx);
                continue;
            }
        };
        let span = first_span(value);
        if let Some(field) = Field::from_key(&key) {
            args.fields[field as usize] =
                field_mask(field, value, cx).map(|m| Spanned::new(m, span));
            continue;
        }
        match key.as_str() {
            "expr" => {
                args.expr = match as_lit(value) {
                    Some(Lit::Str(lit)) => expression(lit, cx).map(|e| Spanned::new(e, span)),
                    _ => {
                        CRON.wrong_kind(&key, "a string", value, cx);
                        None
                    }
                }
            }
            "microsecond" => {
                args.microsecond = microsecond(value, cx).map(|v| Spanned::new(v, span))
            }
            "timezone" => args.timezone = timezone(value, cx).map(|v| Spanned::new(v, span)),
            "name" => args.name = name(value, cx).map(|v| Spanned::new(v, span)),
            "run_at_startup" => {
                args.run_at_startup = CRON.boolean(&key, value, cx).map(|v| Spanned::new(v, span))
            }
            "unique" => args.unique = CRON.boolean(&key, value, cx).map(|v| Spanned::new(v, span)),
            "keep_result_forever" => {
                args.keep_result_forever =
                    CRON.boolean(&key, value, cx).map(|v| Spanned::new(v, span))
            }
            "timeout" => {
                args.timeout = CRON.timeout(&key, value, cx).map(|v| Spanned::new(v, span))
            }
            "keep_result" => {
                args.keep_result = CRON
                    .duration(&key, value, cx)
                    .map(|ms| Spanned::new(ms, span))
            }
            "max_tries" => {
                args.max_tries = CRON.max_tries(value, cx).map(|v| Spanned::new(v, span))
            }
            "crate" => args.krate = CRON.crate_path(value, cx),
            _ => unreachable!("every option in OPTIONS is handled"),
        }
    }
    args
}

/// How each option is written, for messages.
fn example(key: &str) -> &'static str {
    match key {
        "month" => "[1, 7]",
        "day" => "1",
        "weekday" => "\"mon\"",
        "hour" => "8",
        "minute" => "[0, 30]",
        "second" => "0",
        "microsecond" => "123456",
        "expr" => "\"0 */5 * * * *\"",
        "timezone" => "\"Europe/London\"",
        "name" => "\"nightly_report\"",
        "timeout" => "\"30s\"",
        "keep_result" => "\"1h\"",
        "max_tries" => "1",
        "crate" => "\"::arq\"",
        _ => "...",
    }
}

/// Looks through parentheses and invisible groups.
fn peel(expr: &Expr) -> &Expr {
    match expr {
        Expr::Paren(p) => peel(&p.expr),
        Expr::Group(g) => peel(&g.expr),
        _ => expr,
    }
}

/// A schedule field: one value, a list `[a, b]` or a range `a..b` / `a..=b`, as a bit mask.
fn field_mask(field: Field, value: &Expr, cx: &Ctxt) -> Option<u64> {
    let (lo, hi) = field.range();
    match peel(value) {
        Expr::Array(array) => {
            if array.elems.is_empty() {
                cx.error_spanned_by(
                    value,
                    format!(
                        "`{}` needs at least one value ({lo}-{hi}); leave it out to match any",
                        field.name()
                    ),
                );
                return None;
            }
            let mut mask = 0;
            let mut ok = true;
            for elem in &array.elems {
                match single(field, elem, cx) {
                    Some(v) => mask |= 1 << v,
                    None => ok = false,
                }
            }
            ok.then_some(mask)
        }
        Expr::Range(range) => {
            let (Some(start), Some(end)) = (&range.start, &range.end) else {
                cx.error_spanned_by(
                    value,
                    format!(
                        "`{}` ranges need both ends, like `{lo}..={hi}`",
                        field.name()
                    ),
                );
                return None;
            };
            let inclusive = matches!(range.limits, RangeLimits::Closed(_));
            let start_v = single_number(field, start, cx)?;
            let end_v = if inclusive {
                single_number(field, end, cx)?
            } else {
                // `a..b` may end one past the last value (`0..60`).
                let v = int_value(end).filter(|v| *v >= lo && *v <= hi + 1);
                match v {
                    Some(v) if v > 0 => v - 1,
                    _ => {
                        single_number(field, end, cx)?;
                        return None;
                    }
                }
            };
            if start_v > end_v {
                cx.error_spanned_by(value, format!("`{}` range is empty", field.name()));
                return None;
            }
            Some((start_v..=end_v).fold(0, |m, v| m | (1 << v)))
        }
        _ => single(field, value, cx).map(|v| 1 << v),
    }
}

fn int_value(expr: &Expr) -> Option<u64> {
    match as_lit(peel(expr)) {
        Some(Lit::Int(int)) => int.base10_parse::<u64>().ok(),
        _ => None,
    }
}

/// One value of a field: an integer in range, or a weekday name.
fn single(field: Field, value: &Expr, cx: &Ctxt) -> Option<u64> {
    if let Some(Lit::Str(s)) = as_lit(peel(value)) {
        if field == Field::Weekday {
            return match weekday(&s.value()) {
                Some(v) => Some(v),
                None => {
                    cx.error_spanned_by(
                        value,
                        format!(
                            "unknown weekday {:?}: use \"mon\", \"tue\", \"wed\", \"thu\", \
                             \"fri\", \"sat\", \"sun\" (or the full names), or 0 (Monday) to \
                             6 (Sunday)",
                            s.value()
                        ),
                    );
                    None
                }
            };
        }
        let (lo, hi) = field.range();
        cx.error_spanned_by(
            value,
            format!(
                "`{}` takes numbers from {lo} to {hi}, found a string",
                field.name()
            ),
        );
        return None;
    }
    single_number(field, value, cx)
}

fn single_number(field: Field, value: &Expr, cx: &Ctxt) -> Option<u64> {
    let (lo, hi) = field.range();
    match peel(value) {
        Expr::Unary(u)
            if matches!(u.op, UnOp::Neg(_)) && matches!(as_lit(&u.expr), Some(Lit::Int(_))) =>
        {
            let text = value.to_token_stream().to_string().replace(' ', "");
            cx.error_spanned_by(value, field.out_of_range(&text));
            None
        }
        v => match as_lit(v) {
            Some(Lit::Int(int)) => match int.base10_parse::<u64>() {
                Ok(n) if n >= lo && n <= hi => Some(n),
                _ => {
                    cx.error_spanned_by(value, field.out_of_range(int.base10_digits()));
                    None
                }
            },
            _ => {
                cx.error_spanned_by(
                    value,
                    format!(
                        "`{}` expects a number from {lo} to {hi}, a list like `[{lo}, {hi}]` or a \
                         range like `{lo}..={hi}`, found {}",
                        field.name(),
                        describe(value)
                    ),
                );
                None
            }
        },
    }
}

/// The usual range of each field of a cron expression (`sec min hour dom month dow`, with
/// the seconds optional), for the checks that are cheap at compile time.
const EXPR_FIELDS: [(&str, u64, u64); 6] = [
    ("second", 0, 59),
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
];

/// Checks a cron expression as far as is cheap without the parser: the number of fields and
/// plain numbers against their ranges. Names, `L`, `W` and `#` are checked by the worker at
/// start.
fn expression(lit: &LitStr, cx: &Ctxt) -> Option<String> {
    let text = lit.value();
    let trimmed = text.trim();
    if trimmed.is_empty() {
        cx.error(lit.span(), "the cron expression is empty");
        return None;
    }
    if let Some(nick) = trimmed.strip_prefix('@') {
        const NICKNAMES: &[&str] = &["yearly", "annually", "monthly", "weekly", "daily", "hourly"];
        if !NICKNAMES.contains(&nick.to_ascii_lowercase().as_str()) {
            cx.error(
                lit.span(),
                format!(
                    "unknown cron nickname `@{nick}`: use @yearly, @annually, @monthly, @weekly, \
                     @daily or @hourly"
                ),
            );
            return None;
        }
        return Some(text);
    }
    let parts: Vec<&str> = trimmed.split_whitespace().collect();
    let fields: &[(&str, u64, u64)] = match parts.len() {
        5 => &EXPR_FIELDS[1..],
        6 => &EXPR_FIELDS[..],
        n => {
            cx.error(
                lit.span(),
                format!(
                    "a cron expression has 5 fields (minute hour day month weekday) or 6 \
                     (second minute hour day month weekday), found {n}"
                ),
            );
            return None;
        }
    };
    let mut ok = true;
    for (part, (what, lo, hi)) in parts.iter().zip(fields) {
        for item in part.split(',') {
            let (base, step) = match item.split_once('/') {
                Some((b, s)) => (b, Some(s)),
                None => (item, None),
            };
            if let Some(step) = step {
                if step.parse::<u64>().map_or(true, |s| s == 0) {
                    cx.error(
                        lit.span(),
                        format!(
                            "invalid step `/{step}` in the {what} field of the cron expression"
                        ),
                    );
                    ok = false;
                }
            }
            let numbers: Vec<&str> = match base.split_once('-') {
                Some((a, b)) => vec![a, b],
                None => vec![base],
            };
            for n in numbers {
                if let Ok(v) = n.parse::<u64>() {
                    if v < *lo || v > *hi {
                        cx.error(
                            lit.span(),
                            format!(
                                "{v} is out of range for the {what} field of the cron expression \
                                 ({lo}-{hi})"
                            ),
                        );
                        ok = false;
                    }
                }
            }
        }
    }
    ok.then_some(text)
}

fn microsecond(value: &Expr, cx: &Ctxt) -> Option<u32> {
    match as_lit(peel(value)) {
        Some(Lit::Int(int)) => match int.base10_parse::<u32>() {
            Ok(n) if n <= 999_999 => Some(n),
            _ => {
                cx.error_spanned_by(
                    value,
                    format!(
                        "`microsecond` must be between 0 and 999999, found {}",
                        int.base10_digits()
                    ),
                );
                None
            }
        },
        _ => {
            CRON.wrong_kind("microsecond", "an integer", value, cx);
            None
        }
    }
}

fn name(value: &Expr, cx: &Ctxt) -> Option<String> {
    let name = CRON.string("name", value, cx)?;
    if let Some(rest) = name.strip_prefix("cron:") {
        cx.error_spanned_by(
            value,
            format!(
                "leave out the `cron:` prefix: the job is named `cron:<name>` already; write \
                 `name = {rest:?}`"
            ),
        );
        return None;
    }
    Some(name)
}

/// A time zone name: only its shape is checked here (the macro cannot load the time zone
/// database); an unknown name stops the worker at start with the cron job's name.
fn timezone(value: &Expr, cx: &Ctxt) -> Option<String> {
    let tz = CRON.string("timezone", value, cx)?;
    let valid = tz
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'));
    if !valid || tz.starts_with('/') || tz.ends_with('/') {
        cx.error_spanned_by(
            value,
            format!(
                "{tz:?} is not a time zone name: use an IANA name such as \"Europe/London\", \
                 \"America/New_York\" or \"UTC\""
            ),
        );
        return None;
    }
    Some(tz)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse(tokens: TokenStream) -> (CronArgs, Vec<String>) {
        Ctxt::collect(|cx| parse_args(tokens, cx))
    }

    fn errors(tokens: TokenStream) -> Vec<String> {
        parse(tokens).1
    }

    fn mask(args: &CronArgs, f: Field) -> u64 {
        args.fields[f as usize].as_ref().unwrap().value
    }

    #[test]
    fn fields_values_lists_and_ranges() {
        let (args, errs) = parse(quote!(
            month = [1, 7],
            day = 1..=3,
            weekday = ["mon", "FRI", 6],
            hour = 8,
            minute = 0..60,
            second = (30)
        ));
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(mask(&args, Field::Month), (1 << 1) | (1 << 7));
        assert_eq!(mask(&args, Field::Day), 0b1110);
        assert_eq!(mask(&args, Field::Weekday), 1 | (1 << 4) | (1 << 6));
        assert_eq!(mask(&args, Field::Hour), 1 << 8);
        assert_eq!(mask(&args, Field::Minute), (1 << 60) - 1);
        assert_eq!(mask(&args, Field::Second), 1 << 30);
    }

    #[test]
    fn out_of_range_fields_list_the_range() {
        assert_eq!(
            errors(quote!(hour = 24)),
            ["`hour` must be between 0 and 23, found 24"]
        );
        assert_eq!(
            errors(quote!(minute = [0, 60])),
            ["`minute` must be between 0 and 59, found 60"]
        );
        assert_eq!(
            errors(quote!(month = 0)),
            ["`month` must be between 1 and 12, found 0"]
        );
        assert_eq!(
            errors(quote!(month = 13)),
            ["`month` must be between 1 and 12, found 13"]
        );
        assert_eq!(
            errors(quote!(day = 32)),
            ["`day` must be between 1 and 31, found 32"]
        );
        assert_eq!(
            errors(quote!(second = -1)),
            ["`second` must be between 0 and 59, found -1"]
        );
        assert_eq!(
            errors(quote!(weekday = 7)),
            ["`weekday` must be 0 (Monday) to 6 (Sunday), or a name like \"mon\", found 7"]
        );
        assert!(errors(quote!(weekday = "funday"))[0].starts_with("unknown weekday \"funday\""));
        assert_eq!(
            errors(quote!(hour = "8")),
            ["`hour` takes numbers from 0 to 23, found a string"]
        );
        assert_eq!(
            errors(quote!(hour = [])),
            ["`hour` needs at least one value (0-23); leave it out to match any"]
        );
        assert_eq!(errors(quote!(hour = 5..2)), ["`hour` range is empty"]);
        assert_eq!(
            errors(quote!(hour = 0..25)),
            ["`hour` must be between 0 and 23, found 25"]
        );
        assert!(errors(quote!(hour = ..5))[0].contains("need both ends"));
        assert_eq!(errors(quote!(hour = 24, minute = 60, weekday = 9)).len(), 3);
    }

    #[test]
    fn expressions() {
        let (args, errs) = parse(quote!("0 */5 * * * *", timezone = "Europe/London"));
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(args.expr.unwrap().value, "0 */5 * * * *");
        assert_eq!(args.timezone.unwrap().value, "Europe/London");
        let (args, errs) = parse(quote!(expr = "@daily"));
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(args.expr.unwrap().value, "@daily");
        assert_eq!(
            errors(quote!("* * *")),
            ["a cron expression has 5 fields (minute hour day month weekday) or 6 (second minute hour day month weekday), found 3"]
        );
        assert_eq!(
            errors(quote!("0 60 * * * *")),
            ["60 is out of range for the minute field of the cron expression (0-59)"]
        );
        assert_eq!(
            errors(quote!("0 24-25 * * *")),
            [
                "24 is out of range for the hour field of the cron expression (0-23)",
                "25 is out of range for the hour field of the cron expression (0-23)"
            ]
        );
        assert!(errors(quote!("*/0 * * * *"))[0].contains("invalid step `/0`"));
        assert!(errors(quote!("@sometimes"))[0].contains("unknown cron nickname"));
        assert_eq!(
            errors(quote!("* * * * *", expr = "* * * * *")),
            ["`expr` specified more than once"]
        );
        // Names and L/W/# are left to croner at worker start.
        assert!(errors(quote!("0 9 L * MON-FRI")).is_empty());
    }

    #[test]
    fn flags_and_options() {
        let (args, errs) = parse(quote!(
            run_at_startup,
            unique = false,
            timeout = "30s",
            max_tries = 3,
            keep_result = 60,
            keep_result_forever,
            name = "nightly",
            microsecond = 0,
            crate = "::my_arq"
        ));
        assert!(errs.is_empty(), "{errs:?}");
        assert!(args.run_at_startup.unwrap().value);
        assert!(!args.unique.unwrap().value);
        assert_eq!(args.timeout.unwrap().value, 30_000);
        assert_eq!(args.max_tries.unwrap().value, 3);
        assert_eq!(args.keep_result.unwrap().value, 60_000);
        assert!(args.keep_result_forever.unwrap().value);
        assert_eq!(args.name.unwrap().value, "nightly");
        assert_eq!(args.microsecond.unwrap().value, 0);
        assert!(args.krate.is_some());
    }

    #[test]
    fn bad_options() {
        assert_eq!(
            errors(quote!(hours = 3)),
            ["unknown #[arq::cron] option `hours`; did you mean `hour`? valid options are: `month`, `day`, `weekday`, `hour`, `minute`, `second`, `microsecond`, `expr`, `timezone`, `name`, `run_at_startup`, `unique`, `timeout`, `max_tries`, `keep_result`, `keep_result_forever`, `crate`"]
        );
        assert!(errors(quote!(tz = "UTC"))[0].contains("did you mean `timezone`?"));
        assert_eq!(
            errors(quote!(hour = 1, hour = 2)),
            ["`hour` specified more than once"]
        );
        assert_eq!(errors(quote!(hour)), ["expected a value: write `hour = 8`"]);
        assert!(errors(quote!(timezone = "Europe London"))[0].contains("is not a time zone name"));
        assert!(errors(quote!(name = "cron:x"))[0].contains("leave out the `cron:` prefix"));
        assert_eq!(
            errors(quote!(microsecond = 1000000)),
            ["`microsecond` must be between 0 and 999999, found 1000000"]
        );
        assert!(errors(quote!(max_tries = 0))[0].contains("at least 1"));
        assert!(errors(quote!(timeout = 0))[0].contains("longer than zero"));
        assert!(errors(quote!(unique = "yes"))[0].contains("expects `true` or `false`"));
        assert!(
            errors(quote!("x" "y"))[0].contains("#[arq::cron] takes an optional cron expression")
        );
    }
}

/// The compile-time checks must accept exactly what the runtime accepts: the field names,
/// their ranges, the days of each month and the default microsecond are the runtime's.
#[cfg(test)]
mod runtime_table {
    use super::Field;

    #[test]
    fn the_field_table_is_the_runtimes() {
        let ours: Vec<(&str, u64, u64)> = Field::ALL
            .iter()
            .map(|f| (f.name(), f.range().0, f.range().1))
            .collect();
        let runtime: Vec<(&str, u64, u64)> = arq_core::cron::__FIELD_RANGES
            .iter()
            .map(|&(n, lo, hi)| (n, u64::from(lo), u64::from(hi)))
            .collect();
        assert_eq!(ours, runtime);
        let days: Vec<u64> = arq_core::cron::__MONTH_DAYS
            .iter()
            .map(|&d| u64::from(d))
            .collect();
        assert_eq!(super::super::model::MONTH_DAYS.to_vec(), days);
        assert_eq!(
            super::super::model::DEFAULT_MICROSECOND,
            arq_core::cron::DEFAULT_MICROSECOND
        );
    }
}
