//! When a cron job runs: Python arq's field sets (`month`, `day`, `weekday`, `hour`, `minute`,
//! `second`, `microsecond`) or a cron expression, and the pure next-run computation.
//!
//! Both forms are evaluated by `croner` on the wall clock of the job's time zone, so daylight
//! saving time is handled the same way for both:
//!
//! - a wall-clock time that a spring-forward change skips runs at the first instant after the
//!   gap when the schedule names one fixed time of day (`hour = 1, minute = 30`); a schedule
//!   that repeats within the day (every minute) simply has no ticks inside the gap;
//! - a wall-clock time that a fall-back change repeats runs once, at the earlier instant, for a
//!   fixed time of day; a schedule that repeats within the day runs in both halves.
//!
//! A tick is the matching whole second plus `microsecond` (Python arq's default 123 456 µs), and
//! its id part is that instant in integer milliseconds, as Python's `to_unix_ms` rounds it: a
//! Python worker and a Rust worker give the same tick the same job id, `cron:<name>:<ms>`.

use crate::{Error, Result};
use chrono::{DateTime, TimeZone, Utc};
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use std::borrow::Cow;
use std::fmt;

/// Python arq's default `microsecond` of a cron tick: ids end in `…123`.
pub const DEFAULT_MICROSECOND: u32 = 123_456;

/// The fields of a field-based schedule, in [`Field`]'s order, with their smallest and
/// largest values: the one table of them. `arq-macros` checks `#[arq::cron]` arguments at
/// compile time against its own copy, which a unit test there compares with this one.
#[doc(hidden)]
pub const __FIELD_RANGES: [(&str, u32, u32); 6] = [
    ("month", 1, 12),
    ("day", 1, 31),
    ("weekday", 0, 6),
    ("hour", 0, 23),
    ("minute", 0, 59),
    ("second", 0, 59),
];

/// One field of a field-based schedule, with its range.
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
    pub(crate) fn name(self) -> &'static str {
        __FIELD_RANGES[self as usize].0
    }

    /// Smallest and largest value.
    pub(crate) fn range(self) -> (u32, u32) {
        let (_, lo, hi) = __FIELD_RANGES[self as usize];
        (lo, hi)
    }

    /// Every value of the field, as a bit mask (bit `v` set for value `v`).
    const fn all(self) -> u64 {
        match self {
            Field::Month => 0x1ffe,
            Field::Day => 0xffff_fffe,
            Field::Weekday => 0x7f,
            Field::Hour => 0xff_ffff,
            Field::Minute | Field::Second => (1 << 60) - 1,
        }
    }
}

