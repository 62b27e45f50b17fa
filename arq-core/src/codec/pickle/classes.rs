//! Which Python classes the pickle codec knows, and how their values are spelled.
//!
//! Nothing here imports or calls Python code: a class is only ever a `(module, qualname)` pair,
//! and the few classes the codec understands are rebuilt from their pickled arguments by the
//! functions below.

/// Maps Python 2 module names (written by Python 3 for protocols 0-2 with `fix_imports`) to
/// their Python 3 names, as `pickle.Unpickler(fix_imports=True)` does.
pub(super) fn normalize_global(module: &str, name: &str) -> (String, String) {
    match (module, name) {
        ("exceptions", "StandardError") => ("builtins".to_owned(), "Exception".to_owned()),
        ("__builtin__", "long") => ("builtins".to_owned(), "int".to_owned()),
        ("__builtin__", "unicode") => ("builtins".to_owned(), "str".to_owned()),
        ("__builtin__", "xrange") => ("builtins".to_owned(), "range".to_owned()),
        ("__builtin__", "unichr") => ("builtins".to_owned(), "chr".to_owned()),
        ("__builtin__" | "exceptions", _) => ("builtins".to_owned(), name.to_owned()),
        ("copy_reg", _) => ("copyreg".to_owned(), name.to_owned()),
        _ => (module.to_owned(), name.to_owned()),
    }
}

/// Builtin exception classes whose names do not end in `Error`, `Exception` or `Warning`.
const BUILTIN_EXCEPTIONS: &[&str] = &[
    "BaseException",
    "BaseExceptionGroup",
    "ExceptionGroup",
    "GeneratorExit",
    "KeyboardInterrupt",
    "StopAsyncIteration",
    "StopIteration",
    "SystemExit",
];

/// arq's own exception classes whose names do not end in `Error` or `Exception`.
const ARQ_EXCEPTIONS: &[&str] = &[
    "arq.jobs.ResultNotFound",
    "arq.worker.JobExecutionFailed",
    "arq.worker.Retry",
];

/// Whether `path` (`"<module>.<qualname>"`) names an exception class: a builtin exception,
/// one of arq's own, or any class whose name ends in `Error`, `Exception` or `Warning`.
pub(crate) fn is_exception_class(path: &str) -> bool {
    let (module, class) = split_path(path);
    if ARQ_EXCEPTIONS.contains(&path) {
        return true;
    }
    if module == "builtins" && BUILTIN_EXCEPTIONS.contains(&class) {
        return true;
    }
    ["Error", "Exception", "Warning"]
        .iter()
        .any(|suffix| class.ends_with(suffix))
}

