//! The storage contract: [`Backend`], the flow of a job as one atomic step per verb, and
//! [`Inspect`], the optional capability of listing and steering queues.
//!
//! The steps have one name each, here, in the worker and in the Redis backend's Lua files:
//! enqueue → claim → (heartbeat) → finish, or retry, or release; abort; cron tick; and the
//! reads (status, result). `arq-redis` implements the contract on Python arq's keys, one Lua
//! script per step; `MemoryBackend` implements it in the process. Times are integer
//! milliseconds since the epoch; policy numbers (leases, free releases, when a recovery runs
//! alone) come in the requests, so a backend decides nothing on its own.

pub use crate::cron::{CronTick, CronTickOutcome, CronTickReply, CronTickRequest};
use crate::Result;
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;

/// A boxed, `Send` future, as returned by [`Backend`] methods (async fns in traits are not
/// object safe, and the pool holds the backend as `Arc<dyn Backend>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// When a job becomes due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defer {
    /// Due now.
    None,
    /// Due this many ms after the enqueue time: the record's `et`
    /// ([`EnqueueRequest::enqueue_time_ms`]), as in Python arq, when it agrees with the
    /// backend's clock; otherwise this many ms after the backend's clock reads the enqueue.
    By(i64),
    /// Due at this absolute time, ms since the epoch.
    At(i64),
}

/// One job to add to a queue.
#[derive(Debug, Clone)]
pub struct EnqueueRequest {
    /// The job id.
    pub job_id: String,
    /// The queue (a sorted set).
    pub queue: String,
    /// The encoded job record.
    pub payload: Vec<u8>,
    /// When it becomes due; see [`Defer`] for the clock the score is computed from.
    pub defer: Defer,
    /// The enqueue time written in the record (`et`), ms since the epoch, from the client's
    /// clock. Python arq scores a job at `et` (+ `defer_by`); a backend does the same while
    /// this agrees with its own clock, and uses its clock when they disagree, so a skewed
    /// client cannot make a job due early or late.
    pub enqueue_time_ms: i64,
    /// The job key's time to live in ms; `None` for arq's default
    /// (`score - now + 86_400_000`).
    pub expires_ms: Option<i64>,
    /// Replace an existing result (and reset the try counter) instead of refusing the id:
    /// re-running a finished job. A job record with the id is still refused.
    pub replace_result: bool,
    /// Write an `enqueued` event to the queue's event stream, kept to about this many
    /// entries; `None` writes none ([`EventKind`]).
    pub events: Option<u64>,
}

/// What [`Backend::result`] reads in one step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultRead {
    /// The encoded result record, if one is stored.
    pub result: Option<Bytes>,
    /// How long the result record has left, read with it.
    pub ttl: ResultTtl,
    /// The job's score in the queue (ms), if it has an entry.
    pub score: Option<i64>,
}

/// How long a stored result has left.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResultTtl {
    /// Kept until deleted (`keep_result_forever`).
    Forever,
    /// Expires after this many ms.
    Ms(i64),
    /// Not known: there is no result, or the backend may not read it (a Redis user without
    /// `PTTL` on result keys).
    #[default]
    Unknown,
}

/// One page of a walk over the stored results ([`Inspect::results`]).
#[derive(Debug, Clone, Default)]
pub struct ResultsPage {
    /// `(job id, encoded result record)`, in no particular order.
    pub results: Vec<(String, Bytes)>,
    /// Where the next page starts; `None` when the walk is done. Opaque: pass it back as it is.
    pub next: Option<String>,
}

/// One entry of a queue, as [`Inspect::queue_page`] reads it.
#[derive(Debug, Clone)]
pub struct QueueEntry {
    /// The job id.
    pub job_id: String,
    /// Its score (ms).
    pub score: i64,
    /// The job record; `None` when the job key is gone.
    pub payload: Option<Bytes>,
    /// A worker holds it.
    pub in_progress: bool,
}

/// A page of a queue, with the backend's clock.
#[derive(Debug, Clone)]
pub struct QueuePage {
    /// The backend's clock, ms.
    pub now_ms: i64,
    /// The entries, in score order.
    pub entries: Vec<QueueEntry>,
}

