//! The `redis-server` process: start, readiness, stop, restart in place, admin commands.

use crate::certs::TestCerts;
use crate::resp::{self, Resp};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Numbers the servers of this process, so two of them never share a directory (even when
/// handed the same port).
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A free TCP port on 127.0.0.1 (free when asked: another process may take it before us,
/// which is why readiness is checked on the server's own unix socket).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// How the server keeps its data across a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// `--save "" --appendonly no`: a restart starts empty.
    None,
    /// AOF with `appendfsync everysec`.
    AofEverySec,
    /// AOF with `appendfsync always`.
    AofAlways,
    /// RDB snapshots only (taken with [`RedisServer::save`]).
    Rdb,
}

/// What to start: built with [`Config::new`] and its setters.
#[derive(Debug, Clone)]
pub struct Config {
    prefix: String,
    args: Vec<String>,
    tls: bool,
    persistence: Persistence,
    debug_command: bool,
    logfile: bool,
    ready_within: Duration,
}

impl Config {
    /// A plain server without persistence, in a temp dir named `<prefix>-<pid>-<n>-<port>`,
    /// that must answer within 10 s.
    pub fn new(prefix: &str) -> Self {
        Config {
            prefix: prefix.to_owned(),
            args: Vec::new(),
            tls: false,
            persistence: Persistence::None,
            debug_command: false,
            logfile: false,
            ready_within: Duration::from_secs(10),
        }
    }

    /// Extra `redis-server` arguments, after all others (so they override them).
    pub fn args(mut self, extra: &[&str]) -> Self {
        self.args.extend(extra.iter().map(|s| s.to_string()));
        self
    }

    /// TLS only: port 0, TLS on the server's port, with the certificates of `certs`; clients
    /// need not present a certificate.
    pub fn tls(mut self, certs: &TestCerts) -> Self {
        let path = |p: PathBuf| p.to_string_lossy().into_owned();
        self.tls = true;
        self.args.extend([
            "--tls-cert-file".into(),
            path(certs.server_cert()),
            "--tls-key-file".into(),
            path(certs.server_key()),
            "--tls-ca-cert-file".into(),
            path(certs.ca()),
            "--tls-auth-clients".into(),
            "no".into(),
        ]);
        self
    }

    /// How the data survives a restart (default [`Persistence::None`]).
    pub fn persistence(mut self, persistence: Persistence) -> Self {
        self.persistence = persistence;
        self
    }

    /// `--enable-debug-command local` (for [`RedisServer::debug_sleep`] and `DEBUG`).
    pub fn debug_command(mut self) -> Self {
        self.debug_command = true;
        self
    }

    /// Logs to `redis.log` in the server's dir (see [`RedisServer::log_tail`]) in place of
    /// nowhere.
    pub fn logfile(mut self) -> Self {
        self.logfile = true;
        self
    }

    /// How long a start may take before it counts as failed.
    pub fn ready_within(mut self, within: Duration) -> Self {
        self.ready_within = within;
        self
    }
}

/// A private `redis-server`: our own child process on a free 127.0.0.1 port, in its own temp
/// dir, only ever signalled by its own pid; killed, and its dir removed, on drop.
pub struct RedisServer {
    child: Option<Child>,
    /// The port it listens on (TLS only with [`Config::tls`]).
    pub port: u16,
    /// Its working directory (data, unix socket, log).
    pub dir: PathBuf,
    config: Config,
}

impl RedisServer {
    /// Starts a server and waits until it serves; panics when it cannot.
    pub fn start(config: Config) -> Self {
        Self::try_start(config).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts a server and waits until it serves, trying up to five ports.
    pub fn try_start(config: Config) -> Result<Self, String> {
        for _ in 0..5 {
            let mut server = Self::reserve(config.clone());
            server.spawn_process()?;
            if server.wait_ready(config.ready_within) {
                return Ok(server);
            }
            // Dropping it kills it and removes its dir; try another port.
        }
        Err("redis-server did not start".into())
    }

    /// Picks a port and a directory but starts nothing (see [`RedisServer::restart`]).
    pub fn reserve(config: Config) -> Self {
        let port = free_port();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "{}-{}-{n}-{port}",
            config.prefix,
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        RedisServer {
            child: None,
            port,
            dir,
            config,
        }
    }

    /// The unix socket only this server creates: readiness and admin commands go through it.
    pub fn sock(&self) -> PathBuf {
        self.dir.join("redis.sock")
    }

    /// Starts the process and returns at once.
    fn spawn_process(&mut self) -> Result<(), String> {
        let bin = std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into());
        let _ = std::fs::remove_file(self.sock());
        let port = self.port.to_string();
        // A TLS server listens with TLS only, on the chosen port.
        let ports: [&str; 4] = if self.config.tls {
            ["--port", "0", "--tls-port", &port]
        } else {
            ["--port", &port, "--tls-port", "0"]
        };
        let mut cmd = Command::new(&bin);
        cmd.args(ports)
            .args(["--bind", "127.0.0.1", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--unixsocket")
            .arg(self.sock())
            .args(["--unixsocketperm", "700"]);
        if self.config.debug_command {
            cmd.args(["--enable-debug-command", "local"]);
        }
        if self.config.logfile {
            cmd.args(["--logfile", "redis.log"]);
        }
        match self.config.persistence {
            Persistence::None => {
                cmd.args(["--save", "", "--appendonly", "no"]);
            }
            Persistence::AofEverySec => {
                cmd.args(["--save", "", "--appendonly", "yes"])
                    .args(["--appendfsync", "everysec"]);
            }
            Persistence::AofAlways => {
                cmd.args(["--save", "", "--appendonly", "yes"])
                    .args(["--appendfsync", "always"]);
            }
            Persistence::Rdb => {
                cmd.args(["--save", "", "--appendonly", "no"])
                    .args(["--dbfilename", "dump.rdb"]);
            }
        }
        cmd.args(&self.config.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd
            .spawn()
            .map_err(|e| format!("could not start {bin} (install redis-server): {e}"))?;
        self.child = Some(child);
        Ok(())
    }

    /// Waits until *this* server answers PING on its own unix socket: PONG, or an error
    /// other than LOADING (NOAUTH when a password is set). Checking the TCP port alone could
    /// find another test's server there when two tests were handed the same free port; ours
    /// then fails to bind and exits.
    fn wait_ready(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if !self.is_running() {
                return false;
            }
            match self.try_cmd(&["PING"]) {
                Ok(Resp::Simple(s)) if s == "PONG" => return true,
                Ok(Resp::Error(e)) if !e.starts_with("LOADING") => return true,
                _ => {}
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// Whether the process is alive.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Its pid, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL (our own child, by pid) and reap it.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port and directory (after [`RedisServer::kill9`],
    /// or for the first time after [`RedisServer::reserve`]), and waits until it serves.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart of a running server");
        for attempt in 0..50 {
            self.spawn_process().unwrap_or_else(|e| panic!("{e}"));
            if self.wait_ready(self.config.ready_within) {
                return;
            }
            self.kill9();
            // The port may linger for a moment after the old process died.
            std::thread::sleep(Duration::from_millis(100 + attempt * 10));
        }
        panic!(
            "redis-server did not restart on port {}: {}",
            self.port,
            self.log_tail()
        );
    }

    /// Like [`RedisServer::restart`], but returns as soon as the server accepts connections,
    /// possibly still answering `LOADING` while it reads its data.
    pub fn restart_no_wait(&mut self) {
        assert!(self.child.is_none(), "restart of a running server");
        for attempt in 0..50 {
            self.spawn_process().unwrap_or_else(|e| panic!("{e}"));
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if !self.is_running() {
                    break;
                }
                if self.try_cmd(&["PING"]).is_ok() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            self.kill9();
            std::thread::sleep(Duration::from_millis(100 + attempt * 10));
        }
        panic!("redis-server did not restart: {}", self.log_tail());
    }

    /// Waits until the server answers PING (not LOADING); panics after `within`.
    pub fn wait_loaded(&mut self, within: Duration) {
        assert!(
            self.wait_ready(within),
            "redis-server not ready: {}",
            self.log_tail()
        );
    }

    /// The last 20 lines of the server's log (empty without [`Config::logfile`]).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// One command on a fresh admin connection over the unix socket (never through a
    /// proxy); `Err` when the server cannot be reached.
    pub fn try_cmd(&self, args: &[&str]) -> Result<Resp, String> {
        let mut s = UnixStream::connect(self.sock()).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(30))).ok();
        resp::call(&mut s, args)
    }

    /// One admin command with binary arguments; panics on a connection failure or an error
    /// reply.
    pub fn cmd_raw(&self, args: &[&[u8]]) -> Resp {
        use std::io::Write;
        let mut s = UnixStream::connect(self.sock()).expect("admin connection");
        s.set_read_timeout(Some(Duration::from_secs(30))).ok();
        s.write_all(&resp::encode_command(args)).unwrap();
        match resp::call_read(&mut s) {
            Ok(Resp::Error(e)) => panic!("redis raw command: {e}"),
            Ok(v) => v,
            Err(e) => panic!("redis raw command: {e}"),
        }
    }

    /// One admin command; panics on a connection failure or an error reply.
    pub fn cmd(&self, args: &[&str]) -> Resp {
        match self.try_cmd(args) {
            Ok(Resp::Error(e)) => panic!("redis {args:?}: {e}"),
            Ok(v) => v,
            Err(e) => panic!("redis {args:?}: {e}"),
        }
    }

    /// `DEBUG SLEEP secs` (needs [`Config::debug_command`]), sent from a thread; returns
    /// once the server has started sleeping (join the handle to wait for the end).
    pub fn debug_sleep(&self, secs: f64) -> std::thread::JoinHandle<()> {
        let sock = self.sock();
        let secs = format!("{secs}");
        let handle = std::thread::spawn(move || {
            let mut s = UnixStream::connect(sock).expect("admin connection");
            let r = resp::call(&mut s, &["DEBUG", "SLEEP", &secs]);
            assert!(matches!(r, Ok(Resp::Simple(_))), "DEBUG SLEEP: {r:?}");
        });
        // Go on once the server has started sleeping: it then stops answering a PING.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            assert!(
                Instant::now() < deadline,
                "DEBUG SLEEP did not start within 5 s"
            );
            let mut probe = UnixStream::connect(self.sock()).expect("probe connection");
            probe
                .set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            std::io::Write::write_all(&mut probe, b"PING\r\n").unwrap();
            let mut buf = [0u8; 7];
            match std::io::Read::read(&mut probe, &mut buf) {
                // Answered: the sleep has not begun yet.
                Ok(n) if n > 0 => std::thread::yield_now(),
                _ => break,
            }
        }
        handle
    }

    /// `CLIENT PAUSE ms WRITE|ALL`.
    pub fn client_pause(&self, ms: u64, write_only: bool) {
        let mode = if write_only { "WRITE" } else { "ALL" };
        self.cmd(&["CLIENT", "PAUSE", &ms.to_string(), mode]);
    }

    /// `CLIENT KILL <filter...>`: how many connections were closed.
    pub fn client_kill(&self, filter: &[&str]) -> i64 {
        let mut args = vec!["CLIENT", "KILL"];
        args.extend_from_slice(filter);
        self.cmd(&args).int().unwrap_or(0)
    }

    /// Closes every normal client connection except the admin one running this.
    pub fn kill_all_clients(&self) -> i64 {
        self.client_kill(&["TYPE", "normal", "SKIPME", "yes"])
    }

    /// `CONFIG SET key value`.
    pub fn config_set(&self, key: &str, value: &str) {
        self.cmd(&["CONFIG", "SET", key, value]);
    }

    /// One field of `INFO`.
    pub fn info_field(&self, field: &str) -> Option<String> {
        let text = self.cmd(&["INFO"]).text();
        text.lines().find_map(|l| {
            l.strip_prefix(&format!("{field}:"))
                .map(|v| v.trim().to_owned())
        })
    }

    /// `used_memory` from `INFO`, in bytes.
    pub fn used_memory(&self) -> u64 {
        self.info_field("used_memory").unwrap().parse().unwrap()
    }

    /// Sets `maxmemory` (bytes) and `maxmemory-policy`.
    pub fn set_maxmemory(&self, bytes: u64, policy: &str) {
        self.config_set("maxmemory-policy", policy);
        self.config_set("maxmemory", &bytes.to_string());
    }

    /// `SAVE` (a synchronous RDB snapshot).
    pub fn save(&self) {
        self.cmd(&["SAVE"]);
    }

    /// `DBSIZE`.
    pub fn dbsize(&self) -> i64 {
        self.cmd(&["DBSIZE"]).int().unwrap()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill9();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
