//! JSON as Python's `json.dumps`/`json.loads` write and read it: [`JsonCodec`].

use super::Codec;
use crate::{Value, ValueError};
use std::collections::HashMap;
use std::fmt::Write as _;

/// Deepest nesting of arrays and objects, both ways.
const MAX_DEPTH: usize = 256;

/// JSON, for Python sides configured with
/// `job_serializer=lambda d: json.dumps(d).encode()` and `job_deserializer=json.loads`.
///
/// Python arq cannot store exception objects in JSON, so failures are stored as the text
/// `"<class>: <message>"` (the [`Codec::failure_value`] default), which Python's
/// `Job.result()` raises as `SerializationError`.
///
/// # Writing
///
/// [`JsonCodec::encode`] writes exactly what Python's default `json.dumps` writes for the same
/// data, byte for byte: separators `", "` and `": "`, every non-ASCII character escaped as
/// `\uXXXX` (`ensure_ascii=True`, with surrogate pairs beyond the BMP), floats as Python's
/// `repr` (`1.0`, `1e+16`, `1.5e-05`), and NaN and infinities as `NaN`, `Infinity` and
/// `-Infinity` (`allow_nan=True`; not standard JSON, but what Python writes and reads).
///
/// JSON has no bytes: a [`Value::Bytes`] anywhere is an encode error (as `json.dumps` raises
/// `TypeError`); send text, a list of ints, or base64 instead. Map keys are written as
/// `json.dumps` writes them: text as is, integers and floats as their decimal text, `true`,
/// `false` and `null` for booleans and nil (so `{1: "a"}` becomes `{"1": "a"}`); a list, map
/// or bytes key is an error. A tuple does not exist in JSON, so the job's `a` is an array, as
/// Python's `json.dumps` writes a tuple.
///
/// # Reading
///
/// [`JsonCodec::decode`] reads what Python's `json.loads` reads: UTF-8 text (a leading BOM is
/// skipped), `NaN`/`Infinity`/`-Infinity`, integers as [`Value::Int`] or [`Value::UInt`]
/// (beyond 64 bits: an error), numbers with a fraction or exponent as [`Value::Float`], and
/// objects as [`Value::Map`] with text keys, where a repeated key keeps its first position and
/// its last value, like a Python dict. A lone surrogate escape (`"\ud800"`, which Python
/// accepts) becomes U+FFFD. Nesting is limited to 256 levels.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonCodec;

impl Codec for JsonCodec {
    fn name(&self) -> &'static str {
        "json"
    }

    fn encode(&self, value: &Value) -> Result<Vec<u8>, ValueError> {
        let mut out = String::new();
        write_value(&mut out, value, 0)?;
        Ok(out.into_bytes())
    }

    fn decode(&self, bytes: &[u8]) -> Result<Value, ValueError> {
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        let text = std::str::from_utf8(bytes).map_err(|e| {
            ValueError::new(format!("json: invalid UTF-8 at byte {}", e.valid_up_to()))
        })?;
        let mut p = Parser {
            s: text.as_bytes(),
            pos: 0,
        };
        p.ws();
        let v = p.value(0)?;
        p.ws();
        if p.pos != p.s.len() {
            return Err(p.err("extra data after the JSON value"));
        }
        Ok(v)
    }
}

// ---------------------------------------------------------------------------------------
// Writing

/// A float as Python's `float.__repr__` writes it; NaN and infinities as `json.dumps` does.
fn py_float(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    // Shortest round-trip digits; Python switches to exponent notation outside
    // 1e-4 <= |x| < 1e16.
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..16).contains(&exp) {
        let mut plain = x.to_string();
        if !plain.contains('.') {
            plain.push_str(".0");
        }
        plain
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    }
}

/// A JSON string with `ensure_ascii=True` escaping, as Python writes it.
fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

fn write_key(out: &mut String, key: &Value) -> Result<(), ValueError> {
    match key {
        Value::Str(s) => write_str(out, s),
        Value::Int(i) => {
            let _ = write!(out, "\"{i}\"");
        }
        Value::UInt(u) => {
            let _ = write!(out, "\"{u}\"");
        }
        Value::Float(f) => {
            let _ = write!(out, "\"{}\"", py_float(*f));
        }
        Value::Bool(b) => out.push_str(if *b { "\"true\"" } else { "\"false\"" }),
        Value::Nil => out.push_str("\"null\""),
        other => {
            return Err(ValueError::new(format!(
                "json: map keys must be str, int, float, bool or None, not {}",
                other.type_name()
            )))
        }
    }
    Ok(())
}

