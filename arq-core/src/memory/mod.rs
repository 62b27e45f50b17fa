//! [`MemoryBackend`]: the whole [`Backend`] contract in this process, step for step as the
//! Redis backend's Lua scripts (`arq-redis/lua/*.lua`) do it, on a clock of its own.

mod dead;
mod store;

use crate::backend::{
    AbortOutcome, AbortRequest, Backend, BoxFuture, ClaimRequest, Claimed, ClaimedJob,
    CronTickOutcome, CronTickReply, CronTickRequest, DeadLetters, Defer, EnqueueRequest, EventKind,
    EventsPage, EventsRead, FinishOutcome, FinishRequest, HealthRecord, Heartbeat, HeartbeatReply,
    Inspect, OnMessage, PendingHook, ProgressRequest, QueueEntry, QueuePage, QueueStats, RawStatus,
    ReleaseRequest, ResultRead, ResultTtl, ResultsPage, RetryRequest, SetTryRequest, SnoozeOutcome,
    SnoozeRequest, Watch,
};
use crate::{Error, Result};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;
use store::{Event, EventId, EventStream, Store, StoredEvent};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::backend::{
    JOB_EXPIRES_EXTRA_MS as EXPIRES_EXTRA_MS, TRUSTED_CLOCK_SKEW_MS as MAX_CLOCK_SKEW_MS,
    TRY_COUNTER_TTL_MS as COUNTER_TTL_MS,
};
/// Abort markers older than this are pruned at claim.
const ABORT_MARKER_LIFE_MS: i64 = 86_400_000;
/// How many due entries [`Inspect::queue_stats`] looks at for running jobs.
const STATS_SCAN: usize = 10_000;
/// The most failure hooks one [`Backend::hooks_claim`] takes (as the Redis backend's).
const MAX_HOOKS_CLAIM: usize = 100_000;
/// The most dead letters one [`DeadLetters::dead_purge`] removes (as the Redis backend's).
const MAX_DEAD_PURGE: u64 = 100_000;

/// A backend that keeps queues, jobs and results in this process: for tests, examples and
/// single-process programs that have no Redis. Nothing survives the process.
///
/// It follows the Redis backend step for step (the same checks, fences, scores, TTLs and
/// outcomes; each method names the Lua script it mirrors), with its own clock
/// (`SystemTime`, ms) standing in for Redis's `TIME`. Values with a time to live (jobs,
/// results, leases, try counters, markers, health records) expire lazily: past its expiry a
/// value reads as absent. Push wake-ups ([`Backend::watch`]) are delivered in-process, and
/// [`Backend::standalone`] hands the worker's heartbeat a clone on the same store. Each queue
/// has its event stream (trimmed exactly to the requested length; a blocked
/// [`Backend::events_read`] sleeps until a step writes an event), its dead letters
/// ([`Backend::dead_letters`]) and its pending failure hooks, none of them listed as queues.
///
/// Clones share one store, so a client and a worker made from clones see one queue; for a
/// store shared by name across a process, see [`MemoryBackend::named`] (what the facade's
/// `arq::connect("memory://<name>")` uses).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> arq_core::Result<()> {
/// use arq_core::{JobStatus, MemoryBackend, Pool};
/// use std::sync::Arc;
///
/// let backend = MemoryBackend::new();
/// let pool = Pool::new(Arc::new(backend.clone()));
/// let job = pool
///     .enqueue_job("add", vec![1u64.into(), 2u64.into()])
///     .job_id("add-1")
///     .await?;
/// assert_eq!(job.status().await?, JobStatus::Queued);
///
/// // Another pool on a clone sees the same queue, and the same ids.
/// let other = Pool::new(Arc::new(backend));
/// assert_eq!(other.queue_size("arq:queue").await?, 1);
/// let again = other.enqueue_job("add", vec![]).job_id("add-1").await;
/// assert!(again.unwrap_err().is_duplicate());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MemoryBackend {
    shared: Arc<Shared>,
}

struct Shared {
    /// The name it was registered under ([`MemoryBackend::named`]), for `Debug`.
    name: Option<String>,
    store: Mutex<Store>,
    listeners: Mutex<Vec<Listener>>,
    /// Woken after every step that wrote an event (blocked [`Backend::events_read`] calls).
    events_written: Notify,
    /// Added to the system clock (tests move time forward with it).
    clock_offset_ms: AtomicI64,
}

/// One [`Backend::watch`] subscription.
struct Listener {
    what: Watch,
    on_message: OnMessage,
    stop: CancellationToken,
}

impl Default for MemoryBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let store = self.store();
        f.debug_struct("MemoryBackend")
            .field("name", &self.shared.name)
            .field("queues", &store.queues.len())
            .field("jobs", &store.jobs.held())
            .field("results", &store.results.held())
            .finish_non_exhaustive()
    }
}

/// The process-wide stores by name ([`MemoryBackend::named`]).
fn registry() -> &'static Mutex<HashMap<String, MemoryBackend>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, MemoryBackend>>> = OnceLock::new();
    REGISTRY.get_or_init(Mutex::default)
}

