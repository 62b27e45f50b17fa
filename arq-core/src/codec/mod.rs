//! Codecs: bytes stored in Redis <-> the neutral [`Value`] tree.
//!
//! A codec only maps bytes to and from [`Value`]; typed arguments and results are converted
//! from the tree with serde, so every codec supports every job.

#[cfg(feature = "json")]
mod json;
#[cfg(feature = "pickle")]
mod pickle;

#[cfg(feature = "json")]
pub use json::JsonCodec;
#[cfg(feature = "pickle")]
pub use pickle::PickleCodec;

use crate::{Error, JobFailure, Value, ValueError};
use std::fmt;
use std::sync::Arc;

/// Turns job and result records into bytes and back.
///
/// Client and worker must use the same codec: nothing stored in Redis says which one wrote a
/// record (as in Python arq, where both sides set `job_serializer`/`job_deserializer`).
pub trait Codec: Send + Sync + fmt::Debug + 'static {
    /// A short name for logs and errors (`"msgpack"`).
    fn name(&self) -> &'static str;

    /// Encodes a record.
    fn encode(&self, value: &Value) -> Result<Vec<u8>, ValueError>;

    /// Decodes a record.
    fn decode(&self, bytes: &[u8]) -> Result<Value, ValueError>;

    /// The value stored as `r` for a failed job. Codecs that cannot hold an exception object
    /// store its text `"<class>: <message>"`, which Python arq raises as `SerializationError`.
    fn failure_value(&self, failure: &JobFailure) -> Value {
        Value::Str(failure.to_text())
    }
}

/// A shared codec is a codec, so the one [`by_name`] returns can go wherever a codec is taken
/// ([`Pool::with_codec`](crate::Pool::with_codec),
/// [`WorkerSettings::codec`](crate::WorkerSettings::codec)).
impl<C: Codec + ?Sized> Codec for Arc<C> {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn encode(&self, value: &Value) -> Result<Vec<u8>, ValueError> {
        (**self).encode(value)
    }

    fn decode(&self, bytes: &[u8]) -> Result<Value, ValueError> {
        (**self).decode(bytes)
    }

    fn failure_value(&self, failure: &JobFailure) -> Value {
        (**self).failure_value(failure)
    }
}

/// The names [`by_name`] knows, whether or not their features are on.
pub const CODEC_NAMES: &[&str] = &["msgpack", "pickle", "json"];

/// The codec called `name` (`"msgpack"`, `"pickle"` or `"json"`, any case), for settings read
/// from a command line or the environment (`arq-cli worker run --codec pickle`).
///
/// Fails with [`Error::Config`] for an unknown name, naming the known ones, and for `pickle` or
/// `json` when that codec's cargo feature is off, naming the feature to turn on.
///
/// ```
/// let codec = arq_core::codec::by_name("msgpack").unwrap();
/// assert_eq!(codec.name(), "msgpack");
/// assert!(arq_core::codec::by_name("yaml").is_err());
/// ```
pub fn by_name(name: &str) -> Result<Arc<dyn Codec>, Error> {
    match name.trim().to_ascii_lowercase().as_str() {
        "msgpack" => Ok(Arc::new(MsgpackCodec)),
        #[cfg(feature = "pickle")]
        "pickle" => Ok(Arc::new(PickleCodec)),
        #[cfg(feature = "json")]
        "json" => Ok(Arc::new(JsonCodec)),
        #[allow(unreachable_patterns)] // reached only when a feature is off
        known @ ("pickle" | "json") => Err(Error::Config(format!(
            "codec {known:?} is not built in: enable the `{known}` feature of the arq crate \
             (arq = {{ version = \"…\", features = [\"{known}\"] }})"
        ))),
        _ => Err(Error::Config(format!(
            "unknown codec {name:?}: the codecs are {}",
            CODEC_NAMES.join(", ")
        ))),
    }
}

