//! Connection settings (Python arq's `RedisSettings`) and `create_pool`.

use crate::acl::Call;
use crate::{KeyLayout, RedisBackend};
use arq_core::{Error, Pool, Result};
use fred::prelude::*;
use std::sync::Arc;
use std::time::Duration;

/// The URL every example, test and `arq-cli` uses when `REDIS_URL` is unset: a Redis on this
/// machine's default port.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Where and how to connect, with Python arq's field names and defaults.
///
/// ```
/// let s = arq_redis::RedisSettings::from_url("redis://user:secret@cache.local:6380/2").unwrap();
/// assert_eq!((s.host.as_str(), s.port, s.database), ("cache.local", 6380, 2));
/// assert_eq!(s.username.as_deref(), Some("user"));
/// assert!(!s.ssl);
/// assert!(!format!("{s:?}").contains("secret")); // the password is never printed
///
/// // A tenant's keys under `t1:arq:` (see `docs/acl.md`), from the URL or the builder:
/// let t1 = arq_redis::RedisSettings::from_url("redis://localhost?key_prefix=t1").unwrap();
/// assert_eq!(t1, arq_redis::RedisSettings::default().key_prefix("t1"));
/// assert_eq!(t1.key_layout().unwrap().job("42"), "t1:arq:job:42");
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
    /// A tenant prefix for every key (default none: Python arq's `arq:…` keys). With `t1`, jobs
    /// live at `t1:arq:job:<id>`, results at `t1:arq:result:<id>` and so on, and the pool's
    /// default queue is `t1:arq:queue`; see [`KeyLayout::prefixed`]. Set it with
    /// [`RedisSettings::key_prefix`] or the URL's `?key_prefix=t1`. Python arq has no prefix,
    /// so only Rust clients and workers can share a prefixed queue.
    pub key_prefix: Option<String>,
    /// How long one command may wait for its reply before it fails (default 10 s; `None`
    /// waits forever). Bounds every call on a half-open connection, so a worker whose network
    /// went silent notices instead of hanging. A write that times out may still have been
    /// applied: an enqueue reports that as [`arq_core::Error::OutcomeUnknown`].
    pub command_timeout: Option<Duration>,
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
            .field("key_prefix", &self.key_prefix)
            .field("command_timeout", &self.command_timeout)
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
            key_prefix: None,
            command_timeout: Some(Duration::from_secs(10)),
        }
    }
}