/// Counts of a queue by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueStats {
    /// The backend's clock, ms.
    pub now_ms: i64,
    /// All entries (queued, deferred and running).
    pub total: u64,
    /// Entries not due yet.
    pub deferred: u64,
    /// Due entries a worker holds (counted among the first 10 000 due entries).
    pub running: u64,
    /// The lowest score, if the queue is not empty.
    pub oldest_score: Option<i64>,
    /// The running count stopped at its scan limit.
    pub running_capped: bool,
}

/// A request to claim up to `limit` due jobs of a queue and start them, in one step.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    /// The queue.
    pub queue: String,
    /// How many jobs to claim at most (the worker's free slots).
    pub limit: usize,
    /// How many due entries to look at at most (`queue_read_limit`); running jobs stay in the
    /// queue and are skipped.
    pub scan_limit: usize,
    /// Prefix of the fencing token written to each claimed job's in-progress key (unique per
    /// worker); the backend appends `seq` and the job's place in the batch, so every attempt
    /// has its own token.
    pub token_prefix: String,
    /// This worker's claim counter, different for every claim it makes.
    pub seq: u64,
    /// The worker runs nothing: it may take a recovery (a job whose last worker died), which
    /// then runs alone.
    pub idle: bool,
    /// From which try on a recovery runs alone ([`ClaimedJob::alone`]); see
    /// [`RECOVERY_ALONE_FROM_TRY`].
    pub alone_from_try: i64,
    /// The in-progress lease for each claimed job, in ms.
    pub lease_ms: i64,
    /// Whether to consume abort markers (a marked job is reported as `aborted`).
    pub check_abort: bool,
    /// Write a `started` event per claimed job (stream length as in
    /// [`EnqueueRequest::events`]); `None` writes none.
    pub events: Option<u64>,
}

/// A job the worker now owns.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    /// The job id.
    pub job_id: String,
    /// Its score when claimed (ms).
    pub score: i64,
    /// The job record, or `None` when the job key had expired or was deleted.
    pub payload: Option<Bytes>,
    /// The try counter after this claim (first run: 1).
    pub job_try: i64,
    /// The fencing token now held in the in-progress key.
    pub token: String,
    /// When an abort of this id was requested (ms), if a marker was found (and consumed).
    /// The worker ignores a marker much older than the job's enqueue time: it was meant for an
    /// earlier job with the same id.
    pub abort_marker_ms: Option<i64>,
    /// The previous attempt ended without an outcome and without handing the job back: its
    /// worker died or lost the lease (this claim is a recovery). Jobs retried by a Python arq
    /// worker also read as recovered, since Python leaves no marker.
    pub recovered: bool,
    /// A recovery from try [`ClaimRequest::alone_from_try`] on (by default 3: its worker died
    /// at least twice): it was claimed alone, by an idle worker, and nothing else should be claimed while it runs, so a job that kills its
    /// worker takes no other job down with it.
    pub alone: bool,
    /// Why the job record could not be read (e.g. the key holds another type), if so.
    pub payload_error: Option<String>,
}

/// What a claim took.
#[derive(Debug, Clone, Default)]
pub struct Claimed {
    /// The jobs now held.
    pub jobs: Vec<ClaimedJob>,
    /// A due recovery was left queued for an idle worker: stop claiming until idle.
    pub recovery_waiting: bool,
}

/// How to abort a job.
#[derive(Debug, Clone)]
pub struct AbortRequest {
    /// The queue.
    pub queue: String,
    /// The job id.
    pub job_id: String,
    /// The aborted result to store when the job is removed before it ran (`None`: none).
    pub result: Option<Vec<u8>>,
    /// That result's time to live in ms; `None` keeps it forever.
    pub keep_result_ms: Option<i64>,
    /// Write an `aborted` event when the job is removed before it ran; `None` writes none.
    pub events: Option<u64>,
}

/// What an abort found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AbortOutcome {
    /// The job was queued or deferred: it was removed and will never run.
    Aborted,
    /// The job is running: its worker was asked to cancel it.
    Requested,
    /// The job had already finished.
    Finished,
    /// No such job.
    NotFound,
}

/// One heartbeat of a worker: renew the leases it holds and check that the dataset it
/// started on is still there.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    /// The leases to renew.
    pub leases: Vec<Lease>,
    /// The dataset generation this worker saw before (`None` on its first heartbeat).
    pub generation: Option<String>,
}

