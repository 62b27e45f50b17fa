//! The job and result records, field for field as Python arq writes them
//! (`arq.jobs.serialize_job` / `serialize_result`), and the one place stored records are
//! decoded ([`decode_job`], [`decode_result`]) for the client, the admin listing and the
//! worker.

use crate::codec::{foreign_payload_hint, HintFor};
use crate::{Codec, Error, JobFailure, Value};

/// The record stored at `arq:job:<id>`: `{t, f, a, k, et}`.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    /// `t`: the job try set at enqueue (`_job_try`), normally `None`.
    pub job_try: Option<i64>,
    /// `f`: the function name.
    pub function: String,
    /// `a`: positional arguments.
    pub args: Vec<Value>,
    /// `k`: keyword arguments.
    pub kwargs: Vec<(String, Value)>,
    /// `et`: enqueue time, ms since the epoch.
    pub enqueue_time_ms: i64,
}

/// The record stored at `arq:result:<id>`: the job's fields plus `{s, r, st, ft, q, id}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRecord {
    /// `t`: the try that produced this result.
    pub job_try: i64,
    /// `f`: the function name (`"<unknown>"` when the job could not be read).
    pub function: String,
    /// `a`: positional arguments.
    pub args: Vec<Value>,
    /// `k`: keyword arguments.
    pub kwargs: Vec<(String, Value)>,
    /// `et`: enqueue time, ms.
    pub enqueue_time_ms: i64,
    /// `s`: success.
    pub success: bool,
    /// `r`: the return value, or the failure.
    pub result: Value,
    /// `st`: start time, ms.
    pub start_ms: i64,
    /// `ft`: finish time, ms.
    pub finish_ms: i64,
    /// `q`: queue name.
    pub queue: String,
    /// `id`: job id.
    pub job_id: String,
}

fn key(k: &str) -> Value {
    Value::Str(k.to_owned())
}

fn kwargs_value(kwargs: &[(String, Value)]) -> Value {
    Value::Map(
        kwargs
            .iter()
            .map(|(k, v)| (Value::Str(k.clone()), v.clone()))
            .collect(),
    )
}

fn field<'a>(map: &'a [(Value, Value)], name: &str) -> Result<&'a Value, String> {
    map.iter()
        .find(|(k, _)| k.as_str() == Some(name))
        .map(|(_, v)| v)
        .ok_or_else(|| format!("missing field {name:?}"))
}

fn int_field(map: &[(Value, Value)], name: &str) -> Result<i64, String> {
    match field(map, name)? {
        Value::Int(i) => Ok(*i),
        Value::Float(f) if f.is_finite() => Ok(f.round() as i64),
        other => Err(format!(
            "field {name:?} should be an integer, found {}",
            other.type_name()
        )),
    }
}

fn str_field(map: &[(Value, Value)], name: &str) -> Result<String, String> {
    match field(map, name)? {
        Value::Str(s) => Ok(s.clone()),
        other => Err(format!(
            "field {name:?} should be a string, found {}",
            other.type_name()
        )),
    }
}

fn bool_field(map: &[(Value, Value)], name: &str) -> Result<bool, String> {
    match field(map, name)? {
        Value::Bool(b) => Ok(*b),
        other => Err(format!(
            "field {name:?} should be a bool, found {}",
            other.type_name()
        )),
    }
}

fn args_field(map: &[(Value, Value)]) -> Result<Vec<Value>, String> {
    match field(map, "a")? {
        Value::List(items) => Ok(items.clone()),
        other => Err(format!(
            "field \"a\" should be a list, found {}",
            other.type_name()
        )),
    }
}

fn kwargs_field(map: &[(Value, Value)]) -> Result<Vec<(String, Value)>, String> {
    match field(map, "k")? {
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| match k {
                Value::Str(s) => Ok((s.clone(), v.clone())),
                other => Err(format!(
                    "keyword argument names should be strings, found {}",
                    other.type_name()
                )),
            })
            .collect(),
        other => Err(format!(
            "field \"k\" should be a map, found {}",
            other.type_name()
        )),
    }
}

fn as_map(v: &Value) -> Result<&[(Value, Value)], String> {
    v.as_map()
        .ok_or_else(|| format!("record should be a map, found {}", v.type_name()))
}

impl JobRecord {
    /// The record as a value, keys in Python's order `t, f, a, k, et`.
    pub fn to_value(&self) -> Value {
        Value::Map(vec![
            (key("t"), self.job_try.map_or(Value::Nil, Value::Int)),
            (key("f"), Value::Str(self.function.clone())),
            (key("a"), Value::List(self.args.clone())),
            (key("k"), kwargs_value(&self.kwargs)),
            (key("et"), Value::Int(self.enqueue_time_ms)),
        ])
    }

