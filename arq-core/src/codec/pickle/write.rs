//! The pickle writer: protocol 4 opcodes without frames or memo, which every Python 3.4+
//! `pickle.loads` reads.

use super::classes;
use super::read::MAX_DEPTH;
use crate::{Value, ValueError, EXCEPTION_KEY};

/// Python writes list and dict items in batches of this many.
const BATCH: usize = 1000;

/// Encodes `value` as a pickle. The mapping is documented on `PickleCodec`.
pub(crate) fn encode(value: &Value) -> Result<Vec<u8>, ValueError> {
    let mut w = Writer { out: vec![0x80, 4] };
    w.value(value, 0, true)?;
    w.out.push(b'.');
    Ok(w.out)
}

/// The class and arguments of a value of exception shape,
/// `{"__arq_exception__": "<module>.<class>", "args": [...]}`, when the class may be written.
fn exception_parts(entries: &[(Value, Value)]) -> Option<(&str, &[Value])> {
    if entries.len() != 2 {
        return None;
    }
    let field = |name: &str| {
        entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .map(|(_, v)| v)
    };
    let path = field(EXCEPTION_KEY)?.as_str()?;
    let args = field("args")?.as_list()?;
    let path_ok = if path.contains('.') {
        classes::is_writable_exception_class(path)
    } else {
        classes::is_writable_exception_class(&format!("builtins.{path}"))
    };
    path_ok.then_some((path, args))
}

/// Whether a record map is a job or result record, whose `a` Python writes as a tuple.
fn is_record(entries: &[(Value, Value)]) -> bool {
    let has = |name: &str| entries.iter().any(|(k, _)| k.as_str() == Some(name));
    has("f") && has("a") && has("et")
}

struct Writer {
    out: Vec<u8>,
}

impl Writer {
    fn check_depth(depth: usize) -> Result<(), ValueError> {
        if depth >= MAX_DEPTH {
            return Err(ValueError::new(format!(
                "pickle: value nested more than {MAX_DEPTH} levels deep"
            )));
        }
        Ok(())
    }

    fn value(&mut self, value: &Value, depth: usize, top: bool) -> Result<(), ValueError> {
        match value {
            Value::Nil => self.out.push(b'N'),
            Value::Bool(true) => self.out.push(0x88),
            Value::Bool(false) => self.out.push(0x89),
            Value::Int(i) => self.int(*i),
            Value::UInt(u) => self.long(&u.to_le_bytes(), false),
            Value::Float(f) => {
                self.out.push(b'G');
                self.out.extend_from_slice(&f.to_be_bytes());
            }
            Value::Str(s) => self.str(s),
            Value::Bytes(b) => self.bytes(b),
            Value::List(items) => {
                Self::check_depth(depth)?;
                self.out.push(b']');
                for chunk in items.chunks(BATCH) {
                    if let [item] = chunk {
                        self.value(item, depth + 1, false)?;
                        self.out.push(b'a');
                    } else {
                        self.out.push(b'(');
                        for item in chunk {
                            self.value(item, depth + 1, false)?;
                        }
                        self.out.push(b'e');
                    }
                }
            }
            Value::Map(entries) => {
                Self::check_depth(depth)?;
                if let Some((path, args)) = exception_parts(entries) {
                    let (module, class) = classes::split_path(path);
                    self.str(module);
                    self.str(class);
                    self.out.push(0x93);
                    // arq's `Retry(defer=None)` takes a number of seconds; Python could not
                    // load it with any other argument (`Retry("text")` raises TypeError).
                    let args = match args {
                        [Value::Int(_) | Value::UInt(_) | Value::Float(_)] => args,
                        _ if path == "arq.worker.Retry" => &[],
                        _ => args,
                    };
                    self.tuple(args, depth + 1, false)?;
                    self.out.push(b'R');
                    return Ok(());
                }
                let record = top && is_record(entries);
                self.out.push(b'}');
                for chunk in entries.chunks(BATCH) {
                    let single = chunk.len() == 1;
                    if !single {
                        self.out.push(b'(');
                    }
                    for (k, v) in chunk {
                        self.key(k, depth + 1)?;
                        match v {
                            Value::List(args) if record && k.as_str() == Some("a") => {
                                self.tuple(args, depth + 1, false)?;
                            }
                            _ => self.value(v, depth + 1, false)?,
                        }
                    }
                    self.out.push(if single { b's' } else { b'u' });
                }
            }
        }
        Ok(())
    }

    /// A dict key: Python keys must be hashable, so lists become tuples and maps are refused.
    fn key(&mut self, key: &Value, depth: usize) -> Result<(), ValueError> {
        match key {
            Value::List(items) => self.tuple(items, depth, true),
            Value::Map(_) => Err(ValueError::new(
                "pickle: a map cannot be a dict key (Python dicts are unhashable)",
            )),
            other => self.value(other, depth, false),
        }
    }

