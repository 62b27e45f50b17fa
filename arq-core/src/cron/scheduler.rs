//! The worker's side of cron: at each poll, enqueue the ticks that fall inside the look-ahead
//! window, on Redis's clock.
//!
//! The clock is Redis `TIME`, read with every enqueue step (and at least every
//! [`RESYNC`] when nothing is due); between readings the scheduler counts forward on the
//! monotonic clock, so the worker's own wall clock is never used to decide which tick is due.

use super::schedule::Compiled;
use super::{CronJob, CronTick, CronTickOutcome, CronTickRequest};
use crate::{now_ms, Error, JobRecord, Pool, Result, WorkerSettings};
use std::time::{Duration, Instant};

/// Read Redis's clock again after this long without an enqueue step.
const RESYNC: Duration = Duration::from_secs(10);

/// The clock skew a tick marker allows for (it outlives its tick by the schedule's period plus
/// twice the look-ahead plus twice this).
const SKEW_MARGIN_MS: i64 = 60_000;

/// Longest life of a tick marker (ten years: a schedule with rarer ticks still works, only a
/// start-up run that late is no longer de-duplicated).
const MAX_CLAIM_TTL_MS: i64 = 10 * 366 * 86_400_000;

/// At most this many ticks of one job per poll.
const MAX_TICKS_PER_POLL: usize = 100;

/// Warn when this machine's clock and Redis's differ by more than this.
const SKEW_WARNING_MS: i64 = 2_000;

/// Python arq's look-ahead: a tick is enqueued once it is due within `2 * max(poll_delay, 0.5 s)`.
pub(crate) fn lookahead(poll_delay: Duration) -> Duration {
    2 * poll_delay.max(Duration::from_millis(500))
}

/// Redis's clock at a moment of the monotonic clock.
#[derive(Debug, Clone, Copy)]
struct Clock {
    server_ms: i64,
    at: Instant,
}

struct Entry {
    job: CronJob,
    compiled: Compiled,
    /// The next tick to enqueue (ms), once started.
    next: Option<i64>,
    started: bool,
}

/// One tick about to be enqueued.
struct Planned {
    entry: usize,
    tick_ms: i64,
    job_id: String,
    claim_ttl_ms: Option<i64>,
}

/// The cron jobs of one worker and where each one is in its schedule.
pub(crate) struct Scheduler {
    queue: String,
    lookahead_ms: i64,
    skew_ms: i64,
    entries: Vec<Entry>,
    clock: Option<Clock>,
    warned_skew: bool,
}