fn write_value(out: &mut String, value: &Value, depth: usize) -> Result<(), ValueError> {
    match value {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::UInt(u) => {
            let _ = write!(out, "{u}");
        }
        Value::Float(f) => out.push_str(&py_float(*f)),
        Value::Str(s) => write_str(out, s),
        Value::Bytes(_) => {
            return Err(ValueError::new(
                "json: bytes cannot be sent as JSON (Python's json.dumps refuses them too); \
                 use text, a list of ints or base64",
            ))
        }
        Value::List(items) => {
            check_depth(depth)?;
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item, depth + 1)?;
            }
            out.push(']');
        }
        Value::Map(entries) => {
            check_depth(depth)?;
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_key(out, k)?;
                out.push_str(": ");
                write_value(out, v, depth + 1)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn check_depth(depth: usize) -> Result<(), ValueError> {
    if depth >= MAX_DEPTH {
        return Err(ValueError::new(format!(
            "json: nested more than {MAX_DEPTH} levels deep"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Reading

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, msg: &str) -> ValueError {
        ValueError::new(format!("json: {msg} at byte {}", self.pos))
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.pos) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, lit: &str) -> bool {
        if self.s[self.pos..].starts_with(lit.as_bytes()) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, ValueError> {
        match self.s.get(self.pos) {
            None => Err(self.err("expecting a value, found the end of the data")),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b'-' | b'0'..=b'9') => {
                if self.eat("-Infinity") {
                    Ok(Value::Float(f64::NEG_INFINITY))
                } else {
                    self.number()
                }
            }
            _ if self.eat("null") => Ok(Value::Nil),
            _ if self.eat("true") => Ok(Value::Bool(true)),
            _ if self.eat("false") => Ok(Value::Bool(false)),
            _ if self.eat("NaN") => Ok(Value::Float(f64::NAN)),
            _ if self.eat("Infinity") => Ok(Value::Float(f64::INFINITY)),
            _ => Err(self.err("expecting a value")),
        }
    }

    fn enter(&self, depth: usize) -> Result<(), ValueError> {
        if depth >= MAX_DEPTH {
            return Err(self.err(&format!("nested more than {MAX_DEPTH} levels deep")));
        }
        Ok(())
    }

    fn array(&mut self, depth: usize) -> Result<Value, ValueError> {
        self.enter(depth)?;
        self.pos += 1;
        let mut items = Vec::new();
        self.ws();
        if self.eat("]") {
            return Ok(Value::List(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth + 1)?);
            self.ws();
            if self.eat(",") {
                continue;
            }
            if self.eat("]") {
                return Ok(Value::List(items));
            }
            return Err(self.err("expecting ',' or ']'"));
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, ValueError> {
        self.enter(depth)?;
        self.pos += 1;
        let mut entries: Vec<(Value, Value)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        self.ws();
        if self.eat("}") {
            return Ok(Value::Map(entries));
        }
        loop {
            self.ws();
            if self.s.get(self.pos) != Some(&b'"') {
                return Err(self.err("expecting a property name in double quotes"));
            }
            let key = self.string()?;
            self.ws();
            if !self.eat(":") {
                return Err(self.err("expecting ':'"));
            }
            self.ws();
            let value = self.value(depth + 1)?;
            // A repeated key keeps its first position and takes the last value, as a dict.
            match index.get(&key) {
                Some(&i) => entries[i].1 = value,
                None => {
                    index.insert(key.clone(), entries.len());
                    entries.push((Value::Str(key), value));
                }
            }
            self.ws();
            if self.eat(",") {
                continue;
            }
            if self.eat("}") {
                return Ok(Value::Map(entries));
            }
            return Err(self.err("expecting ',' or '}'"));
        }
    }

    fn hex4(&mut self) -> Result<u32, ValueError> {
        let digits = self
            .s
            .get(self.pos..self.pos + 4)
            .filter(|d| d.iter().all(u8::is_ascii_hexdigit))
            .ok_or_else(|| self.err("invalid \\uXXXX escape"))?;
        let mut n = 0u32;
        for d in digits {
            n = n * 16 + char::from(*d).to_digit(16).unwrap_or(0);
        }
        self.pos += 4;
        Ok(n)
    }

    fn string(&mut self) -> Result<String, ValueError> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(&b) = self.s.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // The input is valid UTF-8 and we stopped at an ASCII byte, so this is a
            // character boundary.
            out.push_str(std::str::from_utf8(&self.s[start..self.pos]).unwrap_or_default());
            match self.s.get(self.pos) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let Some(&e) = self.s.get(self.pos) else {
                        return Err(self.err("unterminated string"));
                    };
                    self.pos += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xd800..0xdc00).contains(&hi)
                                && self.s[self.pos..].starts_with(b"\\u")
                            {
                                let save = self.pos;
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if (0xdc00..0xe000).contains(&lo) {
                                    0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                                } else {
                                    self.pos = save;
                                    hi
                                }
                            } else {
                                hi
                            };
                            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.err("invalid escape"));
                        }
                    }
                }
                Some(_) => return Err(self.err("invalid control character in string")),
            }
        }
    }

    fn number(&mut self) -> Result<Value, ValueError> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let s = p.pos;
            while p.s.get(p.pos).is_some_and(u8::is_ascii_digit) {
                p.pos += 1;
            }
            p.pos - s
        };
        if self.s.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match self.s.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.err("expecting a value")),
        }
        let mut float = false;
        // Python's number pattern: a fraction or exponent only counts when complete.
        if self.s.get(self.pos) == Some(&b'.')
            && self.s.get(self.pos + 1).is_some_and(u8::is_ascii_digit)
        {
            self.pos += 1;
            digits(self);
            float = true;
        }
        if let Some(b'e' | b'E') = self.s.get(self.pos) {
            let save = self.pos;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.s.get(self.pos) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                self.pos = save;
            } else {
                float = true;
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or_default();
        if float {
            return text
                .parse::<f64>()
                .map(Value::Float)
                .map_err(|_| self.err("invalid number"));
        }
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Value::Int(i));
        }
        if let Ok(u) = text.parse::<u64>() {
            return Ok(Value::UInt(u));
        }
        self.pos = start;
        Err(self.err(&format!("integer {text} does not fit in 64 bits")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: &Value) -> String {
        String::from_utf8(JsonCodec.encode(v).unwrap()).unwrap()
    }

    fn dec(s: &str) -> Value {
        JsonCodec
            .decode(s.as_bytes())
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn dec_err(s: &str) -> String {
        match JsonCodec.decode(s.as_bytes()) {
            Ok(v) => panic!("{s}: expected an error, got {v}"),
            Err(e) => e.message().to_owned(),
        }
    }

    #[test]
    fn floats_like_python_repr() {
        for (x, s) in [
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (1.5e-5, "1.5e-05"),
            (1e-4, "0.0001"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789.125, "123456789.125"),
            (1e100, "1e+100"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(py_float(x), s);
        }
    }

    #[test]
    fn strings_like_python() {
        assert_eq!(
            enc(&Value::Str(
                "a\"b\\c\n\r\t\u{8}\u{c}\u{1}\u{7f}é€😀/".into()
            )),
            r#""a\"b\\c\n\r\t\b\f\u0001\u007f\u00e9\u20ac\ud83d\ude00/""#
        );
        assert_eq!(
            dec(r#""a\"b\\c\n\r\t\b\f\u0001\u007f\u00e9\u20ac\ud83d\ude00\/""#),
            Value::Str("a\"b\\c\n\r\t\u{8}\u{c}\u{1}\u{7f}é€😀/".into())
        );
        assert_eq!(dec(r#""\ud800x""#), Value::Str("\u{fffd}x".into()));
        assert_eq!(dec(r#""\ud800\u0041""#), Value::Str("\u{fffd}A".into()));
        assert_eq!(dec("\"é\""), Value::Str("é".into()));
        assert!(dec_err("\"a\nb\"").contains("control character"));
        assert!(dec_err(r#""\x""#).contains("invalid escape"));
        assert!(dec_err(r#""\u12""#).contains("\\uXXXX"));
        assert!(dec_err("\"abc").contains("unterminated"));
    }

    #[test]
    fn keys_like_python() {
        let v = Value::Map(vec![
            (Value::Int(1), Value::Str("a".into())),
            (Value::UInt(u64::MAX), Value::Nil),
            (Value::Float(2.5), Value::Nil),
            (Value::Bool(true), Value::Nil),
            (Value::Nil, Value::Nil),
        ]);
        assert_eq!(
            enc(&v),
            r#"{"1": "a", "18446744073709551615": null, "2.5": null, "true": null, "null": null}"#
        );
        let err = JsonCodec
            .encode(&Value::Map(vec![(Value::List(vec![]), Value::Nil)]))
            .unwrap_err();
        assert!(err.message().contains("not list"), "{err}");
        let err = JsonCodec
            .encode(&Value::List(vec![Value::Bytes(vec![1])]))
            .unwrap_err();
        assert!(
            err.message().contains("bytes cannot be sent as JSON"),
            "{err}"
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(dec("0"), Value::Int(0));
        assert_eq!(dec("-0"), Value::Int(0));
        assert_eq!(dec("-9223372036854775808"), Value::Int(i64::MIN));
        assert_eq!(dec("18446744073709551615"), Value::UInt(u64::MAX));
        assert!(dec_err("18446744073709551616").contains("does not fit in 64 bits"));
        assert_eq!(dec("1.5"), Value::Float(1.5));
        assert_eq!(dec("-1E2"), Value::Float(-100.0));
        assert_eq!(dec("1e400"), Value::Float(f64::INFINITY));
        assert_eq!(dec("-Infinity"), Value::Float(f64::NEG_INFINITY));
        assert!(matches!(dec("NaN"), Value::Float(f) if f.is_nan()));
        assert!(dec_err("01").contains("extra data"));
        assert!(dec_err("1.").contains("extra data"));
        assert!(dec_err("1e").contains("extra data"));
        assert!(dec_err("-").contains("expecting a value"));
        assert!(dec_err("+1").contains("expecting a value"));
        assert!(dec_err(".5").contains("expecting a value"));
    }

    #[test]
    fn structure() {
        assert_eq!(
            dec(" { \"a\" : [ 1 , true , null ] , \"b\" : { } } \n"),
            Value::Map(vec![
                (
                    Value::Str("a".into()),
                    Value::List(vec![Value::Int(1), Value::Bool(true), Value::Nil])
                ),
                (Value::Str("b".into()), Value::Map(vec![])),
            ])
        );
        // repeated keys: first position, last value (Python dict semantics)
        assert_eq!(
            dec(r#"{"a": 1, "b": 2, "a": 3}"#).to_string(),
            "{'a': 3, 'b': 2}"
        );
        assert_eq!(JsonCodec.decode(b"\xef\xbb\xbf1").unwrap(), Value::Int(1));
        assert!(dec_err("").contains("end of the data"));
        assert!(dec_err("[1,]").contains("expecting a value"));
        assert!(dec_err("[1 2]").contains("expecting ',' or ']'"));
        assert!(dec_err("{\"a\" 1}").contains("':'"));
        assert!(dec_err("{1: 2}").contains("property name"));
        assert!(dec_err("{\"a\": 1,}").contains("property name"));
        assert!(dec_err("nul").contains("expecting a value"));
        assert!(dec_err("[] []").contains("extra data"));
        assert!(JsonCodec.decode(b"\"\xff\"").is_err());
        let deep = "[".repeat(300) + &"]".repeat(300);
        assert!(dec_err(&deep).contains("nested"));
        let ok = "[".repeat(200) + &"]".repeat(200);
        assert!(JsonCodec.decode(ok.as_bytes()).is_ok());
    }

    #[test]
    fn job_record_is_byte_identical_to_json_dumps() {
        let rec = Value::Map(vec![
            (Value::Str("t".into()), Value::Nil),
            (Value::Str("f".into()), Value::Str("add".into())),
            (
                Value::Str("a".into()),
                Value::List(vec![Value::Int(1), Value::Int(2)]),
            ),
            (
                Value::Str("k".into()),
                Value::Map(vec![(Value::Str("c".into()), Value::Int(3))]),
            ),
            (Value::Str("et".into()), Value::Int(1_795_904_993_658)),
        ]);
        let expected =
            r#"{"t": null, "f": "add", "a": [1, 2], "k": {"c": 3}, "et": 1795904993658}"#;
        assert_eq!(enc(&rec), expected);
        assert_eq!(dec(expected), rec);
        assert_eq!(JsonCodec.name(), "json");
    }
}