/// Weekday names accepted for `weekday` (Python arq's `mon`, `tues`, `wed`, `thurs`, `fri`,
/// `sat`, `sun`, plus the usual three-letter and full forms), case-insensitive. 0 is Monday.
pub fn weekday_from_name(name: &str) -> Option<u32> {
    let n = name.trim().to_ascii_lowercase();
    Some(match n.as_str() {
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

/// One value given to a schedule field: a number, or (for `weekday`) a name.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CronValue {
    /// A number.
    Num(i64),
    /// A weekday name.
    Name(String),
}

/// What a schedule field setter accepts: a number (`8`), a weekday name (`"mon"`), or a set
/// of them (`[0, 30]`, `&[1, 15][..]`, `vec![..]`, `9..=17`, `["sat", "sun"]`).
pub trait IntoCronValues {
    #[doc(hidden)]
    fn into_cron_values(self) -> Vec<CronValue>;
}

macro_rules! int_values {
    ($($t:ty),*) => {$(
        impl IntoCronValues for $t {
            fn into_cron_values(self) -> Vec<CronValue> {
                vec![CronValue::Num(i64::try_from(self).unwrap_or(i64::MAX))]
            }
        }
        impl IntoCronValues for std::ops::Range<$t> {
            fn into_cron_values(self) -> Vec<CronValue> {
                self.map(|v| CronValue::Num(i64::try_from(v).unwrap_or(i64::MAX))).collect()
            }
        }
        impl IntoCronValues for std::ops::RangeInclusive<$t> {
            fn into_cron_values(self) -> Vec<CronValue> {
                self.map(|v| CronValue::Num(i64::try_from(v).unwrap_or(i64::MAX))).collect()
            }
        }
    )*};
}
int_values!(u8, u16, u32, u64, usize, i8, i16, i32, i64);

impl IntoCronValues for &str {
    fn into_cron_values(self) -> Vec<CronValue> {
        vec![CronValue::Name(self.to_owned())]
    }
}

impl IntoCronValues for String {
    fn into_cron_values(self) -> Vec<CronValue> {
        vec![CronValue::Name(self)]
    }
}

impl<T: IntoCronValues, const N: usize> IntoCronValues for [T; N] {
    fn into_cron_values(self) -> Vec<CronValue> {
        self.into_iter().flat_map(T::into_cron_values).collect()
    }
}

impl<T: IntoCronValues + Clone> IntoCronValues for &[T] {
    fn into_cron_values(self) -> Vec<CronValue> {
        self.iter().cloned().flat_map(T::into_cron_values).collect()
    }
}

impl<T: IntoCronValues> IntoCronValues for Vec<T> {
    fn into_cron_values(self) -> Vec<CronValue> {
        self.into_iter().flat_map(T::into_cron_values).collect()
    }
}

/// The set of values of each field, as bit masks; a full mask means "any" (Python's `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fields {
    months: u16,
    days: u32,
    weekdays: u8,
    hours: u32,
    minutes: u64,
    seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Fields(Fields),
    Expr(Cow<'static, str>),
}

/// When a cron job runs.
///
/// Either Python arq's fields, each one value or a set (all must match; a field not given
/// matches any value, except `second`, which defaults to 0 as in Python):
///
/// ```
/// use arq_core::CronSchedule;
/// // 08:00 and 20:00 on weekdays.
/// let s = CronSchedule::new().hour([8, 20])?.minute(0)?.weekday(0..=4)?;
/// // Every 15 minutes on the first of the month.
/// let s = CronSchedule::new().day(1)?.minute([0, 15, 30, 45])?;
/// // Saturdays and Sundays at noon.
/// let s = CronSchedule::new().weekday(["sat", "sun"])?.hour(12)?.minute(0)?;
/// # Ok::<(), arq_core::Error>(())
/// ```
///
/// or a cron expression (parsed by `croner`): five fields `minute hour day month weekday`, or
/// six with the seconds first; names (`MON`, `JAN`), ranges, steps, `L`, `W`, `#`, and the
/// `@daily`-style nicknames. In an expression, weekday 0 is **Sunday** (cron's convention), and
/// a restricted day-of-month and day-of-week match when *either* matches (cron's rule); in
/// fields, weekday 0 is **Monday** and `day` and `weekday` must *both* match (Python arq's
/// rules).
///
/// ```
/// use arq_core::CronSchedule;
/// let every_5_min: CronSchedule = "0 */5 * * * *".parse()?;
/// let weekdays_at_9 = CronSchedule::expr("0 9 * * MON-FRI")?;
/// # Ok::<(), arq_core::Error>(())
/// ```
///
/// Values are checked when the schedule is built: an out-of-range value, an empty set or an
/// invalid expression is an [`Error::InvalidArgument`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    kind: Kind,
    microsecond: u32,
}

impl Default for CronSchedule {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Expr(e) => write!(f, "{e}"),
            Kind::Fields(fields) => {
                let mut parts = Vec::new();
                for field in [
                    Field::Month,
                    Field::Day,
                    Field::Weekday,
                    Field::Hour,
                    Field::Minute,
                    Field::Second,
                ] {
                    let mask = fields.mask(field);
                    if mask != field.all() {
                        let vals: Vec<String> =
                            values_of(mask).into_iter().map(|v| v.to_string()).collect();
                        parts.push(format!("{}={}", field.name(), vals.join(",")));
                    }
                }
                if parts.is_empty() {
                    write!(f, "every second")
                } else {
                    write!(f, "{}", parts.join(" "))
                }
            }
        }
    }
}

impl Fields {
    const DEFAULT: Fields = Fields {
        months: Field::Month.all() as u16,
        days: Field::Day.all() as u32,
        weekdays: Field::Weekday.all() as u8,
        hours: Field::Hour.all() as u32,
        minutes: Field::Minute.all(),
        seconds: 1,
    };

    fn mask(&self, field: Field) -> u64 {
        match field {
            Field::Month => u64::from(self.months),
            Field::Day => u64::from(self.days),
            Field::Weekday => u64::from(self.weekdays),
            Field::Hour => u64::from(self.hours),
            Field::Minute => self.minutes,
            Field::Second => self.seconds,
        }
    }

    fn set_mask(&mut self, field: Field, mask: u64) {
        // Masks were built from values inside the field's range, so they fit.
        match field {
            Field::Month => self.months = mask as u16,
            Field::Day => self.days = mask as u32,
            Field::Weekday => self.weekdays = mask as u8,
            Field::Hour => self.hours = mask as u32,
            Field::Minute => self.minutes = mask,
            Field::Second => self.seconds = mask,
        }
    }