impl Scheduler {
    /// The scheduler of a worker serving `queue`; fails on a cron job whose time zone or
    /// expression is invalid.
    pub(crate) fn new(settings: &WorkerSettings, queue: &str) -> Result<Self> {
        let entries = settings
            .cron_job_list()
            .into_iter()
            .map(|job| {
                Ok(Entry {
                    compiled: job.compile()?,
                    job,
                    next: None,
                    started: false,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if !entries.is_empty() {
            tracing::info!(
                queue,
                cron_jobs = ?entries.iter().map(|e| e.job.function_name()).collect::<Vec<_>>(),
                "cron scheduler ready"
            );
        }
        Ok(Scheduler {
            queue: queue.to_owned(),
            lookahead_ms: crate::time::duration_ms(lookahead(settings.poll_delay)),
            skew_ms: settings.cron.clock_skew_ms,
            entries,
            clock: None,
            warned_skew: false,
        })
    }

    /// Redis's clock now, as estimated from the last reading (plus the testing skew).
    fn now(&self, clock: Clock) -> i64 {
        clock.server_ms + crate::time::duration_ms(clock.at.elapsed()) + self.skew_ms
    }

    /// One poll: enqueue every tick due within the look-ahead window. Errors are logged and
    /// the same ticks are tried again at the next poll.
    pub(crate) async fn poll(&mut self, pool: &Pool) {
        if self.entries.is_empty() {
            return;
        }
        let clock = match self.clock {
            Some(c) if c.at.elapsed() < RESYNC => c,
            _ => match self.call(pool, Vec::new()).await {
                Ok(_) => self.clock.expect("set by the call"),
                Err(e) => {
                    tracing::warn!(queue = %self.queue, "cron: reading the clock of redis failed: {e}");
                    return;
                }
            },
        };
        let now = self.now(clock);
        let (planned, nexts) = self.plan(now);
        if planned.is_empty() {
            self.commit(nexts);
            return;
        }
        let mut ticks = Vec::with_capacity(planned.len());
        for p in &planned {
            let record = JobRecord {
                job_try: None,
                function: self.entries[p.entry].job.function_name().to_owned(),
                args: Vec::new(),
                kwargs: Vec::new(),
                enqueue_time_ms: now,
            };
            let payload = match pool.codec().encode(&record.to_value()) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(job_id = %p.job_id, "cron: could not encode the job: {e}");
                    return;
                }
            };
            ticks.push(CronTick {
                job_id: p.job_id.clone(),
                tick_ms: p.tick_ms,
                payload,
                claim_ttl_ms: p.claim_ttl_ms,
            });
        }
        match self.call(pool, ticks).await {
            Ok(outcomes) => {
                for (p, outcome) in planned.iter().zip(outcomes) {
                    let due_in = (p.tick_ms - now) as f64 / 1000.0;
                    match outcome {
                        CronTickOutcome::Enqueued => {
                            tracing::debug!(job_id = %p.job_id, "cron: enqueued, due in {due_in:.2}s")
                        }
                        CronTickOutcome::AlreadyClaimed => {
                            tracing::debug!(job_id = %p.job_id, "cron: tick already claimed by another worker")
                        }
                        CronTickOutcome::JobExists => {
                            tracing::debug!(job_id = %p.job_id, "cron: job already enqueued (by a worker without tick markers)")
                        }
                    }
                }
                self.commit(nexts);
            }
            Err(e) => {
                tracing::warn!(queue = %self.queue, "cron: enqueueing ticks failed, retrying at the next poll: {e}")
            }
        }
    }

    /// The ticks to enqueue now, and each job's next tick afterwards.
    fn plan(&self, now: i64) -> (Vec<Planned>, Vec<Option<i64>>) {
        let mut planned = Vec::new();
        let mut nexts = Vec::with_capacity(self.entries.len());
        for (i, e) in self.entries.iter().enumerate() {
            let mut next = e.next;
            if !e.started {
                if e.job.runs_at_startup() {
                    // The tick due now: the same on every worker that starts before the next
                    // one, so they run it once.
                    let tick = if e.job.is_unique() {
                        e.compiled.at_or_before(now).unwrap_or(now)
                    } else {
                        now
                    };
                    planned.push(self.planned(i, tick));
                }
                next = e.compiled.next_after(now);
            } else if let Some(t) = next {
                if t < now - self.lookahead_ms {
                    let resume = e.compiled.next_after(now - self.lookahead_ms);
                    tracing::warn!(
                        cron_job = e.job.function_name(),
                        "cron: missed the tick of {} (the worker or redis stalled); ticks are \
                         not caught up, resuming with the next one",
                        crate::ms_to_datetime(t)
                    );
                    next = resume;
                }
            }
            let mut n = 0;
            while let Some(t) = next {
                if t >= now + self.lookahead_ms || n >= MAX_TICKS_PER_POLL {
                    break;
                }
                planned.push(self.planned(i, t));
                next = e.compiled.next_after(t);
                n += 1;
            }
            nexts.push(next);
        }
        (planned, nexts)
    }

    fn planned(&self, entry: usize, tick_ms: i64) -> Planned {
        let e = &self.entries[entry];
        let (job_id, claim_ttl_ms) = if e.job.is_unique() {
            // The marker must outlive every attempt at this tick: the normal ones (within the
            // look-ahead and any skew around it) and a start-up run up to a period later.
            let period = e
                .compiled
                .next_after(tick_ms)
                .map_or(86_400_000, |n| n - tick_ms);
            let ttl = period
                .saturating_add(2 * self.lookahead_ms + 2 * SKEW_MARGIN_MS)
                .min(MAX_CLAIM_TTL_MS);
            (format!("{}:{tick_ms}", e.job.function_name()), Some(ttl))
        } else {
            (uuid::Uuid::new_v4().simple().to_string(), None)
        };
        Planned {
            entry,
            tick_ms,
            job_id,
            claim_ttl_ms,
        }
    }

    fn commit(&mut self, nexts: Vec<Option<i64>>) {
        for (e, next) in self.entries.iter_mut().zip(nexts) {
            e.next = next;
            e.started = true;
        }
    }

    /// One backend step; reads Redis's clock from its reply.
    async fn call(&mut self, pool: &Pool, ticks: Vec<CronTick>) -> Result<Vec<CronTickOutcome>> {
        let n = ticks.len();
        let req = CronTickRequest {
            queue: self.queue.clone(),
            ticks,
        };
        let sent = Instant::now();
        let reply = pool.backend().cron_tick(&req).await?;
        let half_trip = sent.elapsed() / 2;
        self.clock = Some(Clock {
            server_ms: reply.now_ms,
            at: sent + half_trip,
        });
        let skew = now_ms() - crate::time::duration_ms(half_trip) - reply.now_ms;
        if skew.abs() > SKEW_WARNING_MS && !self.warned_skew {
            self.warned_skew = true;
            tracing::warn!(
                "clock skew of {}s between this machine and redis; cron ticks and due times \
                 use redis's clock",
                skew / 1000
            );
        }
        if reply.outcomes.len() != n {
            return Err(Error::backend(format!(
                "cron_tick answered {} outcomes for {n} ticks",
                reply.outcomes.len()
            )));
        }
        Ok(reply.outcomes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Args, BoxFuture, CronSchedule, Ctx, JobError, Value};

    fn handler(_: Ctx, _: Args) -> BoxFuture<'static, std::result::Result<Value, JobError>> {
        Box::pin(async { Ok(Value::Nil) })
    }

    fn scheduler(jobs: Vec<CronJob>, poll: Duration) -> Scheduler {
        let settings = WorkerSettings::new().poll_delay(poll).cron_jobs(jobs);
        Scheduler::new(&settings, "q").unwrap()
    }

    fn every_second(name: &str) -> CronJob {
        CronJob::new(name, CronSchedule::new().second(0..60).unwrap(), handler)
            .timezone("UTC")
            .unwrap()
    }

    const T0: i64 = 1_795_904_913_500; // xx:xx:13.500

    #[test]
    fn lookahead_is_pythons() {
        assert_eq!(lookahead(Duration::from_millis(20)), Duration::from_secs(1));
        assert_eq!(lookahead(Duration::from_secs(2)), Duration::from_secs(4));
    }

    #[test]
    fn enqueues_ticks_inside_the_window_with_python_ids() {
        let mut s = scheduler(vec![every_second("tick")], Duration::from_millis(20));
        // First poll: ticks due within 1 s (14.123).
        let (planned, nexts) = s.plan(T0);
        let ids: Vec<_> = planned.iter().map(|p| p.job_id.as_str()).collect();
        assert_eq!(ids, ["cron:tick:1795904914123"]);
        assert_eq!(planned[0].tick_ms, 1_795_904_914_123);
        // Period 1 s + 2 * look-ahead + 2 * 60 s.
        assert_eq!(planned[0].claim_ttl_ms, Some(1_000 + 2_000 + 120_000));
        s.commit(nexts);
        // Nothing new until the next tick comes within the window.
        assert!(s.plan(T0 + 100).0.is_empty());
        let (planned, _) = s.plan(T0 + 700);
        assert_eq!(planned[0].job_id, "cron:tick:1795904915123");
    }

    #[test]
    fn run_at_startup_uses_the_tick_due_now() {
        let job = CronJob::new("hourly", CronSchedule::new().minute(0).unwrap(), handler)
            .timezone("UTC")
            .unwrap()
            .run_at_startup(true);
        let s = scheduler(vec![job], Duration::from_millis(500));
        // Two workers starting a few seconds apart compute the same id.
        let a = s.plan(T0).0;
        let b = s.plan(T0 + 5_000).0;
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].job_id, b[0].job_id);
        let hour_start = T0 - T0.rem_euclid(3_600_000) + 123;
        assert_eq!(a[0].tick_ms, hour_start);
        assert_eq!(a[0].job_id, format!("cron:hourly:{hour_start}"));
        // Its marker outlives the next tick.
        assert!(a[0].claim_ttl_ms.unwrap() > 3_600_000);
    }

