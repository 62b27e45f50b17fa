//! The error type of every fallible call in arq, and the failure a job leaves behind.

use crate::Value;
use std::fmt;

/// A boxed error from user code or a backend, `Send + Sync` so it crosses tasks.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the client, the worker or a backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The backend (Redis) failed or could not be reached.
    // The inner error is shown in the message, so it is not also a `source()`: printed
    // with its chain (anyhow, `{:#}`), the cause would appear twice.
    #[error("backend error: {0}")]
    Backend(BoxError),
    /// A value could not be encoded by the codec.
    #[error("could not encode {what}: {message}")]
    Encode {
        /// What was being encoded (job, result, argument `x`…).
        what: String,
        /// Why it failed.
        message: String,
    },
    /// Bytes read from the backend could not be decoded.
    #[error("could not decode {what}: {message}")]
    Decode {
        /// What was being decoded.
        what: String,
        /// Why it failed.
        message: String,
    },
    /// The job was not enqueued because a job or a result with this id already exists
    /// (Python arq returns `None` from `enqueue_job` in this case).
    #[error("job {job_id:?} not enqueued: a job or result with this id already exists")]
    JobExists {
        /// The id that was refused.
        job_id: String,
    },
    /// The job ran (or was consumed) and failed; its stored failure is attached.
    #[error("job {job_id:?} failed: {failure}")]
    JobFailed {
        /// The failed job's id.
        job_id: String,
        /// The failure the worker stored.
        failure: JobFailure,
    },
    /// Waiting for a result took longer than the timeout given; the job may still finish.
    #[error("timed out after {waited:?} waiting for the result of job {job_id:?}")]
    ResultTimeout {
        /// The job waited on.
        job_id: String,
        /// How long the caller waited.
        waited: std::time::Duration,
    },
    /// There is neither a result nor a queue entry for this job id.
    #[error("job {job_id:?} not found (no result and not in queue {queue:?})")]
    NotFound {
        /// The job id looked up.
        job_id: String,
        /// The queue that was checked.
        queue: String,
    },
    /// A write was sent but its reply was lost (timeout, dropped connection): it may or may not
    /// have been applied. Repeating it is safe for an enqueue with the same job id: if the first
    /// one landed, the repeat is refused as a duplicate.
    #[error("{0}")]
    OutcomeUnknown(String),
    /// An argument given to an arq call was invalid.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The worker or pool was configured inconsistently.
    #[error("configuration error: {0}")]
    Config(String),
    /// The backend cannot do this (e.g. listing queues on a backend without inspection).
    #[error("the {backend} backend does not support {what}")]
    Unsupported {
        /// The backend's name ([`Backend::name`](crate::Backend::name)).
        backend: &'static str,
        /// What was asked of it.
        what: &'static str,
    },
}

impl Error {
    /// Wraps any backend error.
    pub fn backend(e: impl Into<BoxError>) -> Self {
        Error::Backend(e.into())
    }

    /// True when an enqueue was refused because the job id is taken.
    pub fn is_duplicate(&self) -> bool {
        matches!(self, Error::JobExists { .. })
    }

    /// The stored failure, when this error reports a failed job.
    pub fn job_failure(&self) -> Option<&JobFailure> {
        match self {
            Error::JobFailed { failure, .. } => Some(failure),
            _ => None,
        }
    }
}

/// Why a job failed, as stored in its result record.
///
/// Python arq stores the exception object (with pickle); with msgpack or JSON it cannot, so a
/// Rust worker stores the text `"<class>: <message>"`, which Python's `Job.result()` raises as
/// `SerializationError` and this type parses back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    /// The exception class (`ValueError`, `TimeoutError`, `CancelledError`,
    /// `JobExecutionFailed`, or a Rust error type's name).
    pub class: String,
    /// The error text.
    pub message: String,
}

/// The key that marks a Python exception object in the neutral value tree:
/// `{"__arq_exception__": "<module>.<class>", "args": [...]}`. The pickle codec reads Python
/// exceptions into this shape and writes this shape back as a real exception.
pub const EXCEPTION_KEY: &str = "__arq_exception__";

