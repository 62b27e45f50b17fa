//! Test support for applications: run a job inline through its real handler, and a pool
//! that records what was enqueued and runs it in-process, with nothing to start.
//!
//! ```
//! use arq_core::testing::{self, Outcome};
//! # // What `#[arq::job] async fn double(n: i64) -> i64` generates, written by hand here
//! # // because this crate cannot use its own macro.
//! # fn double_handler(
//! #     _ctx: arq_core::Ctx,
//! #     mut args: arq_core::Args,
//! # ) -> arq_core::BoxFuture<'static, Result<arq_core::Value, arq_core::JobError>> {
//! #     Box::pin(async move {
//! #         let n: i64 = args.take(0, "n")?;
//! #         args.finish(1)?;
//! #         if n < 0 {
//! #             return Err(arq_core::JobError::Retry(arq_core::Retry::now()));
//! #         }
//! #         arq_core::__private::output(n * 2)
//! #     })
//! # }
//! # const DOUBLE: arq_core::Function = arq_core::Function::new("double", double_handler);
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> arq_core::Result<()> {
//! // One job, inline: the real handler, with its argument checks and error classification.
//! let outcome = testing::run(&DOUBLE, testing::ctx().build(), [21]).await;
//! assert_eq!(outcome.value::<i64>(), Some(42));
//! assert!(matches!(testing::run(&DOUBLE, testing::ctx().job_try(2).build(), [-1]).await,
//!     Outcome::Retry(None)));
//!
//! // A pool that remembers: enqueue as the application does, look, then drain.
//! let tp = testing::TestPool::new();
//! tp.enqueue_job("double", vec![5.into()]).await?;
//! let job = tp.assert_enqueued("double").await;
//! assert_eq!(job.args, vec![arq_core::Value::from(5)]);
//! let stats = tp.drain([DOUBLE]).await?;
//! assert_eq!(stats.complete, 1);
//! tp.assert_nothing_enqueued().await;
//! # Ok(())
//! # }
//! ```

use crate::function::JobError;
use crate::{
    from_value, now_ms, to_value, Args, Ctx, Function, JobFailure, Pool, QueuedJob, Result, State,
    Value, Worker, WorkerSettings, WorkerStats,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// How one run of a job ended ([`run`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// The job returned this value (as the codec would store it).
    Success(Value),
    /// The job asked to run again, after this delay (`None`: at the next poll).
    Retry(Option<Duration>),
    /// The job failed; this is what a worker would store (unless a retry policy runs it
    /// again).
    Failed(JobFailure),
    /// The job asked to run again after this long without spending a try ([`Snooze`](crate::Snooze)).
    Snoozed(Duration),
    /// The job failed for good whatever the retry policy ([`Permanent`](crate::Permanent)).
    Permanent(JobFailure),
}

impl Outcome {
    /// The returned value as `T`, or `None` when the job did not succeed (or `T` does not
    /// fit).
    pub fn value<T: DeserializeOwned>(&self) -> Option<T> {
        match self {
            Outcome::Success(v) => from_value(v.clone()).ok(),
            _ => None,
        }
    }

    /// The failure, when the job failed.
    pub fn failure(&self) -> Option<&JobFailure> {
        match self {
            Outcome::Failed(f) | Outcome::Permanent(f) => Some(f),
            _ => None,
        }
    }
}

/// Runs `function`'s real handler once, inline, with `ctx` and positional `args`: the same
/// argument decoding, signature checks and error classification (a wrapped `Retry` retries,
/// other errors fail, a panic fails) as in a worker, without a queue. Timeouts and hooks are
/// the worker's, and do not apply here.
pub async fn run<A, I>(function: &Function, ctx: Ctx, args: I) -> Outcome
where
    I: IntoIterator<Item = A>,
    A: Serialize,
{
    let mut values = Vec::new();
    for a in args {
        match to_value(&a) {
            Ok(v) => values.push(v),
            Err(e) => {
                return Outcome::Failed(JobFailure::new(
                    "SerializationError",
                    format!("argument could not be encoded: {e}"),
                ))
            }
        }
    }
    run_args(
        function,
        ctx,
        Args::new(function.name.to_owned(), values, Vec::new()),
    )
    .await
}

/// Like [`run`], with arguments already built (keyword arguments included).
pub async fn run_args(function: &Function, ctx: Ctx, args: Args) -> Outcome {
    match crate::worker::CatchUnwind((function.handler)(ctx, args)).await {
        Ok(Ok(v)) => Outcome::Success(v),
        Ok(Err(JobError::Retry(r))) => Outcome::Retry(r.defer()),
        Ok(Err(JobError::Failed(f))) => Outcome::Failed(f),
        Ok(Err(JobError::Snooze(s))) => Outcome::Snoozed(s.delay()),
        Ok(Err(JobError::Permanent(f))) => Outcome::Permanent(f),
        Err(panic) => Outcome::Failed(JobFailure::new("Panic", panic)),
    }
}

/// A [`Ctx`] for a test, in one line: `testing::ctx().job_try(2).state(db).build()`.
///
/// Defaults: job id `test-job`, try 1, enqueued and due now, the default queue, function name
/// empty, a fresh in-memory pool, empty state.
pub fn ctx() -> CtxBuilder {
    CtxBuilder::default()
}

/// Builds a [`Ctx`] for tests; see [`ctx`].
#[derive(Debug, Clone)]
pub struct CtxBuilder {
    job_id: String,
    job_try: u32,
    enqueue_time_ms: Option<i64>,
    score: Option<i64>,
    queue: Option<String>,
    function: String,
    pool: Option<Pool>,
    state: State,
}

impl Default for CtxBuilder {
    fn default() -> Self {
        CtxBuilder {
            job_id: "test-job".to_owned(),
            job_try: 1,
            enqueue_time_ms: None,
            score: None,
            queue: None,
            function: String::new(),
            pool: None,
            state: State::new(),
        }
    }
}

impl CtxBuilder {
    /// The job id.
    pub fn job_id(mut self, id: impl Into<String>) -> Self {
        self.job_id = id.into();
        self
    }

    /// Which run this is, from 1.
    pub fn job_try(mut self, job_try: u32) -> Self {
        self.job_try = job_try;
        self
    }

    /// When the job was enqueued, ms since the epoch.
    pub fn enqueue_time_ms(mut self, ms: i64) -> Self {
        self.enqueue_time_ms = Some(ms);
        self
    }

    /// When the job was due, ms since the epoch.
    pub fn score(mut self, ms: i64) -> Self {
        self.score = Some(ms);
        self
    }

    /// The queue the job came from.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// The function name the job was enqueued under.
    pub fn function(mut self, name: impl Into<String>) -> Self {
        self.function = name.into();
        self
    }

    /// The pool the job sees as `ctx.pool()` (follow-up enqueues land there).
    pub fn pool(mut self, pool: &Pool) -> Self {
        self.pool = Some(pool.clone());
        self
    }

    /// Adds a shared-state value (what `on_startup` would insert).
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.state.insert(value);
        self
    }

    /// The context.
    pub fn build(self) -> Ctx {
        let now = now_ms();
        let pool = self.pool.unwrap_or_else(Pool::memory);
        let queue = self
            .queue
            .unwrap_or_else(|| pool.default_queue_name().to_owned());
        let enqueued = self.enqueue_time_ms.unwrap_or(now);
        Ctx::new(
            self.job_id,
            self.job_try,
            enqueued,
            self.score.unwrap_or(enqueued),
            queue,
            self.function,
            pool,
            Arc::new(self.state),
        )
    }
}