    /// The croner pattern (`sec min hour dom month dow`, day-of-week 0 = Sunday) for these
    /// fields.
    fn pattern(&self) -> String {
        let list = |field: Field, map: &dyn Fn(u32) -> u32| {
            let mask = self.mask(field);
            if mask == field.all() {
                "*".to_owned()
            } else {
                let mut v: Vec<u32> = values_of(mask).into_iter().map(map).collect();
                v.sort_unstable();
                v.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
            }
        };
        let same = |v: u32| v;
        format!(
            "{} {} {} {} {} {}",
            list(Field::Second, &same),
            list(Field::Minute, &same),
            list(Field::Hour, &same),
            list(Field::Day, &same),
            list(Field::Month, &same),
            // arq: 0 = Monday; cron: 0 = Sunday.
            list(Field::Weekday, &|w| (w + 1) % 7),
        )
    }
}

fn values_of(mask: u64) -> Vec<u32> {
    (0..64).filter(|b| mask & (1 << b) != 0).collect()
}

/// The most days each month can have (February: 29); `arq-macros` checks its copy against it.
#[doc(hidden)]
pub const __MONTH_DAYS: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
use __MONTH_DAYS as MONTH_DAYS;

fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidArgument(msg.into())
}

impl CronSchedule {
    /// Python arq's default: every minute at second 0 (`second = 0`, everything else any,
    /// `microsecond = 123456`). Narrow it with the field setters.
    pub const fn new() -> Self {
        CronSchedule {
            kind: Kind::Fields(Fields::DEFAULT),
            microsecond: DEFAULT_MICROSECOND,
        }
    }

    /// A schedule from a cron expression; see the type's docs for the syntax.
    pub fn expr(expression: impl Into<Cow<'static, str>>) -> Result<Self> {
        let expression = expression.into();
        parse_expr(&expression)
            .map_err(|e| invalid(format!("cron expression {expression:?}: {e}")))?;
        Ok(CronSchedule {
            kind: Kind::Expr(expression),
            microsecond: DEFAULT_MICROSECOND,
        })
    }

    /// What `#[arq::cron]` generates (values already checked by the macro).
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    pub const fn __from_masks(
        months: u16,
        days: u32,
        weekdays: u8,
        hours: u32,
        minutes: u64,
        seconds: u64,
        microsecond: u32,
    ) -> Self {
        CronSchedule {
            kind: Kind::Fields(Fields {
                months,
                days,
                weekdays,
                hours,
                minutes,
                seconds,
            }),
            microsecond,
        }
    }

    /// What `#[arq::cron("…")]` generates; the expression is checked when the worker starts.
    #[doc(hidden)]
    pub const fn __from_expr(expression: &'static str, microsecond: u32) -> Self {
        CronSchedule {
            kind: Kind::Expr(Cow::Borrowed(expression)),
            microsecond,
        }
    }

    fn field(mut self, field: Field, values: impl IntoCronValues) -> Result<Self> {
        let Kind::Fields(fields) = &mut self.kind else {
            return Err(invalid(format!(
                "`{}` cannot be combined with a cron expression: put it in the expression",
                field.name()
            )));
        };
        let (lo, hi) = field.range();
        let values = values.into_cron_values();
        if values.is_empty() {
            return Err(invalid(format!(
                "`{}` needs at least one value ({lo}-{hi})",
                field.name()
            )));
        }
        let mut mask = 0u64;
        for v in values {
            let n = match v {
                CronValue::Num(n) => n,
                CronValue::Name(name) if field == Field::Weekday => {
                    match weekday_from_name(&name) {
                        Some(n) => i64::from(n),
                        None => {
                            return Err(invalid(format!(
                                "unknown weekday {name:?}: use 0 (Monday) to 6 (Sunday) or \
                             \"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\""
                            )))
                        }
                    }
                }
                CronValue::Name(name) => {
                    return Err(invalid(format!(
                        "`{}` takes numbers ({lo}-{hi}), not {name:?}",
                        field.name()
                    )))
                }
            };
            if n < i64::from(lo) || n > i64::from(hi) {
                let what = if field == Field::Weekday {
                    " (0 = Monday … 6 = Sunday)"
                } else {
                    ""
                };
                return Err(invalid(format!(
                    "`{}` must be between {lo} and {hi}{what}, found {n}",
                    field.name()
                )));
            }
            mask |= 1 << n;
        }
        fields.set_mask(field, mask);
        if field == Field::Day || field == Field::Month {
            fields.check_dates()?;
        }
        Ok(self)
    }