impl RedisSettings {
    /// Parses `redis://[user[:password]@]host[:port][/db][?key_prefix=<prefix>]` (or
    /// `rediss://` for TLS). `key_prefix` is the only query parameter; any other is refused,
    /// so a misspelt one cannot silently put a tenant's jobs in the shared `arq:` namespace.
    /// Error messages never contain the password.
    pub fn from_url(url: &str) -> Result<Self> {
        let shown = redact_url(url);
        let scheme = url.split("://").next().unwrap_or_default();
        if !["redis", "rediss", "valkey", "valkeys"].contains(&scheme) || !url.contains("://") {
            return Err(Error::Config(format!(
                "invalid Redis URL {shown:?}: expected redis://[user[:password]@]host[:port][/db] \
                 (or rediss:// for TLS)"
            )));
        }
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (url, None),
        };
        let mut key_prefix = None;
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            if pair.is_empty() {
                continue;
            }
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "key_prefix" => {
                    let value = percent_decode(value).ok_or_else(|| {
                        Error::Config(format!(
                            "invalid Redis URL {shown:?}: bad %-escape in key_prefix"
                        ))
                    })?;
                    KeyLayout::prefixed(&value)?;
                    key_prefix = Some(value);
                }
                other => {
                    return Err(Error::Config(format!(
                        "invalid Redis URL {shown:?}: unknown query parameter {other:?} (the \
                         only one supported is key_prefix)"
                    )))
                }
            }
        }
        let config = Config::from_url_centralized(base)
            .map_err(|e| Error::Config(format!("invalid Redis URL {shown:?}: {e}")))?;
        let ServerConfig::Centralized { server } = &config.server else {
            return Err(Error::Config(format!(
                "invalid Redis URL {shown:?}: only a single server is supported"
            )));
        };
        Ok(RedisSettings {
            host: server.host.to_string(),
            port: server.port,
            database: config.database.unwrap_or(0),
            username: config.username.clone(),
            password: config.password.clone(),
            ssl: scheme == "rediss" || scheme == "valkeys",
            key_prefix,
            ..RedisSettings::default()
        })
    }

    /// The same settings with every key under a tenant prefix (see
    /// [`RedisSettings::key_prefix`](field@RedisSettings::key_prefix)).
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = Some(prefix.into());
        self
    }

    /// The same settings with another command timeout (see
    /// [`RedisSettings::command_timeout`](field@RedisSettings::command_timeout)).
    pub fn command_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// The key layout these settings select: Python arq's, or [`KeyLayout::prefixed`] with
    /// `key_prefix`. Fails when the prefix is not a valid one.
    pub fn key_layout(&self) -> Result<KeyLayout> {
        match &self.key_prefix {
            None => Ok(KeyLayout::arq()),
            Some(prefix) => KeyLayout::prefixed(prefix),
        }
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

/// Connects to Redis and returns a pool using the settings' key layout (Python arq's unless
/// `key_prefix` is set, whose default queue is then `<prefix>:arq:queue`) and the msgpack
/// codec, after a `PING`. Retries `conn_retries` times, `conn_retry_delay` apart, as arq does.
///
/// ```no_run
/// # async fn demo() -> arq_core::Result<()> {
/// let pool = arq_redis::create_pool(arq_redis::RedisSettings::from_url("redis://localhost")?).await?;
/// # Ok(()) }
/// ```
pub async fn create_pool(settings: RedisSettings) -> Result<Pool> {
    let keys = settings.key_layout()?;
    let backend = RedisBackend::connect(&settings).await?;
    let pool = Pool::new(Arc::new(backend));
    Ok(match keys.prefix() {
        Some(_) => pool.with_default_queue(keys.default_queue()),
        None => pool,
    })
}

pub(crate) async fn connect(settings: &RedisSettings) -> Result<fred::clients::Pool> {
    let config = settings.to_config()?;
    let mut attempt = 0;
    loop {
        let pool = Builder::from_config(config.clone())
            .with_connection_config(|c| {
                c.connection_timeout = settings.conn_timeout;
                c.internal_command_timeout = settings.conn_timeout.max(Duration::from_secs(5));
                // Never re-send a command on a new connection after the old one dropped: its
                // first copy may have been applied (reliability D4). Callers see the error and
                // decide: the worker retries its fenced, idempotent steps; an enqueue reports
                // an unknown outcome.
                c.max_command_attempts = 1;
            })
            .with_performance_config(|p| {
                p.default_command_timeout = settings.command_timeout.unwrap_or(Duration::ZERO);
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
            // A refused PING (or SELECT) will be refused again: say which right is missing.
            Err(e) if crate::acl::is_permission_error(&e) => {
                close_quietly(&pool).await;
                let user = settings.username.as_deref().unwrap_or("default");
                let command = Call::Command {
                    name: "PING",
                    keys: &[],
                };
                return Err(crate::acl::map_error(e, user, command));
            }
            Err(e) if attempt < settings.conn_retries => {
                attempt += 1;
                let e = explain_connect_error(settings, &e);
                let of = if settings.conn_retries == u32::MAX {
                    String::new()
                } else {
                    format!(" of {}", settings.conn_retries)
                };
                tracing::warn!(
                    "cannot connect to redis at {}:{} ({e}), retrying in {:?} (retry {attempt}{of})",
                    settings.host,
                    settings.port,
                    settings.conn_retry_delay,
                );
                close_quietly(&pool).await;
                tokio::time::sleep(settings.conn_retry_delay).await;
            }
            Err(e) => {
                close_quietly(&pool).await;
                let e = explain_connect_error(settings, &e);
                let attempts = match attempt {
                    0 => String::new(),
                    n => format!(" after {} attempts", n + 1),
                };
                return Err(Error::backend(format!(
                    "could not connect to redis at {}:{}{attempts}: {e}",
                    settings.host, settings.port,
                )));
            }
        }
    }
}

/// Stops a pool whose connection attempt failed. fred has usually stopped it already, and
/// quitting a stopped client logs a warning per attempt that tells the user nothing.
async fn close_quietly(pool: &fred::clients::Pool) {
    if pool.is_connected() {
        let _ = pool.quit().await;
    }
}

/// A connection failure in words, with what to do about it when the cause is a common one
/// (an untrusted or misnamed certificate, TLS on one side only); else fred's error as it is.
fn explain_connect_error(settings: &RedisSettings, e: &fred::error::Error) -> String {
    let raw = e.to_string();
    let cert = |why: String| format!("TLS certificate verification failed: {why} ({raw})");
    if raw.contains("NotValidForName") {
        return cert(format!(
            "the server's certificate is not valid for {:?}; connect with a host name the \
             certificate lists, or add this one to its subjectAltName",
            settings.host
        ));
    }
    if ["UnknownIssuer", "BadSignature", "UnknownCA"]
        .iter()
        .any(|c| raw.contains(c))
    {
        let trusted = match &settings.ssl_ca_certs {
            Some(path) => format!("the CA in ssl_ca_certs ({})", path.display()),
            None => "the system's root CAs (set ssl_ca_certs to your CA's PEM file)".to_owned(),
        };
        return cert(format!(
            "the server's certificate is not signed by {trusted}"
        ));
    }
    if raw.contains("Expired") || raw.contains("NotValidYet") {
        return cert("the server's certificate is expired or not yet valid".to_owned());
    }
    if raw.contains("InvalidCertificate") {
        return cert("the server's certificate was rejected".to_owned());
    }
    let reset = [
        "ConnectionReset",
        "UnexpectedEof",
        "BrokenPipe",
        "Connection reset",
    ]
    .iter()
    .any(|c| raw.contains(c));
    if reset && !settings.ssl {
        return format!(
            "the server closed the connection ({raw}); if it accepts only TLS, connect with \
             rediss://"
        );
    }
    if raw.contains("ConnectionRefused") || raw.contains("Connection refused") {
        return format!(
            "connection refused: nothing listens on {}:{}. Start Redis there (`redis-server`; \
             on Debian `apt-get install redis-server`), or point REDIS_URL at yours \
             (e.g. {DEFAULT_REDIS_URL})",
            settings.host, settings.port
        );
    }
    if raw.contains("failed to lookup address") || raw.contains("Name or service not known") {
        return format!(
            "the host name {:?} does not resolve ({raw}); check the host in REDIS_URL",
            settings.host
        );
    }
    if settings.ssl && (raw.contains("InvalidContentType") || raw.contains("CorruptMessage")) {
        return format!(
            "the server did not answer with TLS ({raw}); if it accepts only plain TCP, connect \
             with redis://"
        );
    }
    raw
}

/// The URL with its password replaced by `***`, for error messages.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // The user info ends at the last '@' before the query (a password may hold '/' or '@').
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

/// Decodes `%XX` escapes (and `+` as a space, as in a query string); `None` when one is bad.
fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let hex = [bytes.next()?, bytes.next()?];
                let hex = std::str::from_utf8(&hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let s = RedisSettings::from_url("redis://worker-1:s3cr3t-pw@cache.local:6380/2").unwrap();
        assert_eq!(s.password.as_deref(), Some("s3cr3t-pw"));
        let shown = format!("{s:?}");
        assert!(!shown.contains("s3cr3t-pw"), "{shown}");
        assert!(shown.contains("password: Some(\"***\")"), "{shown}");
        assert!(shown.contains("worker-1"), "{shown}");
        let pretty = format!("{s:#?}");
        assert!(!pretty.contains("s3cr3t-pw"), "{pretty}");
        let none = format!("{:?}", RedisSettings::default());
        assert!(none.contains("password: None"), "{none}");
    }

    #[test]
    fn url_errors_never_show_the_password() {
        for url in [
            "redis://u:s3cr3t-pw@host:notaport",
            "redis://u:s3cr3t-pw@host?nope=1",
            "redis://u:s3cr3t-pw@host?key_prefix=a*b",
            "redis://u:s3cr3t-pw@host/not-a-db",
            "http://u:s3cr3t-pw@host",
        ] {
            let err = RedisSettings::from_url(url).unwrap_err().to_string();
            assert!(!err.contains("s3cr3t-pw"), "{url}: {err}");
        }
        assert_eq!(
            redact_url("rediss://u:p@ss@h:1/0?key_prefix=t"),
            "rediss://u:***@h:1/0?key_prefix=t"
        );
        assert_eq!(redact_url("redis://:pw@h"), "redis://:***@h");
        assert_eq!(redact_url("redis://h:6379"), "redis://h:6379");
        assert_eq!(redact_url("redis://user@h"), "redis://user@h");
        assert_eq!(redact_url("redis://u:a/b@h/0"), "redis://u:***@h/0");
        assert_eq!(
            redact_url("redis://h:1/0?key_prefix=a@b"),
            "redis://h:1/0?key_prefix=a@b"
        );
    }

    #[test]
    fn key_prefix_from_url_and_builder() {
        let s = RedisSettings::from_url("redis://u:pw@h:7000/3?key_prefix=t1").unwrap();
        assert_eq!((s.host.as_str(), s.port, s.database), ("h", 7000, 3));
        assert_eq!(s.password.as_deref(), Some("pw"));
        assert_eq!(s.key_prefix.as_deref(), Some("t1"));
        assert_eq!(s.key_layout().unwrap(), KeyLayout::prefixed("t1").unwrap());
        assert!(format!("{s:?}").contains("key_prefix: Some(\"t1\")"));

        let escaped = RedisSettings::from_url("redis://h?key_prefix=acme%2Eprod").unwrap();
        assert_eq!(escaped.key_prefix.as_deref(), Some("acme.prod"));

        let plain = RedisSettings::from_url("redis://h").unwrap();
        assert_eq!(plain.key_prefix, None);
        assert_eq!(plain.key_layout().unwrap(), KeyLayout::arq());
        assert_eq!(
            plain.clone().key_prefix("t2").key_layout().unwrap().abort(),
            "t2:arq:abort"
        );

        for bad in [
            "redis://h?key_prefix=",
            "redis://h?key_prefix=t1:",
            "redis://h?key_prefix=t*",
            "redis://h?key_prefix=%zz",
            "redis://h?keyprefix=t1",
        ] {
            let err = RedisSettings::from_url(bad).unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{bad}: {err}");
        }
        let err = RedisSettings::default().key_prefix("a b").key_layout();
        assert!(err.is_err());
    }

    #[test]
    fn connect_errors_say_what_to_do() {
        use fred::error::{Error as FredError, ErrorKind};
        let io = |s: &str| FredError::new(ErrorKind::IO, s.to_owned());
        let tls = RedisSettings::from_url("rediss://127.0.0.1:1").unwrap();
        let text = explain_connect_error(
            &tls,
            &io(
                "Custom { kind: InvalidData, error: InvalidCertificate(NotValidForNameContext \
                 { expected: IpAddress(..), presented: [..] }) }",
            ),
        );
        assert!(
            text.starts_with("TLS certificate verification failed: "),
            "{text}"
        );
        assert!(text.contains("not valid for \"127.0.0.1\""), "{text}");
        let text = explain_connect_error(&tls, &io("InvalidCertificate(UnknownIssuer)"));
        assert!(text.contains("system's root CAs"), "{text}");
        let with_ca = RedisSettings {
            ssl_ca_certs: Some("/etc/ca.pem".into()),
            ..tls.clone()
        };
        let text = explain_connect_error(&with_ca, &io("InvalidCertificate(BadSignature)"));
        assert!(
            text.contains("not signed by the CA in ssl_ca_certs (/etc/ca.pem)"),
            "{text}"
        );
        let plain = RedisSettings::from_url("redis://127.0.0.1:1").unwrap();
        let text = explain_connect_error(&plain, &io("Os { code: 104, kind: ConnectionReset }"));
        assert!(text.contains("connect with rediss://"), "{text}");
        let text = explain_connect_error(
            &tls,
            &io("received corrupt message of type InvalidContentType"),
        );
        assert!(text.contains("connect with redis://"), "{text}");
        let refused = explain_connect_error(
            &plain,
            &io("Os { code: 111, kind: ConnectionRefused, message: \"Connection refused\" }"),
        );
        assert!(
            refused.starts_with("connection refused: nothing listens on 127.0.0.1:1."),
            "{refused}"
        );
        assert!(
            refused.contains("Start Redis") && refused.contains("REDIS_URL"),
            "{refused}"
        );
        let other = io("Broken something else");
        assert_eq!(explain_connect_error(&plain, &other), other.to_string());
    }
}
