//! What comes back from Redis: reply values decoded into Rust types, and failed calls sorted
//! into arq's errors.
//!
//! The decoders are lenient about the shape a value arrives in (RESP2 and RESP3 give the same
//! number as an integer, a double or a bulk string, depending on the command and the script)
//! and strict about its meaning: a reply that cannot be what the step expects is a
//! [`protocol`] error that names the step, never a silent default.

use arq_core::{Error, Result};
use bytes::Bytes;
use fred::types::Value as RValue;

/// arq's error for a failed Redis call, as it is.
pub(crate) fn redis_error(e: fred::error::Error) -> Error {
    Error::backend(e)
}

/// Whether a failed write may have reached the server anyway (its reply was lost): the
/// connection dropped, the call timed out or was cancelled, or fred could not tell.
pub(crate) fn maybe_applied(e: &fred::error::Error) -> bool {
    use fred::error::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::IO | ErrorKind::Timeout | ErrorKind::Canceled | ErrorKind::Unknown
    )
}

/// The error for a reply that does not have the shape a step expects.
pub(crate) fn protocol(msg: impl Into<String>) -> Error {
    Error::backend(format!("unexpected reply from redis: {}", msg.into()))
}

/// A bulk string's bytes; `None` for nil (a missing key) and for any other shape.
pub(crate) fn bytes_of(v: RValue) -> Option<Bytes> {
    match v {
        RValue::Bytes(b) => Some(b),
        RValue::String(s) => Some(s.into_inner()),
        _ => None,
    }
}