/// What a heartbeat found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatReply {
    /// For each lease of the request, in order: whether it was renewed (the token still
    /// matched). `false` means the job is no longer this worker's.
    pub renewed: Vec<bool>,
    /// The dataset generation now (created when missing). A value different from the one
    /// sent means the dataset was reset (a restart without persistence, FLUSHALL).
    pub generation: String,
}

/// Push notifications a backend can deliver (see [`Backend::watch`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watch {
    /// A job became due on this queue (enqueued by this crate's client with no deferral);
    /// the message is empty. Idle workers claim at once instead of at their next poll.
    Enqueued(String),
    /// A job of this queue finished (its outcome was stored by this crate's worker); the
    /// message is the job id. Waiting `Job::result` calls read the result at once.
    Finished(String),
}

/// A callback for [`Backend::watch`] messages.
pub type OnMessage = std::sync::Arc<dyn Fn(&[u8]) + Send + Sync>;

/// How many shutdown releases of one job give its try back; later ones count (so a job that
/// somehow brings every worker down at shutdown still runs out of tries).
pub const FREE_RELEASES: u32 = 3;

/// How far a record's `et` (the client's clock) may be from the backend's clock and still be
/// what a job is scored from, as Python arq scores it; past it, the backend's clock is used.
pub const TRUSTED_CLOCK_SKEW_MS: i64 = 2_000;

/// A job key's default extra life past its score (Python arq's `expires_extra_ms`).
pub const JOB_EXPIRES_EXTRA_MS: i64 = 86_400_000;

/// The life of a job's try counter (Python arq's `EXPIRE 88400` on `arq:retry:<id>`), and of
/// the markers that go with it (handed back, release count).
pub const TRY_COUNTER_TTL_MS: i64 = 88_400_000;

/// From which try on a recovered job (its last worker died) runs alone on an idle worker, so
/// a job that kills its worker takes no other job with it.
pub const RECOVERY_ALONE_FROM_TRY: i64 = 3;

/// A lease to set on a job the caller holds, fenced by its token.
#[derive(Debug, Clone)]
pub struct Lease {
    /// The job id.
    pub job_id: String,
    /// The token the caller holds.
    pub token: String,
    /// The new time to live of the in-progress key, ms.
    pub ms: i64,
}

/// How to finish a job: store its result (or not) and remove it from the queue.
#[derive(Debug, Clone)]
pub struct FinishRequest {
    /// The queue.
    pub queue: String,
    /// The job id.
    pub job_id: String,
    /// The token the worker holds.
    pub token: String,
    /// The encoded result record, or `None` to store nothing.
    pub result: Option<Vec<u8>>,
    /// The result's time to live in ms; `None` keeps it forever.
    pub keep_result_ms: Option<i64>,
    /// Keep the in-progress key this many ms instead of deleting it (Python arq does this for
    /// cron jobs, 60 000 ms).
    pub keep_in_progress_ms: Option<i64>,
    /// How the run ended (the event written, and what a final failure adds).
    pub outcome: FinishOutcome,
    /// The try this run counted as (written in the event).
    pub job_try: i64,
    /// A final failure's dead letter and pending failure hook, if any: written in the same
    /// step, so they exist exactly when the job's outcome does.
    pub failure: Option<FinalFailure>,
    /// Write a `completed`, `failed` or `aborted` event (and `dead` when a dead letter is
    /// added); `None` writes none. The event's data is [`FinishRequest::error`].
    pub events: Option<u64>,
    /// The error text for the event (`"Class: message"`), for failures.
    pub error: Option<String>,
}

/// How a finished run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FinishOutcome {
    /// It returned a value.
    #[default]
    Completed,
    /// It failed for good (an error, a timeout, no tries left, a bad payload, ...).
    Failed,
    /// It was aborted.
    Aborted,
}

/// What a final failure leaves besides its result: a dead letter and a pending failure hook.
#[derive(Debug, Clone)]
pub struct FinalFailure {
    /// The job record as it was claimed (kept in the dead letter so a requeue runs the very
    /// same job); `None` when the job key was gone.
    pub job: Option<Bytes>,
    /// The encoded result record of the failure (what the dead letter and the hook read).
    pub record: Vec<u8>,
    /// Add a dead letter to the queue's dead set, trimmed to these limits; `None` adds none.
    pub dead: Option<DeadLimits>,
    /// Leave a pending failure hook, leased to this worker for this many ms (another worker
    /// runs it if the lease runs out before [`Backend::hook_done`]); `None` leaves none.
    pub hook_lease_ms: Option<i64>,
}