    fn tuple(&mut self, items: &[Value], depth: usize, as_key: bool) -> Result<(), ValueError> {
        Self::check_depth(depth)?;
        let item = |w: &mut Self, v: &Value| {
            if as_key {
                w.key(v, depth + 1)
            } else {
                w.value(v, depth + 1, false)
            }
        };
        match items.len() {
            0 => self.out.push(b')'),
            n @ 1..=3 => {
                for v in items {
                    item(self, v)?;
                }
                self.out.push(0x84 + n as u8);
            }
            _ => {
                self.out.push(b'(');
                for v in items {
                    item(self, v)?;
                }
                self.out.push(b't');
            }
        }
        Ok(())
    }

    /// Integers as Python's `save_long` writes them.
    fn int(&mut self, i: i64) {
        if (0..=0xff).contains(&i) {
            self.out.extend([b'K', i as u8]);
        } else if (0..=0xffff).contains(&i) {
            self.out.push(b'M');
            self.out.extend_from_slice(&(i as u16).to_le_bytes());
        } else if let Ok(small) = i32::try_from(i) {
            self.out.push(b'J');
            self.out.extend_from_slice(&small.to_le_bytes());
        } else {
            self.long(&i.to_le_bytes(), i < 0);
        }
    }

    /// `LONG1` with the shortest two's complement bytes, as Python's `encode_long`.
    fn long(&mut self, le: &[u8; 8], negative: bool) {
        let mut bytes = le.to_vec();
        if negative {
            // Drop 0xff bytes whose next lower byte still carries the sign.
            while bytes.len() > 1
                && bytes[bytes.len() - 1] == 0xff
                && bytes[bytes.len() - 2] & 0x80 != 0
            {
                bytes.pop();
            }
        } else {
            while bytes.len() > 1
                && bytes[bytes.len() - 1] == 0
                && bytes[bytes.len() - 2] & 0x80 == 0
            {
                bytes.pop();
            }
            if bytes[bytes.len() - 1] & 0x80 != 0 {
                bytes.push(0);
            }
        }
        self.out.extend([0x8a, bytes.len() as u8]);
        self.out.extend_from_slice(&bytes);
    }

    fn str(&mut self, s: &str) {
        let n = s.len();
        if n < 256 {
            self.out.extend([0x8c, n as u8]);
        } else if let Ok(n) = u32::try_from(n) {
            self.out.push(b'X');
            self.out.extend_from_slice(&n.to_le_bytes());
        } else {
            self.out.push(0x8d);
            self.out.extend_from_slice(&(n as u64).to_le_bytes());
        }
        self.out.extend_from_slice(s.as_bytes());
    }

