//! A neutral, dynamically typed value tree.
//!
//! [`Value`] is the data model every codec (msgpack, JSON, Python pickle) maps
//! bytes to and from. It mirrors msgpack's data model, which is also what
//! Python arq's payloads hold: `None`, booleans, integers, floats, text,
//! bytes, lists and dicts whose keys may be any value.
//!
//! Typed data moves in and out of the tree with serde:
//!
//! * [`to_value`] serializes any `T: Serialize` into a [`Value`]. Structs
//!   become maps keyed by field name (not arrays), so Python sees natural
//!   dicts; enums are externally tagged like `serde_json` does it.
//! * [`from_value`] deserializes any `T: DeserializeOwned` from a [`Value`].
//!
//! [`Value`] itself implements [`serde::Serialize`] and
//! [`serde::Deserialize`], so it can be written and read directly by
//! `rmp-serde` or `serde_json`.

mod de;
mod ser;

use std::fmt::{self, Write as _};

use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A dynamically typed value: msgpack's data model, which is also what Python
/// arq's payloads hold.
///
/// Integers are normalized: every integer that fits in an `i64` is stored as
/// [`Value::Int`]; only integers above `i64::MAX` use [`Value::UInt`]. The
/// `From` conversions, [`to_value`] and the [`Deserialize`] impl all keep to
/// that rule; code building a `Value::UInt` by hand should too, or equality
/// comparisons may surprise.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    /// The absence of a value (Python `None`, msgpack `nil`, JSON `null`).
    #[default]
    Nil,
    /// A boolean.
    Bool(bool),
    /// Any integer that fits in an `i64`.
    Int(i64),
    /// An integer greater than `i64::MAX` (never one that fits in an `i64`).
    UInt(u64),
    /// A floating point number.
    Float(f64),
    /// UTF-8 text.
    Str(String),
    /// Raw bytes (Python `bytes`, msgpack `bin`).
    Bytes(Vec<u8>),
    /// An ordered sequence of values.
    List(Vec<Value>),
    /// Key/value pairs in insertion order; keys may be any value.
    Map(Vec<(Value, Value)>),
}

impl Value {
    /// Returns `true` if this is [`Value::Nil`].
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// Returns the text of a [`Value::Str`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Returns the integer of a [`Value::Int`].
    ///
    /// A [`Value::UInt`] never fits in an `i64` and floats are not converted,
    /// so every other variant gives `None`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// Returns a non-negative [`Value::Int`] or a [`Value::UInt`] as a `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Int(i) => u64::try_from(*i).ok(),
            Value::UInt(u) => Some(*u),
            _ => None,
        }
    }

    /// Returns a [`Value::Float`], or an integer converted to `f64` (which
    /// may round integers beyond 2^53).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            Value::UInt(u) => Some(*u as f64),
            _ => None,
        }
    }

    /// Returns the boolean of a [`Value::Bool`].
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Returns the bytes of a [`Value::Bytes`].
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// Returns the items of a [`Value::List`].
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    /// Returns the entries of a [`Value::Map`], in insertion order.
    pub fn as_map(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// Looks up `key` in a [`Value::Map`]: returns the value of the first
    /// entry whose key is a [`Value::Str`] equal to `key`.
    ///
    /// Returns `None` if this is not a map or no such entry exists.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// A short name of this value's type, for error messages: `"nil"`,
    /// `"bool"`, `"int"` (for both integer variants), `"float"`, `"str"`,
    /// `"bytes"`, `"list"` or `"map"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::UInt(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Map(_) => "map",
        }
    }

    /// Describes this value for serde's `invalid_type` errors.
    fn unexpected(&self) -> serde::de::Unexpected<'_> {
        use serde::de::Unexpected;
        match self {
            Value::Nil => Unexpected::Unit,
            Value::Bool(b) => Unexpected::Bool(*b),
            Value::Int(i) => Unexpected::Signed(*i),
            Value::UInt(u) => Unexpected::Unsigned(*u),
            Value::Float(f) => Unexpected::Float(*f),
            Value::Str(s) => Unexpected::Str(s),
            Value::Bytes(b) => Unexpected::Bytes(b),
            Value::List(_) => Unexpected::Seq,
            Value::Map(_) => Unexpected::Map,
        }
    }

    /// Builds the normalized value of a `u64`.
    fn from_u64(u: u64) -> Value {
        match i64::try_from(u) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::UInt(u),
        }
    }

    /// Builds the normalized value of an `i128`, if it is in range.
    fn from_i128(i: i128) -> Option<Value> {
        if let Ok(i) = i64::try_from(i) {
            Some(Value::Int(i))
        } else if let Ok(u) = u64::try_from(i) {
            Some(Value::UInt(u))
        } else {
            None
        }
    }

    /// Builds the normalized value of a `u128`, if it is in range.
    fn from_u128(u: u128) -> Option<Value> {
        u64::try_from(u).ok().map(Value::from_u64)
    }
}

