//! The backends under test: one factory each, making a fresh, empty store per test.

use arq::Pool;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Opens another client (its own connection) on the same store.
type Connect = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Pool> + Send>> + Send + Sync>;

/// A store made for one test, and the pool on it.
pub struct Env {
    /// A pool on the fresh store (msgpack codec).
    pub pool: Pool,
    /// The backend's name (`redis`, `memory`), part of every queue name and ledger tag.
    pub backend: &'static str,
    /// Opens another pool on the same store.
    connect: Connect,
    /// Keeps the store alive for the test (a private redis-server, killed on drop).
    _guard: Box<dyn Send + Sync>,
}

impl Env {
    /// The test's own queue name; also the tag its jobs record their runs under.
    pub fn queue(&self, test: &str) -> String {
        format!("conf:{}:{test}", self.backend)
    }

    /// Another client of the same store, with its own connection where the backend has one
    /// (for a second worker).
    pub async fn other_pool(&self) -> Pool {
        (self.connect)().await
    }

    /// A job id unique to this backend and test.
    pub fn id(&self, test: &str, n: &str) -> String {
        format!("{}:{test}:{n}", self.backend)
    }
}

/// Makes a fresh, empty store and a pool on it.
pub trait Factory: Sync {
    /// Starts a store for one test.
    fn start(&self) -> impl Future<Output = Env> + Send;
}

/// A private `redis-server` per test (`tests/common`), on a free port.
pub struct RedisFactory;

impl Factory for RedisFactory {
    async fn start(&self) -> Env {
        let redis = crate::common::TestRedis::start();
        let pool = redis.pool().await;
        let settings = redis.settings();
        Env {
            pool,
            backend: "redis",
            connect: Arc::new(move || {
                let settings = settings.clone();
                Box::pin(async move { arq::create_pool(settings).await.expect("pool") })
            }),
            _guard: Box::new(redis),
        }
    }
}

/// The in-process backend: a new, empty `MemoryBackend` per test. A second pool is made
/// on a clone, which shares the store.
pub struct MemoryFactory;

impl Factory for MemoryFactory {
    async fn start(&self) -> Env {
        let backend = arq::MemoryBackend::new();
        let other = backend.clone();
        Env {
            pool: Pool::new(Arc::new(backend)),
            backend: "memory",
            connect: Arc::new(move || {
                let pool = Pool::new(Arc::new(other.clone()));
                Box::pin(async move { pool })
            }),
            _guard: Box::new(()),
        }
    }
}