/// Python's builtin exception classes that a failure may name as itself.
const PYTHON_BUILTIN_EXCEPTIONS: &[&str] = &[
    "Exception",
    "ArithmeticError",
    "AssertionError",
    "AttributeError",
    "BufferError",
    "ConnectionError",
    "EOFError",
    "FileExistsError",
    "FileNotFoundError",
    "IndexError",
    "KeyError",
    "LookupError",
    "MemoryError",
    "NotImplementedError",
    "OSError",
    "OverflowError",
    "PermissionError",
    "RecursionError",
    "ReferenceError",
    "RuntimeError",
    "TimeoutError",
    "TypeError",
    "UnicodeError",
    "ValueError",
    "ZeroDivisionError",
];

/// The class Python arq uses for its own failures (unknown function, max tries, expired job).
pub(crate) const JOB_EXECUTION_FAILED: &str = "JobExecutionFailed";
/// The class of a timed-out job.
pub(crate) const TIMEOUT_ERROR: &str = "TimeoutError";
/// The class of an aborted job.
pub(crate) const CANCELLED_ERROR: &str = "CancelledError";
/// The message [`ResultRecord::failure`](crate::ResultRecord::failure) gives a bare
/// `CancelledError` whose job never ran (its record's `st` equals its `ft`).
pub const ABORTED_BEFORE_START: &str = "job aborted before start";
/// The message [`ResultRecord::failure`](crate::ResultRecord::failure) gives a bare
/// `CancelledError` whose job was cancelled while it ran (`ft` after `st`).
pub const ABORTED_WHILE_RUNNING: &str = "job aborted while running";
/// The class of a job whose payload could not be decoded.
pub(crate) const DESERIALIZATION_ERROR: &str = "DeserializationError";

impl JobFailure {
    /// A failure of the given class.
    pub fn new(class: impl Into<String>, message: impl Into<String>) -> Self {
        JobFailure {
            class: class.into(),
            message: message.into(),
        }
    }

    /// True when the job was stopped by its timeout.
    pub fn is_timeout(&self) -> bool {
        self.class == TIMEOUT_ERROR
    }

    /// True when the job was aborted.
    pub fn is_aborted(&self) -> bool {
        self.class == CANCELLED_ERROR
    }

    /// The text stored as the result value `r` by codecs that cannot hold an exception.
    pub fn to_text(&self) -> String {
        self.to_string()
    }

    /// Reads a failure back from a stored result value `r`: the text form, or a Python
    /// exception object as a codec that can hold one decodes it (see [`EXCEPTION_KEY`]).
    pub fn from_result_value(value: &Value) -> Self {
        match value {
            Value::Str(s) => Self::parse_text(s),
            Value::Map(_) => match (value.get(EXCEPTION_KEY), value.get("args")) {
                (Some(Value::Str(path)), args) => {
                    let class = path.rsplit('.').next().unwrap_or(path);
                    let message = match args {
                        Some(Value::List(items)) if items.len() == 1 => match &items[0] {
                            Value::Str(s) => s.clone(),
                            other => other.to_string(),
                        },
                        Some(Value::List(items)) if items.is_empty() => String::new(),
                        Some(other) => other.to_string(),
                        None => String::new(),
                    };
                    JobFailure::new(class, message)
                }
                _ => JobFailure::new("Exception", value.to_string()),
            },
            other => JobFailure::new("Exception", other.to_string()),
        }
    }

    /// This failure as a Python exception object in the neutral tree:
    /// `{EXCEPTION_KEY: "<module>.<class>", "args": [<message>]}`. Codecs that can hold
    /// objects (pickle) write it as the real exception, so Python's `Job.result()` raises
    /// it. Python arq's own classes keep their modules (`TimeoutError` is `builtins`,
    /// `CancelledError` is `asyncio.exceptions`, `JobExecutionFailed` and `Retry` are
    /// `arq.worker`, `DeserializationError` and `SerializationError` are `arq.jobs`); a builtin
    /// exception name stays itself; any other class (a Rust error type) becomes
    /// `builtins.Exception` with the text `"<class>: <message>"`.
    pub fn to_exception_value(&self) -> Value {
        let (path, message) = match self.class.as_str() {
            TIMEOUT_ERROR => ("builtins.TimeoutError".to_owned(), self.message.clone()),
            CANCELLED_ERROR => (
                "asyncio.exceptions.CancelledError".to_owned(),
                self.message.clone(),
            ),
            JOB_EXECUTION_FAILED | "Retry" => {
                (format!("arq.worker.{}", self.class), self.message.clone())
            }
            DESERIALIZATION_ERROR | "SerializationError" => {
                (format!("arq.jobs.{}", self.class), self.message.clone())
            }
            c if PYTHON_BUILTIN_EXCEPTIONS.contains(&c) => {
                (format!("builtins.{c}"), self.message.clone())
            }
            _ => ("builtins.Exception".to_owned(), self.to_text()),
        };
        let args = if message.is_empty() {
            Vec::new()
        } else {
            vec![Value::Str(message)]
        };
        Value::Map(vec![
            (Value::Str(EXCEPTION_KEY.into()), Value::Str(path)),
            (Value::Str("args".into()), Value::List(args)),
        ])
    }

