//! W3: enqueue -> result-available latency against an idle worker.
//!
//! The moment a result is available is taken from Redis itself: keyspace notifications
//! (`notify-keyspace-events K$`, on only during W3) for `arq:result:*`, read by a thread on its
//! own connection that timestamps each message as soon as it is read. The clock starts just
//! before the enqueue call. Both workers are driven by the same Rust client, so the two
//! columns differ only in the worker.

use crate::rust_side::noop;
use crate::server::{RedisServer, Reply};
use arq::Pool;
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

const RESULT_PREFIX: &str = "__keyspace@0__:arq:result:";

/// A subscriber to `SET`s of result keys: `(job id, when the notice was read)`.
pub struct Notifier {
    rx: UnboundedReceiver<(String, Instant)>,
    socket: TcpStream,
}

impl Notifier {
    /// Turns keyspace notifications for string commands on and subscribes to result keys.
    pub fn start(server: &RedisServer) -> Result<Self, String> {
        server.config_set("notify-keyspace-events", "K$")?;
        let mut conn = server.conn()?;
        conn.command(&["PSUBSCRIBE", &format!("{RESULT_PREFIX}*")])?;
        let socket = conn.socket().map_err(|e| e.to_string())?;
        let (tx, rx) = unbounded_channel();
        std::thread::spawn(move || {
            while let Ok(reply) = conn.read() {
                let now = Instant::now();
                let Reply::Array(Some(items)) = reply else {
                    continue;
                };
                let channel = items.get(2).and_then(Reply::text);
                if let Some(id) = channel
                    .as_deref()
                    .and_then(|c| c.strip_prefix(RESULT_PREFIX))
                {
                    if tx.send((id.to_owned(), now)).is_err() {
                        break;
                    }
                }
            }
        });
        Ok(Notifier { rx, socket })
    }

    /// When the result of `job_id` was written.
    async fn wait_for(&mut self, job_id: &str, within: Duration) -> Result<Instant, String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some((id, at))) if id == job_id => return Ok(at),
                Ok(Some(_)) => continue,
                Ok(None) => return Err("the notification connection closed".into()),
                Err(_) => return Err(format!("no result for {job_id} within {within:?}")),
            }
        }
    }

    /// Unsubscribes (closes the connection) and turns notifications off again.
    pub fn stop(self, server: &RedisServer) -> Result<(), String> {
        let _ = self.socket.shutdown(std::net::Shutdown::Both);
        server.config_set("notify-keyspace-events", "")
    }
}

/// A small deterministic generator for the pauses between samples (xorshift64*).
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value but 0).
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Runs `warmup + samples` jobs one at a time on `queue` and returns the latencies of the
/// last `samples`, in ms. Before each enqueue it pauses 1 ms plus a random fraction of
/// `poll_delay`, so enqueues land at random points of the worker's poll cycle.
pub async fn measure(
    pool: &Pool,
    notifier: &mut Notifier,
    queue: &str,
    warmup: usize,
    samples: usize,
    poll_delay: Duration,
    rng: &mut Rng,
) -> Result<Vec<f64>, String> {
    let mut out = Vec::with_capacity(samples);
    for i in 0..warmup + samples {
        let pause = Duration::from_millis(1) + poll_delay.mul_f64(rng.unit());
        tokio::time::sleep(pause).await;
        let id = format!("{queue}:{i}");
        let start = Instant::now();
        noop::enqueue(pool, "hello".into(), i as i64)
            .queue_name(queue)
            .job_id(&id)
            .await
            .map_err(|e| e.to_string())?;
        let done = notifier.wait_for(&id, Duration::from_secs(10)).await?;
        if i >= warmup {
            out.push(done.saturating_duration_since(start).as_secs_f64() * 1e3);
        }
    }
    Ok(out)
}

/// The `q` quantile (0..=1) by the nearest-rank method.
pub fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}
