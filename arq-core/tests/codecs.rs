//! The pickle and JSON codecs against Python arq's real records, against pickles of every
//! protocol made by Python, and against Python itself: real Python arq 0.28.0 from the venv
//! that `scripts/python-env.sh` builds (on first use, under `flock`, as the root crate's
//! interop tests do), or `$ARQ_PYTHON`. These tests are never skipped: without a usable
//! Python they fail and say what is missing.
//!
//! Fixtures are in `tests/fixtures/pickle/`: `captured.txt` (records from the arq 0.28
//! captures), `generated.txt` (written by `generate.py`, which documents its format) and
//! `pystub/` (stand-ins for arq's exception classes, so Python can load them).

#![cfg(any(feature = "pickle", feature = "json"))]

use arq_core::{Codec, Value};
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pickle")
}

fn s(text: &str) -> Value {
    Value::Str(text.to_owned())
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (s(k), v)).collect())
}

/// The interpreter: `$ARQ_PYTHON` when set, else the venv of `scripts/python-env.sh` (built
/// once, under `flock` on `target/python-venv.lock` like `tests/common/python.rs`, so parallel
/// test processes build it once).
fn interpreter() -> PathBuf {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON
        .get_or_init(|| {
            if let Some(p) = std::env::var_os("ARQ_PYTHON").filter(|p| !p.is_empty()) {
                let p = PathBuf::from(p);
                assert!(
                    p.exists(),
                    "ARQ_PYTHON={} does not exist; unset it to let the tests build \
                     target/python-venv",
                    p.display()
                );
                return p;
            }
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .unwrap()
                .to_owned();
            let _ = std::fs::create_dir_all(root.join("target"));
            let out = Command::new("flock")
                .arg(root.join("target/python-venv.lock"))
                .arg(root.join("scripts/python-env.sh"))
                .current_dir(&root)
                .stdin(Stdio::null())
                .stderr(Stdio::inherit())
                .output()
                .unwrap_or_else(|e| panic!("could not run scripts/python-env.sh under flock: {e}"));
            assert!(
                out.status.success(),
                "scripts/python-env.sh failed ({:?}): the Python cross-checks need python3 with \
                 the venv module and PyPI (arq==0.28.0); see its output above, or set ARQ_PYTHON",
                out.status
            );
            let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            assert!(p.exists(), "scripts/python-env.sh printed {}", p.display());
            p
        })
        .clone()
}