/// The bounds of a queue's dead set: the oldest letters go first once either is passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadLimits {
    /// At most this many letters.
    pub max_len: u64,
    /// Letters older than this (ms) are dropped.
    pub max_age_ms: i64,
}

/// How to hand a held job back at shutdown ([`Backend::release`]).
#[derive(Debug, Clone)]
pub struct ReleaseRequest {
    /// The job id.
    pub job_id: String,
    /// The token the worker holds.
    pub token: String,
    /// How many releases of this job give its try back ([`FREE_RELEASES`]).
    pub free_releases: u32,
}

/// How to store the try a run counts as, when the job record's `t` is ahead of the backend's
/// counter (a client enqueued it with `job_try`; Python arq does the same).
#[derive(Debug, Clone)]
pub struct SetTryRequest {
    /// The job id.
    pub job_id: String,
    /// The try this run counts as.
    pub job_try: i64,
}

/// One worker's health record ([`Backend::health`]).
#[derive(Debug, Clone)]
pub struct HealthRecord {
    /// The queue the worker serves.
    pub queue: String,
    /// The shared record's key when the worker's settings name one
    /// (`WorkerSettings::health_check_key`); `None` for the queue's own.
    pub check_key: Option<String>,
    /// This worker's id.
    pub worker_id: String,
    /// Python arq's record text, without the `queued=N` the backend appends.
    pub text: String,
    /// How long the record lives, ms.
    pub ttl_ms: i64,
}

/// How to put a job back for another try.
#[derive(Debug, Clone)]
pub struct RetryRequest {
    /// The queue.
    pub queue: String,
    /// The job id.
    pub job_id: String,
    /// The token the worker holds.
    pub token: String,
    /// Run again this many ms from now; 0 leaves the score as it is (runs at the next poll).
    pub defer_ms: i64,
    /// The try that just ended (written in the `retried` event).
    pub job_try: i64,
    /// Write a `retried` event (its data: [`RetryRequest::error`]); `None` writes none.
    pub events: Option<u64>,
    /// Why it is retried (`"Class: message"`), for the event.
    pub error: Option<String>,
}

/// How to snooze a held job: run it again later without spending a try
/// ([`Backend::snooze`]).
#[derive(Debug, Clone)]
pub struct SnoozeRequest {
    /// The queue.
    pub queue: String,
    /// The job id.
    pub job_id: String,
    /// The token the worker holds.
    pub token: String,
    /// Run again this many ms from the backend's now (at least 1).
    pub defer_ms: i64,
    /// How many snoozes the job may take in all; past it the snooze is refused
    /// ([`SnoozeOutcome::LimitReached`]) and nothing changes.
    pub max_snoozes: u32,
    /// The try that just ended (written in the `snoozed` event).
    pub job_try: i64,
    /// Write a `snoozed` event; `None` writes none.
    pub events: Option<u64>,
}

/// What a snooze did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnoozeOutcome {
    /// Rescheduled, the try given back; the job has now snoozed this many times.
    Snoozed(u32),
    /// The job has snoozed `max_snoozes` times already: nothing changed, the caller fails it.
    LimitReached(u32),
    /// The token is stale: nothing changed.
    Fenced,
}

/// How to store a running job's progress ([`Backend::progress`]).
#[derive(Debug, Clone)]
pub struct ProgressRequest {
    /// The queue.
    pub queue: String,
    /// The job id.
    pub job_id: String,
    /// The token the worker holds (a stale worker's progress is refused).
    pub token: String,
    /// The encoded progress value (the pool's codec).
    pub value: Vec<u8>,
    /// How long the progress is kept, ms.
    pub ttl_ms: i64,
    /// Write a `progress` event (its data: the value); `None` writes none.
    pub events: Option<u64>,
}

