//! Duration literals of the macro options: `"30s"`, `"5m"`, `"1h30m"`, `"250ms"`, `"2d"`, or a
//! bare number of seconds (`"90"`, or the integer literal `90`).
//!
//! Grammar: one or more `<digits><unit>` parts with units `d`, `h`, `m`, `s`, `ms`, each used at
//! most once and from largest to smallest (`"1h30m"`, `"1m30s"`, `"1s500ms"`), or digits alone
//! (seconds). No signs, no fractions, no spaces: `"1.5s"` is written `"1500ms"`.

/// The help every invalid duration gets.
pub(crate) const DURATION_HELP: &str =
    "use a number of seconds or a string like \"30s\", \"5m\", \"1h30m\", \"250ms\"";

/// Why a duration did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DurationError {
    /// Not in the grammar.
    Invalid,
    /// More milliseconds than a `u64` holds.
    TooLong,
}

impl DurationError {
    /// The message for a user who wrote `text`.
    pub(crate) fn message(self, text: &str) -> String {
        match self {
            DurationError::Invalid if text.is_empty() => {
                format!("invalid duration: the string is empty; {DURATION_HELP}")
            }
            DurationError::Invalid => format!("invalid duration `{text}`: {DURATION_HELP}"),
            DurationError::TooLong => format!("duration `{text}` is too long"),
        }
    }
}

/// Units from largest to smallest, with their length in milliseconds.
const UNITS: [(&str, u64); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Parses a duration string into milliseconds.
pub(crate) fn parse_duration(text: &str) -> Result<u64, DurationError> {
    if text.is_empty() {
        return Err(DurationError::Invalid);
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return seconds_to_ms(parse_digits(text)?);
    }
    let mut rest = text;
    let mut total: u64 = 0;
    // Index into UNITS of the next unit allowed: units must strictly decrease.
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits_len == 0 {
            return Err(DurationError::Invalid);
        }
        let (digits, tail) = rest.split_at(digits_len);
        let unit_len = tail.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, tail) = tail.split_at(unit_len);
        let index = UNITS[next_unit..]
            .iter()
            .position(|(u, _)| *u == unit)
            .map(|i| i + next_unit)
            .ok_or(DurationError::Invalid)?;
        let part = parse_digits(digits)?
            .checked_mul(UNITS[index].1)
            .ok_or(DurationError::TooLong)?;
        total = total.checked_add(part).ok_or(DurationError::TooLong)?;
        next_unit = index + 1;
        rest = tail;
    }
    Ok(total)
}

/// Whole seconds into milliseconds.
pub(crate) fn seconds_to_ms(seconds: u64) -> Result<u64, DurationError> {
    seconds.checked_mul(1_000).ok_or(DurationError::TooLong)
}

fn parse_digits(digits: &str) -> Result<u64, DurationError> {
    digits.parse::<u64>().map_err(|_| DurationError::TooLong)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn ok(text: &str, ms: u64) {
        assert_eq!(parse_duration(text), Ok(ms), "{text:?}");
    }

    #[track_caller]
    fn invalid(text: &str) {
        assert_eq!(
            parse_duration(text),
            Err(DurationError::Invalid),
            "{text:?}"
        );
    }

    #[test]
    fn single_units() {
        ok("30s", 30_000);
        ok("5m", 300_000);
        ok("1h", 3_600_000);
        ok("2d", 172_800_000);
        ok("250ms", 250);
        ok("0s", 0);
        ok("0", 0);
    }

    #[test]
    fn bare_numbers_are_seconds() {
        ok("90", 90_000);
        ok("007", 7_000);
    }

    #[test]
    fn compound() {
        ok("1h30m", 5_400_000);
        ok("1m30s", 90_000);
        ok("1s500ms", 1_500);
        ok("1d2h3m4s5ms", 86_400_000 + 7_200_000 + 180_000 + 4_000 + 5);
        ok("90m", 5_400_000);
        ok("213503982334d", 213_503_982_334 * 86_400_000);
    }

    #[test]
    fn malformed() {
        for text in [
            "", "30x", "abc", "s", "-5s", "-5", "+5s", "1.5s", "1.5", " 30s", "30s ", "30 s",
            "1h 30m", "30S", "1H", "30sec", "5min", "ms", "1m1h", "1s1s", "1ms1s", "1h30", "30s1",
            "1us", "1ns", "1w",
        ] {
            invalid(text);
        }
    }

    #[test]
    fn overflow() {
        assert_eq!(
            parse_duration("99999999999999999999d"),
            Err(DurationError::TooLong)
        );
        assert_eq!(
            parse_duration("999999999999999999"),
            Err(DurationError::TooLong)
        );
        assert_eq!(parse_duration("213503982335d"), Err(DurationError::TooLong));
        assert_eq!(seconds_to_ms(u64::MAX), Err(DurationError::TooLong));
    }

    #[test]
    fn messages() {
        assert_eq!(
            DurationError::Invalid.message("30x"),
            "invalid duration `30x`: use a number of seconds or a string like \"30s\", \"5m\", \"1h30m\", \"250ms\""
        );
        assert_eq!(
            DurationError::Invalid.message(""),
            "invalid duration: the string is empty; use a number of seconds or a string like \"30s\", \"5m\", \"1h30m\", \"250ms\""
        );
        assert_eq!(
            DurationError::TooLong.message("9999999999999d"),
            "duration `9999999999999d` is too long"
        );
    }
}