    /// Months, 1-12.
    pub fn month(self, values: impl IntoCronValues) -> Result<Self> {
        self.field(Field::Month, values)
    }

    /// Days of the month, 1-31. A day a month does not have is skipped in that month.
    pub fn day(self, values: impl IntoCronValues) -> Result<Self> {
        self.field(Field::Day, values)
    }

    /// Days of the week: 0 (Monday) to 6 (Sunday), or names (`"mon"`, `"tues"`, `"sunday"`).
    pub fn weekday(self, values: impl IntoCronValues) -> Result<Self> {
        self.field(Field::Weekday, values)
    }

    /// Hours, 0-23.
    pub fn hour(self, values: impl IntoCronValues) -> Result<Self> {
        self.field(Field::Hour, values)
    }

    /// Minutes, 0-59.
    pub fn minute(self, values: impl IntoCronValues) -> Result<Self> {
        self.field(Field::Minute, values)
    }

    /// Seconds, 0-59 (default 0; `0..60` runs every second).
    pub fn second(self, values: impl IntoCronValues) -> Result<Self> {
        self.field(Field::Second, values)
    }

    /// The microsecond of each tick, 0-999 999 (default 123 456, as in Python arq). It only
    /// moves the tick within its second; the job id's millisecond part follows it, so keep
    /// the default for ids that match Python workers'.
    pub fn microsecond(mut self, microsecond: u32) -> Result<Self> {
        if microsecond > 999_999 {
            return Err(invalid(format!(
                "`microsecond` must be between 0 and 999999, found {microsecond}"
            )));
        }
        self.microsecond = microsecond;
        Ok(self)
    }

    /// The microsecond of each tick.
    pub fn get_microsecond(&self) -> u32 {
        self.microsecond
    }

    /// The expression, for a schedule built from one.
    pub fn expression(&self) -> Option<&str> {
        match &self.kind {
            Kind::Expr(e) => Some(e),
            Kind::Fields(_) => None,
        }
    }

    /// Compiles the schedule for a time zone (`None`: the system's local zone, as Python arq's
    /// default).
    pub(crate) fn compile(&self, timezone: Option<&str>) -> Result<Compiled> {
        let zone = match timezone {
            None => Zone::Local,
            Some(name) => Zone::Named(parse_timezone(name)?),
        };
        let cron = match &self.kind {
            Kind::Fields(fields) => {
                fields.check_dates()?;
                CronParser::builder()
                    .seconds(Seconds::Required)
                    .year(Year::Disallowed)
                    .dom_and_dow(true)
                    .build()
                    .parse(&fields.pattern())
                    .map_err(|e| invalid(format!("cron schedule {self}: {e}")))?
            }
            Kind::Expr(e) => {
                parse_expr(e).map_err(|err| invalid(format!("cron expression {e:?}: {err}")))?
            }
        };
        Ok(Compiled {
            cron,
            zone,
            frac_ms: i64::from((self.microsecond + 500) / 1000),
        })
    }

    /// The first tick after `after`, in `timezone` (`None`: the system's local zone). `None`
    /// when the schedule has no further tick (within croner's search limit). An invalid time
    /// zone or expression is an error.
    pub fn next_after(
        &self,
        timezone: Option<&str>,
        after: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>> {
        let compiled = self.compile(timezone)?;
        Ok(compiled
            .next_after(after.timestamp_millis())
            .map(crate::ms_to_datetime))
    }
}

impl Fields {
    /// Refuses a day/month combination that never occurs (`day = 30, month = 2`).
    fn check_dates(&self) -> Result<()> {
        let longest = (1..=12)
            .filter(|m| self.months & (1 << m) != 0)
            .map(|m| MONTH_DAYS[m - 1])
            .max()
            .unwrap_or(31);
        if values_of(u64::from(self.days)).iter().all(|d| *d > longest) {
            return Err(invalid(format!(
                "the schedule never runs: no month in {:?} has day {:?}",
                values_of(u64::from(self.months)),
                values_of(u64::from(self.days)),
            )));
        }
        Ok(())
    }
}

fn parse_expr(expression: &str) -> std::result::Result<Cron, croner::errors::CronError> {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
        .parse(expression)
}

/// Parses an IANA time zone name (`"Europe/London"`).
pub(crate) fn parse_timezone(name: &str) -> Result<chrono_tz::Tz> {
    name.parse::<chrono_tz::Tz>().map_err(|_| {
        invalid(format!(
            "unknown time zone {name:?}: use an IANA name such as \"Europe/London\", \
             \"America/New_York\" or \"UTC\""
        ))
    })
}

/// A schedule ready to compute ticks: the parsed pattern, the zone and the sub-second part.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    cron: Cron,
    zone: Zone,
    /// The millisecond part of each tick (from the microsecond, rounded).
    frac_ms: i64,
}