/// Whether the encoder may write `path` as a class for Python to look up and call: a dotted
/// path of plain identifiers that names an exception class. Dunder segments (`__class__`,
/// `__globals__`...) are refused so that a value cannot walk to an arbitrary callable; only
/// the module names `__main__` and `__builtin__` may start with underscores twice.
pub(crate) fn is_writable_exception_class(path: &str) -> bool {
    let segments: Vec<&str> = path.split('.').collect();
    if segments.len() < 2 {
        return false;
    }
    let identifiers = segments.iter().enumerate().all(|(i, seg)| {
        let mut chars = seg.chars();
        let first_ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_');
        let dunder_ok =
            !seg.starts_with("__") || (i == 0 && matches!(*seg, "__main__" | "__builtin__"));
        first_ok && dunder_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    identifiers && is_exception_class(path)
}

/// Splits `"<module>.<qualname>"` at its last dot; a path without a dot is a builtin.
pub(crate) fn split_path(path: &str) -> (&str, &str) {
    path.rsplit_once('.').unwrap_or(("builtins", path))
}

/// A `tzinfo` object, as far as the codec can know it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tz {
    /// `datetime.timezone(offset[, name])`, or `pytz.utc`.
    Fixed {
        /// Offset from UTC in microseconds, strictly within ±24 h.
        offset_us: i64,
        /// The name given to the timezone, if any.
        name: Option<String>,
    },
    /// A named zone (`zoneinfo.ZoneInfo`, a pytz zone); its offset is known only when the
    /// pickle carries it (pytz does, zoneinfo does not).
    Zone {
        /// The IANA key, e.g. `Europe/Paris`.
        key: String,
        /// Offset from UTC in microseconds, if the pickle says.
        offset_us: Option<i64>,
    },
}

impl Tz {
    /// What `str(tz)` gives in Python (`UTC`, `UTC+01:00`, the zone key).
    pub(super) fn display(&self) -> String {
        match self {
            Tz::Fixed {
                name: Some(name), ..
            } => name.clone(),
            Tz::Fixed {
                offset_us: 0,
                name: None,
            } => "UTC".to_owned(),
            Tz::Fixed {
                offset_us,
                name: None,
            } => format!("UTC{}", format_offset(*offset_us)),
            Tz::Zone { key, .. } => key.clone(),
        }
    }

    /// The suffix `isoformat()` writes after the local time: `+HH:MM` when the offset is
    /// known; for a zone whose offset is not in the pickle, `[<key>]` (RFC 9557 style).
    fn iso_suffix(&self) -> String {
        match self {
            Tz::Fixed { offset_us, .. }
            | Tz::Zone {
                offset_us: Some(offset_us),
                ..
            } => format_offset(*offset_us),
            Tz::Zone {
                key,
                offset_us: None,
            } => format!("[{key}]"),
        }
    }
}

/// One day in microseconds.
pub(super) const DAY_US: i64 = 86_400_000_000;

/// Formats a UTC offset as Python's `datetime._format_offset` does: `+HH:MM`, then `:SS`
/// and `.ffffff` only when they are not zero.
pub(super) fn format_offset(offset_us: i64) -> String {
    let sign = if offset_us < 0 { '-' } else { '+' };
    let total = offset_us.unsigned_abs();
    let micros = total % 1_000_000;
    let secs = total / 1_000_000;
    let (hh, mm, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut s = format!("{sign}{hh:02}:{mm:02}");
    if ss != 0 || micros != 0 {
        s.push_str(&format!(":{ss:02}"));
        if micros != 0 {
            s.push_str(&format!(".{micros:06}"));
        }
    }
    s
}

fn is_leap(year: u32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A validated calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Date {
    pub year: u32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// Checks Python's ranges: year 1..=9999, a real month and day.
    pub(super) fn new(year: i64, month: i64, day: i64) -> Result<Self, String> {
        let ok = (1..=9999).contains(&year) && (1..=12).contains(&month) && day >= 1;
        if ok {
            let (year, month, day) = (year as u32, month as u32, day as u32);
            if day <= days_in_month(year, month) {
                return Ok(Date { year, month, day });
            }
        }
        Err(format!("invalid date {year}-{month}-{day}"))
    }

    /// `date.isoformat()`: `YYYY-MM-DD`.
    pub(super) fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// Reads the 4-byte payload of a pickled `datetime.date` (or the first 4 bytes of a
    /// `datetime.datetime` one).
    pub(super) fn from_payload(b: &[u8]) -> Result<Self, String> {
        if b.len() < 4 {
            return Err("short date payload".to_owned());
        }
        Date::new(
            i64::from(b[0]) * 256 + i64::from(b[1]),
            i64::from(b[2] & 0x7f),
            i64::from(b[3]),
        )
    }
}

/// A validated wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Time {
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micros: u32,
}

impl Time {
    /// Checks Python's ranges.
    pub(super) fn new(hour: i64, minute: i64, second: i64, micros: i64) -> Result<Self, String> {
        if (0..24).contains(&hour)
            && (0..60).contains(&minute)
            && (0..60).contains(&second)
            && (0..1_000_000).contains(&micros)
        {
            Ok(Time {
                hour: hour as u32,
                minute: minute as u32,
                second: second as u32,
                micros: micros as u32,
            })
        } else {
            Err(format!("invalid time {hour}:{minute}:{second}.{micros:06}"))
        }
    }

    /// Reads a 6-byte time payload (`hour` carries the `fold` flag in its top bit).
    pub(super) fn from_payload(b: &[u8]) -> Result<Self, String> {
        if b.len() < 6 {
            return Err("short time payload".to_owned());
        }
        let micros = (i64::from(b[3]) << 16) | (i64::from(b[4]) << 8) | i64::from(b[5]);
        Time::new(
            i64::from(b[0] & 0x7f),
            i64::from(b[1]),
            i64::from(b[2]),
            micros,
        )
    }

    /// `time.isoformat()` without an offset: `HH:MM:SS[.ffffff]`.
    pub(super) fn iso(&self) -> String {
        let mut s = format!("{:02}:{:02}:{:02}", self.hour, self.minute, self.second);
        if self.micros != 0 {
            s.push_str(&format!(".{:06}", self.micros));
        }
        s
    }
}

/// `datetime.isoformat()`: `YYYY-MM-DDTHH:MM:SS[.ffffff]` plus the zone suffix.
pub(super) fn datetime_iso(date: Date, time: Time, tz: Option<&Tz>) -> String {
    let mut s = format!("{}T{}", date.iso(), time.iso());
    if let Some(tz) = tz {
        s.push_str(&tz.iso_suffix());
    }
    s
}

/// `time.isoformat()` with its zone suffix.
pub(super) fn time_iso(time: Time, tz: Option<&Tz>) -> String {
    let mut s = time.iso();
    if let Some(tz) = tz {
        s.push_str(&tz.iso_suffix());
    }
    s
}

/// `str(uuid.UUID(int=n))`: 8-4-4-4-12 lowercase hex digits.
pub(super) fn uuid_string(n: u128) -> String {
    let h = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_names() {
        for yes in [
            "builtins.ValueError",
            "builtins.Exception",
            "builtins.BaseException",
            "builtins.KeyboardInterrupt",
            "builtins.StopIteration",
            "builtins.UserWarning",
            "asyncio.exceptions.CancelledError",
            "concurrent.futures._base.TimeoutError",
            "arq.worker.JobExecutionFailed",
            "arq.worker.Retry",
            "arq.jobs.ResultNotFound",
            "arq.jobs.DeserializationError",
            "my_app.errors.PaymentDeclinedError",
            "my_app.Outer.InnerException",
        ] {
            assert!(is_exception_class(yes), "{yes}");
        }
        for no in [
            "my_app.models.User",
            "builtins.int",
            "datetime.datetime",
            "other.Retry",
            "my_app.KeyboardInterrupt",
            "os.system",
            "my_app.errors.Errors",
        ] {
            assert!(!is_exception_class(no), "{no}");
        }
    }

    #[test]
    fn writable_exception_paths() {
        assert!(is_writable_exception_class("builtins.ValueError"));
        assert!(is_writable_exception_class("__main__.MyError"));
        assert!(is_writable_exception_class(
            "concurrent.futures._base.CancelledError"
        ));
        for no in [
            "ValueError",
            "os.system",
            "builtins.ValueError.__init__.__globals__.x.FooError",
            "a..FooError",
            "a.b c.FooError",
            "a.1b.FooError",
            "a.b\nc.FooError",
            "",
        ] {
            assert!(!is_writable_exception_class(no), "{no:?}");
        }
    }

    #[test]
    fn offsets_and_dates() {
        assert_eq!(format_offset(0), "+00:00");
        assert_eq!(format_offset(-(5 * 3600 + 30 * 60) * 1_000_000), "-05:30");
        assert_eq!(format_offset(3_723_000_004), "+01:02:03.000004");
        assert_eq!(format_offset(3_723_000_000), "+01:02:03");
        assert!(Date::new(2024, 2, 29).is_ok());
        assert!(Date::new(2023, 2, 29).is_err());
        assert!(Date::new(0, 1, 1).is_err());
        assert!(Date::new(2023, 13, 1).is_err());
        assert!(Time::new(24, 0, 0, 0).is_err());
        assert_eq!(Date::new(7, 1, 2).unwrap().iso(), "0007-01-02");
        assert_eq!(
            uuid_string(0x1234_5678_1234_5678_9abc_def0_1234_5678),
            "12345678-1234-5678-9abc-def012345678"
        );
    }
}