    /// Reads a record; all five fields are required, as in Python arq.
    pub fn from_value(v: &Value) -> Result<Self, String> {
        let map = as_map(v)?;
        let job_try = match field(map, "t")? {
            Value::Nil => None,
            Value::Int(i) => Some(*i),
            other => {
                return Err(format!(
                    "field \"t\" should be an integer or None, found {}",
                    other.type_name()
                ))
            }
        };
        Ok(JobRecord {
            job_try,
            function: str_field(map, "f")?,
            args: args_field(map)?,
            kwargs: kwargs_field(map)?,
            enqueue_time_ms: int_field(map, "et")?,
        })
    }
}

impl ResultRecord {
    /// The failure this record stores, or `None` for a success.
    ///
    /// An aborted job is stored as Python arq stores it: a bare `CancelledError()` with
    /// pickle, the text `"CancelledError"` with msgpack or JSON. Its message here is derived
    /// from the record's times, so Rust callers still learn how it ended:
    /// [`ABORTED_BEFORE_START`](crate::ABORTED_BEFORE_START) when `st` equals `ft` (the job
    /// never ran: the Rust client and worker write both as the time of the abort),
    /// [`ABORTED_WHILE_RUNNING`](crate::ABORTED_WHILE_RUNNING) when `ft` is later (a Rust
    /// worker records a cancelled run as lasting at least 1 ms). A Python worker writes its
    /// start and finish times around its own checks, so for its records the distinction is a
    /// best guess.
    pub fn failure(&self) -> Option<JobFailure> {
        (!self.success).then(|| failure_of(&self.result, self.start_ms, self.finish_ms))
    }

    /// The record as a value, keys in Python's order `t,f,a,k,et,s,r,st,ft,q,id`.
    pub fn to_value(&self) -> Value {
        Value::Map(vec![
            (key("t"), Value::Int(self.job_try)),
            (key("f"), Value::Str(self.function.clone())),
            (key("a"), Value::List(self.args.clone())),
            (key("k"), kwargs_value(&self.kwargs)),
            (key("et"), Value::Int(self.enqueue_time_ms)),
            (key("s"), Value::Bool(self.success)),
            (key("r"), self.result.clone()),
            (key("st"), Value::Int(self.start_ms)),
            (key("ft"), Value::Int(self.finish_ms)),
            (key("q"), Value::Str(self.queue.clone())),
            (key("id"), Value::Str(self.job_id.clone())),
        ])
    }

    /// Reads a record; `q` and `id` default to `"<unknown>"` as in Python arq.
    pub fn from_value(v: &Value) -> Result<Self, String> {
        let map = as_map(v)?;
        let success = bool_field(map, "s")?;
        let job_try = match field(map, "t")? {
            Value::Nil => 0,
            _ => int_field(map, "t")?,
        };
        Ok(ResultRecord {
            job_try,
            function: str_field(map, "f")?,
            args: args_field(map)?,
            kwargs: kwargs_field(map)?,
            enqueue_time_ms: int_field(map, "et")?,
            success,
            result: field(map, "r")?.clone(),
            start_ms: int_field(map, "st")?,
            finish_ms: int_field(map, "ft")?,
            queue: str_field(map, "q").unwrap_or_else(|_| "<unknown>".into()),
            job_id: str_field(map, "id").unwrap_or_else(|_| "<unknown>".into()),
        })
    }
}

/// A stored record that could not be read with the configured codec.
#[derive(Debug)]
pub(crate) struct UndecodableRecord {
    /// `"job"` or `"result"`.
    what: &'static str,
    /// Why: the codec's or the record's complaint, then the hint (starting with `"; "`) when
    /// the bytes look like another codec's.
    pub(crate) message: String,
}

/// The client's error: `could not decode <what>: <why><hint>`.
impl From<UndecodableRecord> for Error {
    fn from(e: UndecodableRecord) -> Self {
        Error::Decode {
            what: e.what.into(),
            message: e.message,
        }
    }
}

/// Decodes a job record (`arq:job:<id>`) with `codec`; `who` says whose codec setting the
/// hint names when the bytes look like another codec's.
pub(crate) fn decode_job(
    codec: &dyn Codec,
    bytes: &[u8],
    who: HintFor,
) -> Result<JobRecord, UndecodableRecord> {
    decode_record(codec, bytes, who, "job", JobRecord::from_value)
}