    fn bytes(&mut self, b: &[u8]) {
        let n = b.len();
        if n < 256 {
            self.out.extend([b'C', n as u8]);
        } else if let Ok(n) = u32::try_from(n) {
            self.out.push(b'B');
            self.out.extend_from_slice(&n.to_le_bytes());
        } else {
            self.out.push(0x8e);
            self.out.extend_from_slice(&(n as u64).to_le_bytes());
        }
        self.out.extend_from_slice(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn enc(v: &Value) -> String {
        hex(&encode(v).unwrap())
    }

    #[test]
    fn ints_like_python() {
        // pickle.dumps(n, 4) without the frame, for each width.
        assert_eq!(enc(&Value::Int(0)), "80 04 4b 00 2e");
        assert_eq!(enc(&Value::Int(255)), "80 04 4b ff 2e");
        assert_eq!(enc(&Value::Int(256)), "80 04 4d 00 01 2e");
        assert_eq!(enc(&Value::Int(65536)), "80 04 4a 00 00 01 00 2e");
        assert_eq!(enc(&Value::Int(-1)), "80 04 4a ff ff ff ff 2e");
        assert_eq!(
            enc(&Value::Int(i64::from(i32::MIN))),
            "80 04 4a 00 00 00 80 2e"
        );
        assert_eq!(enc(&Value::Int(1 << 31)), "80 04 8a 05 00 00 00 80 00 2e");
        assert_eq!(
            enc(&Value::Int(-(1 << 31) - 1)),
            "80 04 8a 05 ff ff ff 7f ff 2e"
        );
        assert_eq!(
            enc(&Value::Int(1_795_904_891_973)),
            "80 04 8a 06 45 ec 45 24 a2 01 2e"
        );
        assert_eq!(
            enc(&Value::Int(i64::MAX)),
            "80 04 8a 08 ff ff ff ff ff ff ff 7f 2e"
        );
        assert_eq!(
            enc(&Value::Int(i64::MIN)),
            "80 04 8a 08 00 00 00 00 00 00 00 80 2e"
        );
        assert_eq!(
            enc(&Value::UInt(u64::MAX)),
            "80 04 8a 09 ff ff ff ff ff ff ff ff 00 2e"
        );
        assert_eq!(
            enc(&Value::UInt(1 << 63)),
            "80 04 8a 09 00 00 00 00 00 00 00 80 00 2e"
        );
    }

    #[test]
    fn scalars_like_python() {
        assert_eq!(enc(&Value::Nil), "80 04 4e 2e");
        assert_eq!(enc(&Value::Bool(true)), "80 04 88 2e");
        assert_eq!(enc(&Value::Bool(false)), "80 04 89 2e");
        assert_eq!(
            enc(&Value::Float(1.5)),
            "80 04 47 3f f8 00 00 00 00 00 00 2e"
        );
        assert_eq!(enc(&Value::Str("é".into())), "80 04 8c 02 c3 a9 2e");
        assert_eq!(enc(&Value::Bytes(b"ab".to_vec())), "80 04 43 02 61 62 2e");
        let long = "x".repeat(300);
        assert!(enc(&Value::Str(long)).starts_with("80 04 58 2c 01 00 00 78"));
        let long = vec![7u8; 300];
        assert!(enc(&Value::Bytes(long)).starts_with("80 04 42 2c 01 00 00 07"));
    }

    #[test]
    fn containers_like_python() {
        assert_eq!(enc(&Value::List(vec![])), "80 04 5d 2e");
        assert_eq!(
            enc(&Value::List(vec![Value::Int(1)])),
            "80 04 5d 4b 01 61 2e"
        );
        assert_eq!(
            enc(&Value::List(vec![Value::Int(1), Value::Int(2)])),
            "80 04 5d 28 4b 01 4b 02 65 2e"
        );
        assert_eq!(enc(&Value::Map(vec![])), "80 04 7d 2e");
        assert_eq!(
            enc(&Value::Map(vec![(Value::Int(1), Value::Nil)])),
            "80 04 7d 4b 01 4e 73 2e"
        );
        // list keys become tuples
        assert_eq!(
            enc(&Value::Map(vec![(
                Value::List(vec![Value::Int(1), Value::List(vec![])]),
                Value::Nil
            )])),
            "80 04 7d 4b 01 29 86 4e 73 2e"
        );
        let err = encode(&Value::Map(vec![(Value::Map(vec![]), Value::Nil)])).unwrap_err();
        assert!(err.message().contains("dict key"), "{err}");
        // 1001 items: a batch of 1000 and a single APPEND
        let b = encode(&Value::List(vec![Value::Nil; 1001])).unwrap();
        assert_eq!(&b[..3], b"\x80\x04]");
        assert_eq!(&b[b.len() - 5..], b"\x4eeNa.");
    }

    #[test]
    fn exceptions_and_records() {
        let exc = Value::Map(vec![
            (
                Value::Str(EXCEPTION_KEY.into()),
                Value::Str("builtins.ValueError".into()),
            ),
            (
                Value::Str("args".into()),
                Value::List(vec![Value::Str("boom".into())]),
            ),
        ]);
        // 8c 08 'builtins' 8c 0a 'ValueError' 93 8c 04 'boom' 85 52
        assert_eq!(
            enc(&exc),
            "80 04 8c 08 62 75 69 6c 74 69 6e 73 8c 0a 56 61 6c 75 65 45 72 72 6f 72 93 \
             8c 04 62 6f 6f 6d 85 52 2e"
        );
        // not an exception class: written as the plain dict it is
        let fake = Value::Map(vec![
            (
                Value::Str(EXCEPTION_KEY.into()),
                Value::Str("os.system".into()),
            ),
            (
                Value::Str("args".into()),
                Value::List(vec![Value::Str("echo hi".into())]),
            ),
        ]);
        let b = encode(&fake).unwrap();
        assert!(!b.contains(&0x93) && !b.contains(&b'R'), "{}", hex(&b));
        // job record: `a` is a tuple at the top level only
        let a = Value::List(vec![Value::Int(1), Value::Int(2)]);
        let rec = Value::Map(vec![
            (Value::Str("f".into()), Value::Str("add".into())),
            (Value::Str("a".into()), a.clone()),
            (Value::Str("et".into()), Value::Int(0)),
        ]);
        let b = encode(&rec).unwrap();
        assert!(hex(&b).contains("8c 01 61 4b 01 4b 02 86"), "{}", hex(&b));
        let nested = Value::List(vec![rec]);
        let b = encode(&nested).unwrap();
        assert!(
            hex(&b).contains("8c 01 61 5d 28 4b 01 4b 02 65"),
            "{}",
            hex(&b)
        );
    }

    #[test]
    fn retry_keeps_only_a_number() {
        let retry = |args: Vec<Value>| {
            enc(&Value::Map(vec![
                (
                    Value::Str(EXCEPTION_KEY.into()),
                    Value::Str("arq.worker.Retry".into()),
                ),
                (Value::Str("args".into()), Value::List(args)),
            ]))
        };
        let head = "80 04 8c 0a 61 72 71 2e 77 6f 72 6b 65 72 8c 05 52 65 74 72 79 93";
        assert_eq!(
            retry(vec![Value::Str("retry requested in 5s".into())]),
            format!("{head} 29 52 2e")
        );
        assert_eq!(retry(vec![]), format!("{head} 29 52 2e"));
        assert_eq!(retry(vec![Value::Int(5)]), format!("{head} 4b 05 85 52 2e"));
    }

    #[test]
    fn depth_is_bounded() {
        let mut v = Value::Nil;
        for _ in 0..(MAX_DEPTH + 5) {
            v = Value::List(vec![v]);
        }
        assert!(encode(&v).unwrap_err().message().contains("nested"));
    }
}
