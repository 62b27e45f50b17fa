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

use crate::{JobFailure, Value, ValueError};
use std::fmt;

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
    fn garbage_is_an_error_not_a_panic() {
        let c = MsgpackCodec;
        assert!(c.decode(b"\xc1\xff\x00garbage").is_err());
        assert!(c.decode(b"").is_err());
        // a valid value followed by junk
        let err = c.decode(b"\x01\x02").unwrap_err();
        assert!(err.message().contains("trailing"), "{err}");
    }
}
