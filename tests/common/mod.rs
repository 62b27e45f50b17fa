//! Test support: a private `redis-server` per test (from `arq-test-support`: a free 127.0.0.1
//! port, its own dir and unix socket, stopped by pid) with arq pool constructors, the TLS
//! certificates, and tracing and worker-settings helpers.
#![allow(dead_code)]

pub mod python;

use arq_test_support::{Config as ServerConfig, RedisServer};
use std::ops::Deref;
use std::time::Duration;

pub use arq_test_support::TestCerts;

/// A redis-server this test started (the shared [`RedisServer`], which it derefs to); killed
/// (by its own pid) on drop.
pub struct TestRedis(RedisServer);

fn config() -> ServerConfig {
    ServerConfig::new("arq-test-redis")
}

impl TestRedis {
    /// Starts a server and waits until it answers PING.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with extra `redis-server` arguments (e.g. `--requirepass`).
    pub fn start_with(extra: &[&str]) -> Self {
        TestRedis(RedisServer::start(config().args(extra)))
    }

    /// Starts a TLS-only server (port 0, TLS on `port`) with the certificates of
    /// [`TestCerts`]; clients need not present a certificate.
    pub fn start_tls(certs: &TestCerts) -> Self {
        TestRedis(RedisServer::start(config().tls(certs)))
    }

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

impl Deref for TestRedis {
    type Target = RedisServer;
    fn deref(&self) -> &RedisServer {
        &self.0
    }
}

/// Installs a test log subscriber once (RUST_LOG controls it).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

/// Worker settings for tests: fast polling, no signal handling, burst.
pub fn fast_settings() -> arq::WorkerSettings {
    arq::WorkerSettings::new()
        .poll_delay(Duration::from_millis(20))
        .handle_signals(false)
}
