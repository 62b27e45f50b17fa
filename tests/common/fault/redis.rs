//! The fault suite's redis-server: an [`arq_test_support::RedisServer`] started with
//! `--enable-debug-command local`, a log file and the persistence a scenario asks for, that
//! the scenarios kill, restart on the same port and directory, put to sleep, pause, fill up
//! and reconfigure (the admin commands come from `arq-test-support`); plus the arq pool and
//! raw client constructors.

use arq_test_support::{Config as ServerConfig, RedisServer};
use std::time::Duration;

pub use arq_test_support::{free_port, Persistence};

/// A private redis-server with `--enable-debug-command local`; derefs to the shared
/// [`RedisServer`] for the process and admin commands.
pub struct RedisProc(RedisServer);

fn config(persistence: Persistence, extra: &[&str]) -> ServerConfig {
    ServerConfig::new("arq-fault-redis")
        .persistence(persistence)
        .debug_command()
        .logfile()
        .ready_within(Duration::from_secs(20))
        .args(extra)
}

impl RedisProc {
    /// Starts a server without persistence.
    pub fn start() -> Self {
        Self::start_with(Persistence::None, &[])
    }

    /// Starts a server with the given persistence and extra `redis-server` arguments.
    pub fn start_with(persistence: Persistence, extra: &[&str]) -> Self {
        RedisProc(RedisServer::start(config(persistence, extra)))
    }

    /// Picks a port and a directory but starts nothing (see [`RedisServer::restart`]).
    pub fn reserve(persistence: Persistence, extra: &[&str]) -> Self {
        RedisProc(RedisServer::reserve(config(persistence, extra)))
    }

    /// The direct connection settings, with quick connection retries.
    pub fn settings(&self) -> arq::RedisSettings {
        arq::RedisSettings::from_url(&self.url()).unwrap()
    }

    pub async fn pool(&self) -> arq::Pool {
        arq::create_pool(self.settings()).await.expect("pool")
    }

    /// A plain fred client for inspecting raw keys.
    pub async fn raw(&self) -> fred::clients::Client {
        use fred::prelude::*;
        let c = Builder::from_config(Config::from_url(&self.url()).unwrap())
            .build()
            .unwrap();
        c.init().await.unwrap();
        c
    }
}

impl std::ops::Deref for RedisProc {
    type Target = RedisServer;
    fn deref(&self) -> &RedisServer {
        &self.0
    }
}

impl std::ops::DerefMut for RedisProc {
    fn deref_mut(&mut self) -> &mut RedisServer {
        &mut self.0
    }
}
