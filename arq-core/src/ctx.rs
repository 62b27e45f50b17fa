//! The job context (Python arq's `ctx` dict) and the shared state `on_startup` builds.

use crate::Pool;
use chrono::{DateTime, Utc};
use std::any::{type_name, Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

/// Shared state of a worker: one value per type, built by `on_startup` and handed to every
/// job through [`Ctx::state`] (Python arq's `ctx['db'] = ...`).
///
/// ```
/// use arq_core::State;
/// struct Db { url: String }
/// let mut state = State::new();
/// state.insert(Db { url: "postgres://localhost".into() });
/// assert_eq!(state.get::<Db>().unwrap().url, "postgres://localhost");
/// assert!(state.get::<String>().is_none());
/// ```
#[derive(Clone, Default)]
pub struct State {
    map: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    pool: Option<Pool>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("values", &self.map.len())
            .finish_non_exhaustive()
    }
}

/// The state a job asked for was never inserted by `on_startup`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("no state of type {type_name} in the worker; insert it in on_startup")]
pub struct StateMissing {
    type_name: &'static str,
}

impl State {
    /// Empty state.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn with_pool(pool: Pool) -> Self {
        State {
            map: HashMap::new(),
            pool: Some(pool),
        }
    }

    /// Stores a value, replacing any earlier value of the same type.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> &mut Self {
        self.map.insert(TypeId::of::<T>(), Arc::new(value));
        self
    }

    /// The value of type `T`, if one was inserted.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.map
            .get(&TypeId::of::<T>())
            .and_then(|v| v.downcast_ref::<T>())
    }

    /// The value of type `T`, or an error that says it is missing (use with `?` in jobs).
    pub fn require<T: Send + Sync + 'static>(&self) -> Result<&T, StateMissing> {
        self.get::<T>().ok_or(StateMissing {
            type_name: type_name::<T>(),
        })
    }

    /// Takes the value of type `T` out, for `on_shutdown` to tear it down. Returns `None` if
    /// it is missing or still shared (a job still holds a context).
    pub fn remove<T: Send + Sync + 'static>(&mut self) -> Option<T> {
        let arc = self.map.remove(&TypeId::of::<T>())?;
        match Arc::downcast::<T>(arc) {
            Ok(arc) => Arc::try_unwrap(arc).ok(),
            Err(_) => None,
        }
    }

    /// The worker's pool (to enqueue jobs from `on_startup`/`on_shutdown`).
    pub fn pool(&self) -> Option<&Pool> {
        self.pool.as_ref()
    }
}

/// What a running job knows about itself: Python arq's `ctx` (`job_id`, `job_try`,
/// `enqueue_time`, `score`, `redis`) plus the worker's shared [`State`].
///
/// Cheap to clone. A job function receives it as `&Ctx` when its first parameter asks for it.
#[derive(Clone)]
pub struct Ctx {
    inner: Arc<CtxInner>,
}

struct CtxInner {
    job_id: String,
    job_try: u32,
    enqueue_time_ms: i64,
    score: i64,
    queue: String,
    function: String,
    pool: Pool,
    state: Arc<State>,
    /// The fencing token of the run (set by the worker), for progress writes.
    token: Option<String>,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("job_id", &self.inner.job_id)
            .field("job_try", &self.inner.job_try)
            .field("function", &self.inner.function)
            .field("queue", &self.inner.queue)
            .finish_non_exhaustive()
    }
}

impl Ctx {
    /// Builds a context; the worker does this for every run, tests may too.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        job_id: impl Into<String>,
        job_try: u32,
        enqueue_time_ms: i64,
        score: i64,
        queue: impl Into<String>,
        function: impl Into<String>,
        pool: Pool,
        state: Arc<State>,
    ) -> Self {
        Ctx {
            inner: Arc::new(CtxInner {
                job_id: job_id.into(),
                job_try,
                enqueue_time_ms,
                score,
                queue: queue.into(),
                function: function.into(),
                pool,
                state,
                token: None,
            }),
        }
    }

    /// The same context, for a run holding `token` (the worker's).
    pub(crate) fn with_token(mut self, token: String) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.token = Some(token);
        }
        self
    }

    /// Reports the job's progress: any serializable value (a percentage, a `{done, total}`
    /// map), stored with the pool's codec and readable with `Job::progress()` while the job
    /// runs and for a day after; with events on, it is also a `progress` event.
    ///
    /// Returns `Ok(false)` when nothing was stored: this worker no longer holds the job (its
    /// lease was lost), or the context was built outside a worker (`Ctx::new`).
    ///
    /// ```no_run
    /// # async fn demo(ctx: &arq_core::Ctx) -> arq_core::Result<()> {
    /// for done in 0..=100 {
    ///     ctx.set_progress(&done).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn set_progress<T: serde::Serialize + ?Sized>(
        &self,
        value: &T,
    ) -> crate::Result<bool> {
        let Some(token) = &self.inner.token else {
            return Ok(false);
        };
        let pool = &self.inner.pool;
        let value = crate::to_value(value).map_err(|e| crate::Error::Encode {
            what: format!("the progress of job {}", self.inner.job_id),
            message: e.to_string(),
        })?;
        let req = crate::backend::ProgressRequest {
            queue: self.inner.queue.clone(),
            job_id: self.inner.job_id.clone(),
            token: token.clone(),
            value: pool.encode("progress", &value)?,
            ttl_ms: crate::backend::TRY_COUNTER_TTL_MS,
            events: pool.events_max_len(),
        };
        pool.backend().progress(&req).await
    }

    /// The job's id.
    pub fn job_id(&self) -> &str {
        &self.inner.job_id
    }

    /// Which run this is, from 1.
    pub fn job_try(&self) -> u32 {
        self.inner.job_try
    }

    /// When the job was enqueued.
    pub fn enqueue_time(&self) -> DateTime<Utc> {
        crate::ms_to_datetime(self.inner.enqueue_time_ms)
    }

    /// When the job was enqueued, ms since the epoch.
    pub fn enqueue_time_ms(&self) -> i64 {
        self.inner.enqueue_time_ms
    }

    /// The job's score (ms from which it could run).
    pub fn score(&self) -> i64 {
        self.inner.score
    }

    /// The queue the job came from.
    pub fn queue_name(&self) -> &str {
        &self.inner.queue
    }

    /// The function name the job was enqueued under.
    pub fn function_name(&self) -> &str {
        &self.inner.function
    }

    /// The worker's pool, to enqueue follow-up jobs (Python's `ctx['redis']`).
    pub fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// The shared state of type `T` that `on_startup` inserted.
    pub fn state<T: Send + Sync + 'static>(&self) -> Result<&T, StateMissing> {
        self.inner.state.require::<T>()
    }

    /// All shared state.
    pub fn shared(&self) -> &State {
        &self.inner.state
    }
}