#[derive(Debug, Clone, Copy)]
enum Zone {
    Local,
    Named(chrono_tz::Tz),
}

fn search<Z: TimeZone>(cron: &Cron, tz: &Z, secs: i64, forward: bool) -> Option<i64> {
    let start = tz.timestamp_opt(secs, 0).single()?;
    let found = if forward {
        cron.find_next_occurrence(&start, false)
    } else {
        cron.find_previous_occurrence(&start, true)
    };
    found.ok().map(|dt| dt.timestamp())
}

impl Compiled {
    fn find(&self, secs: i64, forward: bool) -> Option<i64> {
        match &self.zone {
            Zone::Local => search(&self.cron, &chrono::Local, secs, forward),
            Zone::Named(tz) => search(&self.cron, tz, secs, forward),
        }
    }

    /// The first tick (ms since the epoch) strictly after `after_ms`.
    pub(crate) fn next_after(&self, after_ms: i64) -> Option<i64> {
        // A tick is `m * 1000 + frac` for a matching whole second `m`; it is after `after_ms`
        // exactly when `m` is after this second:
        let start = (after_ms - self.frac_ms).div_euclid(1000);
        self.find(start, true).map(|m| m * 1000 + self.frac_ms)
    }

    /// The last tick at or before `ms`.
    pub(crate) fn at_or_before(&self, ms: i64) -> Option<i64> {
        let start = (ms - self.frac_ms).div_euclid(1000);
        self.find(start, false).map(|m| m * 1000 + self.frac_ms)
    }
}