/// Guesses which codec wrote `bytes`, from their first bytes only: `"pickle"` for a pickle of
/// protocol 2 to 5 (`0x80`, then the protocol), `"msgpack"` for a MessagePack map header
/// (fixmap `0x81`–`0x8f`, map16 `0xde`, map32 `0xdf`), `"json"` for an object (`{`, after
/// optional whitespace). `None` when none of these fits.
///
/// Every record arq stores is a map, so these headers tell the three codecs apart; the guess
/// only serves error messages, never decoding.
///
/// ```
/// use arq_core::codec::detect_format;
/// assert_eq!(detect_format(b"\x80\x04\x95..."), Some("pickle"));
/// assert_eq!(detect_format(b"\x85\xa1t\xc0"), Some("msgpack"));
/// assert_eq!(detect_format(b" {\"t\": null}"), Some("json"));
/// assert_eq!(detect_format(b"garbage"), None);
/// ```
pub fn detect_format(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0x80, 2..=5, ..] => Some("pickle"),
        [0x81..=0x8f | 0xde | 0xdf, ..] => Some("msgpack"),
        _ => match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => Some("json"),
            _ => None,
        },
    }
}

/// Who is told how to change codecs in a [`foreign_payload_hint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HintFor {
    /// A worker: `--codec` of the worker binary or `WorkerSettings::codec`.
    Worker,
    /// A client or an admin command: `--codec` of arq-cli or `Pool::with_codec`.
    Pool,
}

/// When `bytes` failed to decode with the codec `configured` and look like another codec's,
/// the text to append to the error (starting with `"; "`): which codec it looks like and the
/// setting to change.
pub(crate) fn foreign_payload_hint(configured: &str, bytes: &[u8], who: HintFor) -> Option<String> {
    let found = detect_format(bytes)?;
    if found == configured {
        return None;
    }
    let (what, ty, feature) = match found {
        "pickle" => ("pickle (Python arq's default)", "PickleCodec", "pickle"),
        "json" => ("JSON", "JsonCodec", "json"),
        _ => ("msgpack", "MsgpackCodec", ""),
    };
    let built = by_name(found).is_ok();
    let needs = if built || feature.is_empty() {
        String::new()
    } else {
        format!(" (this build needs the `{feature}` feature of arq for it)")
    };
    Some(match who {
        HintFor::Worker => format!(
            "; it looks like {what}: run the worker with --codec {found} (ARQ_CODEC={found}) \
             or WorkerSettings::codec(arq::{ty}){needs}"
        ),
        HintFor::Pool => format!(
            "; it looks like {what}: use --codec {found} (ARQ_CODEC={found}) with arq-cli, \
             or Pool::with_codec(arq::{ty}){needs}"
        ),
    })
}

/// How deeply containers may nest in a decoded record (as in the JSON and pickle codecs).
const MAX_DEPTH: usize = 256;

/// MessagePack, the default codec. Python arq reads and writes it with
/// `job_serializer=msgpack.packb` and
/// `job_deserializer=lambda b: msgpack.unpackb(b, raw=False)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MsgpackCodec;