    /// Parses `"<class>: <message>"`, or a bare class name for a failure with no message
    /// (`"CancelledError"`, as [`JobFailure::to_text`] writes it: a name ending in `Error`,
    /// `Exception` or `Warning`). Other text keeps the whole text as the message of an
    /// `Exception` (for example Python's `'unable to serialize result'`).
    pub fn parse_text(s: &str) -> Self {
        fn ident(class: &str) -> bool {
            !class.is_empty()
                && class
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                && !class.starts_with(|c: char| c.is_ascii_digit())
        }
        if let Some((class, message)) = s.split_once(": ") {
            if ident(class) {
                return JobFailure::new(class, message);
            }
        }
        if ident(s)
            && ["Error", "Exception", "Warning"]
                .iter()
                .any(|e| s.ends_with(e))
        {
            return JobFailure::new(s, "");
        }
        JobFailure::new("Exception", s)
    }
}

impl fmt::Display for JobFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str(&self.class)
        } else {
            write!(f, "{}: {}", self.class, self.message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_text_round_trips() {
        let f = JobFailure::new("TimeoutError", "job exceeded its timeout of 1s");
        assert_eq!(f.to_text(), "TimeoutError: job exceeded its timeout of 1s");
        assert_eq!(JobFailure::parse_text(&f.to_text()), f);
        assert!(f.is_timeout());
    }

    #[test]
    fn exception_values_round_trip() {
        for (class, path) in [
            ("TimeoutError", "builtins.TimeoutError"),
            ("CancelledError", "asyncio.exceptions.CancelledError"),
            ("JobExecutionFailed", "arq.worker.JobExecutionFailed"),
            ("DeserializationError", "arq.jobs.DeserializationError"),
            ("TypeError", "builtins.TypeError"),
        ] {
            let f = JobFailure::new(class, "boom");
            let v = f.to_exception_value();
            assert_eq!(v.get(EXCEPTION_KEY), Some(&Value::Str(path.into())));
            assert_eq!(JobFailure::from_result_value(&v), f);
        }
        // A Rust error type becomes a plain Exception carrying the class in its text.
        let v = JobFailure::new("MyError", "bad").to_exception_value();
        assert_eq!(
            v.get(EXCEPTION_KEY),
            Some(&Value::Str("builtins.Exception".into()))
        );
        assert_eq!(
            JobFailure::from_result_value(&v),
            JobFailure::new("Exception", "MyError: bad")
        );
        // No args, several args.
        let v = Value::Map(vec![
            (
                Value::Str(EXCEPTION_KEY.into()),
                Value::Str("builtins.KeyError".into()),
            ),
            (
                Value::Str("args".into()),
                Value::List(vec![Value::Int(1), Value::Int(2)]),
            ),
        ]);
        assert_eq!(
            JobFailure::from_result_value(&v),
            JobFailure::new("KeyError", "[1, 2]")
        );
    }

    #[test]
    fn a_failure_without_a_message_round_trips_as_its_class() {
        // An abort, as Python stores it: a bare CancelledError().
        let f = JobFailure::new("CancelledError", "");
        assert_eq!(f.to_text(), "CancelledError");
        assert_eq!(JobFailure::parse_text("CancelledError"), f);
        assert!(JobFailure::parse_text("CancelledError").is_aborted());
        let v = f.to_exception_value();
        assert_eq!(v.get("args"), Some(&Value::List(vec![])));
        assert_eq!(JobFailure::from_result_value(&v), f);
        // A bare word that is no class name stays a message.
        assert_eq!(
            JobFailure::parse_text("boom"),
            JobFailure::new("Exception", "boom")
        );
    }

    #[test]
    fn text_without_class_is_kept_whole() {
        let f = JobFailure::parse_text("unable to serialize result");
        assert_eq!(f.class, "Exception");
        assert_eq!(f.message, "unable to serialize result");
        let g = JobFailure::parse_text("a b: c");
        assert_eq!(g.message, "a b: c");
    }
}