impl MemoryBackend {
    /// A new, empty store.
    pub fn new() -> Self {
        Self::with_name(None)
    }

    fn with_name(name: Option<String>) -> Self {
        MemoryBackend {
            shared: Arc::new(Shared {
                name,
                store: Mutex::default(),
                listeners: Mutex::default(),
                events_written: Notify::new(),
                clock_offset_ms: AtomicI64::new(0),
            }),
        }
    }

    /// The store registered under `name` in this process, created empty on first use: every
    /// call with the same name shares one store (so a client and a worker of one process
    /// that each connect to `memory://<name>` see the same queue). A named store lives as
    /// long as the process.
    ///
    /// ```
    /// use arq_core::MemoryBackend;
    /// let a = MemoryBackend::named("orders");
    /// let b = MemoryBackend::named("orders");
    /// assert!(a.same_store(&b));
    /// assert!(!a.same_store(&MemoryBackend::named("other")));
    /// ```
    pub fn named(name: &str) -> Self {
        let mut all = registry().lock().unwrap_or_else(PoisonError::into_inner);
        all.entry(name.to_owned())
            .or_insert_with(|| Self::with_name(Some(name.to_owned())))
            .clone()
    }

    /// Whether two backends share one store (clones do, and [`MemoryBackend::named`] with
    /// one name does).
    pub fn same_store(&self, other: &MemoryBackend) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// The store's clock (ms since the epoch): this machine's clock, standing in for Redis's
    /// `TIME`.
    pub fn now_ms(&self) -> i64 {
        crate::now_ms() + self.shared.clock_offset_ms.load(Ordering::Relaxed)
    }

    /// Moves the store's clock forward (tests of expiry).
    #[cfg(test)]
    fn advance(&self, ms: i64) {
        self.shared.clock_offset_ms.fetch_add(ms, Ordering::Relaxed);
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // A step never panics half-way in a way that matters more than losing the store.
        self.shared
            .store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one step with the clock read once, as a script reads `TIME` once; wakes the
    /// blocked event readers if it wrote an event.
    fn step<T>(&self, f: impl FnOnce(&mut Store, i64) -> T) -> T {
        let now = self.now_ms();
        let mut store = self.store();
        store.maybe_sweep(now);
        let out = f(&mut store, now);
        let wrote = store.take_events_written();
        drop(store);
        if wrote {
            self.shared.events_written.notify_waiters();
        }
        out
    }

    /// Delivers `messages` to the live listeners of `what` (outside the store's lock).
    fn notify(&self, what: &Watch, messages: &[&[u8]]) {
        if messages.is_empty() {
            return;
        }
        let targets: Vec<OnMessage> = {
            let mut listeners = self
                .shared
                .listeners
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            listeners.retain(|l| !l.stop.is_cancelled());
            listeners
                .iter()
                .filter(|l| l.what == *what)
                .map(|l| l.on_message.clone())
                .collect()
        };
        for on_message in targets {
            for m in messages {
                on_message(m);
            }
        }
    }
}

/// `<queue>:health-check`, the queue's shared health record.
fn health_key(queue: &str) -> String {
    format!("{queue}:health-check")
}

/// `<health key>:<worker id>`, one worker's own record.
fn worker_health_key(key: &str, worker_id: &str) -> String {
    format!("{key}:{worker_id}")
}

/// The start of a results cursor (an id follows it).
const RESULTS_CURSOR: &str = "after:";

/// The part of finish.lua for one written job besides its result: the outcome event, then a
/// final failure's dead letter (and its `dead` event) and pending failure hook.
fn finish_failure_and_events(s: &mut Store, r: &FinishRequest, now: i64) {
    let kind = match r.outcome {
        FinishOutcome::Completed => EventKind::Completed,
        FinishOutcome::Failed => EventKind::Failed,
        FinishOutcome::Aborted => EventKind::Aborted,
    };
    let error = r.error.as_deref().map(str::as_bytes);
    let event = |kind| Event::new(kind, &r.job_id).job_try(r.job_try).data(error);
    s.event(&r.queue, r.events, now, event(kind));
    let Some(failure) = &r.failure else {
        return;
    };
    let record = Bytes::copy_from_slice(&failure.record);
    if let Some(limits) = failure.dead {
        s.dead_add(
            &r.queue,
            &r.job_id,
            now,
            failure.job.clone(),
            record.clone(),
            limits,
        );
        s.event(&r.queue, r.events, now, event(EventKind::Dead));
    }
    if let Some(ms) = failure.hook_lease_ms {
        s.hook_add(&r.queue, &r.job_id, now.saturating_add(ms), record);
    }
}

impl Backend for MemoryBackend {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn inspect(&self) -> Option<&dyn Inspect> {
        Some(self)
    }

    fn dead_letters(&self) -> Option<&dyn DeadLetters> {
        Some(self)
    }