/// An error converting to or from a [`Value`].
///
/// It carries only a message; serde's standard errors ("invalid type: ...",
/// "missing field ...", "invalid length ...") come through unchanged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(String);

impl ValueError {
    /// Creates an error with the given message.
    pub fn new(msg: impl Into<String>) -> Self {
        ValueError(msg.into())
    }

    /// The error message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl serde::ser::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError(msg.to_string())
    }
}

impl serde::de::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError(msg.to_string())
    }
}

/// Serializes `value` into a [`Value`] tree.
///
/// Structs become [`Value::Map`]s keyed by field name in field order; unit
/// and unit structs become [`Value::Nil`]; newtype structs become their inner
/// value; tuples and sequences become [`Value::List`]s; enums are externally
/// tagged (`"Variant"` or `{"Variant": content}`); `None` is `Nil` and
/// `Some(x)` is `x`.
///
/// # Errors
///
/// Fails if the type's `Serialize` impl reports an error, or for a 128-bit
/// integer outside the range `i64::MIN..=u64::MAX`.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, ValueError> {
    value.serialize(ser::ValueSerializer)
}

/// Deserializes a `T` from a [`Value`] tree.
///
/// Structs may be read from maps (by field name) or lists (positionally);
/// enums from a string (unit variant) or a single-entry map keyed by the
/// variant name. Strings are never read from bytes, even valid UTF-8 ones.
///
/// # Errors
///
/// Fails with serde's standard messages when the value does not fit `T`,
/// e.g. `invalid type: string "x", expected i64`.
pub fn from_value<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ValueError> {
    T::deserialize(value)
}

// ---------------------------------------------------------------------------
// Conversions

macro_rules! from_signed {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::Int(i64::from(v))
            }
        }
    )*};
}
from_signed!(i8, i16, i32, i64, u8, u16, u32);

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}

impl From<isize> for Value {
    fn from(v: isize) -> Value {
        // isize is at most 64 bits on every supported platform.
        Value::from_i128(v as i128).unwrap_or(Value::Nil)
    }
}

impl From<u64> for Value {
    fn from(v: u64) -> Value {
        Value::from_u64(v)
    }
}

impl From<usize> for Value {
    fn from(v: usize) -> Value {
        // usize is at most 64 bits on every supported platform.
        Value::from_u128(v as u128).unwrap_or(Value::Nil)
    }
}

impl From<f32> for Value {
    fn from(v: f32) -> Value {
        Value::Float(f64::from(v))
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Str(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Str(v)
    }
}

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Value {
        Value::List(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        match v {
            Some(v) => v.into(),
            None => Value::Nil,
        }
    }
}

// ---------------------------------------------------------------------------
// Display: Python repr style

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("None"),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
            Value::Int(i) => write!(f, "{i}"),
            Value::UInt(u) => write!(f, "{u}"),
            Value::Float(x) => write_py_float(f, *x),
            Value::Str(s) => write_py_str(f, s),
            Value::Bytes(b) => write_py_bytes(f, b),
            Value::List(items) => {
                f.write_char('[')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    fmt::Display::fmt(item, f)?;
                }
                f.write_char(']')
            }
            Value::Map(entries) => {
                f.write_char('{')?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    fmt::Display::fmt(k, f)?;
                    f.write_str(": ")?;
                    fmt::Display::fmt(v, f)?;
                }
                f.write_char('}')
            }
        }
    }
}

