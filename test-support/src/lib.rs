//! The one redis-server harness of arq's tests (`tests/common`, the fault suite) and of
//! `arq-bench`: not published, no API promise.
//!
//! - [`RedisServer`]: a `redis-server` child process on a free 127.0.0.1 port, in its own
//!   temp dir, checked for readiness on its own unix socket (so a port two tests were handed
//!   at once cannot make them share a server), stopped by its own pid on drop, and
//!   restartable in place (same port and dir) for the fault suite; plus the admin commands
//!   the fault suite sends it (`DEBUG SLEEP`, `CLIENT PAUSE`/`KILL`, `CONFIG SET` …).
//! - [`Config`]: what to start (extra arguments, TLS, persistence, `DEBUG`, a log file).
//! - [`TestCerts`]: a throw-away CA and server certificate for TLS tests.
//! - [`resp`]: a minimal blocking RESP reader and writer for admin connections.
//!
//! It depends on std only; pool and client constructors stay in the test layers that use
//! them.

mod certs;
pub mod resp;
mod server;

pub use certs::TestCerts;
pub use resp::Resp;
pub use server::{free_port, Config, Persistence, RedisServer};