/// The kinds of events in a queue's event stream ([`Backend::events_read`]).
///
/// Each is written in the same atomic step as the change it reports, so a reader sees them in
/// the order the changes happened. Python arq workers and clients write none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// A job was enqueued.
    Enqueued,
    /// A worker claimed the job and starts it.
    Started,
    /// The job reported progress (data: the encoded value).
    Progress,
    /// The job will run again (data: the error text).
    Retried,
    /// The job snoozed: it runs again later, its try given back.
    Snoozed,
    /// The job returned a value.
    Completed,
    /// The job failed for good (data: the error text).
    Failed,
    /// The failed job went to the dead set (data: the error text).
    Dead,
    /// The job was aborted.
    Aborted,
    /// A dead job was put back in its queue.
    Requeued,
}

impl EventKind {
    /// Every kind, in lifecycle order.
    pub const ALL: [EventKind; 10] = [
        EventKind::Enqueued,
        EventKind::Started,
        EventKind::Progress,
        EventKind::Retried,
        EventKind::Snoozed,
        EventKind::Completed,
        EventKind::Failed,
        EventKind::Dead,
        EventKind::Aborted,
        EventKind::Requeued,
    ];

    /// The name stored in the stream (`"enqueued"`, `"started"`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::Enqueued => "enqueued",
            EventKind::Started => "started",
            EventKind::Progress => "progress",
            EventKind::Retried => "retried",
            EventKind::Snoozed => "snoozed",
            EventKind::Completed => "completed",
            EventKind::Failed => "failed",
            EventKind::Dead => "dead",
            EventKind::Aborted => "aborted",
            EventKind::Requeued => "requeued",
        }
    }

    /// The kind a stored name stands for.
    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of a queue's event stream, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventEntry {
    /// The entry's id in the stream (`"<ms>-<seq>"` on Redis); resume after it.
    pub id: String,
    /// When it was written, ms since the epoch (the backend's clock).
    pub time_ms: i64,
    /// What happened.
    pub kind: EventKind,
    /// The job.
    pub job_id: String,
    /// The try, where the step knows it.
    pub job_try: Option<i64>,
    /// The event's data: the encoded progress value, or an error text.
    pub data: Option<Bytes>,
}

/// A read of a queue's event stream.
#[derive(Debug, Clone)]
pub struct EventsRead {
    /// The queue.
    pub queue: String,
    /// Read the entries after this id; `None` reads only entries written after the call (the
    /// stream's current end).
    pub after: Option<String>,
    /// At most this many entries.
    pub count: usize,
    /// Wait up to this many ms for an entry when there is none yet (0: do not wait).
    pub block_ms: u64,
}

/// What an events read got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventsPage {
    /// The entries, oldest first.
    pub events: Vec<EventEntry>,
    /// Where the next read resumes: the last entry's id, or the position read from.
    pub last_id: String,
}

/// One failure hook waiting to run ([`Backend::hooks_claim`]).
#[derive(Debug, Clone)]
pub struct PendingHook {
    /// The job id.
    pub job_id: String,
    /// The encoded result record of the failure.
    pub record: Bytes,
}

/// A dead letter: a job that failed for good, as its queue's dead set keeps it.
#[derive(Debug, Clone)]
pub struct DeadEntry {
    /// The job id.
    pub job_id: String,
    /// When it was added, ms since the epoch (the backend's clock).
    pub died_ms: i64,
    /// The job record as it was claimed, if it was there.
    pub job: Option<Bytes>,
    /// The encoded result record of the failure.
    pub record: Option<Bytes>,
}

/// A page of a queue's dead set, newest first.
#[derive(Debug, Clone)]
pub struct DeadPage {
    /// The backend's clock, ms.
    pub now_ms: i64,
    /// How many letters the dead set holds.
    pub total: u64,
    /// The page.
    pub entries: Vec<DeadEntry>,
}

/// What a requeue of one dead letter did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequeueOutcome {
    /// Back in its queue, due now, tries reset; the dead letter and the failed result are gone.
    Requeued,
    /// No such dead letter.
    NotFound,
    /// A job with that id is queued or running again: the letter stays.
    JobExists,
    /// The letter holds no job record (the job key was gone when it failed): it stays.
    NoRecord,
}

/// The three facts `Job.status()` is decided from, read atomically.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawStatus {
    /// The result key exists.
    pub result_exists: bool,
    /// The in-progress key exists.
    pub in_progress: bool,
    /// The job's score in the queue (ms), if it is there.
    pub score: Option<i64>,
    /// The backend's clock, ms.
    pub now_ms: i64,
}