/// Decodes a result record (`arq:result:<id>`) with `codec`, as [`decode_job`] does.
pub(crate) fn decode_result(
    codec: &dyn Codec,
    bytes: &[u8],
    who: HintFor,
) -> Result<ResultRecord, UndecodableRecord> {
    decode_record(codec, bytes, who, "result", ResultRecord::from_value)
}

fn decode_record<R>(
    codec: &dyn Codec,
    bytes: &[u8],
    who: HintFor,
    what: &'static str,
    read: fn(&Value) -> Result<R, String>,
) -> Result<R, UndecodableRecord> {
    codec
        .decode(bytes)
        .map_err(|e| e.to_string())
        .and_then(|v| read(&v))
        .map_err(|why| {
            let hint = foreign_payload_hint(codec.name(), bytes, who).unwrap_or_default();
            UndecodableRecord {
                what,
                message: format!("{why}{hint}"),
            }
        })
}

/// A stored failure `r`, with the message of a bare `CancelledError` derived from the times
/// (see [`ResultRecord::failure`]).
pub(crate) fn failure_of(result: &Value, start_ms: i64, finish_ms: i64) -> JobFailure {
    let mut failure = JobFailure::from_result_value(result);
    if failure.is_aborted() && failure.message.is_empty() {
        failure.message = if finish_ms <= start_ms {
            crate::ABORTED_BEFORE_START
        } else {
            crate::ABORTED_WHILE_RUNNING
        }
        .to_owned();
    }
    failure
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aborted(result: Value, start_ms: i64, finish_ms: i64) -> ResultRecord {
        ResultRecord {
            job_try: 1,
            function: "f".into(),
            args: vec![],
            kwargs: vec![],
            enqueue_time_ms: 1,
            success: false,
            result,
            start_ms,
            finish_ms,
            queue: "arq:queue".into(),
            job_id: "id".into(),
        }
    }

    #[test]
    fn records_decode_in_one_place_with_the_foreign_codec_hint() {
        let codec = crate::MsgpackCodec;
        let job = JobRecord {
            job_try: None,
            function: "f".into(),
            args: vec![Value::Int(1)],
            kwargs: vec![("k".into(), Value::Bool(true))],
            enqueue_time_ms: 5,
        };
        let bytes = codec.encode(&job.to_value()).unwrap();
        assert_eq!(decode_job(&codec, &bytes, HintFor::Pool).unwrap(), job);
        // A job record is no result: the client's error names what and why.
        let err = decode_result(&codec, &bytes, HintFor::Pool).unwrap_err();
        assert_eq!(
            Error::from(err).to_string(),
            "could not decode result: missing field \"s\""
        );
        // Bytes of another codec: the hint names it and whose setting to change.
        let pickled = b"\x80\x04\x95\x10\x00";
        let worker = decode_job(&codec, pickled, HintFor::Worker).unwrap_err();
        assert!(
            worker.message.contains("; it looks like pickle")
                && worker.message.contains("WorkerSettings::codec"),
            "{}",
            worker.message
        );
        let pool = decode_job(&codec, pickled, HintFor::Pool).unwrap_err();
        assert!(
            pool.message.contains("Pool::with_codec"),
            "{}",
            pool.message
        );
    }

    #[test]
    fn a_bare_cancelled_error_says_when_the_job_was_aborted() {
        let text = Value::Str("CancelledError".into());
        let object = JobFailure::new("CancelledError", "").to_exception_value();
        for r in [text, object] {
            let before = aborted(r.clone(), 5, 5).failure().unwrap();
            assert_eq!(
                before,
                JobFailure::new("CancelledError", crate::ABORTED_BEFORE_START)
            );
            let during = aborted(r, 5, 9).failure().unwrap();
            assert_eq!(
                during,
                JobFailure::new("CancelledError", crate::ABORTED_WHILE_RUNNING)
            );
        }
        // A CancelledError with its own message keeps it; other failures are untouched.
        let own = aborted(Value::Str("CancelledError: stop".into()), 5, 5);
        assert_eq!(own.failure().unwrap().message, "stop");
        let other = aborted(Value::Str("ValueError: x".into()), 5, 5);
        assert_eq!(other.failure().unwrap(), JobFailure::new("ValueError", "x"));
        let mut ok = aborted(Value::Int(1), 5, 5);
        ok.success = true;
        assert_eq!(ok.failure(), None);
    }
}
