//! Python's pickle, the default serializer of Python arq: [`PickleCodec`].

mod classes;
mod read;
mod write;

use super::Codec;
use crate::{JobFailure, Value, ValueError};

/// Python's pickle, the default serializer of Python arq (`pickle.dumps` / `pickle.loads`).
///
/// Use it on both sides when the Python workers or clients keep arq's defaults. Failures are
/// stored as real exception objects (see [`Codec::failure_value`]), so Python's
/// `Job.result()` raises the original class: `TimeoutError`, `CancelledError`,
/// `arq.worker.JobExecutionFailed`, …
///
/// # Reading
///
/// [`PickleCodec::decode`] runs a small pickle machine that **never imports or calls
/// anything**: it reads protocols 0 to 5 (Python 3.8-3.13 write 4, Python 3.14 writes 5),
/// frames, the memo (shared objects stay shared until the final tree is built), and it
/// treats globals as names only. Objects are rebuilt for an allow-list of classes:
///
/// | Python | [`Value`] |
/// |---|---|
/// | `None`, `bool`, `int`, `float`, `str`, `bytes` | `Nil`, `Bool`, `Int`/`UInt`, `Float`, `Str`, `Bytes` |
/// | `int` beyond 64 bits | decode error |
/// | `list`, `tuple` | `List` |
/// | `dict`, `collections.OrderedDict`, `collections.defaultdict` | `Map` (keys in order) |
/// | `set`, `frozenset` | `List`, in pickled order |
/// | `bytearray` | `Bytes` |
/// | an exception (see below) | `{"__arq_exception__": "<module>.<class>", "args": [...]}` |
/// | `datetime.datetime` | `Str`, as `isoformat()`: `2026-11-28T22:28:10.553000+00:00`; naive ones have no offset |
/// | `datetime.date` | `Str`, `YYYY-MM-DD` |
/// | `datetime.time` | `Str`, as `isoformat()`: `HH:MM:SS[.ffffff][+HH:MM]` |
/// | `datetime.timedelta` | `Float`, `total_seconds()` |
/// | `datetime.timezone`, `zoneinfo.ZoneInfo`, pytz zones (standalone) | `Str`, as `str(tz)`: `UTC`, `UTC+01:00`, the zone key |
/// | `decimal.Decimal` | `Str`, as `str(d)`: `1.10` |
/// | `uuid.UUID` | `Str`, as `str(u)`: `12345678-1234-5678-9abc-def012345678` |
///
/// A datetime's offset comes from its `tzinfo`: `datetime.timezone` and pytz zones carry it
/// in the pickle. A `zoneinfo.ZoneInfo` zone does not (its rules live in the tz database), so
/// such a datetime is written as its local time followed by the key in brackets, as in RFC
/// 9557: `2026-11-28T22:28:10[Europe/Paris]`.
///
/// Exceptions are the classes of `builtins` (`ValueError`, `TimeoutError`,
/// `KeyboardInterrupt`, `StopIteration`…), arq's own (`arq.worker.JobExecutionFailed`,
/// `arq.worker.Retry`, `arq.jobs.ResultNotFound`, …) and any class whose name ends in
/// `Error`, `Exception` or `Warning` (`asyncio.exceptions.CancelledError`,
/// `my_app.PaymentError`). Only their `args` are kept; the state some of them pickle with
/// `BUILD` (`Retry`'s `defer_score`) is dropped. Since Python arq only ever stores an
/// exception as the `r` of a failed result (`s` is `False`), an object of any other class
/// built the way exceptions are pickled is read as an exception there too.
///
/// Any other object fails the decode with an error that names its class:
/// `unsupported Python object in pickle: my_app.models.User (only plain data, exceptions,
/// datetime, Decimal and UUID are supported)`. The worker turns that into a failed job.
///
/// Hostile or corrupt input gives an error, never a panic or a hang: every length is checked
/// against the bytes left; the stack, the memo, open marks and the number of objects are
/// capped; nesting is limited to 256 levels; recursive structures are refused; and the tree
/// built from shared objects may not grow beyond 1 MiB plus 64 times the input (in units
/// where a value costs 16 and each byte of text 1). Text that is not valid UTF-8 (a lone
/// surrogate) is read with U+FFFD replacements. Bytes after `STOP` are an error.
///
/// # Writing
///
/// [`PickleCodec::encode`] writes protocol 4 opcodes, without frames or memo (which are
/// optional), so any Python 3 `pickle.loads` reads the result: `None`, `True`/`False`,
/// ints with the opcodes Python uses (`BININT1`, `BININT2`, `BININT`, `LONG1`), floats as
/// `BINFLOAT`, `str`, `bytes`, `list` and `dict`. The `a` field of a job or result record
/// (a top-level map with `f`, `a` and `et`) is written as a tuple, as Python arq writes it.
/// Dict keys that are lists become tuples (Python keys must be hashable); a map as a key is
/// an error. A map of exactly the shape `{"__arq_exception__": "<module>.<class>", "args":
/// [...]}` whose class is an exception class by the rules above (and a plain dotted
/// identifier path) is written as that exception (`STACK_GLOBAL` + args tuple + `REDUCE`),
/// so Python can raise it; any other map with that key stays a plain dict, so data can never
/// make Python call an arbitrary function. A class path is split into module and class at
/// its last dot; a path without a dot is a builtin. `arq.worker.Retry` keeps its argument
/// only when it is a number (Python calls `Retry(defer)`, and `Retry("text")` cannot load).
#[derive(Debug, Clone, Copy, Default)]
pub struct PickleCodec;

impl Codec for PickleCodec {
    fn name(&self) -> &'static str {
        "pickle"
    }

    fn encode(&self, value: &Value) -> Result<Vec<u8>, ValueError> {
        write::encode(value)
    }

    fn decode(&self, bytes: &[u8]) -> Result<Value, ValueError> {
        read::decode(bytes)
    }

    /// The failure as a Python exception object ([`JobFailure::to_exception_value`]), which
    /// this codec writes as the real exception.
    fn failure_value(&self, failure: &JobFailure) -> Value {
        failure.to_exception_value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EXCEPTION_KEY;

    #[test]
    fn round_trips() {
        let c = PickleCodec;
        let v = Value::Map(vec![
            (Value::Str("t".into()), Value::Nil),
            (Value::Str("f".into()), Value::Str("add".into())),
            (
                Value::Str("a".into()),
                Value::List(vec![Value::Int(1), Value::UInt(u64::MAX)]),
            ),
            (Value::Str("k".into()), Value::Map(vec![])),
            (Value::Str("et".into()), Value::Int(1_795_904_891_973)),
            (Value::Int(-7), Value::Bytes(vec![0, 255])),
            (Value::Float(0.5), Value::Bool(true)),
        ]);
        assert_eq!(c.decode(&c.encode(&v).unwrap()).unwrap(), v);
    }

    #[test]
    fn failures_are_exception_objects() {
        let c = PickleCodec;
        let f = JobFailure::new("TimeoutError", "");
        let v = c.failure_value(&f);
        assert_eq!(
            v.get(EXCEPTION_KEY),
            Some(&Value::Str("builtins.TimeoutError".into()))
        );
        let bytes = c.encode(&v).unwrap();
        assert!(bytes.windows(12).any(|w| w == b"TimeoutError"));
        let back = c.decode(&bytes).unwrap();
        assert_eq!(back, v);
        assert_eq!(JobFailure::from_result_value(&back), f);
        assert_eq!(c.name(), "pickle");
    }
}