/// Storage for queues, jobs and results: the flow of one job.
///
/// Every method is a single atomic step, so a worker of this crate and a Python arq worker can
/// share one queue. Writes made on behalf of a claimed job are fenced by its token: a worker
/// that lost its lease cannot overwrite its successor's work. What a backend may lack has a
/// default that says so ([`Error::Unsupported`](crate::Error::Unsupported)): push wake-ups,
/// a standalone connection, server checks, and [`Inspect`].
pub trait Backend: Send + Sync + 'static {
    /// A short name for logs and errors (`"redis"`, `"memory"`).
    fn name(&self) -> &'static str;

    // --- the flow of one job ---------------------------------------------------------------

    /// Enqueue: adds a job unless a job or result with its id exists. Returns whether it was
    /// added.
    fn enqueue<'a>(&'a self, req: &'a EnqueueRequest) -> BoxFuture<'a, Result<bool>>;

    /// Claim: takes and starts up to `limit` due jobs (sets their in-progress lease, counts
    /// the try, reads the job record), in one step.
    fn claim<'a>(&'a self, req: &'a ClaimRequest) -> BoxFuture<'a, Result<Claimed>>;

    /// Stores the try a run counts as when the job record's `t` is ahead of the counter.
    fn set_try<'a>(&'a self, req: &'a SetTryRequest) -> BoxFuture<'a, Result<()>>;

    /// Heartbeat: renews the leases of held jobs (a job whose token no longer matches is
    /// skipped) and reads the dataset generation, in one step.
    fn heartbeat<'a>(&'a self, hb: &'a Heartbeat) -> BoxFuture<'a, Result<HeartbeatReply>>;

    /// Finish: stores each job's outcome and removes it from its queue, for a batch of jobs
    /// in one step; one flag per request, `false` (and nothing written) when its token is
    /// stale.
    fn finish<'a>(&'a self, reqs: &'a [FinishRequest]) -> BoxFuture<'a, Result<Vec<bool>>>;

    /// Retry: reschedules a held job and drops its lease. Returns `false` when the token is
    /// stale.
    fn retry<'a>(&'a self, req: &'a RetryRequest) -> BoxFuture<'a, Result<bool>>;

    /// Release: drops the lease of a held job without touching its queue entry (shutdown),
    /// handing back the try the claim counted, up to `free_releases` times per job. Returns
    /// `false` when the token is stale.
    fn release<'a>(&'a self, req: &'a ReleaseRequest) -> BoxFuture<'a, Result<bool>>;

    /// Abort: removes a job that has not started, or asks its worker to cancel it.
    fn abort<'a>(&'a self, req: &'a AbortRequest) -> BoxFuture<'a, Result<AbortOutcome>>;

    /// Which of these held jobs have an abort request, and since when (ms): the worker's side
    /// of [`Backend::abort`].
    fn abort_requests<'a>(
        &'a self,
        job_ids: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<(String, i64)>>>;

    /// Cron tick: enqueues cron ticks, each at most once across every worker and every
    /// clock. A tick of a unique cron job is claimed with a marker (kept `claim_ttl_ms`) in
    /// the same atomic step, and a tick claimed before, or whose job or result exists,
    /// enqueues nothing. The score is the tick, or the backend's clock if that is later.
    /// Replies with the backend's clock (an empty request only reads it).
    fn cron_tick<'a>(&'a self, req: &'a CronTickRequest) -> BoxFuture<'a, Result<CronTickReply>>;

    // --- reads -----------------------------------------------------------------------------

    /// Status: reads what `Job.status()` needs, atomically.
    fn status<'a>(&'a self, queue: &'a str, job_id: &'a str) -> BoxFuture<'a, Result<RawStatus>>;

    /// Result: reads the result record, its time to live and the queue score together, in
    /// one step.
    fn result<'a>(&'a self, queue: &'a str, job_id: &'a str) -> BoxFuture<'a, Result<ResultRead>>;

    /// Reads a job record.
    fn job_record<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, Result<Option<Bytes>>>;

    /// Reads a job's score in a queue (ms).
    fn score<'a>(&'a self, queue: &'a str, job_id: &'a str) -> BoxFuture<'a, Result<Option<i64>>>;

    /// Number of entries in a queue (queued, deferred and running).
    fn queue_size<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64>>;

    // --- health ----------------------------------------------------------------------------

    /// Health: writes the record `text + " queued=<queue size>"` with its TTL to the queue's
    /// shared record (what `arq --check` reads) and to this worker's own; returns the queue
    /// size.
    fn health<'a>(&'a self, rec: &'a HealthRecord) -> BoxFuture<'a, Result<u64>>;

    /// Health close: removes this worker's record, and the shared one unless another live
    /// worker of the queue still has a record. Returns how many other live workers remain.
    fn health_close<'a>(
        &'a self,
        queue: &'a str,
        check_key: Option<&'a str>,
        worker_id: &'a str,
    ) -> BoxFuture<'a, Result<u64>>;

    /// Reads the shared health record of a queue.
    fn health_read<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<Option<String>>>;

    // --- beyond Python arq: snooze, progress, events, failure hooks --------------------------

    /// Snooze: reschedules a held job `defer_ms` from the backend's now and drops its lease,
    /// giving back the try its claim counted, unless it has snoozed `max_snoozes` times.
    fn snooze<'a>(&'a self, req: &'a SnoozeRequest) -> BoxFuture<'a, Result<SnoozeOutcome>> {
        let _ = req;
        let name = self.name();
        Box::pin(async move { Err(unsupported(name, "snooze")) })
    }

    /// Progress: stores a running job's progress (fenced by its token). Returns `false` when
    /// the token is stale.
    fn progress<'a>(&'a self, req: &'a ProgressRequest) -> BoxFuture<'a, Result<bool>> {
        let _ = req;
        let name = self.name();
        Box::pin(async move { Err(unsupported(name, "job progress")) })
    }

    /// Reads a job's last stored progress.
    fn progress_read<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, Result<Option<Bytes>>> {
        let _ = job_id;
        let name = self.name();
        Box::pin(async move { Err(unsupported(name, "job progress")) })
    }

    /// Reads a queue's event stream after a position, waiting up to `block_ms` for an entry.
    fn events_read<'a>(&'a self, req: &'a EventsRead) -> BoxFuture<'a, Result<EventsPage>> {
        let _ = req;
        let name = self.name();
        Box::pin(async move { Err(unsupported(name, "event streams")) })
    }

    /// Hooks claim: takes up to `limit` pending failure hooks of a queue whose lease ran out
    /// (their worker died before running them), leasing them to the caller for `lease_ms`.
    fn hooks_claim<'a>(
        &'a self,
        queue: &'a str,
        limit: usize,
        lease_ms: i64,
    ) -> BoxFuture<'a, Result<Vec<PendingHook>>> {
        let _ = (queue, limit, lease_ms);
        let name = self.name();
        Box::pin(async move { Err(unsupported(name, "failure hooks")) })
    }

    /// Hook done: removes a pending failure hook once it ran. Returns whether it was there.
    fn hook_done<'a>(&'a self, queue: &'a str, job_id: &'a str) -> BoxFuture<'a, Result<bool>> {
        let _ = (queue, job_id);
        let name = self.name();
        Box::pin(async move { Err(unsupported(name, "failure hooks")) })
    }

    // --- optional capabilities -------------------------------------------------------------

    /// Listing and steering dead letters, if this backend keeps them.
    fn dead_letters(&self) -> Option<&dyn DeadLetters> {
        None
    }

    /// Listing and steering queues, if this backend can.
    fn inspect(&self) -> Option<&dyn Inspect> {
        None
    }

    /// A backend on a connection of its own, driven by the runtime that polls the returned
    /// future: the worker's heartbeat runs on its own thread and runtime, so jobs that block
    /// the main runtime can't starve lease renewals. The default is unsupported, and the
    /// heartbeat shares `self`.
    fn standalone(&self) -> BoxFuture<'_, Result<std::sync::Arc<dyn Backend>>> {
        let name = self.name();
        Box::pin(async move { Err(unsupported(name, "a standalone connection")) })
    }

    /// Subscribes to push notifications: `on_message` is called for each one until `stop` is
    /// cancelled. Resolves once the subscription is live, so nothing published after it
    /// returns is missed. Notifications are a shortcut, never the only way: jobs enqueued by
    /// Python arq publish nothing and are found by polling. The default is unsupported.
    fn watch<'a>(
        &'a self,
        what: &'a Watch,
        on_message: OnMessage,
        stop: tokio_util::sync::CancellationToken,
    ) -> BoxFuture<'a, Result<()>> {
        let _ = (what, on_message, stop);
        let name = self.name();
        Box::pin(async move { Err(unsupported(name, "push notifications")) })
    }

    /// A one-line description of the server for the worker's start-up log. The default is
    /// the backend's name.
    fn describe<'a>(&'a self) -> BoxFuture<'a, Result<String>> {
        let name = self.name();
        Box::pin(async move { Ok(name.to_owned()) })
    }

    /// Warnings about the server's configuration for a job queue (eviction policy,
    /// persistence), logged at worker start. The default has none.
    fn config_warnings(&self) -> BoxFuture<'_, Result<Vec<String>>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// Listing and steering queues: the admin side of a backend ([`Backend::inspect`]). Each