    /// enqueue.lua
    fn enqueue<'a>(&'a self, req: &'a EnqueueRequest) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let id = req.job_id.as_str();
            let outcome = self.step(|s, now| {
                if s.jobs.contains(id, now) {
                    return Ok(None);
                }
                if req.replace_result {
                    s.results.remove(id, now);
                    s.tries.remove(id, now);
                    s.snoozes.remove(id, now);
                } else if s.results.contains(id, now) {
                    return Ok(None);
                }
                let et = req.enqueue_time_ms;
                let base = if (now - et).abs() <= MAX_CLOCK_SKEW_MS {
                    et
                } else {
                    now
                };
                // the score, and how far it is from the enqueue time
                let (score, ahead) = match req.defer {
                    Defer::None => (base.min(now), 0),
                    Defer::By(ms) => (base + ms, ms),
                    Defer::At(ms) => (ms, ms - base),
                };
                let expires = req.expires_ms.unwrap_or(ahead + EXPIRES_EXTRA_MS);
                if expires <= 0 {
                    return Err(Error::InvalidArgument(format!(
                        "job {id:?} would expire before it could run (defer_until is more \
                         than a day in the past, or expires is not positive); nothing was \
                         enqueued"
                    )));
                }
                s.jobs
                    .set(id, Bytes::copy_from_slice(&req.payload), Some(expires), now);
                s.queue_add(&req.queue, id, score);
                s.aborts.remove(id);
                s.event(
                    &req.queue,
                    req.events,
                    now,
                    Event::new(EventKind::Enqueued, id),
                );
                Ok(Some(score <= now))
            })?;
            match outcome {
                None => Ok(false),
                Some(due) => {
                    if due {
                        self.notify(&Watch::Enqueued(req.queue.clone()), &[b""]);
                    }
                    Ok(true)
                }
            }
        })
    }

    /// claim.lua
    fn claim<'a>(&'a self, req: &'a ClaimRequest) -> BoxFuture<'a, Result<Claimed>> {
        Box::pin(async move {
            Ok(self.step(|s, now| {
                let markers = req.check_abort && !s.aborts.is_empty();
                let due: Vec<(i64, String)> = s.queue(&req.queue).map_or_else(Vec::new, |q| {
                    q.up_to(now)
                        .take(req.scan_limit)
                        .map(|(score, id)| (score, id.to_owned()))
                        .collect()
                });
                let mut claimed = Claimed::default();
                let mut n = 0;
                for (score, id) in due {
                    if claimed.jobs.len() >= req.limit {
                        break;
                    }
                    // A lease held means the job runs elsewhere.
                    if s.leases.contains(&id, now) {
                        continue;
                    }
                    let job_try = s.tries.get(&id, now).copied().unwrap_or(0) + 1;
                    let recovered = job_try > 1 && !s.handed_back.contains(&id, now);
                    let alone = recovered && job_try >= req.alone_from_try;
                    if alone && !(req.idle && claimed.jobs.is_empty()) {
                        // Not now: leave it for an idle worker.
                        claimed.recovery_waiting = true;
                        continue;
                    }
                    n += 1;
                    let token = format!("{}:{}:{n}", req.token_prefix, req.seq);
                    s.leases.set(&id, token.clone(), Some(req.lease_ms), now);
                    s.tries.set(&id, job_try, Some(COUNTER_TTL_MS), now);
                    if job_try > 1 && !recovered {
                        s.handed_back.remove(&id, now);
                    }
                    let mut abort_marker_ms = None;
                    if markers {
                        if let Some(at) = s.aborts.score(&id) {
                            s.aborts.remove(&id);
                            abort_marker_ms = Some(at).filter(|ms| *ms > 0);
                        }
                    }
                    s.event(
                        &req.queue,
                        req.events,
                        now,
                        Event::new(EventKind::Started, &id).job_try(job_try),
                    );
                    claimed.jobs.push(ClaimedJob {
                        payload: s.jobs.get(&id, now).cloned(),
                        job_id: id,
                        score,
                        job_try,
                        token,
                        abort_marker_ms,
                        recovered,
                        alone,
                        payload_error: None,
                    });
                    if alone {
                        break;
                    }
                }
                if markers {
                    s.aborts.remove_below(now - ABORT_MARKER_LIFE_MS);
                }
                claimed
            }))
        })
    }

    /// The `SET arq:retry:<id> <try> EX 88400` of the Redis backend.
    fn set_try<'a>(&'a self, req: &'a SetTryRequest) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.step(|s, now| {
                s.tries
                    .set(&req.job_id, req.job_try, Some(COUNTER_TTL_MS), now)
            });
            Ok(())
        })
    }

    /// heartbeat.lua
    fn heartbeat<'a>(&'a self, hb: &'a Heartbeat) -> BoxFuture<'a, Result<HeartbeatReply>> {
        Box::pin(async move {
            Ok(self.step(|s, now| {
                let generation = s
                    .generation
                    .get_or_insert_with(|| uuid::Uuid::new_v4().simple().to_string())
                    .clone();
                let reset = hb
                    .generation
                    .as_deref()
                    .is_some_and(|seen| !seen.is_empty() && seen != generation);
                let renewed = hb
                    .leases
                    .iter()
                    .map(|l| match s.leases.get(&l.job_id, now) {
                        Some(cur) if *cur == l.token => s.leases.expire(&l.job_id, l.ms, now),
                        None if reset => {
                            s.leases.set(&l.job_id, l.token.clone(), Some(l.ms), now);
                            true
                        }
                        _ => false,
                    })
                    .collect();
                HeartbeatReply {
                    renewed,
                    generation,
                }
            }))
        })
    }

    /// finish.lua
    fn finish<'a>(&'a self, reqs: &'a [FinishRequest]) -> BoxFuture<'a, Result<Vec<bool>>> {
        Box::pin(async move {
            let (flags, finished) = self.step(|s, now| {
                // Every check sees the state before this step's writes, as the script's MGET.
                let flags: Vec<bool> = reqs
                    .iter()
                    .map(|r| match s.leases.get(&r.job_id, now) {
                        Some(cur) => *cur == r.token,
                        // The lease lapsed: ours while the job exists and nobody else holds it.
                        None => s.jobs.contains(&r.job_id, now),
                    })
                    .collect();
                let mut lease_dels = Vec::new();
                let mut finished: Vec<(&str, &str)> = Vec::new();
                for (r, _) in reqs.iter().zip(&flags).filter(|(_, ok)| **ok) {
                    if let Some(result) = &r.result {
                        s.results.set(
                            &r.job_id,
                            Bytes::copy_from_slice(result),
                            r.keep_result_ms,
                            now,
                        );
                    }
                    match r.keep_in_progress_ms {
                        Some(ms) => {
                            s.leases.expire(&r.job_id, ms, now);
                        }
                        None => lease_dels.push(r.job_id.as_str()),
                    }
                    finish_failure_and_events(s, r, now);
                    finished.push((&r.queue, &r.job_id));
                }
                for (queue, id) in &finished {
                    s.queue_remove(queue, id);
                    s.aborts.remove(id);
                    s.tries.remove(id, now);
                    s.jobs.remove(id, now);
                }
                for id in lease_dels {
                    s.leases.remove(id, now);
                }
                (flags, finished)
            });
            let mut by_queue: Vec<(&str, Vec<&[u8]>)> = Vec::new();
            for (queue, id) in finished {
                match by_queue.iter_mut().find(|(q, _)| *q == queue) {
                    Some((_, ids)) => ids.push(id.as_bytes()),
                    None => by_queue.push((queue, vec![id.as_bytes()])),
                }
            }
            for (queue, ids) in by_queue {
                self.notify(&Watch::Finished(queue.to_owned()), &ids);
            }
            Ok(flags)
        })
    }

    /// retry.lua
    fn retry<'a>(&'a self, req: &'a RetryRequest) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            Ok(self.step(|s, now| {
                let id = req.job_id.as_str();
                let cur = s.leases.get(id, now).cloned();
                if cur.as_deref() != Some(req.token.as_str()) {
                    // A repeat of a retry that was applied (its reply was lost).
                    if cur.is_none()
                        && s.handed_back.get(id, now).map(String::as_str) == Some(&req.token)
                    {
                        return true;
                    }
                    if cur.is_some() || !s.jobs.contains(id, now) {
                        return false;
                    }
                }
                if req.defer_ms > 0 {
                    // ZADD XX: never brings back a job deleted meanwhile.
                    if let Some(q) = s.queues.get_mut(&req.queue) {
                        q.update(id, now + req.defer_ms);
                    }
                }
                s.leases.remove(id, now);
                s.handed_back
                    .set(id, req.token.clone(), Some(COUNTER_TTL_MS), now);
                s.event(
                    &req.queue,
                    req.events,
                    now,
                    Event::new(EventKind::Retried, id)
                        .job_try(req.job_try)
                        .data(req.error.as_deref().map(str::as_bytes)),
                );
                true
            }))
        })
    }

    /// release.lua
    fn release<'a>(&'a self, req: &'a ReleaseRequest) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let id = req.job_id.as_str();
            let outcome = self.step(|s, now| {
                let cur = s.leases.get(id, now).cloned();
                if cur.as_deref() != Some(req.token.as_str()) {
                    // A repeat of a release that was applied (its reply was lost).
                    if cur.is_none()
                        && s.handed_back.get(id, now).map(String::as_str) == Some(&req.token)
                    {
                        return 1;
                    }
                    return 0;
                }
                s.leases.remove(id, now);
                s.handed_back
                    .set(id, req.token.clone(), Some(COUNTER_TTL_MS), now);
                let n = s.releases.get(id, now).copied().unwrap_or(0) + 1;
                s.releases.set(id, n, Some(COUNTER_TTL_MS), now);
                if n <= i64::from(req.free_releases) {
                    // DECR keeps the counter's TTL.
                    if let Some(t) = s.tries.get_mut(id, now).filter(|t| **t > 0) {
                        *t -= 1;
                    }
                    return 1;
                }
                2
            });
            if outcome == 2 {
                tracing::warn!(
                    job_id = id,
                    "job released by more than {} shutdowns; this try counts",
                    req.free_releases
                );
            }
            Ok(outcome > 0)
        })
    }

    /// abort.lua
    fn abort<'a>(&'a self, req: &'a AbortRequest) -> BoxFuture<'a, Result<AbortOutcome>> {
        Box::pin(async move {
            Ok(self.step(|s, now| {
                let id = req.job_id.as_str();
                if s.results.contains(id, now) {
                    return AbortOutcome::Finished;
                }
                let score = s.queue_score(&req.queue, id);
                let job = s.jobs.contains(id, now);
                if score.is_none() && !job {
                    return AbortOutcome::NotFound;
                }
                if s.leases.contains(id, now) || score.is_none() {
                    s.aborts.add(id, now);
                    return AbortOutcome::Requested;
                }
                s.queue_remove(&req.queue, id);
                s.aborts.remove(id);
                s.jobs.remove(id, now);
                s.tries.remove(id, now);
                if let Some(result) = &req.result {
                    s.results
                        .set(id, Bytes::copy_from_slice(result), req.keep_result_ms, now);
                }
                s.event(
                    &req.queue,
                    req.events,
                    now,
                    Event::new(EventKind::Aborted, id),
                );
                AbortOutcome::Aborted
            }))
        })
    }

    /// The `ZMSCORE arq:abort <ids…>` of the Redis backend.
    fn abort_requests<'a>(
        &'a self,
        job_ids: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<(String, i64)>>> {
        Box::pin(async move {
            Ok(self.step(|s, _| {
                job_ids
                    .iter()
                    .filter_map(|id| s.aborts.score(id).map(|ms| (id.clone(), ms)))
                    .collect()
            }))
        })
    }

    /// cron_tick.lua
    fn cron_tick<'a>(&'a self, req: &'a CronTickRequest) -> BoxFuture<'a, Result<CronTickReply>> {
        Box::pin(async move {
            Ok(self.step(|s, now| {
                let outcomes = req
                    .ticks
                    .iter()
                    .map(|t| {
                        let id = t.job_id.as_str();
                        if t.claim_ttl_ms.is_some() && s.cron_ticks.contains(id, now) {
                            return CronTickOutcome::AlreadyClaimed;
                        }
                        if let Some(ttl) = t.claim_ttl_ms {
                            s.cron_ticks.set(id, now, Some(ttl), now);
                        }
                        if s.jobs.contains(id, now) || s.results.contains(id, now) {
                            return CronTickOutcome::JobExists;
                        }
                        let score = t.tick_ms.max(now);
                        s.jobs.set(
                            id,
                            Bytes::copy_from_slice(&t.payload),
                            Some(score - now + EXPIRES_EXTRA_MS),
                            now,
                        );
                        s.queue_add(&req.queue, id, score);
                        // A stale abort marker for this id must not cancel the new job.
                        s.aborts.remove(id);
                        CronTickOutcome::Enqueued
                    })
                    .collect();
                CronTickReply {
                    now_ms: now,
                    outcomes,
                }
            }))
        })
    }

    /// status.lua
    fn status<'a>(&'a self, queue: &'a str, job_id: &'a str) -> BoxFuture<'a, Result<RawStatus>> {
        Box::pin(async move {
            Ok(self.step(|s, now| RawStatus {
                result_exists: s.results.contains(job_id, now),
                in_progress: s.leases.contains(job_id, now),
                score: s.queue_score(queue, job_id),
                now_ms: now,
            }))
        })
    }

    /// result.lua
    fn result<'a>(&'a self, queue: &'a str, job_id: &'a str) -> BoxFuture<'a, Result<ResultRead>> {
        Box::pin(async move {
            Ok(self.step(|s, now| {
                let result = s.results.get(job_id, now).cloned();
                let ttl = match s.results.ttl(job_id, now) {
                    _ if result.is_none() => ResultTtl::Unknown,
                    Some(None) => ResultTtl::Forever,
                    Some(Some(ms)) => ResultTtl::Ms(ms.max(0)),
                    None => ResultTtl::Unknown,
                };
                ResultRead {
                    result,
                    ttl,
                    score: s.queue_score(queue, job_id),
                }
            }))
        })
    }

    /// The `GET arq:job:<id>` of the Redis backend.
    fn job_record<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, Result<Option<Bytes>>> {
        Box::pin(async move { Ok(self.step(|s, now| s.jobs.get(job_id, now).cloned())) })
    }

    /// The `ZSCORE <queue> <id>` of the Redis backend.
    fn score<'a>(&'a self, queue: &'a str, job_id: &'a str) -> BoxFuture<'a, Result<Option<i64>>> {
        Box::pin(async move { Ok(self.step(|s, _| s.queue_score(queue, job_id))) })
    }

    /// The `ZCARD <queue>` of the Redis backend.
    fn queue_size<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move { Ok(self.step(|s, _| s.queue_len(queue) as u64)) })
    }

    /// health.lua
    fn health<'a>(&'a self, rec: &'a HealthRecord) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            Ok(self.step(|s, now| {
                let key = rec
                    .check_key
                    .clone()
                    .unwrap_or_else(|| health_key(&rec.queue));
                let n = s.queue_len(&rec.queue) as u64;
                let record = format!("{} queued={n}", rec.text);
                let ttl = rec.ttl_ms.max(1);
                s.health.set(
                    &worker_health_key(&key, &rec.worker_id),
                    record.clone(),
                    Some(ttl),
                    now,
                );
                s.health.set(&key, record, Some(ttl), now);
                // HSET keeps the hash (and its TTL); PEXPIRE then renews it.
                let mut workers = s.health_workers.get(&key, now).cloned().unwrap_or_default();
                workers.insert(rec.worker_id.clone(), now + ttl);
                s.health_workers.set(&key, workers, Some(ttl), now);
                n
            }))
        })
    }

    /// health_close.lua
    fn health_close<'a>(
        &'a self,
        queue: &'a str,
        check_key: Option<&'a str>,
        worker_id: &'a str,
    ) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            Ok(self.step(|s, now| {
                let key = check_key.map_or_else(|| health_key(queue), str::to_owned);
                s.health.remove(&worker_health_key(&key, worker_id), now);
                let mut live = 0;
                let mut emptied = false;
                if let Some(workers) = s.health_workers.get_mut(&key, now) {
                    workers.remove(worker_id);
                    workers.retain(|_, expires| *expires > now);
                    live = workers.len() as u64;
                    emptied = workers.is_empty();
                }
                if emptied {
                    s.health_workers.remove(&key, now);
                }
                if live == 0 {
                    s.health.remove(&key, now);
                    s.health_workers.remove(&key, now);
                }
                live
            }))
        })
    }

    /// The `GET <queue>:health-check` of the Redis backend.
    fn health_read<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<Option<String>>> {
        Box::pin(
            async move { Ok(self.step(|s, now| s.health.get(&health_key(queue), now).cloned())) },
        )
    }

    /// The Redis backend's snooze step: fenced as retry is (the handed-back marker recognises
    /// a repeat).
    fn snooze<'a>(&'a self, req: &'a SnoozeRequest) -> BoxFuture<'a, Result<SnoozeOutcome>> {
        Box::pin(async move {
            Ok(self.step(|s, now| {
                let id = req.job_id.as_str();
                let count = s.snoozes.get(id, now).copied().unwrap_or(0);
                let cur = s.leases.get(id, now).cloned();
                if cur.as_deref() != Some(req.token.as_str()) {
                    // A repeat of a snooze that was applied (its reply was lost).
                    if cur.is_none()
                        && s.handed_back.get(id, now).map(String::as_str) == Some(&req.token)
                    {
                        return SnoozeOutcome::Snoozed(count);
                    }
                    if cur.is_some() || !s.jobs.contains(id, now) {
                        return SnoozeOutcome::Fenced;
                    }
                }
                if count >= req.max_snoozes {
                    return SnoozeOutcome::LimitReached(count);
                }
                let count = count.saturating_add(1);
                s.snoozes.set(id, count, Some(COUNTER_TTL_MS), now);
                // DECR keeps the counter's TTL; the try is given back, never below 0.
                if let Some(t) = s.tries.get_mut(id, now).filter(|t| **t > 0) {
                    *t -= 1;
                }
                // ZADD XX: never brings back a job deleted meanwhile.
                let defer_ms = req.defer_ms.max(1);
                if let Some(q) = s.queues.get_mut(&req.queue) {
                    q.update(id, now.saturating_add(defer_ms));
                }
                s.leases.remove(id, now);
                s.handed_back
                    .set(id, req.token.clone(), Some(COUNTER_TTL_MS), now);
                let defer = defer_ms.to_string();
                s.event(
                    &req.queue,
                    req.events,
                    now,
                    Event::new(EventKind::Snoozed, id)
                        .job_try(req.job_try)
                        .data(Some(defer.as_bytes())),
                );
                SnoozeOutcome::Snoozed(count)
            }))
        })
    }

    /// The Redis backend's progress step: only while the lease holds the caller's token.
    fn progress<'a>(&'a self, req: &'a ProgressRequest) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            Ok(self.step(|s, now| {
                let id = req.job_id.as_str();
                if s.leases.get(id, now) != Some(&req.token) {
                    return false;
                }
                s.progress.set(
                    id,
                    Bytes::copy_from_slice(&req.value),
                    Some(req.ttl_ms),
                    now,
                );
                s.event(
                    &req.queue,
                    req.events,
                    now,
                    Event::new(EventKind::Progress, id).data(Some(&req.value)),
                );
                true
            }))
        })
    }

    /// The `GET arq:progress:<id>` of the Redis backend.
    fn progress_read<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, Result<Option<Bytes>>> {
        Box::pin(async move { Ok(self.step(|s, now| s.progress.get(job_id, now).cloned())) })
    }

    /// The `XREAD COUNT <count> [BLOCK <ms>] STREAMS <queue>:events <id>` of the Redis
    /// backend: a blocked read sleeps until a step writes an event (any queue's; it then
    /// looks again) or its time is up. `count` 0 reads nothing and does not wait: `last_id`
    /// is the position (resolved to the stream's end for `after: None`), as the Redis
    /// backend answers it without an `XREAD`.
    fn events_read<'a>(&'a self, req: &'a EventsRead) -> BoxFuture<'a, Result<EventsPage>> {
        Box::pin(async move {
            let mut pos = match &req.after {
                None => None,
                Some(text) => Some(EventId::parse(text).ok_or_else(|| {
                    Error::InvalidArgument(format!("not an event stream id: {text:?}"))
                })?),
            };
            if req.count == 0 {
                let last_id = match &req.after {
                    Some(text) => text.clone(),
                    None => self.step(|s, _| {
                        s.events
                            .get(&req.queue)
                            .map_or(EventId::ZERO, EventStream::end)
                            .to_string()
                    }),
                };
                return Ok(EventsPage {
                    events: Vec::new(),
                    last_id,
                });
            }
            // `None`: too far off to matter; wait until an entry comes.
            let deadline =
                tokio::time::Instant::now().checked_add(Duration::from_millis(req.block_ms));
            loop {
                // Registered before the look, so an event written right after it still wakes.
                let woken = self.shared.events_written.notified();
                tokio::pin!(woken);
                woken.as_mut().enable();
                let (from, events) = self.step(|s, _| {
                    let stream = s.events.get(&req.queue);
                    let from =
                        *pos.get_or_insert_with(|| stream.map_or(EventId::ZERO, EventStream::end));
                    let events: Vec<_> = stream.map_or_else(Vec::new, |st| {
                        st.after(from, req.count).map(StoredEvent::entry).collect()
                    });
                    (from, events)
                });
                let done = !events.is_empty() || req.block_ms == 0;
                let timed_out = !done
                    && match deadline {
                        Some(at) => tokio::time::timeout_at(at, woken).await.is_err(),
                        None => {
                            woken.await;
                            false
                        }
                    };
                if done || timed_out {
                    let last_id = match events.last() {
                        Some(e) => e.id.clone(),
                        None => req.after.clone().unwrap_or_else(|| from.to_string()),
                    };
                    return Ok(EventsPage { events, last_id });
                }
            }
        })
    }

    /// The Redis backend's hooks claim: up to `limit` due hooks (at most
    /// 100 000; 0 takes none), oldest first, each leased again for at least 1 ms.
    /// A member without data is dropped and not counted.
    fn hooks_claim<'a>(
        &'a self,
        queue: &'a str,
        limit: usize,
        lease_ms: i64,
    ) -> BoxFuture<'a, Result<Vec<PendingHook>>> {
        Box::pin(async move {
            if limit == 0 {
                return Ok(Vec::new());
            }
            let limit = limit.min(MAX_HOOKS_CLAIM);
            Ok(self.step(|s, now| {
                let Some(set) = s.hooks.get_mut(queue) else {
                    return Vec::new();
                };
                let lease_end = now.saturating_add(lease_ms.max(1));
                let due: Vec<String> = set.order.up_to(now).map(|(_, id)| id.to_owned()).collect();
                let mut out = Vec::new();
                for id in due {
                    if out.len() >= limit {
                        break;
                    }
                    match set.data.get(&id) {
                        Some(record) => {
                            set.order.add(&id, lease_end);
                            out.push(PendingHook {
                                record: record.clone(),
                                job_id: id,
                            });
                        }
                        None => {
                            set.order.remove(&id);
                        }
                    }
                }
                if set.order.is_empty() {
                    s.hooks.remove(queue);
                }
                out
            }))
        })
    }

    /// The `ZREM <queue>:hooks <id>` + `HDEL <queue>:hooks:data <id>` of the Redis backend.
    fn hook_done<'a>(&'a self, queue: &'a str, job_id: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move { Ok(self.step(|s, _| s.hook_remove(queue, job_id))) })
    }

    /// A clone on the same store: the heartbeat's "connection of its own".
    fn standalone(&self) -> BoxFuture<'_, Result<Arc<dyn Backend>>> {
        let own: Arc<dyn Backend> = Arc::new(self.clone());
        Box::pin(async move { Ok(own) })
    }

    /// The pub/sub channels `<queue>:enqueued` and `<queue>:finished`, in-process: live once
    /// registered, until `stop` is cancelled.
    fn watch<'a>(
        &'a self,
        what: &'a Watch,
        on_message: OnMessage,
        stop: CancellationToken,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut listeners = self
                .shared
                .listeners
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            listeners.retain(|l| !l.stop.is_cancelled());
            listeners.push(Listener {
                what: what.clone(),
                on_message,
                stop,
            });
            Ok(())
        })
    }

    fn describe<'a>(&'a self) -> BoxFuture<'a, Result<String>> {
        let text = match &self.shared.name {
            Some(name) => format!("memory://{name} (in this process; nothing persists)"),
            None => "memory (in this process; nothing persists)".to_owned(),
        };
        Box::pin(async move { Ok(text) })
    }
}