/// A job found by [`TestPool::enqueued`]: what was enqueued, decoded.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EnqueuedJob {
    /// The job id.
    pub job_id: String,
    /// The queue.
    pub queue: String,
    /// The function name.
    pub function: String,
    /// Positional arguments.
    pub args: Vec<Value>,
    /// Keyword arguments.
    pub kwargs: Vec<(String, Value)>,
    /// When it is due, ms since the epoch.
    pub score: i64,
}

impl EnqueuedJob {
    /// Positional argument `index` as `T`.
    pub fn arg<T: DeserializeOwned>(&self, index: usize) -> Option<T> {
        self.args
            .get(index)
            .and_then(|v| from_value(v.clone()).ok())
    }

    /// Keyword argument `name` as `T`.
    pub fn kwarg<T: DeserializeOwned>(&self, name: &str) -> Option<T> {
        self.kwargs
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| from_value(v.clone()).ok())
    }
}

/// A pool on a private in-memory backend, for an application's own tests: hand it to the
/// code under test (it derefs to [`Pool`]), then look at what was enqueued and run it.
#[derive(Debug, Clone)]
pub struct TestPool {
    pool: Pool,
}

impl Default for TestPool {
    fn default() -> Self {
        Self::new()
    }
}

impl std::ops::Deref for TestPool {
    type Target = Pool;
    fn deref(&self) -> &Pool {
        &self.pool
    }
}