/// Writes a float the way Python's `repr` does: shortest round-trip digits,
/// `.0` for integral values, scientific notation outside `1e-4 <= |x| < 1e16`.
fn write_py_float(f: &mut fmt::Formatter<'_>, x: f64) -> fmt::Result {
    if x.is_nan() {
        return f.write_str("nan");
    }
    if x.is_infinite() {
        return f.write_str(if x > 0.0 { "inf" } else { "-inf" });
    }
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..16).contains(&exp) {
        let plain = x.to_string();
        f.write_str(&plain)?;
        if !plain.contains('.') {
            f.write_str(".0")?;
        }
        Ok(())
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        write!(f, "{mantissa}e{sign}{:02}", exp.unsigned_abs())
    }
}

/// Whether Python's `repr` would escape this character (an approximation of
/// `str.isprintable` covering control and common invisible characters).
fn py_non_printable(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{a0}'
                | '\u{ad}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{feff}'
        )
}

/// Writes text the way Python's `repr` does for a `str`.
fn write_py_str(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    f.write_char(quote)?;
    for c in s.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c == quote => {
                f.write_char('\\')?;
                f.write_char(c)?;
            }
            c if py_non_printable(c) => {
                let code = u32::from(c);
                if code <= 0xff {
                    write!(f, "\\x{code:02x}")?;
                } else if code <= 0xffff {
                    write!(f, "\\u{code:04x}")?;
                } else {
                    write!(f, "\\U{code:08x}")?;
                }
            }
            c => f.write_char(c)?,
        }
    }
    f.write_char(quote)
}

/// Writes bytes the way Python's `repr` does for a `bytes` object.
fn write_py_bytes(f: &mut fmt::Formatter<'_>, b: &[u8]) -> fmt::Result {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    f.write_char('b')?;
    f.write_char(char::from(quote))?;
    for &byte in b {
        match byte {
            b'\\' => f.write_str("\\\\")?,
            b'\n' => f.write_str("\\n")?,
            b'\r' => f.write_str("\\r")?,
            b'\t' => f.write_str("\\t")?,
            c if c == quote => {
                f.write_char('\\')?;
                f.write_char(char::from(c))?;
            }
            0x20..=0x7e => f.write_char(char::from(byte))?,
            _ => write!(f, "\\x{byte:02x}")?,
        }
    }
    f.write_char(char::from(quote))
}

// ---------------------------------------------------------------------------
// Serialize / Deserialize for Value itself

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Nil => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::UInt(u) => serializer.serialize_u64(*u),
            Value::Float(x) => serializer.serialize_f64(*x),
            Value::Str(s) => serializer.serialize_str(s),
            Value::Bytes(b) => serializer.serialize_bytes(b),
            Value::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// Builds a [`Value`] from whatever a self-describing format holds.
struct ValueVisitor;