/// method is one step; none is on a worker's path.
pub trait Inspect: Send + Sync {
    /// A page of a queue in score order (`offset`, at most `limit` entries).
    fn queue_page<'a>(
        &'a self,
        queue: &'a str,
        offset: u64,
        limit: u64,
    ) -> BoxFuture<'a, Result<QueuePage>>;

    /// Counts of a queue by state.
    fn queue_stats<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<QueueStats>>;

    /// The queues that exist, sorted.
    fn queues<'a>(&'a self) -> BoxFuture<'a, Result<Vec<String>>>;

    /// One page of a walk over the stored results, from `cursor` (`None`: the start), about
    /// `count` at a time. Never blocks the server the way `KEYS` does.
    fn results<'a>(
        &'a self,
        cursor: Option<&'a str>,
        count: u64,
    ) -> BoxFuture<'a, Result<ResultsPage>>;

    /// The live workers' own health records of a queue: `(worker id, record)`.
    fn workers<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<Vec<(String, String)>>>;

    /// Delete: removes a job and everything about it; returns how many of its queue entry,
    /// record and result existed.
    fn delete<'a>(&'a self, queue: &'a str, job_id: &'a str) -> BoxFuture<'a, Result<u64>>;

    /// Purge: removes up to `batch` entries of a queue that are not running; returns how many.
    fn purge<'a>(&'a self, queue: &'a str, batch: u64) -> BoxFuture<'a, Result<u64>>;
}

