//! [`RedisBackend`]: the connection, the script call, and the [`Backend`], [`Inspect`] and
//! [`DeadLetters`] contracts, each method one call into its step's module (`steps/<method>.rs`, beside
//! `lua/<method>.lua`). Every step is one script call (EVALSHA) or one plain command.

use crate::keys::KeyLayout;
use crate::settings::{connect, RedisSettings};
use crate::steps::{
    abort, claim, cron_tick, dead_delete, dead_page, dead_purge, dead_read, dead_requeue, delete,
    enqueue, events_read, finish, health, heartbeat, hook_done, hooks_claim, progress, purge,
    queue_page, queue_stats, reads, release, result, retry, set_try, snooze, status,
};
use arq_core::backend::{
    AbortOutcome, AbortRequest, Backend, BoxFuture, ClaimRequest, Claimed, CronTickReply,
    CronTickRequest, DeadEntry, DeadLetters, DeadPage, EnqueueRequest, EventsPage, EventsRead,
    FinishRequest, HealthRecord, Heartbeat, HeartbeatReply, Inspect, OnMessage, PendingHook,
    ProgressRequest, QueuePage, QueueStats, RawStatus, ReleaseRequest, RequeueOutcome, ResultRead,
    ResultsPage, RetryRequest, SetTryRequest, SnoozeOutcome, SnoozeRequest, Watch,
};
use arq_core::{Error, Result};
use bytes::Bytes;
use fred::prelude::*;
use fred::types::scripts::Script;
use fred::types::{MultipleKeys, MultipleValues};
use std::sync::Arc;

/// The Redis backend: a fred connection pool and Python arq's key layout.
#[derive(Clone)]
pub struct RedisBackend {
    pool: fred::clients::Pool,
    keys: KeyLayout,
    /// How it connected, for [`Backend::standalone`] and [`Backend::watch`] (`None` when built
    /// from a pool).
    settings: Option<Arc<RedisSettings>>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl RedisBackend {
    /// Connects with the given settings and their key layout ([`RedisSettings::key_layout`]).
    pub async fn connect(settings: &RedisSettings) -> Result<Self> {
        Ok(RedisBackend {
            pool: connect(settings).await?,
            keys: settings.key_layout()?,
            settings: Some(Arc::new(settings.clone())),
        })
    }

    /// Wraps an existing fred pool.
    pub fn from_pool(pool: fred::clients::Pool, keys: KeyLayout) -> Self {
        RedisBackend {
            pool,
            keys,
            settings: None,
        }
    }

    /// The key layout.
    pub fn keys(&self) -> &KeyLayout {
        &self.keys
    }

    /// The underlying fred pool (for commands arq does not wrap).
    pub fn client(&self) -> &fred::clients::Pool {
        &self.pool
    }

    /// The same backend on a pool of one connection of its own ([`Backend::standalone`]).
    async fn open_standalone(&self) -> Result<Arc<dyn Backend>> {
        let Some(settings) = &self.settings else {
            return Err(Error::Config(
                "this backend was built from a pool; it cannot open a connection of its own".into(),
            ));
        };
        let mut settings = (**settings).clone();
        settings.pool_size = 1;
        let backend = RedisBackend {
            pool: connect(&settings).await?,
            keys: self.keys.clone(),
            settings: None,
        };
        Ok(Arc::new(backend) as Arc<dyn Backend>)
    }

    /// Subscribes to a [`Watch`] channel ([`Backend::watch`]).
    async fn subscribe(
        &self,
        what: &Watch,
        on_message: OnMessage,
        stop: tokio_util::sync::CancellationToken,
    ) -> Result<()> {
        let Some(settings) = &self.settings else {
            return Err(Error::Config(
                "this backend was built from a pool; it has no settings to subscribe with".into(),
            ));
        };
        let channel = match what {
            Watch::Enqueued(q) => self.keys.enqueued_channel(q),
            Watch::Finished(q) => self.keys.finished_channel(q),
        };
        crate::pubsub::subscribe(settings, channel, on_message, stop).await
    }

    /// Calls one of the backend's scripts (EVALSHA, loaded again on NOSCRIPT).
    pub(crate) async fn eval<R, K, A>(&self, script: &Script, keys: K, args: A) -> Result<R>
    where
        R: FromValue,
        K: Into<MultipleKeys> + Send,
        A: TryInto<MultipleValues> + Send,
        A::Error: Into<fred::error::Error> + Send,
    {
        self.eval_raw(script, keys, args).await.map_err(|(_, e)| e)
    }

    /// [`eval`](Self::eval), keeping fred's error beside arq's, for the steps that tell a
    /// lost reply or an out-of-memory refusal apart.
    pub(crate) async fn eval_raw<R, K, A>(
        &self,
        script: &Script,
        keys: K,
        args: A,
    ) -> std::result::Result<R, (fred::error::Error, Error)>
    where
        R: FromValue,
        K: Into<MultipleKeys> + Send,
        A: TryInto<MultipleValues> + Send,
        A::Error: Into<fred::error::Error> + Send,
    {
        let client = self.pool.next();
        let keys: MultipleKeys = keys.into();
        let args: MultipleValues = args.try_into().map_err(|e| {
            let e: fred::error::Error = e.into();
            (e.clone(), crate::reply::redis_error(e))
        })?;
        script
            .evalsha_with_reload(client, keys.clone(), args.clone())
            .await
            .map_err(|e| {
                let mapped = match (
                    e.kind(),
                    self.settings.as_ref().and_then(|s| s.command_timeout),
                ) {
                    (fred::error::ErrorKind::Timeout, Some(t)) => Error::backend(format!(
                        "redis command timed out after {}ms (it may still have been applied)",
                        t.as_millis()
                    )),
                    _ => crate::acl::script_error(e.clone(), client, script, &keys, &args),
                };
                (e, mapped)
            })
    }
}

impl Backend for RedisBackend {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn inspect(&self) -> Option<&dyn Inspect> {
        Some(self)
    }

