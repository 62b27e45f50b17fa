//! What the cron scheduler asks of the backend: enqueue these ticks, each at most once across
//! every worker, and tell me the backend's clock.

/// Cron ticks to enqueue in one step ([`crate::Backend::cron_tick`]).
///
/// An empty list only reads the backend's clock.
#[derive(Debug, Clone)]
pub struct CronTickRequest {
    /// The queue the jobs go to.
    pub queue: String,
    /// The ticks, in any order.
    pub ticks: Vec<CronTick>,
}

/// One tick of a cron job.
#[derive(Debug, Clone)]
pub struct CronTick {
    /// The job id: `cron:<name>:<tick ms>` for a unique cron job (the same on every worker,
    /// Python's included), a random id otherwise.
    pub job_id: String,
    /// The tick, ms since the epoch: the job's score, or the backend's clock if that is later.
    pub tick_ms: i64,
    /// The encoded job record.
    pub payload: Vec<u8>,
    /// For a unique cron job: claim the tick with a marker that lives this many ms, and enqueue
    /// nothing if the tick was claimed before (by any worker, even after its job finished and
    /// left no key behind). `None`: no marker (the job id alone de-duplicates).
    pub claim_ttl_ms: Option<i64>,
}

/// What happened to one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CronTickOutcome {
    /// The tick was claimed and its job enqueued.
    Enqueued,
    /// Another worker claimed the tick already; nothing was written.
    AlreadyClaimed,
    /// A job or a result with this id exists (a worker without tick markers, such as Python
    /// arq, enqueued it); the tick is now marked claimed, nothing else was written.
    JobExists,
}

/// The backend's answer: its clock, and one outcome per tick, in request order.
#[derive(Debug, Clone)]
pub struct CronTickReply {
    /// The backend's clock when the step ran, ms since the epoch.
    pub now_ms: i64,
    /// One per tick of the request.
    pub outcomes: Vec<CronTickOutcome>,
}