    #[test]
    fn not_unique_uses_random_ids_and_no_marker() {
        let s = scheduler(
            vec![every_second("loose").unique(false).run_at_startup(true)],
            Duration::from_millis(500),
        );
        let (planned, _) = s.plan(T0);
        assert_eq!(planned.len(), 2);
        assert!(planned.iter().all(|p| p.claim_ttl_ms.is_none()));
        assert_eq!(planned[0].job_id.len(), 32);
        assert_ne!(planned[0].job_id, planned[1].job_id);
    }

    #[test]
    fn missed_ticks_are_skipped_not_caught_up() {
        let mut s = scheduler(vec![every_second("tick")], Duration::from_millis(20));
        let (_, nexts) = s.plan(T0);
        s.commit(nexts);
        // The worker stalls for a minute.
        let (planned, _) = s.plan(T0 + 60_000);
        let ticks: Vec<_> = planned.iter().map(|p| p.tick_ms).collect();
        // Only ticks within the window around now: the one just past (within the look-ahead)
        // and the next one.
        assert_eq!(ticks, [1_795_904_973_123, 1_795_904_974_123]);
    }

    #[test]
    fn bad_time_zone_stops_the_worker_at_start() {
        const BAD: CronJob = CronJob::__from_macro(
            crate::Function::new("cron:bad", handler),
            CronSchedule::new(),
            Some("Not/AZone"),
            false,
            true,
        );
        let settings = WorkerSettings::new().cron_jobs([BAD]);
        let err = Scheduler::new(&settings, "q").err().unwrap().to_string();
        assert!(
            err.contains("cron job \"cron:bad\": unknown time zone"),
            "{err}"
        );
    }
}
