//! The heartbeat: renews the leases of the jobs a worker holds, on a thread and runtime of its
//! own with a connection of its own, so jobs that block the worker's runtime cannot starve it.
//!
//! Each beat is one backend step for every held job. A job whose lease is found taken over,
//! or which could not be renewed before it lapsed, is cancelled: another worker may be running
//! it. The beat also watches the dataset generation (a reset means every queued job is gone,
//! which is logged with the jobs in flight) and warns about jobs that overrun their timeout
//! without yielding.

use crate::backend::{Backend, Heartbeat, Lease};
use crate::failpoint;
use crate::Pool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// A job this worker holds.
pub(crate) struct Held {
    /// The fencing token of this attempt.
    pub(crate) token: String,
    /// The job record's enqueue time (abort markers older than it are ignored).
    pub(crate) enqueue_ms: i64,
    /// Cancelled when an abort is requested.
    pub(crate) abort: CancellationToken,
    /// Cancelled when the lease is lost.
    pub(crate) lease_lost: CancellationToken,
    /// When the last successful renewal (or the claim) was sent.
    pub(crate) renewed_at: Instant,
    /// When the job started.
    pub(crate) started: Instant,
    /// Its timeout.
    pub(crate) timeout: Duration,
    /// An overrun warning was logged.
    pub(crate) overrun_warned: bool,
}

/// The jobs a worker holds, by id.
pub(crate) type HeldJobs = Arc<Mutex<HashMap<String, Held>>>;

/// Starts the heartbeat thread; it stops when `stop` is cancelled.
pub(crate) fn spawn(
    pool: Pool,
    held: HeldJobs,
    lease: Duration,
    interval: Duration,
    stop: CancellationToken,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("arq-heartbeat".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("the heartbeat could not start a runtime: {e}");
                    return;
                }
            };
            rt.block_on(Beats::new(pool, held, lease, interval).run(stop));
        })
}

struct Beats {
    pool: Pool,
    own: Option<Arc<dyn Backend>>,
    held: HeldJobs,
    lease: Duration,
    interval: Duration,
    generation: Option<String>,
}

impl Beats {
    fn new(pool: Pool, held: HeldJobs, lease: Duration, interval: Duration) -> Self {
        Beats {
            pool,
            own: None,
            held,
            lease,
            interval,
            generation: None,
        }
    }

    async fn run(mut self, stop: CancellationToken) {
        loop {
            self.beat().await;
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {}
                _ = stop.cancelled() => return,
            }
        }
    }

    /// The connection of its own, opened on first use (and again after a failure to open).
    async fn backend(&mut self) -> Arc<dyn Backend> {
        if self.own.is_none() {
            match tokio::time::timeout(self.interval, self.pool.backend().standalone()).await {
                Ok(Ok(b)) => self.own = Some(b),
                Ok(Err(e)) => {
                    tracing::debug!("heartbeat uses the worker's connection: {e}")
                }
                Err(_) => tracing::debug!("heartbeat connection timed out; using the worker's"),
            }
        }
        self.own.clone().unwrap_or_else(|| self.pool.backend_arc())
    }

    async fn beat(&mut self) {
        failpoint::hit("before_heartbeat");
        let sent_at = Instant::now();
        let leases: Vec<Lease> = {
            let held = self.held.lock().unwrap();
            held.iter()
                .filter(|(_, h)| !h.lease_lost.is_cancelled())
                .map(|(id, h)| Lease {
                    job_id: id.clone(),
                    token: h.token.clone(),
                    ms: crate::time::duration_ms(self.lease),
                })
                .collect()
        };
        let hb = Heartbeat {
            leases,
            generation: self.generation.clone(),
        };
        let backend = self.backend().await;
        let wait = self.interval.max(Duration::from_millis(200));
        let reply = match tokio::time::timeout(wait, backend.heartbeat(&hb)).await {
            Ok(r) => r,
            Err(_) => Err(crate::Error::backend(format!(
                "redis did not answer within {wait:?}"
            ))),
        };
        match reply {
            Ok(reply) => {
                if let Some(seen) = &self.generation {
                    if *seen != reply.generation {
                        let mut ids: Vec<String> =
                            self.held.lock().unwrap().keys().cloned().collect();
                        ids.sort();
                        tracing::error!(
                            "redis dataset was reset (restart without persistence, or a flush): \
                             every job queued before is gone; in-flight jobs: {ids:?} (they \
                             keep running and store their results)"
                        );
                    }
                }
                self.generation = Some(reply.generation);
                let mut held = self.held.lock().unwrap();
                for (lease, renewed) in hb.leases.iter().zip(reply.renewed) {
                    let Some(h) = held.get_mut(&lease.job_id) else {
                        continue;
                    };
                    if h.token != lease.token {
                        continue;
                    }
                    if renewed {
                        h.renewed_at = sent_at;
                    } else if !h.lease_lost.is_cancelled() {
                        tracing::warn!(
                            job_id = %lease.job_id,
                            "lost lease on job {}; cancelling (its lease lapsed or another \
                             worker took it over)",
                            lease.job_id
                        );
                        h.lease_lost.cancel();
                    }
                }
            }
            Err(e) => {
                tracing::warn!("renewing job leases failed: {e}");
                // Give up a job before its lease lapses on the server, where another worker
                // may then take it (renewed_at is when the last good renewal was *sent*, so the
                // server-side lease ends later than this deadline).
                let now = Instant::now();
                let mut held = self.held.lock().unwrap();
                for (id, h) in held.iter_mut() {
                    if !h.lease_lost.is_cancelled()
                        && h.renewed_at + self.lease <= now + self.interval / 2
                    {
                        tracing::warn!(
                            job_id = %id,
                            "lost lease on job {id}; cancelling (could not renew it for \
                             {:.1}s: {e})",
                            h.renewed_at.elapsed().as_secs_f64()
                        );
                        h.lease_lost.cancel();
                    }
                }
            }
        }
        self.watch_overruns();
    }

    /// Warns (once per job) about jobs past their timeout: a job that does not yield to the
    /// runtime cannot be cancelled until it returns.
    fn watch_overruns(&self) {
        let mut held = self.held.lock().unwrap();
        for (id, h) in held.iter_mut() {
            let ran = h.started.elapsed();
            if !h.overrun_warned && ran > h.timeout + self.interval {
                h.overrun_warned = true;
                tracing::warn!(
                    job_id = %id,
                    "job {id} has run {:.1}s, past its timeout of {:.1}s, without yielding: it \
                     blocks its thread, so it cannot be cancelled until it returns (its lease is \
                     still renewed, so no other worker starts it)",
                    ran.as_secs_f64(),
                    h.timeout.as_secs_f64()
                );
            }
        }
    }
}