    fn dead_letters(&self) -> Option<&dyn DeadLetters> {
        Some(self)
    }

    fn enqueue<'a>(&'a self, req: &'a EnqueueRequest) -> BoxFuture<'a, Result<bool>> {
        Box::pin(enqueue::enqueue(self, req))
    }

    fn claim<'a>(&'a self, req: &'a ClaimRequest) -> BoxFuture<'a, Result<Claimed>> {
        Box::pin(claim::claim(self, req))
    }

    fn set_try<'a>(&'a self, req: &'a SetTryRequest) -> BoxFuture<'a, Result<()>> {
        Box::pin(set_try::set_try(self, req))
    }

    fn heartbeat<'a>(&'a self, hb: &'a Heartbeat) -> BoxFuture<'a, Result<HeartbeatReply>> {
        Box::pin(heartbeat::heartbeat(self, hb))
    }

    fn finish<'a>(&'a self, reqs: &'a [FinishRequest]) -> BoxFuture<'a, Result<Vec<bool>>> {
        Box::pin(finish::finish(self, reqs))
    }

    fn retry<'a>(&'a self, req: &'a RetryRequest) -> BoxFuture<'a, Result<bool>> {
        Box::pin(retry::retry(self, req))
    }

    fn release<'a>(&'a self, req: &'a ReleaseRequest) -> BoxFuture<'a, Result<bool>> {
        Box::pin(release::release(self, req))
    }

    fn abort<'a>(&'a self, req: &'a AbortRequest) -> BoxFuture<'a, Result<AbortOutcome>> {
        Box::pin(abort::abort(self, req))
    }

    fn abort_requests<'a>(
        &'a self,
        job_ids: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<(String, i64)>>> {
        Box::pin(abort::abort_requests(self, job_ids))
    }

    fn cron_tick<'a>(&'a self, req: &'a CronTickRequest) -> BoxFuture<'a, Result<CronTickReply>> {
        Box::pin(cron_tick::cron_tick(self, req))
    }

