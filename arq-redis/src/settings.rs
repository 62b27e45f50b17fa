//! Connection settings (Python arq's `RedisSettings`) and `create_pool`.

use crate::RedisBackend;
use arq_core::{Error, Pool, Result};
use fred::prelude::*;
use std::sync::Arc;
use std::time::Duration;

/// Where and how to connect, with Python arq's field names and defaults.
///
/// ```
/// let s = arq_redis::RedisSettings::from_url("redis://user:secret@cache.local:6380/2").unwrap();
/// assert_eq!((s.host.as_str(), s.port, s.database), ("cache.local", 6380, 2));
/// assert_eq!(s.username.as_deref(), Some("user"));
/// assert!(!s.ssl);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// Host name or address (default `localhost`).
    pub host: String,
    /// Port (default 6379).
    pub port: u16,
    /// Database index (default 0).
    pub database: u8,
    /// ACL user name.
    pub username: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// Connect with TLS (`rediss://`). The server's certificate is always verified: against
    /// `ssl_ca_certs` when set, else against the system's roots.
    pub ssl: bool,
    /// A PEM file of CA certificates to verify the server with (Python arq's `ssl_ca_certs`).
    pub ssl_ca_certs: Option<std::path::PathBuf>,
    /// Timeout of one connection attempt (default 1 s).
    pub conn_timeout: Duration,
    /// How many more attempts `create_pool` makes when the first fails (default 5).
    pub conn_retries: u32,
    /// Pause between those attempts (default 1 s).
    pub conn_retry_delay: Duration,
    /// Number of multiplexed connections (default 1; each one pipelines concurrent calls).
    pub pool_size: usize,
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("ssl", &self.ssl)
            .field("ssl_ca_certs", &self.ssl_ca_certs)
            .field("conn_timeout", &self.conn_timeout)
            .field("conn_retries", &self.conn_retries)
            .field("conn_retry_delay", &self.conn_retry_delay)
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

impl Default for RedisSettings {
    fn default() -> Self {
        RedisSettings {
            host: "localhost".into(),
            port: 6379,
            database: 0,
            username: None,
            password: None,
            ssl: false,
            ssl_ca_certs: None,
            conn_timeout: Duration::from_secs(1),
            conn_retries: 5,
            conn_retry_delay: Duration::from_secs(1),
            pool_size: 1,
        }
    }
}

impl RedisSettings {
    /// Parses `redis://[user[:password]@]host[:port][/db]` (or `rediss://` for TLS).
    pub fn from_url(url: &str) -> Result<Self> {
        let scheme = url.split("://").next().unwrap_or_default();
        if !["redis", "rediss", "valkey", "valkeys"].contains(&scheme) || !url.contains("://") {
            return Err(Error::Config(format!(
                "invalid Redis URL {url:?}: expected redis://[user[:password]@]host[:port][/db] \
                 (or rediss:// for TLS)"
            )));
        }
        let config = Config::from_url_centralized(url)
            .map_err(|e| Error::Config(format!("invalid Redis URL {url:?}: {e}")))?;
        let ServerConfig::Centralized { server } = &config.server else {
            return Err(Error::Config(format!(
                "invalid Redis URL {url:?}: only a single server is supported"
            )));
        };
        Ok(RedisSettings {
            host: server.host.to_string(),
            port: server.port,
            database: config.database.unwrap_or(0),
            username: config.username.clone(),
            password: config.password.clone(),
            ssl: scheme == "rediss" || scheme == "valkeys",
            ..RedisSettings::default()
        })
    }

    /// The fred client configuration.
    pub fn to_config(&self) -> Result<Config> {
        let mut config = Config {
            server: ServerConfig::new_centralized(self.host.clone(), self.port),
            username: self.username.clone(),
            password: self.password.clone(),
            database: (self.database != 0).then_some(self.database),
            fail_fast: true,
            ..Config::default()
        };
        if self.ssl {
            #[cfg(feature = "tls")]
            {
                config.tls = Some(self.tls_connector()?.into());
            }
            #[cfg(not(feature = "tls"))]
            return Err(Error::Config(
                "rediss:// needs the `tls` feature of arq-redis".into(),
            ));
        }
        Ok(config)
    }
}

#[cfg(feature = "tls")]
impl RedisSettings {
    fn tls_connector(&self) -> Result<TlsConnector> {
        let Some(path) = &self.ssl_ca_certs else {
            return TlsConnector::default_rustls()
                .map_err(|e| Error::Config(format!("TLS setup failed: {e}")));
        };
        use rustls::pki_types::{pem::PemObject, CertificateDer};
        let bad = |msg: String| Error::Config(format!("ssl_ca_certs {}: {msg}", path.display()));
        let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| bad(format!("not a PEM certificate file: {e}")))?;
            roots.add(cert).map_err(|e| bad(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(bad("no certificates found".into()));
        }
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(config.into())
    }
}

/// Connects to Redis and returns a pool using Python arq's key layout and the msgpack codec,
/// after a `PING`. Retries `conn_retries` times, `conn_retry_delay` apart, as arq does.
///
/// ```no_run
/// # async fn demo() -> arq_core::Result<()> {
/// let pool = arq_redis::create_pool(arq_redis::RedisSettings::from_url("redis://localhost")?).await?;
/// # Ok(()) }
/// ```
pub async fn create_pool(settings: RedisSettings) -> Result<Pool> {
    let backend = RedisBackend::connect(&settings).await?;
    Ok(Pool::new(Arc::new(backend)))
}

pub(crate) async fn connect(settings: &RedisSettings) -> Result<fred::clients::Pool> {
    let config = settings.to_config()?;
    let mut attempt = 0;
    loop {
        let pool = Builder::from_config(config.clone())
            .with_connection_config(|c| {
                c.connection_timeout = settings.conn_timeout;
                c.internal_command_timeout = settings.conn_timeout.max(Duration::from_secs(5));
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .build_pool(settings.pool_size.max(1))
            .map_err(|e| Error::Config(e.to_string()))?;
        let result = async {
            pool.init().await?;
            pool.ping::<()>(None).await
        }
        .await;
        match result {
            Ok(()) => return Ok(pool),
            Err(e) if attempt < settings.conn_retries => {
                attempt += 1;
                tracing::warn!(
                    "connecting to redis at {}:{} failed ({e}), retrying in {:?} ({attempt}/{})",
                    settings.host,
                    settings.port,
                    settings.conn_retry_delay,
                    settings.conn_retries
                );
                let _ = pool.quit().await;
                tokio::time::sleep(settings.conn_retry_delay).await;
            }
            Err(e) => {
                let _ = pool.quit().await;
                return Err(Error::backend(format!(
                    "could not connect to redis at {}:{} after {} attempts: {e}",
                    settings.host,
                    settings.port,
                    attempt + 1
                )));
            }
        }
    }
}
