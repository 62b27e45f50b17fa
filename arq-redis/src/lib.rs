//! The Redis backend of the arq job queue, on the `fred` client.
//!
//! **This crate is semver-exempt.** Depend on the `arq` facade crate instead.
//!
//! Keys and records are Python arq's (see [`KeyLayout`]); each step of a job's life is one Lua
//! script (`lua/*.lua`), so a Rust worker and a Python worker can share a queue while this
//! side spends one round trip per step.

mod acl;
mod backend;
mod keys;
mod pubsub;
mod reply;
mod scripts;
mod server;
mod settings;
mod steps;

pub use acl::{is_permission_error, refused_before_running, PermissionDenied};
pub use backend::RedisBackend;
pub use keys::KeyLayout;
pub use settings::{create_pool, RedisSettings, DEFAULT_REDIS_URL};
