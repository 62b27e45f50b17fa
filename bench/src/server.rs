//! The benchmark's own `redis-server` (`arq-test-support`'s: a free 127.0.0.1 port, a temp
//! dir, no persistence, stopped by its pid) with a persistent admin connection, a minimal
//! blocking RESP client for admin commands and keyspace notifications, and `INFO` snapshots.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;

/// A private `redis-server` (the shared `arq_test_support::RedisServer`), killed by its pid
/// when dropped, with the benchmark's persistent admin connection.
pub struct RedisServer {
    /// One persistent admin connection: snapshots through it add exactly one command and one
    /// socket read to what they measure (and `Cost::between` subtracts those).
    admin: Mutex<RespConn>,
    /// The TCP port it listens on (127.0.0.1 only).
    pub port: u16,
    /// Declared last, so the admin connection closes before the server stops.
    _server: arq_test_support::RedisServer,
}

impl RedisServer {
    /// Starts a server on a free port with `--save "" --appendonly no` in its own temp dir
    /// and waits until it answers PING on its own unix socket (so a server that lost the race
    /// for the port cannot be mistaken for ours).
    pub fn start() -> Result<Self, String> {
        let server = arq_test_support::RedisServer::try_start(arq_test_support::Config::new(
            "arq-bench-redis",
        ))?;
        let port = server.port;
        let admin =
            Mutex::new(RespConn::connect(port).map_err(|e| format!("connecting to redis: {e}"))?);
        Ok(RedisServer {
            admin,
            port,
            _server: server,
        })
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A new admin connection.
    pub fn conn(&self) -> Result<RespConn, String> {
        RespConn::connect(self.port).map_err(|e| format!("connecting to redis: {e}"))
    }

    fn admin(&self) -> std::sync::MutexGuard<'_, RespConn> {
        self.admin.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The server's version, from `INFO server`.
    pub fn version(&self) -> Result<String, String> {
        let info = self.admin().info("server")?;
        Ok(info
            .get("redis_version")
            .cloned()
            .unwrap_or_else(|| "?".into()))
    }

    /// Empties the database between workloads.
    pub fn flushdb(&self) -> Result<(), String> {
        self.admin().ok(&["FLUSHDB"])
    }

    /// `CONFIG SET <name> <value>`.
    pub fn config_set(&self, name: &str, value: &str) -> Result<(), String> {
        self.admin().ok(&["CONFIG", "SET", name, value])
    }

    /// Counters for the cost of a workload: take one before and one after.
    pub fn snapshot(&self) -> Result<Snapshot, String> {
        let info = self.admin().info("stats cpu commandstats")?;
        Snapshot::parse(&info)
    }
}

/// One RESP reply.
#[derive(Debug)]
pub enum Reply {
    /// `+OK`.
    Simple(String),
    /// `-ERR ...`.
    Error(String),
    /// `:1` (the value is not needed here).
    Int,
    /// `$n` (None for `$-1`).
    Bulk(Option<Vec<u8>>),
    /// `*n` (None for `*-1`).
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The text of a simple or bulk string.
    pub fn text(&self) -> Option<String> {
        match self {
            Reply::Simple(s) => Some(s.clone()),
            Reply::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}

/// A blocking RESP2 connection: admin commands and a keyspace-notification subscriber.
pub struct RespConn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl RespConn {
    /// Connects to 127.0.0.1:`port`.
    pub fn connect(port: u16) -> std::io::Result<Self> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        Ok(RespConn {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    /// A handle to the socket, to shut it down from another thread.
    pub fn socket(&self) -> std::io::Result<TcpStream> {
        self.writer.try_clone()
    }

    /// Sends one command without waiting for its reply.
    pub fn send(&mut self, args: &[&str]) -> std::io::Result<()> {
        let mut buf = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a.as_bytes());
            buf.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&buf)
    }

    /// Reads one reply.
    pub fn read(&mut self) -> std::io::Result<Reply> {
        let bad = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidData, m);
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end_matches(['\r', '\n']);
        let (kind, rest) = line.split_at(1.min(line.len()));
        let num = || {
            rest.parse::<i64>()
                .map_err(|_| bad(format!("bad RESP line {line:?}")))
        };
        Ok(match kind {
            "+" => Reply::Simple(rest.to_owned()),
            "-" => Reply::Error(rest.to_owned()),
            ":" => {
                num()?;
                Reply::Int
            }
            "$" => {
                let n = num()?;
                if n < 0 {
                    Reply::Bulk(None)
                } else {
                    let mut b = vec![0u8; n as usize + 2];
                    self.reader.read_exact(&mut b)?;
                    b.truncate(n as usize);
                    Reply::Bulk(Some(b))
                }
            }
            "*" => {
                let n = num()?;
                if n < 0 {
                    Reply::Array(None)
                } else {
                    let mut items = Vec::with_capacity(n as usize);
                    for _ in 0..n {
                        items.push(self.read()?);
                    }
                    Reply::Array(Some(items))
                }
            }
            _ => return Err(bad(format!("bad RESP line {line:?}"))),
        })
    }

    /// Sends a command and reads its reply; a Redis error becomes `Err`.
    pub fn command(&mut self, args: &[&str]) -> Result<Reply, String> {
        let io = |e: std::io::Error| format!("redis {}: {e}", args.join(" "));
        self.send(args).map_err(io)?;
        match self.read().map_err(io)? {
            Reply::Error(e) => Err(format!("redis {}: {e}", args.join(" "))),
            r => Ok(r),
        }
    }

    /// A command whose reply does not matter beyond not being an error.
    pub fn ok(&mut self, args: &[&str]) -> Result<(), String> {
        self.command(args).map(|_| ())
    }

    /// `INFO <sections>` as a map of `field -> value`.
    pub fn info(&mut self, sections: &str) -> Result<BTreeMap<String, String>, String> {
        let mut args = vec!["INFO"];
        args.extend(sections.split_whitespace());
        let text = self.command(&args)?.text().ok_or("INFO gave no text")?;
        Ok(text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
            .collect())
    }
}

/// Counters from `INFO stats cpu commandstats` at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// `total_commands_processed`. Redis 7 counts here every command it executes, including
    /// those a Lua script calls and those EXEC runs.
    pub commands: u64,
    /// `total_reads_processed`: read events on client sockets, i.e. request batches received.
    pub reads: u64,
    /// `used_cpu_sys + used_cpu_user`, in µs.
    pub cpu_us: f64,
    /// `cmdstat_<name>` -> calls.
    pub calls: BTreeMap<String, u64>,
    /// `cmdstat_<name>` -> µs spent (a script's time includes its inner commands').
    pub usec: BTreeMap<String, u64>,
}

impl Snapshot {
    fn parse(info: &BTreeMap<String, String>) -> Result<Self, String> {
        let num = |k: &str| -> Result<f64, String> {
            info.get(k)
                .and_then(|v| v.parse::<f64>().ok())
                .ok_or_else(|| format!("INFO has no number {k}"))
        };
        let mut calls = BTreeMap::new();
        let mut usec = BTreeMap::new();
        for (k, v) in info {
            if let Some(name) = k.strip_prefix("cmdstat_") {
                let field = |f: &str| -> u64 {
                    v.split(',')
                        .find_map(|x| x.strip_prefix(f))
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0)
                };
                calls.insert(name.to_owned(), field("calls="));
                usec.insert(name.to_owned(), field("usec="));
            }
        }
        Ok(Snapshot {
            commands: num("total_commands_processed")? as u64,
            reads: num("total_reads_processed")? as u64,
            cpu_us: (num("used_cpu_sys")? + num("used_cpu_user")?) * 1e6,
            calls,
            usec,
        })
    }
}