/// Caps a size hint so hostile input cannot make us pre-allocate a lot.
fn capped(hint: Option<usize>) -> usize {
    hint.unwrap_or(0).min(4096)
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from_u64(v))
    }

    fn visit_i128<E: serde::de::Error>(self, v: i128) -> Result<Value, E> {
        Value::from_i128(v)
            .ok_or_else(|| E::custom(format!("integer {v} is out of range for a Value")))
    }

    fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<Value, E> {
        Value::from_u128(v)
            .ok_or_else(|| E::custom(format!("integer {v} is out of range for a Value")))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(v.to_vec()))
    }

    fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(v))
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(capped(seq.size_hint()));
        while let Some(item) = seq.next_element::<Value>()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::with_capacity(capped(map.size_hint()));
        while let Some(entry) = map.next_entry::<Value, Value>()? {
            entries.push(entry);
        }
        Ok(Value::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};
    use std::collections::{BTreeMap, HashMap};

    fn s(x: &str) -> Value {
        Value::Str(x.to_owned())
    }

    fn hex(bytes: &[u8]) -> String {
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Serializes through `to_value`, checks the tree, and reads it back.
    fn round_trip<T>(v: &T, expected: Value)
    where
        T: Serialize + serde::de::DeserializeOwned + PartialEq + fmt::Debug,
    {
        let tree = to_value(v).expect("to_value");
        assert_eq!(tree, expected);
        let back: T = from_value(tree).expect("from_value");
        assert_eq!(&back, v);
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Inner {
        x: i32,
        label: String,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Outer {
        name: String,
        inner: Inner,
        tags: Vec<String>,
        maybe: Option<f64>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Shape {
        Empty,
        Circle(f64),
        Point(i32, i32),
        Rect { w: u32, h: u32 },
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Unit;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Meters(f64);

    /// A serde_bytes-like wrapper: serializes with `serialize_bytes`.
    #[derive(Debug, PartialEq)]
    struct Blob(Vec<u8>);

    impl Serialize for Blob {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&self.0)
        }
    }

    impl<'de> Deserialize<'de> for Blob {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Blob, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Blob;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Blob, E> {
                    Ok(Blob(v.to_vec()))
                }
                fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Blob, E> {
                    Ok(Blob(v))
                }
            }
            d.deserialize_byte_buf(V)
        }
    }

    #[test]
    fn accessors() {
        assert!(Value::Nil.is_nil());
        assert!(!Value::Bool(false).is_nil());
        assert_eq!(s("a").as_str(), Some("a"));
        assert_eq!(Value::Int(3).as_str(), None);
        assert_eq!(Value::Int(-3).as_i64(), Some(-3));
        assert_eq!(Value::UInt(u64::MAX).as_i64(), None);
        assert_eq!(Value::Float(3.0).as_i64(), None);
        assert_eq!(Value::Int(3).as_u64(), Some(3));
        assert_eq!(Value::Int(-3).as_u64(), None);
        assert_eq!(Value::UInt(u64::MAX).as_u64(), Some(u64::MAX));
        assert_eq!(Value::Float(1.5).as_f64(), Some(1.5));
        assert_eq!(Value::Int(-2).as_f64(), Some(-2.0));
        assert_eq!(Value::UInt(1 << 63).as_f64(), Some(9223372036854775808.0));
        assert_eq!(s("1.5").as_f64(), None);
        assert_eq!(Value::Bool(true).as_bool(), Some(true));
        assert_eq!(Value::Int(1).as_bool(), None);
        assert_eq!(Value::Bytes(vec![1, 2]).as_bytes(), Some(&[1u8, 2][..]));
        assert_eq!(s("ab").as_bytes(), None);
        let list = Value::List(vec![Value::Int(1)]);
        assert_eq!(list.as_list(), Some(&[Value::Int(1)][..]));
        assert_eq!(list.as_map(), None);
        let map = Value::Map(vec![
            (Value::Int(1), s("int key")),
            (s("a"), Value::Int(1)),
            (s("a"), Value::Int(2)),
        ]);
        assert_eq!(map.as_map().map(<[_]>::len), Some(3));
        assert_eq!(map.get("a"), Some(&Value::Int(1)));
        assert_eq!(map.get("1"), None);
        assert_eq!(list.get("a"), None);
        assert_eq!(Value::default(), Value::Nil);
    }

    #[test]
    fn type_names() {
        let cases = [
            (Value::Nil, "nil"),
            (Value::Bool(true), "bool"),
            (Value::Int(1), "int"),
            (Value::UInt(u64::MAX), "int"),
            (Value::Float(1.0), "float"),
            (s(""), "str"),
            (Value::Bytes(vec![]), "bytes"),
            (Value::List(vec![]), "list"),
            (Value::Map(vec![]), "map"),
        ];
        for (v, name) in cases {
            assert_eq!(v.type_name(), name);
        }
    }

    #[test]
    fn from_impls() {
        assert_eq!(Value::from(true), Value::Bool(true));
        assert_eq!(Value::from(-1i8), Value::Int(-1));
        assert_eq!(Value::from(-1i16), Value::Int(-1));
        assert_eq!(Value::from(-1i32), Value::Int(-1));
        assert_eq!(Value::from(i64::MIN), Value::Int(i64::MIN));
        assert_eq!(Value::from(-5isize), Value::Int(-5));
        assert_eq!(Value::from(255u8), Value::Int(255));
        assert_eq!(Value::from(65535u16), Value::Int(65535));
        assert_eq!(Value::from(u32::MAX), Value::Int(i64::from(u32::MAX)));
        assert_eq!(Value::from(5u64), Value::Int(5));
        assert_eq!(Value::from(i64::MAX as u64), Value::Int(i64::MAX));
        assert_eq!(Value::from(i64::MAX as u64 + 1), Value::UInt(1 << 63));
        assert_eq!(Value::from(u64::MAX), Value::UInt(u64::MAX));
        assert_eq!(Value::from(7usize), Value::Int(7));
        assert_eq!(Value::from(usize::MAX), Value::UInt(usize::MAX as u64));
        assert_eq!(Value::from(1.5f32), Value::Float(1.5));
        assert_eq!(Value::from(2.25f64), Value::Float(2.25));
        assert_eq!(Value::from("x"), s("x"));
        assert_eq!(Value::from(String::from("y")), s("y"));
        assert_eq!(
            Value::from(vec![Value::Nil, Value::Int(1)]),
            Value::List(vec![Value::Nil, Value::Int(1)])
        );
        assert_eq!(Value::from(Some(3i32)), Value::Int(3));
        assert_eq!(Value::from(None::<i32>), Value::Nil);
        assert_eq!(Value::from(Some("z")), s("z"));
    }

    #[test]
    fn display_python_repr() {
        let v = Value::Map(vec![
            (
                s("a"),
                Value::List(vec![
                    Value::Int(1),
                    Value::Float(2.5),
                    Value::Nil,
                    Value::Bool(true),
                ]),
            ),
            (s("b"), Value::Bytes(vec![0, b'x'])),
        ]);
        assert_eq!(v.to_string(), r"{'a': [1, 2.5, None, True], 'b': b'\x00x'}");
        assert_eq!(Value::Bool(false).to_string(), "False");
        assert_eq!(Value::Int(-7).to_string(), "-7");
        assert_eq!(Value::UInt(u64::MAX).to_string(), "18446744073709551615");
        assert_eq!(Value::List(vec![]).to_string(), "[]");
        assert_eq!(Value::Map(vec![]).to_string(), "{}");
        assert_eq!(
            Value::Map(vec![(Value::Int(1), s("x"))]).to_string(),
            "{1: 'x'}"
        );
    }

    #[test]
    fn display_strings() {
        assert_eq!(s("text").to_string(), "'text'");
        assert_eq!(s("it's").to_string(), "\"it's\"");
        assert_eq!(s("it's \"q\"").to_string(), r#"'it\'s "q"'"#);
        assert_eq!(s("say \"hi\"").to_string(), r#"'say "hi"'"#);
        assert_eq!(s(r"a\b").to_string(), r"'a\\b'");
        assert_eq!(s("l1\nl2\t\r").to_string(), r"'l1\nl2\t\r'");
        assert_eq!(s("\u{0}\u{1b}\u{7f}").to_string(), r"'\x00\x1b\x7f'");
        assert_eq!(s("\u{a0}\u{2028}").to_string(), r"'\xa0\u2028'");
        assert_eq!(s("héllo ✓").to_string(), "'héllo ✓'");
        assert_eq!(s("").to_string(), "''");
    }

    #[test]
    fn display_bytes() {
        assert_eq!(Value::Bytes(b"abc".to_vec()).to_string(), "b'abc'");
        assert_eq!(Value::Bytes(b"it's".to_vec()).to_string(), "b\"it's\"");
        assert_eq!(
            Value::Bytes(b"'\"\\\n\xff".to_vec()).to_string(),
            r#"b'\'"\\\n\xff'"#
        );
        assert_eq!(Value::Bytes(vec![]).to_string(), "b''");
    }

    #[test]
    fn display_floats() {
        let cases: [(f64, &str); 16] = [
            (1.0, "1.0"),
            (1.5, "1.5"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (0.1, "0.1"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e300, "1.5e+300"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-7, "-2.5e-07"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (1795904993.658, "1795904993.658"),
        ];
        for (x, repr) in cases {
            assert_eq!(Value::Float(x).to_string(), repr, "{x:?}");
        }
    }

    #[test]
    fn round_trip_primitives() {
        round_trip(&true, Value::Bool(true));
        round_trip(&-5i8, Value::Int(-5));
        round_trip(&-300i16, Value::Int(-300));
        round_trip(&-70000i32, Value::Int(-70000));
        round_trip(&i64::MIN, Value::Int(i64::MIN));
        round_trip(&i64::MAX, Value::Int(i64::MAX));
        round_trip(&200u8, Value::Int(200));
        round_trip(&60000u16, Value::Int(60000));
        round_trip(&u32::MAX, Value::Int(4294967295));
        round_trip(&42u64, Value::Int(42));
        round_trip(&u64::MAX, Value::UInt(u64::MAX));
        round_trip(&(1u64 << 63), Value::UInt(1 << 63));
        round_trip(&7usize, Value::Int(7));
        round_trip(&-7isize, Value::Int(-7));
        round_trip(&1.25f32, Value::Float(1.25));
        round_trip(&0.1f32, Value::Float(f64::from(0.1f32)));
        round_trip(&-2.5f64, Value::Float(-2.5));
        round_trip(&'é', s("é"));
        round_trip(&String::from("hello"), s("hello"));
        round_trip(&(), Value::Nil);
    }

    #[test]
    fn round_trip_128_bit() {
        round_trip(&-5i128, Value::Int(-5));
        round_trip(&i128::from(u64::MAX), Value::UInt(u64::MAX));
        round_trip(&5u128, Value::Int(5));
        round_trip(&u128::from(u64::MAX), Value::UInt(u64::MAX));
        let err = to_value(&(i128::from(i64::MIN) - 1)).unwrap_err();
        assert!(err.message().contains("-9223372036854775809"), "{err}");
        let err = to_value(&(u128::from(u64::MAX) + 1)).unwrap_err();
        assert!(err.message().contains("18446744073709551616"), "{err}");
    }

    #[test]
    fn round_trip_options() {
        round_trip(&Some(3i32), Value::Int(3));
        round_trip(&None::<i32>, Value::Nil);
        round_trip(&Some(String::from("x")), s("x"));
    }

    #[test]
    fn round_trip_vec_u8_and_bytes() {
        round_trip(
            &vec![1u8, 2, 255],
            Value::List(vec![Value::Int(1), Value::Int(2), Value::Int(255)]),
        );
        round_trip(&Blob(vec![0, 1, 255]), Value::Bytes(vec![0, 1, 255]));
        round_trip(&Blob(vec![]), Value::Bytes(vec![]));
    }

    #[test]
    fn round_trip_tuples() {
        round_trip(
            &(1i32, String::from("a"), true),
            Value::List(vec![Value::Int(1), s("a"), Value::Bool(true)]),
        );
        round_trip(&(5u8,), Value::List(vec![Value::Int(5)]));
        round_trip(
            &[1i64, 2, 3],
            Value::List(vec![1.into(), 2.into(), 3.into()]),
        );
    }

    #[test]
    fn round_trip_maps() {
        let mut h = HashMap::new();
        h.insert(String::from("a"), 1i64);
        h.insert(String::from("b"), -2i64);
        let tree = to_value(&h).unwrap();
        let mut entries = tree.as_map().unwrap().to_vec();
        entries.sort_by(|a, b| a.0.as_str().cmp(&b.0.as_str()));
        assert_eq!(
            entries,
            vec![(s("a"), Value::Int(1)), (s("b"), Value::Int(-2))]
        );
        let back: HashMap<String, i64> = from_value(tree).unwrap();
        assert_eq!(back, h);

        let mut b = BTreeMap::new();
        b.insert(-1i64, String::from("minus one"));
        b.insert(2i64, String::from("two"));
        round_trip(
            &b,
            Value::Map(vec![
                (Value::Int(-1), s("minus one")),
                (Value::Int(2), s("two")),
            ]),
        );
    }

    #[test]
    fn round_trip_nested_structs() {
        let v = Outer {
            name: String::from("job"),
            inner: Inner {
                x: -3,
                label: String::from("in"),
            },
            tags: vec![String::from("t1"), String::from("t2")],
            maybe: None,
        };
        round_trip(
            &v,
            Value::Map(vec![
                (s("name"), s("job")),
                (
                    s("inner"),
                    Value::Map(vec![(s("x"), Value::Int(-3)), (s("label"), s("in"))]),
                ),
                (s("tags"), Value::List(vec![s("t1"), s("t2")])),
                (s("maybe"), Value::Nil),
            ]),
        );
        let v2 = Outer {
            maybe: Some(0.5),
            ..v
        };
        let tree = to_value(&v2).unwrap();
        assert_eq!(tree.get("maybe"), Some(&Value::Float(0.5)));
        assert_eq!(from_value::<Outer>(tree).unwrap(), v2);
    }

    #[test]
    fn round_trip_enums() {
        round_trip(&Shape::Empty, s("Empty"));
        round_trip(
            &Shape::Circle(1.5),
            Value::Map(vec![(s("Circle"), Value::Float(1.5))]),
        );
        round_trip(
            &Shape::Point(1, -2),
            Value::Map(vec![(
                s("Point"),
                Value::List(vec![Value::Int(1), Value::Int(-2)]),
            )]),
        );
        round_trip(
            &Shape::Rect { w: 3, h: 4 },
            Value::Map(vec![(
                s("Rect"),
                Value::Map(vec![(s("w"), Value::Int(3)), (s("h"), Value::Int(4))]),
            )]),
        );
        round_trip(
            &vec![Shape::Empty, Shape::Circle(0.0)],
            Value::List(vec![
                s("Empty"),
                Value::Map(vec![(s("Circle"), Value::Float(0.0))]),
            ]),
        );
    }

    #[test]
    fn round_trip_unit_and_newtype_structs() {
        round_trip(&Unit, Value::Nil);
        round_trip(&Meters(2.5), Value::Float(2.5));
    }

    #[test]
    fn round_trip_value_itself() {
        let v = Value::Map(vec![
            (
                s("a"),
                Value::List(vec![Value::Int(1), Value::UInt(u64::MAX)]),
            ),
            (Value::Int(3), Value::Bytes(vec![1, 2])),
        ]);
        assert_eq!(to_value(&v).unwrap(), v);
        assert_eq!(from_value::<Value>(v.clone()).unwrap(), v);
    }

    #[test]
    fn error_messages() {
        let err = from_value::<i64>(s("x")).unwrap_err();
        assert!(err.message().contains("invalid type"), "{err}");
        assert_eq!(err.to_string(), "invalid type: string \"x\", expected i64");

        let err = from_value::<Inner>(Value::Map(vec![(s("x"), Value::Int(1))])).unwrap_err();
        assert!(err.message().contains("missing field"), "{err}");
        assert!(err.message().contains("label"), "{err}");

        let err = from_value::<(i32, i32)>(Value::List(vec![Value::Int(1)])).unwrap_err();
        assert!(err.message().contains("invalid length"), "{err}");
        let err =
            from_value::<(i32, i32)>(Value::List(vec![1.into(), 2.into(), 3.into()])).unwrap_err();
        assert!(err.message().contains("invalid length"), "{err}");

        assert_eq!(ValueError::new("boom").message(), "boom");
        assert_eq!(ValueError::new("boom").to_string(), "boom");
    }

    #[test]
    fn json_round_trip_of_value() {
        let v = Value::Map(vec![
            (s("name"), s("add")),
            (
                s("args"),
                Value::List(vec![
                    Value::Int(-1),
                    Value::Float(2.5),
                    Value::Nil,
                    Value::Bool(true),
                    Value::UInt(u64::MAX),
                ]),
            ),
            (s("kw"), Value::Map(vec![(s("c"), Value::List(vec![]))])),
        ]);
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(
            json,
            r#"{"name":"add","args":[-1,2.5,null,true,18446744073709551615],"kw":{"c":[]}}"#
        );
        let back: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back, v);
    }

    fn arq_payload() -> Value {
        Value::Map(vec![
            (s("t"), Value::Nil),
            (s("f"), s("add")),
            (s("a"), Value::List(vec![Value::Int(1), Value::Int(2)])),
            (s("k"), Value::Map(vec![(s("c"), Value::Int(3))])),
            (s("et"), Value::Int(1795904993658)),
        ])
    }

    #[test]
    fn msgpack_bytes_match_python() {
        let expected = "85 a1 74 c0 a1 66 a3 61 64 64 a1 61 92 01 02 a1 6b 81 a1 63 03 \
                        a2 65 74 cf 00 00 01 a2 24 47 79 7a";
        let bytes = rmp_serde::to_vec(&arq_payload()).unwrap();
        assert_eq!(hex(&bytes), expected);
        let back: Value = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back, arq_payload());
    }

    #[test]
    fn msgpack_scalars() {
        let bytes = rmp_serde::to_vec(&Value::Bytes(vec![1, 2, 3])).unwrap();
        assert_eq!(hex(&bytes), "c4 03 01 02 03");
        assert_eq!(
            rmp_serde::from_slice::<Value>(&bytes).unwrap(),
            Value::Bytes(vec![1, 2, 3])
        );
        assert_eq!(hex(&rmp_serde::to_vec(&Value::Int(-1)).unwrap()), "ff");
        assert_eq!(
            hex(&rmp_serde::to_vec(&Value::UInt(u64::MAX)).unwrap()),
            "cf ff ff ff ff ff ff ff ff"
        );
        let back: Value = rmp_serde::from_slice(&[0xcf, 0, 0, 0, 0, 0, 0, 0, 5]).unwrap();
        assert_eq!(back, Value::Int(5));
        let back: Value = rmp_serde::from_slice(&[0xcf, 0xff, 0, 0, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(back, Value::UInt(0xff00_0000_0000_0000));
        let bytes = rmp_serde::to_vec(&Value::Float(1.5)).unwrap();
        assert_eq!(hex(&bytes), "cb 3f f8 00 00 00 00 00 00");
        assert_eq!(
            rmp_serde::from_slice::<Value>(&bytes).unwrap(),
            Value::Float(1.5)
        );
    }

    #[test]
    fn msgpack_typed_struct_via_value_is_a_map() {
        // A struct through to_value and rmp-serde is a msgpack map, as Python expects.
        let v = to_value(&Inner {
            x: 1,
            label: String::from("a"),
        })
        .unwrap();
        let bytes = rmp_serde::to_vec(&v).unwrap();
        assert_eq!(hex(&bytes), "82 a1 78 01 a5 6c 61 62 65 6c a1 61");
    }
}
