//! A redis-server the fault tests can kill, restart on the same port and directory, put to
//! sleep, pause, fill up and reconfigure. Like `TestRedis`, it is our own child process, on a
//! free 127.0.0.1 port, and only ever signalled by its own pid.

use super::resp::{self, Resp};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// How the server keeps its data across a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// `--save "" --appendonly no`: a restart starts empty.
    None,
    /// AOF with `appendfsync everysec`.
    AofEverySec,
    /// AOF with `appendfsync always`.
    AofAlways,
    /// RDB snapshots only (taken with [`RedisProc::save`]).
    Rdb,
}

/// A private redis-server with `--enable-debug-command local`.
pub struct RedisProc {
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    persistence: Persistence,
    extra: Vec<String>,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl RedisProc {
    /// Starts a server without persistence.
    pub fn start() -> Self {
        Self::start_with(Persistence::None, &[])
    }

    /// Starts a server with the given persistence and extra `redis-server` arguments.
    pub fn start_with(persistence: Persistence, extra: &[&str]) -> Self {
        for _ in 0..5 {
            let mut r = Self::reserve(persistence, extra);
            if r.try_spawn() {
                return r;
            }
        }
        panic!("redis-server did not start");
    }

    /// Picks a port and a directory but starts nothing (see [`RedisProc::restart`]).
    pub fn reserve(persistence: Persistence, extra: &[&str]) -> Self {
        let port = free_port();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("arq-fault-redis-{}-{n}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        RedisProc {
            child: None,
            port,
            dir,
            persistence,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn sock(&self) -> PathBuf {
        self.dir.join("redis.sock")
    }

    fn try_spawn(&mut self) -> bool {
        self.spawn_process();
        if self.wait_ready(Duration::from_secs(20)) {
            return true;
        }
        self.kill9();
        false
    }

    /// Starts the process and returns at once.
    fn spawn_process(&mut self) {
        let bin = std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into());
        let _ = std::fs::remove_file(self.sock());
        let mut cmd = Command::new(&bin);
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--tls-port", "0", "--daemonize", "no"])
            .args(["--enable-debug-command", "local"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--unixsocket")
            .arg(self.sock())
            .args(["--unixsocketperm", "700"])
            .args(["--logfile", "redis.log"]);
        match self.persistence {
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
        cmd.args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {bin} (install redis-server): {e}"));
        self.child = Some(child);
    }

    /// Waits until this server answers on its own unix socket (a reply of LOADING counts as
    /// "not yet").
    fn wait_ready(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(_)) = c.try_wait() {
                    return false;
                }
            }
            if let Ok(Resp::Simple(s)) = self.try_cmd(&["PING"]) {
                if s == "PONG" {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// SIGKILL (our own child, by pid) and reap it.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port and directory (after [`RedisProc::kill9`],
    /// or for the first time after [`RedisProc::reserve`]), and waits until it serves.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart of a running server");
        for attempt in 0..50 {
            if self.try_spawn() {
                return;
            }
            // The port may linger for a moment after the old process died.
            std::thread::sleep(Duration::from_millis(100 + attempt * 10));
        }
        panic!(
            "redis-server did not restart on port {}: {}",
            self.port,
            self.log_tail()
        );
    }

    /// Like [`RedisProc::restart`], but returns as soon as the server accepts connections,
    /// possibly still answering `LOADING` while it reads its data.
    pub fn restart_no_wait(&mut self) {
        assert!(self.child.is_none(), "restart of a running server");
        for attempt in 0..50 {
            self.spawn_process();
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

    /// Waits until the server answers PING with PONG (not LOADING).
    pub fn wait_loaded(&mut self, within: Duration) {
        assert!(
            self.wait_ready(within),
            "redis-server not ready: {}",
            self.log_tail()
        );
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
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

    /// `DEBUG SLEEP secs`, sent from a thread; returns at once (join the handle to wait).
    pub fn debug_sleep(&self, secs: f64) -> std::thread::JoinHandle<()> {
        let sock = self.sock();
        let secs = format!("{secs}");
        let handle = std::thread::spawn(move || {
            let mut s = UnixStream::connect(sock).expect("admin connection");
            let r = resp::call(&mut s, &["DEBUG", "SLEEP", &secs]);
            assert!(matches!(r, Ok(Resp::Simple(_))), "DEBUG SLEEP: {r:?}");
        });
        // Go on once the server has started sleeping: it then stops answering a PING.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            assert!(
                std::time::Instant::now() < deadline,
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

    pub fn dbsize(&self) -> i64 {
        self.cmd(&["DBSIZE"]).int().unwrap()
    }
}

impl Drop for RedisProc {
    fn drop(&mut self) {
        self.kill9();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
