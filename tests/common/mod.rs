//! Test support: a private `redis-server` per test, on a free 127.0.0.1 port, stopped by pid.
#![allow(dead_code)]

pub mod python;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

static NEXT_SERVER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A redis-server this test started; killed (by its own pid) on drop.
pub struct TestRedis {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl TestRedis {
    /// Starts a server and waits until it answers PING.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with extra `redis-server` arguments (e.g. `--requirepass`).
    pub fn start_with(extra: &[&str]) -> Self {
        Self::spawn(extra, false)
    }

    /// Starts a TLS-only server (port 0, TLS on `port`) with the certificates of
    /// [`TestCerts`]; clients need not present a certificate.
    pub fn start_tls(certs: &TestCerts) -> Self {
        let path = |f: &str| certs.dir.join(f).to_string_lossy().into_owned();
        let (crt, key, ca) = (path("server.crt"), path("server.key"), path("ca.crt"));
        Self::spawn(
            &[
                "--tls-cert-file",
                &crt,
                "--tls-key-file",
                &key,
                "--tls-ca-cert-file",
                &ca,
                "--tls-auth-clients",
                "no",
            ],
            true,
        )
    }

    fn spawn(extra: &[&str], tls: bool) -> Self {
        let bin = std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into());
        for _ in 0..5 {
            let port = free_port();
            // Unique per server, even for two servers of one process given the same port.
            let n = NEXT_SERVER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let dir = std::env::temp_dir()
                .join(format!("arq-test-redis-{}-{n}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let port_s = port.to_string();
            // A TLS server listens with TLS only, on the chosen port.
            let ports: [&str; 4] = if tls {
                ["--port", "0", "--tls-port", &port_s]
            } else {
                ["--port", &port_s, "--tls-port", "0"]
            };
            let child = Command::new(&bin)
                .args(ports)
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&dir)
                // Readiness is checked on this socket, which only our server creates: a port
                // picked at the same time by a parallel test can't pass for ours.
                .arg("--unixsocket")
                .arg(dir.join("redis.sock"))
                .args(["--unixsocketperm", "700"])
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("could not start {bin} (install redis-server): {e}"));
            let mut server = TestRedis { child, port, dir };
            if server.wait_ready(Duration::from_secs(10)) {
                return server;
            }
            let _ = server.child.kill();
        }
        panic!("redis-server did not start");
    }

    /// Waits until *this* server answers on its own unix socket. (Checking the TCP port alone
    /// could find another test's server there when two tests were handed the same free port;
    /// ours then fails to bind and exits.)
    fn wait_ready(&mut self, within: Duration) -> bool {
        use std::io::{Read, Write};
        let sock = self.dir.join("redis.sock");
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(mut s) = std::os::unix::net::UnixStream::connect(&sock) {
                let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                // Any reply (PONG, or NOAUTH when a password is set) means it is up.
                let mut buf = [0u8; 1];
                if s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
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

impl Drop for TestRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A throw-away CA and a server certificate for `localhost`/127.0.0.1, made with openssl.
pub struct TestCerts {
    pub dir: PathBuf,
}

impl TestCerts {
    pub fn generate() -> Self {
        Self::generate_with_san("DNS:localhost,IP:127.0.0.1")
    }

    /// A fresh CA and a server certificate (CN `localhost`) whose subjectAltName is `san`,
    /// e.g. `DNS:localhost` for one that does not cover 127.0.0.1.
    pub fn generate_with_san(san: &str) -> Self {
        let n = NEXT_SERVER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "arq-test-certs-{}-{n}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ext.cnf"), format!("subjectAltName={san}\n")).unwrap();
        let steps: [&[&str]; 3] = [
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "2",
                "-subj",
                "/CN=arq test CA",
            ],
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.crt",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
            ],
        ];
        for args in steps {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .output()
                .expect("openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        TestCerts { dir }
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }
}

impl Drop for TestCerts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
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