impl Inspect for MemoryBackend {
    /// queue_page.lua
    fn queue_page<'a>(
        &'a self,
        queue: &'a str,
        offset: u64,
        limit: u64,
    ) -> BoxFuture<'a, Result<QueuePage>> {
        Box::pin(async move {
            if limit == 0 {
                return Ok(QueuePage {
                    now_ms: 0,
                    entries: Vec::new(),
                });
            }
            Ok(self.step(|s, now| {
                let skip = usize::try_from(offset).unwrap_or(usize::MAX);
                let take = usize::try_from(limit).unwrap_or(usize::MAX);
                let entries = s.queue(queue).map_or_else(Vec::new, |q| {
                    q.iter()
                        .skip(skip)
                        .take(take)
                        .map(|(score, id)| QueueEntry {
                            job_id: id.to_owned(),
                            score,
                            payload: s.jobs.get(id, now).cloned(),
                            in_progress: s.leases.contains(id, now),
                        })
                        .collect()
                });
                QueuePage {
                    now_ms: now,
                    entries,
                }
            }))
        })
    }

    /// queue_stats.lua
    fn queue_stats<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<QueueStats>> {
        Box::pin(async move {
            Ok(self.step(|s, now| {
                let q = s.queue(queue);
                let (due, running) = q.map_or((0, 0), |q| {
                    q.up_to(now)
                        .take(STATS_SCAN)
                        .fold((0, 0), |(due, running), (_, id)| {
                            (due + 1, running + u64::from(s.leases.contains(id, now)))
                        })
                });
                QueueStats {
                    now_ms: now,
                    total: q.map_or(0, |q| q.len() as u64),
                    deferred: q.map_or(0, |q| q.count_above(now) as u64),
                    running,
                    oldest_score: q.and_then(|q| q.iter().next().map(|(score, _)| score)),
                    running_capped: due >= STATS_SCAN,
                }
            }))
        })
    }

    /// The Redis backend's `SCAN … TYPE zset`: every non-empty queue, sorted.
    fn queues<'a>(&'a self) -> BoxFuture<'a, Result<Vec<String>>> {
        Box::pin(async move {
            Ok(self.step(|s, _| {
                let mut names: Vec<String> = s.queues.keys().cloned().collect();
                names.sort();
                names
            }))
        })
    }

    /// The Redis backend's `SCAN MATCH arq:result:*` + `MGET`, resumed after the last id of
    /// the page before.
    fn results<'a>(
        &'a self,
        cursor: Option<&'a str>,
        count: u64,
    ) -> BoxFuture<'a, Result<ResultsPage>> {
        Box::pin(async move {
            let after = match cursor {
                None => None,
                Some(c) => Some(c.strip_prefix(RESULTS_CURSOR).ok_or_else(|| {
                    Error::InvalidArgument(format!("not a results cursor of this backend: {c:?}"))
                })?),
            };
            let count = usize::try_from(count.max(1)).unwrap_or(usize::MAX);
            Ok(self.step(|s, now| {
                let mut walk = s.results.after(after, now);
                let results: Vec<(String, Bytes)> = walk
                    .by_ref()
                    .take(count)
                    .map(|(id, r)| (id.to_owned(), r.clone()))
                    .collect();
                let more = walk.next().is_some();
                let next = match results.last() {
                    Some((id, _)) if more => Some(format!("{RESULTS_CURSOR}{id}")),
                    _ => None,
                };
                ResultsPage { results, next }
            }))
        })
    }

    /// The Redis backend's `HKEYS <health key>:workers` + `GET <health key>:<worker id>`.
    fn workers<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<Vec<(String, String)>>> {
        Box::pin(async move {
            Ok(self.step(|s, now| {
                let key = health_key(queue);
                let mut out: Vec<(String, String)> = s
                    .health_workers
                    .get(&key, now)
                    .into_iter()
                    .flat_map(|w| w.keys())
                    .filter_map(|id| {
                        let record = s.health.get(&worker_health_key(&key, id), now)?;
                        Some((id.clone(), record.clone()))
                    })
                    .collect();
                out.sort();
                out
            }))
        })
    }

    /// delete.lua
    fn delete<'a>(&'a self, queue: &'a str, job_id: &'a str) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            Ok(self.step(|s, now| {
                let mut n = u64::from(s.queue_remove(queue, job_id));
                n += u64::from(s.jobs.remove(job_id, now));
                n += u64::from(s.results.remove(job_id, now));
                s.tries.remove(job_id, now);
                s.leases.remove(job_id, now);
                s.aborts.remove(job_id);
                s.progress.remove(job_id, now);
                n
            }))
        })
    }

    /// purge.lua
    fn purge<'a>(&'a self, queue: &'a str, batch: u64) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            Ok(self.step(|s, now| {
                let batch = batch.clamp(1, 100_000) as usize;
                let members: Vec<String> = s.queue(queue).map_or_else(Vec::new, |q| {
                    q.iter().take(batch).map(|(_, id)| id.to_owned()).collect()
                });
                let mut n = 0;
                for id in members {
                    if !s.leases.contains(&id, now) {
                        s.queue_remove(queue, &id);
                        s.jobs.remove(&id, now);
                        s.tries.remove(&id, now);
                        n += 1;
                    }
                }
                n
            }))
        })
    }
}

#[cfg(test)]
mod tests;