/// An integer, from an integer reply, a decimal string, or a double (rounded).
pub(crate) fn int_of(v: &RValue) -> Option<i64> {
    match v {
        RValue::Integer(i) => Some(*i),
        RValue::String(s) => s.parse().ok(),
        RValue::Bytes(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        RValue::Double(d) => Some(d.round() as i64),
        _ => None,
    }
}

/// A sorted-set score as integer ms (Python arq writes whole milliseconds; a fractional score
/// written by hand is rounded). `None` for nil, non-numbers and infinities.
pub(crate) fn score_of(v: &RValue) -> Option<i64> {
    let ms: f64 = match v {
        RValue::Double(d) => *d,
        RValue::Integer(i) => return Some(*i),
        RValue::String(s) => s.parse().ok()?,
        RValue::Bytes(b) => std::str::from_utf8(b).ok()?.parse().ok()?,
        _ => return None,
    };
    ms.is_finite().then(|| ms.round() as i64)
}

/// A string, from a simple or bulk string (valid UTF-8 only) or an integer.
pub(crate) fn string_of(v: RValue) -> Option<String> {
    match v {
        RValue::String(s) => Some(s.to_string()),
        RValue::Bytes(b) => String::from_utf8(b.to_vec()).ok(),
        RValue::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}

/// The items of an array reply (nil is an empty array); anything else is a [`protocol`] error
/// naming `what`.
pub(crate) fn array(v: RValue, what: &str) -> Result<Vec<RValue>> {
    match v {
        RValue::Array(items) => Ok(items),
        RValue::Null => Ok(Vec::new()),
        other => Err(protocol(format!(
            "{what}: expected an array, got {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fred::error::ErrorKind;

    fn s(v: &str) -> RValue {
        RValue::String(v.into())
    }

    fn b(v: &'static [u8]) -> RValue {
        RValue::Bytes(Bytes::from_static(v))
    }

    #[test]
    fn bytes_of_reads_strings_and_refuses_the_rest() {
        assert_eq!(
            bytes_of(b(b"\x93\x01")),
            Some(Bytes::from_static(b"\x93\x01"))
        );
        assert_eq!(bytes_of(s("abc")), Some(Bytes::from_static(b"abc")));
        assert_eq!(bytes_of(RValue::Null), None);
        assert_eq!(bytes_of(RValue::Integer(1)), None);
        assert_eq!(bytes_of(RValue::Boolean(false)), None);
        assert_eq!(bytes_of(RValue::Array(vec![s("a")])), None);
    }

    #[test]
    fn int_of_reads_every_numeric_shape() {
        assert_eq!(int_of(&RValue::Integer(-7)), Some(-7));
        assert_eq!(int_of(&s("42")), Some(42));
        assert_eq!(int_of(&b(b"1795904914123")), Some(1_795_904_914_123));
        assert_eq!(int_of(&RValue::Double(2.6)), Some(3));
        assert_eq!(int_of(&s("4.5")), None);
        assert_eq!(int_of(&s("x")), None);
        assert_eq!(int_of(&b(b"\xff")), None);
        assert_eq!(int_of(&RValue::Null), None);
        assert_eq!(int_of(&RValue::Boolean(true)), None);
        assert_eq!(int_of(&RValue::Array(vec![])), None);
    }

    #[test]
    fn score_of_rounds_to_whole_ms_and_refuses_infinities() {
        assert_eq!(
            score_of(&RValue::Double(1_700_000_000_000.0)),
            Some(1_700_000_000_000)
        );
        assert_eq!(score_of(&RValue::Double(10.4)), Some(10));
        assert_eq!(score_of(&RValue::Integer(5)), Some(5));
        assert_eq!(score_of(&s("1700000000000")), Some(1_700_000_000_000));
        assert_eq!(score_of(&b(b"12.5")), Some(13));
        assert_eq!(score_of(&s("inf")), None);
        assert_eq!(score_of(&b(b"-inf")), None);
        assert_eq!(score_of(&RValue::Double(f64::NAN)), None);
        assert_eq!(score_of(&s("soon")), None);
        assert_eq!(score_of(&RValue::Null), None);
        assert_eq!(score_of(&RValue::Array(vec![RValue::Integer(1)])), None);
    }

    #[test]
    fn string_of_reads_text_and_integers() {
        assert_eq!(string_of(s("aborted")).as_deref(), Some("aborted"));
        assert_eq!(string_of(b(b"w1:3:1")).as_deref(), Some("w1:3:1"));
        assert_eq!(string_of(RValue::Integer(0)).as_deref(), Some("0"));
        assert_eq!(string_of(b(b"\xc3\x28")), None);
        assert_eq!(string_of(RValue::Null), None);
        assert_eq!(string_of(RValue::Double(1.0)), None);
        assert_eq!(string_of(RValue::Array(vec![])), None);
    }

    #[test]
    fn array_accepts_arrays_and_nil_and_names_the_step_otherwise() {
        assert_eq!(
            array(RValue::Array(vec![RValue::Integer(1)]), "x").unwrap(),
            vec![RValue::Integer(1)]
        );
        assert!(array(RValue::Null, "x").unwrap().is_empty());
        let e = array(s("OK"), "claim").unwrap_err().to_string();
        assert!(e.contains("unexpected reply from redis"), "{e}");
        assert!(e.contains("claim: expected an array"), "{e}");
        assert!(array(RValue::Integer(3), "status").is_err());
    }

    #[test]
    fn protocol_errors_say_redis_replied_something_unexpected() {
        let e = protocol("status: short reply");
        assert!(matches!(e, Error::Backend(_)), "{e:?}");
        assert_eq!(
            e.to_string()
                .matches("unexpected reply from redis: status: short reply")
                .count(),
            1,
            "{e}"
        );
    }

    #[test]
    fn lost_replies_may_have_been_applied_refusals_were_not() {
        for kind in [
            ErrorKind::IO,
            ErrorKind::Timeout,
            ErrorKind::Canceled,
            ErrorKind::Unknown,
        ] {
            assert!(
                maybe_applied(&fred::error::Error::new(kind.clone(), "x")),
                "{kind:?}"
            );
        }
        for kind in [
            ErrorKind::Config,
            ErrorKind::InvalidArgument,
            ErrorKind::Protocol,
        ] {
            assert!(
                !maybe_applied(&fred::error::Error::new(kind.clone(), "x")),
                "{kind:?}"
            );
        }
        assert!(matches!(
            redis_error(fred::error::Error::new(ErrorKind::IO, "gone")),
            Error::Backend(_)
        ));
    }
}