impl std::str::FromStr for CronSchedule {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        CronSchedule::expr(s.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::SecondsFormat;

    fn ms(rfc3339: &str) -> i64 {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_millis()
    }

    fn show(ms: i64) -> String {
        crate::ms_to_datetime(ms).to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// The next `n` ticks after `from`, as UTC RFC 3339 strings.
    fn ticks(s: &CronSchedule, tz: &str, from: &str, n: usize) -> Vec<String> {
        let c = s.compile(Some(tz)).unwrap();
        let mut at = ms(from);
        let mut out = Vec::new();
        for _ in 0..n {
            at = c.next_after(at).expect("a next tick");
            out.push(show(at));
        }
        out
    }

    #[test]
    fn default_is_every_minute_at_second_zero_and_123ms() {
        let s = CronSchedule::new();
        assert_eq!(
            ticks(&s, "UTC", "2026-01-01T10:00:30Z", 3),
            [
                "2026-01-01T10:01:00.123Z",
                "2026-01-01T10:02:00.123Z",
                "2026-01-01T10:03:00.123Z"
            ]
        );
        assert_eq!(s.to_string(), "second=0");
    }

    #[test]
    fn strictly_after_and_at_or_before_respect_the_sub_second_part() {
        let c = CronSchedule::new()
            .second(0..60)
            .unwrap()
            .compile(Some("UTC"))
            .unwrap();
        let t = ms("2026-01-01T10:00:00.123Z");
        assert_eq!(c.next_after(t - 1), Some(t));
        assert_eq!(c.next_after(t), Some(t + 1000));
        assert_eq!(c.at_or_before(t), Some(t));
        assert_eq!(c.at_or_before(t - 1), Some(t - 1000));
        assert_eq!(c.at_or_before(t + 999), Some(t));
    }

    #[test]
    fn ids_match_python_arq_capture() {
        // s11 of the protocol captures: a per-second cron's id `cron:cron_every_sec:1795904914123`.
        let c = CronSchedule::new()
            .second(0..60)
            .unwrap()
            .compile(Some("UTC"))
            .unwrap();
        assert_eq!(c.next_after(1_795_904_913_500), Some(1_795_904_914_123));
        assert_eq!(c.next_after(1_795_904_914_123), Some(1_795_904_915_123));
    }

    #[test]
    fn microsecond_moves_the_tick() {
        let s = CronSchedule::new().microsecond(0).unwrap();
        assert_eq!(
            ticks(&s, "UTC", "2026-01-01T10:00:30Z", 1),
            ["2026-01-01T10:01:00.000Z"]
        );
        let s = CronSchedule::new().microsecond(999_600).unwrap();
        // 999.6 ms rounds to the next whole second, as Python's round(ts * 1000) does.
        assert_eq!(
            ticks(&s, "UTC", "2026-01-01T10:00:30Z", 1),
            ["2026-01-01T10:01:01.000Z"]
        );
        assert!(CronSchedule::new().microsecond(1_000_000).is_err());
    }

    #[test]
    fn fixed_time_in_a_named_zone_follows_summer_time() {
        let s = CronSchedule::new().hour(8).unwrap().minute(0).unwrap();
        assert_eq!(
            ticks(&s, "Europe/London", "2026-01-10T12:00:00Z", 1),
            ["2026-01-11T08:00:00.123Z"]
        );
        assert_eq!(
            ticks(&s, "Europe/London", "2026-07-10T12:00:00Z", 1),
            ["2026-07-11T07:00:00.123Z"]
        );
        assert_eq!(
            ticks(&s, "America/New_York", "2026-01-10T12:00:00Z", 1),
            ["2026-01-10T13:00:00.123Z"]
        );
    }

    #[test]
    fn london_spring_forward_gap() {
        // 2026-03-29: 01:00 GMT becomes 02:00 BST; 01:30 does not exist that day.
        let s = CronSchedule::new().hour(1).unwrap().minute(30).unwrap();
        assert_eq!(
            ticks(&s, "Europe/London", "2026-03-27T12:00:00Z", 3),
            [
                "2026-03-28T01:30:00.123Z", // 01:30 GMT
                "2026-03-29T01:00:00.123Z", // the first instant after the gap, 02:00 BST
                "2026-03-30T00:30:00.123Z", // 01:30 BST
            ]
        );
        // A schedule that repeats every 30 minutes has no ticks inside the gap.
        let s = CronSchedule::new().minute([0, 30]).unwrap();
        assert_eq!(
            ticks(&s, "Europe/London", "2026-03-29T00:10:00Z", 3),
            [
                "2026-03-29T00:30:00.123Z", // 00:30 GMT
                "2026-03-29T01:00:00.123Z", // 02:00 BST
                "2026-03-29T01:30:00.123Z", // 02:30 BST
            ]
        );
    }

    #[test]
    fn london_fall_back_overlap() {
        // 2026-10-25: 02:00 BST becomes 01:00 GMT; 01:00-01:59 happens twice.
        let s = CronSchedule::new().hour(1).unwrap().minute(30).unwrap();
        assert_eq!(
            ticks(&s, "Europe/London", "2026-10-24T12:00:00Z", 3),
            [
                "2026-10-25T00:30:00.123Z", // 01:30 BST, once: not again at 01:30 GMT
                "2026-10-26T01:30:00.123Z", // 01:30 GMT
                "2026-10-27T01:30:00.123Z",
            ]
        );
        // An interval schedule runs in both halves of the repeated hour.
        let s = CronSchedule::new().minute([0, 30]).unwrap();
        assert_eq!(
            ticks(&s, "Europe/London", "2026-10-24T23:50:00Z", 6),
            [
                "2026-10-25T00:00:00.123Z", // 01:00 BST
                "2026-10-25T00:30:00.123Z", // 01:30 BST
                "2026-10-25T01:00:00.123Z", // 01:00 GMT
                "2026-10-25T01:30:00.123Z", // 01:30 GMT
                "2026-10-25T02:00:00.123Z", // 02:00 GMT
                "2026-10-25T02:30:00.123Z",
            ]
        );
    }

    #[test]
    fn new_york_dst_changes() {
        // 2026-03-08: 02:00 EST becomes 03:00 EDT.
        let s = CronSchedule::new().hour(2).unwrap().minute(30).unwrap();
        assert_eq!(
            ticks(&s, "America/New_York", "2026-03-06T12:00:00Z", 3),
            [
                "2026-03-07T07:30:00.123Z", // 02:30 EST
                "2026-03-08T07:00:00.123Z", // 03:00 EDT, right after the gap
                "2026-03-09T06:30:00.123Z", // 02:30 EDT
            ]
        );
        // 2026-11-01: 02:00 EDT becomes 01:00 EST.
        let s = CronSchedule::new().hour(1).unwrap().minute(30).unwrap();
        assert_eq!(
            ticks(&s, "America/New_York", "2026-10-31T12:00:00Z", 2),
            [
                "2026-11-01T05:30:00.123Z", // 01:30 EDT, once
                "2026-11-02T06:30:00.123Z", // 01:30 EST
            ]
        );
        // Expressions get the same treatment.
        let s = CronSchedule::expr("30 1 * * *").unwrap();
        assert_eq!(
            ticks(&s, "America/New_York", "2026-10-31T12:00:00Z", 2),
            ["2026-11-01T05:30:00.123Z", "2026-11-02T06:30:00.123Z"]
        );
    }

    #[test]
    fn february_29() {
        let s = CronSchedule::new()
            .month(2)
            .unwrap()
            .day(29)
            .unwrap()
            .hour(0)
            .unwrap()
            .minute(0)
            .unwrap();
        assert_eq!(
            ticks(&s, "UTC", "2026-03-01T00:00:00Z", 2),
            ["2028-02-29T00:00:00.123Z", "2032-02-29T00:00:00.123Z"]
        );
    }

    #[test]
    fn month_ends_skip_short_months() {
        let s = CronSchedule::new()
            .day(31)
            .unwrap()
            .hour(0)
            .unwrap()
            .minute(0)
            .unwrap();
        assert_eq!(
            ticks(&s, "UTC", "2026-01-31T12:00:00Z", 4),
            [
                "2026-03-31T00:00:00.123Z",
                "2026-05-31T00:00:00.123Z",
                "2026-07-31T00:00:00.123Z",
                "2026-08-31T00:00:00.123Z",
            ]
        );
        // The last day of every month needs an expression (`L`).
        let s = CronSchedule::expr("0 0 L * *").unwrap();
        assert_eq!(
            ticks(&s, "UTC", "2026-01-31T12:00:00Z", 3),
            [
                "2026-02-28T00:00:00.123Z",
                "2026-03-31T00:00:00.123Z",
                "2026-04-30T00:00:00.123Z",
            ]
        );
    }

    #[test]
    fn impossible_dates_are_refused() {
        let err = CronSchedule::new()
            .month(2)
            .unwrap()
            .day(30)
            .unwrap_err()
            .to_string();
        assert!(err.contains("never runs"), "{err}");
        assert!(CronSchedule::new()
            .day([30, 31])
            .unwrap()
            .month([2, 4])
            .is_ok());
        assert!(CronSchedule::new()
            .day(31)
            .unwrap()
            .month([2, 4, 6])
            .is_err());
    }

    #[test]
    fn weekday_numbers_and_names_with_monday_zero() {
        // 2026-01-01 is a Thursday.
        let s = CronSchedule::new()
            .weekday("mon")
            .unwrap()
            .hour(9)
            .unwrap()
            .minute(0)
            .unwrap();
        assert_eq!(
            ticks(&s, "UTC", "2026-01-01T00:00:00Z", 2),
            ["2026-01-05T09:00:00.123Z", "2026-01-12T09:00:00.123Z"]
        );
        let by_number = CronSchedule::new()
            .weekday(0)
            .unwrap()
            .hour(9)
            .unwrap()
            .minute(0)
            .unwrap();
        assert_eq!(by_number, s);
        let weekend = CronSchedule::new()
            .weekday(["sat", "SUNDAY"])
            .unwrap()
            .hour(12)
            .unwrap()
            .minute(0)
            .unwrap();
        assert_eq!(
            ticks(&weekend, "UTC", "2026-01-01T00:00:00Z", 3),
            [
                "2026-01-03T12:00:00.123Z",
                "2026-01-04T12:00:00.123Z",
                "2026-01-10T12:00:00.123Z"
            ]
        );
        for (name, n) in [
            ("mon", 0),
            ("tues", 1),
            ("wed", 2),
            ("thurs", 3),
            ("fri", 4),
            ("sat", 5),
            ("sun", 6),
        ] {
            assert_eq!(weekday_from_name(name), Some(n), "{name}");
        }
        assert_eq!(weekday_from_name("mo"), None);
    }

    #[test]
    fn day_and_weekday_both_match_in_fields_either_in_expressions() {
        // Friday the 13th (arq: every field must match).
        let s = CronSchedule::new()
            .day(13)
            .unwrap()
            .weekday("fri")
            .unwrap()
            .hour(0)
            .unwrap()
            .minute(0)
            .unwrap();
        assert_eq!(
            ticks(&s, "UTC", "2026-01-01T00:00:00Z", 2),
            ["2026-02-13T00:00:00.123Z", "2026-03-13T00:00:00.123Z"]
        );
        // cron: the 13th or any Friday.
        let s = CronSchedule::expr("0 0 13 * FRI").unwrap();
        assert_eq!(
            ticks(&s, "UTC", "2026-01-01T00:00:00Z", 3),
            [
                "2026-01-02T00:00:00.123Z",
                "2026-01-09T00:00:00.123Z",
                "2026-01-13T00:00:00.123Z"
            ]
        );
    }

    #[test]
    fn expressions_with_and_without_seconds() {
        let s: CronSchedule = "*/15 * * * * *".parse().unwrap();
        assert_eq!(
            ticks(&s, "UTC", "2026-01-01T00:00:01Z", 3),
            [
                "2026-01-01T00:00:15.123Z",
                "2026-01-01T00:00:30.123Z",
                "2026-01-01T00:00:45.123Z"
            ]
        );
        let s = CronSchedule::expr("*/20 * * * *").unwrap();
        assert_eq!(
            ticks(&s, "UTC", "2026-01-01T00:00:01Z", 2),
            ["2026-01-01T00:20:00.123Z", "2026-01-01T00:40:00.123Z"]
        );
        let s = CronSchedule::expr("@daily").unwrap();
        assert_eq!(
            ticks(&s, "Europe/London", "2026-06-01T12:00:00Z", 1),
            ["2026-06-01T23:00:00.123Z"]
        );
        assert_eq!(s.expression(), Some("@daily"));
    }

    #[test]
    fn bad_values_are_errors_at_build_time() {
        let msg = |r: Result<CronSchedule>| r.unwrap_err().to_string();
        assert_eq!(
            msg(CronSchedule::new().hour(24)),
            "invalid argument: `hour` must be between 0 and 23, found 24"
        );
        assert!(msg(CronSchedule::new().minute(60)).contains("between 0 and 59"));
        assert!(msg(CronSchedule::new().weekday(7)).contains("0 = Monday"));
        assert!(msg(CronSchedule::new().month(0)).contains("between 1 and 12"));
        assert!(msg(CronSchedule::new().month(13)).contains("between 1 and 12"));
        assert!(msg(CronSchedule::new().day(0)).contains("between 1 and 31"));
        assert!(msg(CronSchedule::new().day(32)).contains("between 1 and 31"));
        assert!(msg(CronSchedule::new().hour(-1)).contains("found -1"));
        assert!(msg(CronSchedule::new().weekday("mo")).contains("unknown weekday"));
        assert!(msg(CronSchedule::new().hour("mon")).contains("takes numbers"));
        assert!(msg(CronSchedule::new().hour(Vec::<u8>::new())).contains("at least one"));
        assert!(msg(CronSchedule::expr("61 * * * *"))
            .starts_with("invalid argument: cron expression \"61 * * * *\":"));
        assert!(CronSchedule::expr("* * *").is_err());
        assert!(CronSchedule::expr("").is_err());
        assert!(
            msg(CronSchedule::expr("* * * * *").unwrap().hour(1)).contains("cannot be combined")
        );
    }

    #[test]
    fn time_zones_are_checked() {
        let s = CronSchedule::new();
        assert!(s.compile(Some("Europe/London")).is_ok());
        let err = s.compile(Some("Europe/Londn")).unwrap_err().to_string();
        assert!(err.contains("unknown time zone \"Europe/Londn\""), "{err}");
        // The system's local zone, as Python arq's default.
        assert!(s.compile(None).is_ok());
    }

    #[test]
    fn field_schedules_become_croner_patterns() {
        let s = CronSchedule::new()
            .weekday([0, 6])
            .unwrap()
            .hour(9..=17)
            .unwrap()
            .minute(0)
            .unwrap();
        let Kind::Fields(f) = &s.kind else { panic!() };
        assert_eq!(f.pattern(), "0 0 9,10,11,12,13,14,15,16,17 * * 0,1");
        assert_eq!(
            s.to_string(),
            "weekday=0,6 hour=9,10,11,12,13,14,15,16,17 minute=0 second=0"
        );
    }

    #[test]
    fn public_next_after() {
        let s = CronSchedule::new().hour(8).unwrap().minute(0).unwrap();
        let after = DateTime::parse_from_rfc3339("2026-07-10T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let next = s.next_after(Some("Europe/London"), after).unwrap().unwrap();
        assert_eq!(show(next.timestamp_millis()), "2026-07-11T07:00:00.123Z");
        assert!(s.next_after(Some("Mars/Olympus"), after).is_err());
    }
}