impl Codec for MsgpackCodec {
    fn name(&self) -> &'static str {
        "msgpack"
    }

    fn encode(&self, value: &Value) -> Result<Vec<u8>, ValueError> {
        rmp_serde::to_vec(value).map_err(|e| ValueError::new(format!("msgpack: {e}")))
    }

    fn decode(&self, bytes: &[u8]) -> Result<Value, ValueError> {
        let mut de = rmp_serde::Deserializer::new(std::io::Cursor::new(bytes));
        // Bounded nesting: a hostile payload must fail its job, not overflow the stack.
        de.set_max_depth(MAX_DEPTH);
        let value: Value = serde::Deserialize::deserialize(&mut de)
            .map_err(|e| ValueError::new(format!("msgpack: {e}")))?;
        let consumed = de.position() as usize;
        if consumed != bytes.len() {
            return Err(ValueError::new(format!(
                "msgpack: {} trailing bytes after the record",
                bytes.len() - consumed
            )));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(all(feature = "pickle", feature = "json"))]
    fn by_name_knows_every_codec() {
        for name in CODEC_NAMES {
            let codec = by_name(name).unwrap();
            assert_eq!(codec.name(), *name);
            // The shared codec is a codec too.
            let v = Value::Map(vec![(Value::Str("a".into()), Value::Int(1))]);
            assert_eq!(codec.decode(&codec.encode(&v).unwrap()).unwrap(), v);
        }
        assert_eq!(by_name(" MsgPack ").unwrap().name(), "msgpack");
        let err = by_name("yaml").unwrap_err().to_string();
        assert!(
            err.contains("\"yaml\"") && err.contains("msgpack, pickle, json"),
            "{err}"
        );
    }

    #[test]
    #[cfg(not(all(feature = "pickle", feature = "json")))]
    fn by_name_names_a_missing_feature() {
        let name = if cfg!(feature = "pickle") {
            "json"
        } else {
            "pickle"
        };
        let err = by_name(name).unwrap_err().to_string();
        assert!(err.contains(&format!("`{name}` feature")), "{err}");
    }

    #[test]
    #[cfg(all(feature = "pickle", feature = "json"))]
    fn detects_each_codec_from_its_records() {
        let rec = crate::JobRecord {
            job_try: None,
            function: "add".into(),
            args: vec![Value::Int(1)],
            kwargs: vec![],
            enqueue_time_ms: 1_700_000_000_000,
        }
        .to_value();
        for name in CODEC_NAMES {
            let bytes = by_name(name).unwrap().encode(&rec).unwrap();
            assert_eq!(detect_format(&bytes), Some(*name), "{name}: {bytes:x?}");
        }
        // Every pickle protocol with a PROTO opcode; protocols 0 and 1 have no header.
        for proto in 2..=5u8 {
            assert_eq!(detect_format(&[0x80, proto, 0x95]), Some("pickle"));
        }
        assert_eq!(detect_format(&[0x80, 6]), None);
        assert_eq!(detect_format(&[0x80]), None);
        assert_eq!(detect_format(&[0xde, 0x00, 0x10]), Some("msgpack"));
        assert_eq!(detect_format(b"\n\t {}"), Some("json"));
        assert_eq!(detect_format(b"[1, 2]"), None);
        assert_eq!(detect_format(b""), None);
        assert_eq!(detect_format(b"\x01\x02"), None);
    }

    #[test]
    fn a_foreign_payload_hint_names_the_codec_and_the_setting() {
        let pickled = b"\x80\x04\x95\x38\x00";
        let hint = foreign_payload_hint("msgpack", pickled, HintFor::Worker).unwrap();
        assert_eq!(
            hint,
            "; it looks like pickle (Python arq's default): run the worker with --codec pickle \
             (ARQ_CODEC=pickle) or WorkerSettings::codec(arq::PickleCodec)"
        );
        let hint = foreign_payload_hint("pickle", b"\x85\xa1t", HintFor::Pool).unwrap();
        assert!(hint.contains("looks like msgpack"), "{hint}");
        assert!(
            hint.contains("Pool::with_codec(arq::MsgpackCodec)"),
            "{hint}"
        );
        let hint = foreign_payload_hint("msgpack", b"{\"t\":1}", HintFor::Worker).unwrap();
        assert!(hint.contains("--codec json (ARQ_CODEC=json)"), "{hint}");
        // Same codec (a corrupt record of the right kind) or unknown bytes: no guess.
        assert_eq!(
            foreign_payload_hint("pickle", pickled, HintFor::Worker),
            None
        );
        assert_eq!(
            foreign_payload_hint("msgpack", b"zz", HintFor::Worker),
            None
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let c = MsgpackCodec;
        assert!(c.decode(b"\xc1\xff\x00garbage").is_err());
        assert!(c.decode(b"").is_err());
        // a valid value followed by junk
        let err = c.decode(b"\x01\x02").unwrap_err();
        assert!(err.message().contains("trailing"), "{err}");
    }
}