/// A queue's dead set: the jobs that failed for good, kept with their job record and final
/// result so they can be read and run again ([`Backend::dead_letters`]). Letters are added
/// by [`Backend::finish`] ([`FinalFailure::dead`]); each method here is one step.
pub trait DeadLetters: Send + Sync {
    /// A page of the dead set, newest first (`offset`, at most `limit` letters).
    fn dead_page<'a>(
        &'a self,
        queue: &'a str,
        offset: u64,
        limit: u64,
    ) -> BoxFuture<'a, Result<DeadPage>>;

    /// Reads one dead letter.
    fn dead_read<'a>(
        &'a self,
        queue: &'a str,
        job_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<DeadEntry>>>;

    /// Requeue: puts dead jobs back in their queue, due now (the backend's clock), with their
    /// try counter, snooze count and failed result removed, and their letters deleted; writes
    /// a `requeued` event each when `events` is set. One outcome per id.
    fn dead_requeue<'a>(
        &'a self,
        queue: &'a str,
        job_ids: &'a [String],
        events: Option<u64>,
    ) -> BoxFuture<'a, Result<Vec<RequeueOutcome>>>;

    /// Deletes dead letters; returns how many existed.
    fn dead_delete<'a>(
        &'a self,
        queue: &'a str,
        job_ids: &'a [String],
    ) -> BoxFuture<'a, Result<u64>>;

    /// Purge: deletes up to `batch` of the oldest dead letters; returns how many.
    fn dead_purge<'a>(&'a self, queue: &'a str, batch: u64) -> BoxFuture<'a, Result<u64>>;
}

/// The error for a capability `backend` lacks.
pub fn unsupported(backend: &'static str, what: &'static str) -> crate::Error {
    crate::Error::Unsupported { backend, what }
}