/// Runs Python's `-c script` with `stdin` and returns its stdout; panics (failing the test)
/// when Python cannot be started or fails.
fn python(script: &str, stdin: &str) -> String {
    let interpreter = interpreter();
    let mut child = Command::new(&interpreter)
        .arg("-c")
        .arg(script)
        .env("PYTHONIOENCODING", "utf-8")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(fixtures())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", interpreter.display()));
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{} failed: {}",
        interpreter.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

// ---------------------------------------------------------------------------------------

#[cfg(feature = "pickle")]
mod pickle {
    use super::*;
    use arq_core::{JobFailure, JobRecord, PickleCodec, ResultRecord, EXCEPTION_KEY};

    fn from_hex(h: &str) -> Vec<u8> {
        let digits: Vec<u8> = h.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    fn to_hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    // ---------------------------------------------------------------------------------------
    // Python `repr` of decoded values, to compare with what Python printed.

    fn py_float(x: f64) -> String {
        if x.is_nan() {
            return "nan".into();
        }
        if x.is_infinite() {
            return if x > 0.0 { "inf" } else { "-inf" }.into();
        }
        let sci = format!("{x:e}");
        let (mantissa, exp) = sci.split_once('e').unwrap();
        let exp: i32 = exp.parse().unwrap();
        if (-4..16).contains(&exp) {
            let plain = x.to_string();
            if plain.contains('.') {
                plain
            } else {
                plain + ".0"
            }
        } else {
            let sign = if exp < 0 { '-' } else { '+' };
            format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
        }
    }

    fn py_text(chars: impl Iterator<Item = u32> + Clone, prefix: &str) -> String {
        let has = |c: char| chars.clone().any(|x| x == u32::from(c));
        let quote = if has('\'') && !has('"') { '"' } else { '\'' };
        let mut out = format!("{prefix}{quote}");
        for code in chars {
            let c = char::from_u32(code).unwrap();
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c == quote => {
                    out.push('\\');
                    out.push(c);
                }
                _ if code < 0x20 || code == 0x7f || (prefix == "b" && code > 0x7e) => {
                    out.push_str(&format!("\\x{code:02x}"));
                }
                c => out.push(c),
            }
        }
        out.push(quote);
        out
    }

    /// `repr()` of the value as Python would print it; with `record`, a top-level map is printed
    /// as Python prints an arq record (`a` as a tuple, an exception `r` as `Class(args)`).
    fn py_repr(v: &Value, record: bool) -> String {
        match v {
            Value::Nil => "None".into(),
            Value::Bool(b) => if *b { "True" } else { "False" }.into(),
            Value::Int(i) => i.to_string(),
            Value::UInt(u) => u.to_string(),
            Value::Float(f) => py_float(*f),
            Value::Str(t) => py_text(t.chars().map(u32::from), ""),
            Value::Bytes(b) => py_text(b.iter().map(|&x| u32::from(x)), "b"),
            Value::List(items) => format!(
                "[{}]",
                items
                    .iter()
                    .map(|i| py_repr(i, false))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Value::Map(entries) => {
                let parts: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| {
                        let key = k.as_str();
                        let val = match v {
                            Value::List(items) if record && key == Some("a") => py_tuple(items),
                            Value::Map(_) if record && key == Some("r") => {
                                py_exception(v).unwrap_or_else(|| py_repr(v, false))
                            }
                            _ => py_repr(v, false),
                        };
                        format!("{}: {val}", py_repr(k, false))
                    })
                    .collect();
                format!("{{{}}}", parts.join(", "))
            }
        }
    }

    fn py_tuple(items: &[Value]) -> String {
        let parts: Vec<String> = items.iter().map(|i| py_repr(i, false)).collect();
        match parts.len() {
            1 => format!("({},)", parts[0]),
            _ => format!("({})", parts.join(", ")),
        }
    }

    /// `repr()` of an exception value: `ValueError('boom')`.
    fn py_exception(v: &Value) -> Option<String> {
        let path = v.get(arq_core::EXCEPTION_KEY)?.as_str()?;
        let args = v.get("args")?.as_list()?;
        let class = path.rsplit('.').next().unwrap();
        let args: Vec<String> = args.iter().map(|a| py_repr(a, false)).collect();
        Some(format!("{class}({})", args.join(", ")))
    }

    /// `(name, bytes, what Python's pickle.loads printed)` for each captured record.
    fn captured() -> Vec<(String, Vec<u8>, String)> {
        let text = std::fs::read_to_string(fixtures().join("captured.txt")).unwrap();
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let mut f = l.split('\t');
                let (name, hex, repr) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
                (name.to_owned(), from_hex(hex), repr.to_owned())
            })
            .collect()
    }

    fn captured_one(name: &str) -> Vec<u8> {
        captured()
            .into_iter()
            .find(|(n, _, _)| n == name)
            .unwrap_or_else(|| panic!("no fixture {name}"))
            .1
    }

    /// `(name, protocol, bytes, expected)` lines in the format of generate.py.
    fn generated(text: &str) -> Vec<(String, String, Vec<u8>, String)> {
        text.lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                let f: Vec<&str> = l.splitn(4, '\t').collect();
                (
                    f[0].to_owned(),
                    f[1].to_owned(),
                    from_hex(f[2]),
                    f[3].to_owned(),
                )
            })
            .collect()
    }

    fn check_generated(lines: &[(String, String, Vec<u8>, String)]) {
        assert!(
            lines.len() > 100,
            "too few generated pickles: {}",
            lines.len()
        );
        let mut failures = Vec::new();
        for (name, proto, bytes, expected) in lines {
            let got = PickleCodec.decode(bytes);
            let ok = match (expected.strip_prefix("ERROR: "), &got) {
                (Some(want), Err(e)) => e.message().contains(want),
                (None, Ok(v)) => &py_repr(v, false) == expected,
                _ => false,
            };
            if !ok {
                let got = match got {
                    Ok(v) => py_repr(&v, false),
                    Err(e) => format!("ERROR: {e}"),
                };
                failures.push(format!(
                    "{name} (protocol {proto}):\n  expected {expected}\n  got      {got}"
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn captured_records_decode_to_what_python_read() {
        let records = captured();
        assert_eq!(records.len(), 28);
        for (name, bytes, python_repr) in records {
            let v = PickleCodec
                .decode(&bytes)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            // Retry's repr shows its dropped BUILD state (`defer_score`); the rest is exact.
            let expected = python_repr.replace("<Retry defer 0.20s>", "Retry()");
            assert_eq!(py_repr(&v, true), expected, "{name}");
            // and the records parse as arq records
            if name.contains("__job_") {
                JobRecord::from_value(&v).unwrap_or_else(|e| panic!("{name}: {e}"));
            } else {
                ResultRecord::from_value(&v).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
    }

    #[test]
    fn captured_success_job_and_result_fields() {
        let job = PickleCodec
            .decode(&captured_one("s02_success__job_job-success"))
            .unwrap();
        let rec = JobRecord::from_value(&job).unwrap();
        assert_eq!(rec.job_try, None);
        assert_eq!(rec.function, "add");
        assert_eq!(rec.args, vec![Value::Int(1), Value::Int(2)]);
        assert_eq!(rec.kwargs, vec![("c".to_owned(), Value::Int(3))]);
        assert_eq!(rec.enqueue_time_ms, 1_795_904_891_973);

        let res = PickleCodec
            .decode(&captured_one("s02_success__result_job-success"))
            .unwrap();
        let rec = ResultRecord::from_value(&res).unwrap();
        assert_eq!(rec.job_try, 1);
        assert_eq!(rec.function, "add");
        assert_eq!(rec.args, vec![Value::Int(1), Value::Int(2)]);
        assert_eq!(rec.kwargs, vec![("c".to_owned(), Value::Int(3))]);
        assert_eq!(rec.enqueue_time_ms, 1_795_904_891_973);
        assert!(rec.success);
        assert_eq!(rec.result, Value::Int(6));
        assert_eq!(rec.start_ms, 1_795_904_891_978);
        assert_eq!(rec.finish_ms, 1_795_904_891_978);
        assert_eq!(rec.queue, "arq:queue");
        assert_eq!(rec.job_id, "job-success");
        // keys in Python's order
        let keys: Vec<&str> = res
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_str().unwrap())
            .collect();
        assert_eq!(
            keys,
            ["t", "f", "a", "k", "et", "s", "r", "st", "ft", "q", "id"]
        );
    }

    #[test]
    fn captured_failures_are_exceptions() {
        for (name, path, class, message) in [
            (
                "s03_failure__result_job-fail",
                "builtins.ValueError",
                "ValueError",
                "boom",
            ),
            (
                "s05_timeout__result_job-timeout",
                "builtins.TimeoutError",
                "TimeoutError",
                "",
            ),
            (
                "s07_abort_queued__result_job-abort-queued",
                "asyncio.exceptions.CancelledError",
                "CancelledError",
                "",
            ),
            (
                "s08_abort_running__result_job-abort-running",
                "asyncio.exceptions.CancelledError",
                "CancelledError",
                "",
            ),
            (
                "s06_max_tries__result_job-maxtries",
                "arq.worker.JobExecutionFailed",
                "JobExecutionFailed",
                "max 2 retries exceeded",
            ),
            (
                "s13_bad_payload__result_job-nofunc",
                "arq.worker.JobExecutionFailed",
                "JobExecutionFailed",
                "function 'nope' not found",
            ),
            (
                "s13_bad_payload__result_job-expired",
                "arq.worker.JobExecutionFailed",
                "JobExecutionFailed",
                "job expired",
            ),
            (
                "s13_bad_payload__result_bad",
                "arq.jobs.DeserializationError",
                "DeserializationError",
                "unable to deserialize job",
            ),
            (
                "s16_retry_variants__result_retry-disabled",
                "arq.worker.Retry",
                "Retry",
                "",
            ),
        ] {
            let v = PickleCodec.decode(&captured_one(name)).unwrap();
            let rec = ResultRecord::from_value(&v).unwrap();
            assert!(!rec.success, "{name}");
            assert_eq!(rec.result.get(EXCEPTION_KEY), Some(&s(path)), "{name}");
            let failure = JobFailure::from_result_value(&rec.result);
            assert_eq!(failure, JobFailure::new(class, message), "{name}");
        }
        // The failed job's args string is shared with the exception's args through the memo.
        let v = PickleCodec
            .decode(&captured_one("s03_failure__result_job-fail"))
            .unwrap();
        assert_eq!(v.get("a"), Some(&Value::List(vec![s("boom")])));
        assert_eq!(
            v.get("r"),
            Some(&map(vec![
                (EXCEPTION_KEY, s("builtins.ValueError")),
                ("args", Value::List(vec![s("boom")]))
            ]))
        );
    }

    #[test]
    fn pickles_of_every_protocol_made_by_python() {
        let text = std::fs::read_to_string(fixtures().join("generated.txt")).unwrap();
        check_generated(&generated(&text));
    }

    #[test]
    fn pickles_made_by_the_local_python_at_test_time() {
        let script = "exec(compile(open('generate.py').read(), 'generate.py', 'exec'))";
        let out = python(script, "");
        check_generated(&generated(&out));
    }

    #[test]
    fn protocol_5_written_by_hand() {
        // What Python 3.14's default pickle.dumps writes for arq's job {t, f, a, k, et}:
        // protocol 5 header, one frame, then the same opcodes as protocol 4.
        let body = from_hex(
            "7d 94 28 8c 01 74 94 4e 8c 01 66 94 8c 03 61 64 64 94 8c 01 61 94 4b 01 4b 02 86 94
             8c 01 6b 94 7d 94 8c 01 63 94 4b 03 73 8c 02 65 74 94 8a 06 7a 79 47 24 a2 01 75 2e",
        );
        let mut p = vec![0x80, 0x05, 0x95];
        p.extend_from_slice(&(body.len() as u64).to_le_bytes());
        p.extend_from_slice(&body);
        let v = PickleCodec.decode(&p).unwrap();
        assert_eq!(
            py_repr(&v, true),
            "{'t': None, 'f': 'add', 'a': (1, 2), 'k': {'c': 3}, 'et': 1795904993658}"
        );
        // protocol 5's bytearray opcode
        let v = PickleCodec
            .decode(b"\x80\x05\x95\x0c\x00\x00\x00\x00\x00\x00\x00\x96\x02\x00\x00\x00\x00\x00\x00\x00ab.")
            .unwrap();
        assert_eq!(v, Value::Bytes(b"ab".to_vec()));
        // out-of-band buffers cannot come through Redis: refused clearly
        let err = PickleCodec.decode(b"\x80\x05\x97\x98.").unwrap_err();
        assert!(err.message().contains("out-of-band buffers"), "{err}");
        assert!(err.message().contains("NEXT_BUFFER"), "{err}");
    }

    #[test]
    fn unsupported_class_names_the_class() {
        // pickle.dumps(my_app.models.User(), protocol=4) from Python 3.11, where User sets
        // self.name = 'bob' in __init__
        let p = b"\x80\x04\x95\x2e\x00\x00\x00\x00\x00\x00\x00\x8c\x0dmy_app.models\x94\x8c\x04User\x94\x93\x94)\x81\x94}\x94\x8c\x04name\x94\x8c\x03bob\x94sb.";
        let err = PickleCodec.decode(p).unwrap_err();
        assert_eq!(
            err.message(),
            "unsupported Python object in pickle: my_app.models.User (only plain data, \
             exceptions, datetime, Decimal and UUID are supported)"
        );
    }

    #[test]
    fn every_prefix_and_corruption_is_an_error_not_a_panic() {
        let text = std::fs::read_to_string(fixtures().join("generated.txt")).unwrap();
        let mut inputs: Vec<Vec<u8>> = captured().into_iter().map(|(_, b, _)| b).collect();
        inputs.extend(generated(&text).into_iter().map(|(_, _, b, _)| b));
        let started = std::time::Instant::now();
        let mut decodes = 0usize;
        for input in &inputs {
            for end in 0..input.len() {
                assert!(
                    PickleCodec.decode(&input[..end]).is_err(),
                    "prefix {end} decoded"
                );
                decodes += 1;
            }
        }
        // Corrupt each byte of the captured records (errors or values, never a panic).
        for (_, input, _) in captured() {
            for i in 0..input.len() {
                for b in [0x00, 0xff, 0x7f, 0x80, b'(', b'.', b'h', 0x94, 0x8a] {
                    let mut bad = input.clone();
                    bad[i] = b;
                    let _ = PickleCodec.decode(&bad);
                    decodes += 1;
                }
            }
        }
        // Random garbage, with a fixed-seed generator.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet: Vec<u8> = (0u8..=0x98).chain([0xff]).collect();
        for _ in 0..20_000 {
            let len = (next() % 64) as usize;
            let mut bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            if next() % 2 == 0 {
                bytes.splice(0..0, [0x80, 0x04]);
            }
            let _ = PickleCodec.decode(&bytes);
            decodes += 1;
        }
        eprintln!("{decodes} decodes in {:?}", started.elapsed());
    }

    fn record(a: Vec<Value>, r: Value, ok: bool) -> Value {
        map(vec![
            ("t", Value::Int(1)),
            ("f", s("add")),
            ("a", Value::List(a)),
            ("k", map(vec![("c", Value::Int(3))])),
            ("et", Value::Int(1_795_904_993_658)),
            ("s", Value::Bool(ok)),
            ("r", r),
            ("st", Value::Int(1_795_904_993_659)),
            ("ft", Value::Int(1_795_904_993_660)),
            ("q", s("arq:queue")),
            ("id", s("j1")),
        ])
    }

    fn nested() -> Value {
        map(vec![
            ("none", Value::Nil),
            (
                "bools",
                Value::List(vec![Value::Bool(true), Value::Bool(false)]),
            ),
            (
                "ints",
                Value::List(
                    [
                        0i64,
                        255,
                        256,
                        65535,
                        65536,
                        -1,
                        i64::from(i32::MIN),
                        1 << 40,
                        i64::MIN,
                        i64::MAX,
                    ]
                    .into_iter()
                    .map(Value::Int)
                    .chain([Value::UInt(u64::MAX)])
                    .collect(),
                ),
            ),
            (
                "floats",
                Value::List(vec![
                    Value::Float(0.1),
                    Value::Float(-0.0),
                    Value::Float(1e300),
                    Value::Float(f64::INFINITY),
                ]),
            ),
            (
                "text",
                Value::List(vec![s(""), s("é€😀"), s(&"x".repeat(300))]),
            ),
            (
                "bytes",
                Value::List(vec![
                    Value::Bytes(vec![]),
                    Value::Bytes(vec![0, 255]),
                    Value::Bytes(vec![7; 300]),
                ]),
            ),
            (
                "deep",
                Value::List(vec![Value::List(vec![Value::List(vec![map(vec![(
                    "x",
                    Value::List(vec![]),
                )])])])]),
            ),
            (
                "keys",
                Value::Map(vec![
                    (Value::Int(1), s("int")),
                    (Value::Float(2.5), s("float")),
                    (Value::Nil, s("none")),
                    (Value::Bytes(b"k".to_vec()), s("bytes")),
                    (Value::Bool(false), s("bool")),
                ]),
            ),
            ("many", Value::List((0..2500).map(Value::Int).collect())),
            (
                "many_keys",
                Value::Map((0..1500).map(|i| (Value::Int(i), Value::Nil)).collect()),
            ),
        ])
    }

    #[test]
    fn round_trips_nested_values() {
        for v in [
            nested(),
            record(vec![Value::Int(1), s("two")], Value::Int(6), true),
            Value::Nil,
            Value::List(vec![]),
            Value::Map(vec![]),
        ] {
            let bytes = PickleCodec.encode(&v).unwrap();
            assert_eq!(PickleCodec.decode(&bytes).unwrap(), v);
        }
        let nan = PickleCodec
            .decode(&PickleCodec.encode(&Value::Float(f64::NAN)).unwrap())
            .unwrap();
        assert!(matches!(nan, Value::Float(f) if f.is_nan()));
        // Failures round-trip through their exception form.
        for f in [
            JobFailure::new("ValueError", "boom"),
            JobFailure::new("TimeoutError", ""),
            JobFailure::new("CancelledError", ""),
            JobFailure::new("JobExecutionFailed", "max 2 retries exceeded"),
            JobFailure::new("DeserializationError", "unable to deserialize job"),
        ] {
            let r = PickleCodec.failure_value(&f);
            let bytes = PickleCodec.encode(&record(vec![], r, false)).unwrap();
            let back = ResultRecord::from_value(&PickleCodec.decode(&bytes).unwrap()).unwrap();
            assert_eq!(JobFailure::from_result_value(&back.result), f);
        }
    }

    #[test]
    fn encodes_known_good_bytes() {
        // Python's own bytes for the job (captured) without the FRAME and MEMOIZE opcodes,
        // which are optional: this is exactly what we write.
        let job = map(vec![
            ("t", Value::Nil),
            ("f", s("add")),
            ("a", Value::List(vec![Value::Int(1), Value::Int(2)])),
            ("k", map(vec![("c", Value::Int(3))])),
            ("et", Value::Int(1_795_904_891_973)),
        ]);
        let expected = "8004 7d 28 8c0174 4e 8c0166 8c03616464 8c0161 4b01 4b02 86 8c016b 7d \
                        8c0163 4b03 73 8c026574 8a0645ec4524a201 75 2e";
        assert_eq!(
            to_hex(&PickleCodec.encode(&job).unwrap()),
            to_hex(&from_hex(expected))
        );
        let captured = captured_one("s02_success__job_job-success");
        let mut stripped = vec![0x80, 0x04];
        // The frame header is 9 bytes; this record has no 0x94 byte inside its data.
        stripped.extend(captured[11..].iter().filter(|&&b| b != 0x94));
        assert_eq!(
            to_hex(&PickleCodec.encode(&job).unwrap()),
            to_hex(&stripped)
        );

        // The failure result of `fail('boom')`: `r` is builtins.ValueError('boom').
        let fail = map(vec![
            ("t", Value::Int(1)),
            ("f", s("fail")),
            ("a", Value::List(vec![s("boom")])),
            ("k", Value::Map(vec![])),
            ("et", Value::Int(1_795_904_893_285)),
            ("s", Value::Bool(false)),
            (
                "r",
                PickleCodec.failure_value(&JobFailure::new("ValueError", "boom")),
            ),
            ("st", Value::Int(1_795_904_893_288)),
            ("ft", Value::Int(1_795_904_893_288)),
            ("q", s("arq:queue")),
            ("id", s("job-fail")),
        ]);
        let expected =
            "8004 7d 28 8c0174 4b01 8c0166 8c046661696c 8c0161 8c04626f6f6d 85 8c016b 7d \
                        8c026574 8a0665f14524a201 8c0173 89 8c0172 \
                        8c086275696c74696e73 8c0a56616c75654572726f72 93 8c04626f6f6d 85 52 \
                        8c027374 8a0668f14524a201 8c026674 8a0668f14524a201 \
                        8c0171 8c096172713a7175657565 8c026964 8c086a6f622d6661696c 75 2e";
        let bytes = PickleCodec.encode(&fail).unwrap();
        assert_eq!(to_hex(&bytes), to_hex(&from_hex(expected)));
        // It decodes to the same value as Python's own bytes for that result.
        assert_eq!(
            PickleCodec.decode(&bytes).unwrap(),
            PickleCodec
                .decode(&captured_one("s03_failure__result_job-fail"))
                .unwrap()
        );
    }

    #[test]
    fn python_reads_what_we_write() {
        let exc = |path: &str, args: Vec<Value>| {
            map(vec![(EXCEPTION_KEY, s(path)), ("args", Value::List(args))])
        };
        let cases: Vec<(Value, &str)> = vec![
            (
                map(vec![
                    ("t", Value::Nil),
                    ("f", s("add")),
                    ("a", Value::List(vec![Value::Int(1), Value::Int(2)])),
                    ("k", map(vec![("c", Value::Int(3))])),
                    ("et", Value::Int(1_795_904_993_658)),
                ]),
                "{'t': None, 'f': 'add', 'a': (1, 2), 'k': {'c': 3}, 'et': 1795904993658}",
            ),
            (
                record(
                    vec![s("boom")],
                    PickleCodec.failure_value(&JobFailure::new("ValueError", "boom")),
                    false,
                ),
                "{'t': 1, 'f': 'add', 'a': ('boom',), 'k': {'c': 3}, 'et': 1795904993658, \
                 's': False, 'r': ValueError('boom'), 'st': 1795904993659, 'ft': 1795904993660, \
                 'q': 'arq:queue', 'id': 'j1'}",
            ),
            (
                PickleCodec.failure_value(&JobFailure::new("CancelledError", "")),
                "CancelledError()",
            ),
            (
                PickleCodec.failure_value(&JobFailure::new("TimeoutError", "")),
                "TimeoutError()",
            ),
            (
                PickleCodec.failure_value(&JobFailure::new(
                    "JobExecutionFailed",
                    "max 2 retries exceeded",
                )),
                "JobExecutionFailed('max 2 retries exceeded')",
            ),
            (
                PickleCodec.failure_value(&JobFailure::new("DeserializationError", "bad")),
                "DeserializationError('bad')",
            ),
            (
                PickleCodec.failure_value(&JobFailure::new("MyError", "bad")),
                "Exception('MyError: bad')",
            ),
            // Python's Retry(defer=None) cannot take the text: it is written as Retry().
            (
                PickleCodec.failure_value(&JobFailure::new("Retry", "retry requested in 5s")),
                "<Retry defer 0.00s>",
            ),
            (exc("ValueError", vec![]), "ValueError()"),
            (
                exc("builtins.KeyError", vec![s("k"), Value::Int(1)]),
                "KeyError('k', 1)",
            ),
            // Not an exception class: stays a dict, nothing is called.
            (
                exc("os.system", vec![s("echo hi")]),
                "{'__arq_exception__': 'os.system', 'args': ['echo hi']}",
            ),
            (
                nested(),
                "PYTHON-CHECKED", // compared after Python pickles it back, below
            ),
            (
                Value::Map(vec![(Value::List(vec![Value::Int(1), s("x")]), Value::Nil)]),
                "{(1, 'x'): None}",
            ),
        ];
        let input: String = cases
            .iter()
            .map(|(v, _)| to_hex(&PickleCodec.encode(v).unwrap()) + "\n")
            .collect();
        // Python loads each pickle, prints its repr, and pickles it back with protocol 5.
        let script = "import sys, pickle\n\
                      for line in sys.stdin.read().split():\n\
                      \x20   obj = pickle.loads(bytes.fromhex(line))\n\
                      \x20   if isinstance(obj, dict) and 'a' in obj and 'f' in obj:\n\
                      \x20       assert type(obj['a']) is tuple\n\
                      \x20   if isinstance(obj, dict) and isinstance(obj.get('r'), BaseException):\n\
                      \x20       try:\n\
                      \x20           raise obj['r']\n\
                      \x20       except ValueError as e:\n\
                      \x20           assert e.args == ('boom',)\n\
                      \x20   print(repr(obj) + '\\t' + pickle.dumps(obj, protocol=5).hex())\n";
        let out = python(script, &input);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), cases.len());
        for ((value, expected), line) in cases.iter().zip(lines) {
            let (repr, again) = line.split_once('\t').unwrap();
            if *expected != "PYTHON-CHECKED" {
                assert_eq!(repr, *expected);
            }
            // What Python writes back (protocol 5, frames, memo) decodes to what we wrote,
            // except that list keys became tuples, which read back as lists anyway.
            let back = PickleCodec.decode(&from_hex(again)).unwrap();
            let want = match *expected {
                "ValueError()" => exc("builtins.ValueError", vec![]),
                "<Retry defer 0.00s>" => exc("arq.worker.Retry", vec![]),
                _ => value.clone(),
            };
            assert_eq!(back, want, "{repr}");
        }
    }
}

// ---------------------------------------------------------------------------------------

#[cfg(feature = "json")]
mod json {
    use super::*;
    use arq_core::{JobFailure, JsonCodec};

    fn enc(v: &Value) -> String {
        String::from_utf8(JsonCodec.encode(v).unwrap()).unwrap()
    }

    fn sample() -> Value {
        map(vec![
            ("t", Value::Nil),
            ("f", s("add")),
            ("a", Value::List(vec![Value::Int(1), Value::Int(2)])),
            ("k", map(vec![("c", Value::Int(3))])),
            ("et", Value::Int(1_795_904_993_658)),
        ])
    }

    #[test]
    fn job_record_is_what_json_dumps_writes() {
        let expected =
            r#"{"t": null, "f": "add", "a": [1, 2], "k": {"c": 3}, "et": 1795904993658}"#;
        assert_eq!(enc(&sample()), expected);
        assert_eq!(JsonCodec.decode(expected.as_bytes()).unwrap(), sample());
        // compact JSON from another writer reads the same
        let compact = br#"{"t":null,"f":"add","a":[1,2],"k":{"c":3},"et":1795904993658}"#;
        assert_eq!(JsonCodec.decode(compact).unwrap(), sample());
    }

    #[test]
    fn failures_are_text() {
        let f = JobFailure::new("TimeoutError", "job exceeded its timeout of 1s");
        let r = JsonCodec.failure_value(&f);
        assert_eq!(r, s("TimeoutError: job exceeded its timeout of 1s"));
        assert_eq!(JobFailure::from_result_value(&r), f);
    }

    #[test]
    fn bytes_are_refused() {
        let err = JsonCodec
            .encode(&map(vec![("a", Value::Bytes(vec![1]))]))
            .unwrap_err();
        assert!(
            err.message().contains("bytes cannot be sent as JSON"),
            "{err}"
        );
    }

    fn tricky() -> Vec<Value> {
        vec![
            sample(),
            Value::List(vec![
                Value::Float(0.1),
                Value::Float(1e16),
                Value::Float(1.5e-5),
                Value::Float(-0.0),
                Value::Float(123.0),
                Value::Float(f64::NAN),
                Value::Float(f64::INFINITY),
                Value::Float(f64::NEG_INFINITY),
                Value::Int(i64::MIN),
                Value::UInt(u64::MAX),
            ]),
            s("é€😀 \"quoted\" back\\slash\n\t\u{1}\u{7f}/"),
            Value::Map(vec![
                (Value::Int(1), s("int key")),
                (Value::Float(2.5), s("float key")),
                (Value::Bool(false), s("bool key")),
                (Value::Nil, s("none key")),
            ]),
            Value::List(vec![
                Value::Map(vec![]),
                Value::List(vec![]),
                Value::Bool(true),
            ]),
        ]
    }

    #[test]
    fn python_json_agrees_byte_for_byte() {
        let ours: Vec<String> = tricky().iter().map(enc).collect();
        // Python reads each of our documents and dumps it again with its defaults.
        let script = "import sys, json\n\
                      for line in sys.stdin.read().split('\\n'):\n\
                      \x20   if line:\n\
                      \x20       print(json.dumps(json.loads(line)))\n";
        let out = python(script, &(ours.join("\n") + "\n"));
        let theirs: Vec<&str> = out.lines().collect();
        assert_eq!(theirs.len(), ours.len());
        for (o, t) in ours.iter().zip(theirs) {
            assert_eq!(o, t);
            // and we read Python's output back
            let v = JsonCodec.decode(t.as_bytes()).unwrap();
            assert_eq!(enc(&v), *o);
        }
    }

    #[test]
    fn we_read_what_python_writes() {
        let script = r#"import json
values = [
    {'t': None, 'f': 'add', 'a': (1, 2), 'k': {'c': 3}, 'et': 1795904993658},
    [0.1, 1e16, 1.5e-05, -0.0, float('nan'), float('inf'), -float('inf'), 2**64 - 1, -2**63],
    'é€😀 "q" \\ \n \x01 \x7f \ud800',
    {1: 'a', '1': 'b', 2.5: None, False: 1, None: 2},
]
for v in values:
    print(json.dumps(v))
"#;
        let out = python(script, "");
        let docs: Vec<Value> = out
            .lines()
            .map(|l| {
                JsonCodec
                    .decode(l.as_bytes())
                    .unwrap_or_else(|e| panic!("{l}: {e}"))
            })
            .collect();
        assert_eq!(docs[0], sample());
        let floats = docs[1].as_list().unwrap();
        assert_eq!(floats[0], Value::Float(0.1));
        assert_eq!(floats[1], Value::Float(1e16));
        assert_eq!(floats[2], Value::Float(1.5e-5));
        assert!(matches!(floats[3], Value::Float(f) if f == 0.0 && f.is_sign_negative()));
        assert!(matches!(floats[4], Value::Float(f) if f.is_nan()));
        assert_eq!(floats[5], Value::Float(f64::INFINITY));
        assert_eq!(floats[6], Value::Float(f64::NEG_INFINITY));
        assert_eq!(floats[7], Value::UInt(u64::MAX));
        assert_eq!(floats[8], Value::Int(i64::MIN));
        assert_eq!(docs[2], s("é€😀 \"q\" \\ \n \u{1} \u{7f} \u{fffd}"));
        // {1: 'a', '1': 'b'} dumps two "1" keys; like json.loads, the last one wins.
        assert_eq!(
            docs[3],
            map(vec![
                ("1", s("b")),
                ("2.5", Value::Nil),
                ("false", Value::Int(1)),
                ("null", Value::Int(2)),
            ])
        );
        for (line, v) in out.lines().zip(&docs) {
            if !line.contains("\\ud800") && !line.contains("\"1\": \"a\"") {
                assert_eq!(enc(v), line, "re-encoding gives Python's bytes");
            }
        }
    }

    #[test]
    fn every_prefix_is_an_error_or_a_value() {
        for v in tricky() {
            let doc = JsonCodec.encode(&v).unwrap();
            for end in 0..doc.len() {
                // A prefix may be valid JSON (`1` of `123`), never a panic.
                let _ = JsonCodec.decode(&doc[..end]);
            }
        }
        for garbage in [
            &b"\xff\xfe"[..],
            b"{\"a\":",
            b"[[[[",
            b"\"\\u",
            b"-",
            b"tru",
            b"1e+",
        ] {
            assert!(JsonCodec.decode(garbage).is_err());
        }
    }
}