impl TestPool {
    /// An empty pool of its own.
    pub fn new() -> Self {
        TestPool {
            pool: Pool::memory(),
        }
    }

    /// The pool, to hand to code that takes a `Pool`.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Every job waiting in any queue (queued or deferred), in due order per queue.
    pub async fn enqueued(&self) -> Result<Vec<EnqueuedJob>> {
        let mut out = Vec::new();
        for queue in self.pool.queues().await? {
            for QueuedJob {
                job_id, score, job, ..
            } in self.pool.queued_jobs(&queue).await?
            {
                if let Some(def) = job {
                    out.push(EnqueuedJob {
                        job_id,
                        queue: queue.clone(),
                        function: def.function,
                        args: def.args,
                        kwargs: def.kwargs,
                        score,
                    });
                }
            }
        }
        Ok(out)
    }

    /// The one job of `function` waiting to run; panics with what is waiting otherwise (none,
    /// or several).
    pub async fn assert_enqueued(&self, function: &str) -> EnqueuedJob {
        let all = self.enqueued().await.expect("listing the test pool");
        let mut found: Vec<_> = all
            .iter()
            .filter(|j| j.function == function)
            .cloned()
            .collect();
        match found.len() {
            1 => found.remove(0),
            n => panic!(
                "expected one enqueued job of {function:?}, found {n}; waiting: {:?}",
                all.iter()
                    .map(|j| format!("{}({})", j.function, j.job_id))
                    .collect::<Vec<_>>()
            ),
        }
    }

    /// Panics, naming them, if any job waits to run.
    pub async fn assert_nothing_enqueued(&self) {
        let all = self.enqueued().await.expect("listing the test pool");
        assert!(
            all.is_empty(),
            "expected no enqueued jobs, found {:?}",
            all.iter()
                .map(|j| format!("{}({})", j.function, j.job_id))
                .collect::<Vec<_>>()
        );
    }

    /// Runs every waiting job of every queue with these functions, in-process, until the
    /// queues are empty (deferred jobs run when due; retries run again), as a burst worker
    /// would. Returns the counts over all queues.
    pub async fn drain(
        &self,
        functions: impl IntoIterator<Item = Function>,
    ) -> Result<WorkerStats> {
        self.drain_with(WorkerSettings::new().functions(functions))
            .await
    }

    /// Like [`TestPool::drain`], with the worker settings of the application (its
    /// `on_startup` state, hooks, functions and options); the queue, burst mode and signal
    /// handling are the drain's own.
    pub async fn drain_with(&self, settings: WorkerSettings) -> Result<WorkerStats> {
        let mut total = WorkerStats::default();
        loop {
            let mut queues = Vec::new();
            for q in self.pool.queues().await? {
                if self.pool.queue_size(&q).await? > 0 {
                    queues.push(q);
                }
            }
            if queues.is_empty() {
                return Ok(total);
            }
            for queue in queues {
                let settings = settings
                    .clone()
                    .queue_name(&queue)
                    .burst(true)
                    .handle_signals(false)
                    .poll_delay(Duration::from_millis(5));
                let stats = Worker::new(self.pool.clone(), settings)?.run().await?;
                total.complete += stats.complete;
                total.failed += stats.failed;
                total.retried += stats.retried;
                total.started += stats.started;
            }
        }
    }
}