    fn status<'a>(&'a self, queue: &'a str, job_id: &'a str) -> BoxFuture<'a, Result<RawStatus>> {
        Box::pin(status::status(self, queue, job_id))
    }

    fn result<'a>(&'a self, queue: &'a str, job_id: &'a str) -> BoxFuture<'a, Result<ResultRead>> {
        Box::pin(result::result(self, queue, job_id))
    }

    fn job_record<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, Result<Option<Bytes>>> {
        Box::pin(reads::job_record(self, job_id))
    }

    fn score<'a>(&'a self, queue: &'a str, job_id: &'a str) -> BoxFuture<'a, Result<Option<i64>>> {
        Box::pin(reads::score(self, queue, job_id))
    }

    fn queue_size<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64>> {
        Box::pin(reads::queue_size(self, queue))
    }

    fn health<'a>(&'a self, rec: &'a HealthRecord) -> BoxFuture<'a, Result<u64>> {
        Box::pin(health::health(self, rec))
    }

    fn health_close<'a>(
        &'a self,
        queue: &'a str,
        check_key: Option<&'a str>,
        worker_id: &'a str,
    ) -> BoxFuture<'a, Result<u64>> {
        Box::pin(health::health_close(self, queue, check_key, worker_id))
    }

    fn health_read<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<Option<String>>> {
        Box::pin(health::health_read(self, queue))
    }

    fn snooze<'a>(&'a self, req: &'a SnoozeRequest) -> BoxFuture<'a, Result<SnoozeOutcome>> {
        Box::pin(snooze::snooze(self, req))
    }

    fn progress<'a>(&'a self, req: &'a ProgressRequest) -> BoxFuture<'a, Result<bool>> {
        Box::pin(progress::progress(self, req))
    }

    fn progress_read<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, Result<Option<Bytes>>> {
        Box::pin(reads::progress_read(self, job_id))
    }

    fn events_read<'a>(&'a self, req: &'a EventsRead) -> BoxFuture<'a, Result<EventsPage>> {
        Box::pin(events_read::events_read(self, req))
    }

    fn hooks_claim<'a>(
        &'a self,
        queue: &'a str,
        limit: usize,
        lease_ms: i64,
    ) -> BoxFuture<'a, Result<Vec<PendingHook>>> {
        Box::pin(hooks_claim::hooks_claim(self, queue, limit, lease_ms))
    }

    fn hook_done<'a>(&'a self, queue: &'a str, job_id: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(hook_done::hook_done(self, queue, job_id))
    }

    fn standalone(&self) -> BoxFuture<'_, Result<Arc<dyn Backend>>> {
        Box::pin(self.open_standalone())
    }

    fn watch<'a>(
        &'a self,
        what: &'a Watch,
        on_message: OnMessage,
        stop: tokio_util::sync::CancellationToken,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.subscribe(what, on_message, stop))
    }

    fn describe<'a>(&'a self) -> BoxFuture<'a, Result<String>> {
        Box::pin(crate::server::describe(&self.pool))
    }

    fn config_warnings(&self) -> BoxFuture<'_, Result<Vec<String>>> {
        Box::pin(crate::server::config_warnings(&self.pool))
    }
}

impl Inspect for RedisBackend {
    fn queue_page<'a>(
        &'a self,
        queue: &'a str,
        offset: u64,
        limit: u64,
    ) -> BoxFuture<'a, Result<QueuePage>> {
        Box::pin(queue_page::queue_page(self, queue, offset, limit))
    }

    fn queue_stats<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<QueueStats>> {
        Box::pin(queue_stats::queue_stats(self, queue))
    }

    fn queues<'a>(&'a self) -> BoxFuture<'a, Result<Vec<String>>> {
        Box::pin(reads::queues(self))
    }

    fn results<'a>(
        &'a self,
        cursor: Option<&'a str>,
        count: u64,
    ) -> BoxFuture<'a, Result<ResultsPage>> {
        Box::pin(reads::results(self, cursor, count))
    }

    fn workers<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<Vec<(String, String)>>> {
        Box::pin(reads::workers(self, queue))
    }

    fn delete<'a>(&'a self, queue: &'a str, job_id: &'a str) -> BoxFuture<'a, Result<u64>> {
        Box::pin(delete::delete(self, queue, job_id))
    }

    fn purge<'a>(&'a self, queue: &'a str, batch: u64) -> BoxFuture<'a, Result<u64>> {
        Box::pin(purge::purge(self, queue, batch))
    }
}

impl DeadLetters for RedisBackend {
    fn dead_page<'a>(
        &'a self,
        queue: &'a str,
        offset: u64,
        limit: u64,
    ) -> BoxFuture<'a, Result<DeadPage>> {
        Box::pin(dead_page::dead_page(self, queue, offset, limit))
    }

    fn dead_read<'a>(
        &'a self,
        queue: &'a str,
        job_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<DeadEntry>>> {
        Box::pin(dead_read::dead_read(self, queue, job_id))
    }

    fn dead_requeue<'a>(
        &'a self,
        queue: &'a str,
        job_ids: &'a [String],
        events: Option<u64>,
    ) -> BoxFuture<'a, Result<Vec<RequeueOutcome>>> {
        Box::pin(dead_requeue::dead_requeue(self, queue, job_ids, events))
    }

    fn dead_delete<'a>(
        &'a self,
        queue: &'a str,
        job_ids: &'a [String],
    ) -> BoxFuture<'a, Result<u64>> {
        Box::pin(dead_delete::dead_delete(self, queue, job_ids))
    }

    fn dead_purge<'a>(&'a self, queue: &'a str, batch: u64) -> BoxFuture<'a, Result<u64>> {
        Box::pin(dead_purge::dead_purge(self, queue, batch))
    }
}