/// What a workload cost Redis, per executed job.
#[derive(Debug, Clone, Default)]
pub struct Cost {
    /// Commands executed per job (`total_commands_processed` delta; includes commands run
    /// inside Lua scripts and by EXEC).
    pub commands: f64,
    /// Socket reads per job (`total_reads_processed` delta): request batches, ≈ round trips.
    pub reads: f64,
    /// Redis CPU (user + sys) per job, µs.
    pub cpu_us: f64,
    /// Calls per job of each command (`INFO commandstats` deltas), most frequent first.
    pub per_command: Vec<(String, f64)>,
    /// µs per job spent in each command (`INFO commandstats` usec deltas), most first. A
    /// script's (`evalsha`) time includes that of the commands it calls.
    pub per_command_us: Vec<(String, f64)>,
}

impl Cost {
    /// The cost of `jobs` jobs between two snapshots taken on the admin connection. The
    /// `INFO` that took `before` is counted in `after`'s commands, and the read that brought
    /// `after`'s own `INFO` in its reads; both are subtracted.
    pub fn between(before: &Snapshot, after: &Snapshot, jobs: u64) -> Self {
        let jobs = jobs.max(1) as f64;
        let mut per_command: Vec<(String, f64)> = after
            .calls
            .iter()
            .filter(|(name, _)| name.as_str() != "info")
            .map(|(name, &n)| {
                let was = before.calls.get(name).copied().unwrap_or(0);
                (name.clone(), n.saturating_sub(was) as f64 / jobs)
            })
            .filter(|(_, n)| *n > 0.0)
            .collect();
        per_command.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut per_command_us: Vec<(String, f64)> = after
            .usec
            .iter()
            .filter(|(name, _)| name.as_str() != "info")
            .map(|(name, &n)| {
                let was = before.usec.get(name).copied().unwrap_or(0);
                (name.clone(), n.saturating_sub(was) as f64 / jobs)
            })
            .filter(|(_, n)| *n > 0.0)
            .collect();
        per_command_us.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Cost {
            per_command_us,
            commands: after.commands.saturating_sub(before.commands + 1) as f64 / jobs,
            reads: after.reads.saturating_sub(before.reads + 1) as f64 / jobs,
            cpu_us: (after.cpu_us - before.cpu_us).max(0.0) / jobs,
            per_command,
        }
    }
}
