//! [`Backend`] on Redis: every step is one script call (EVALSHA) or one command.

use crate::keys::KeyLayout;
use crate::reply::{
    array, bytes_of, int_of, maybe_applied, protocol, redis_error as err, score_of, string_of,
};
use crate::scripts::scripts;
use crate::server::{check_clock, oom_detail, MAX_CLOCK_SKEW_MS};
use crate::settings::{connect, RedisSettings};
use arq_core::backend::{
    AbortOutcome, AbortRequest, Backend, BoxFuture, ClaimRequest, Claimed, ClaimedJob, Defer,
    EnqueueRequest, FinishRequest, HealthRecord, Heartbeat, HeartbeatReply, Inspect, OnMessage,
    QueueEntry, QueuePage, QueueStats, RawStatus, ReleaseRequest, ResultRead, ResultTtl,
    ResultsPage, RetryRequest, SetTryRequest, Watch,
};
use arq_core::backend::{CronTickOutcome, CronTickReply, CronTickRequest};
use arq_core::{Error, Result};
use bytes::Bytes;
use fred::prelude::*;
use fred::types::scripts::Script;
use fred::types::{MultipleKeys, MultipleValues, Value as RValue};

/// The Redis backend: a fred connection pool and Python arq's key layout.
#[derive(Clone)]
pub struct RedisBackend {
    pool: fred::clients::Pool,
    keys: KeyLayout,
    /// How it connected, for [`Backend::standalone`] (`None` when built from a pool).
    settings: Option<std::sync::Arc<RedisSettings>>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

/// A script argument that may be absent: the bytes, or `''`.
fn optional_bytes(b: Option<&[u8]>) -> RValue {
    b.map_or_else(|| "".into(), |b| RValue::Bytes(Bytes::copy_from_slice(b)))
}

/// A TTL argument that may be absent (`''`: no TTL); at least 1 ms, never `PX 0`.
fn optional_ms(ms: Option<i64>) -> RValue {
    ms.map(|ms| ms.max(1).to_string())
        .unwrap_or_default()
        .into()
}

impl RedisBackend {
    /// Connects with the given settings and their key layout ([`RedisSettings::key_layout`]).
    pub async fn connect(settings: &RedisSettings) -> Result<Self> {
        Ok(RedisBackend {
            pool: connect(settings).await?,
            keys: settings.key_layout()?,
            settings: Some(std::sync::Arc::new(settings.clone())),
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
}

impl RedisBackend {
    /// Calls one of the backend's scripts (EVALSHA, loaded again on NOSCRIPT).
    async fn eval<R, K, A>(&self, script: &Script, keys: K, args: A) -> Result<R>
    where
        R: FromValue,
        K: Into<MultipleKeys> + Send,
        A: TryInto<MultipleValues> + Send,
        A::Error: Into<fred::error::Error> + Send,
    {
        self.eval_raw(script, keys, args).await.map_err(|(_, e)| e)
    }

    async fn eval_raw<R, K, A>(
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
            (e.clone(), err(e))
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

    fn enqueue<'a>(&'a self, req: &'a EnqueueRequest) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let (mode, value) = match req.defer {
                Defer::None => ("n", 0),
                Defer::By(ms) => ("b", ms),
                Defer::At(ms) => ("a", ms),
            };
            let keys = vec![
                self.keys.job(&req.job_id),
                self.keys.result(&req.job_id),
                self.keys.queue(&req.queue).to_owned(),
                self.keys.abort().to_owned(),
                self.keys.retry(&req.job_id),
            ];
            let args: Vec<RValue> = vec![
                req.job_id.as_str().into(),
                RValue::Bytes(Bytes::copy_from_slice(&req.payload)),
                mode.into(),
                value.into(),
                req.expires_ms
                    .map(|e| e.to_string())
                    .unwrap_or_default()
                    .into(),
                if req.replace_result { "1" } else { "0" }.into(),
                self.keys.enqueued_channel(&req.queue).into(),
                req.enqueue_time_ms.into(),
                MAX_CLOCK_SKEW_MS.into(),
            ];
            let reply: RValue = match self.eval_raw(&scripts().enqueue, keys, args).await {
                Ok(r) => r,
                Err((e, _)) if e.details().starts_with("OOM") => {
                    return Err(Error::backend(format!(
                        "redis is out of memory{}: enqueue of job {} rejected ({})",
                        oom_detail(&self.pool).await,
                        req.job_id,
                        e.details()
                    )))
                }
                Err((e, _)) if maybe_applied(&e) && !crate::acl::is_permission_error(&e) => {
                    return Err(Error::OutcomeUnknown(format!(
                        "enqueue of job {} may or may not have been applied ({e}); enqueueing \
                         it again with the same id is safe: a repeat of a job that landed is \
                         refused as a duplicate",
                        req.job_id
                    )))
                }
                Err((_, mapped)) => return Err(mapped),
            };
            let reply = array(reply, "enqueue")?;
            match reply.first().and_then(int_of) {
                Some(1) => {
                    if let Some(server_ms) = reply.get(2).and_then(int_of) {
                        check_clock(server_ms);
                    }
                    Ok(true)
                }
                Some(0) => Ok(false),
                Some(-1) => Err(Error::InvalidArgument(format!(
                    "job {:?} would expire before it could run (defer_until is more than a \
                     day in the past, or expires is not positive); nothing was enqueued",
                    req.job_id
                ))),
                _ => Err(protocol(format!("enqueue: {reply:?}"))),
            }
        })
    }

    fn claim<'a>(&'a self, req: &'a ClaimRequest) -> BoxFuture<'a, Result<Claimed>> {
        Box::pin(async move {
            let keys = vec![
                self.keys.queue(&req.queue).to_owned(),
                self.keys.abort().to_owned(),
            ];
            let args: Vec<RValue> = vec![
                (req.limit as i64).into(),
                (req.scan_limit as i64).into(),
                req.token_prefix.as_str().into(),
                req.lease_ms.into(),
                if req.check_abort { "1" } else { "0" }.into(),
                self.keys.job_prefix().into(),
                self.keys.in_progress_prefix().into(),
                self.keys.retry_prefix().into(),
                req.seq.to_string().into(),
                if req.idle { "1" } else { "0" }.into(),
                req.alone_from_try.into(),
            ];
            let reply: RValue = self.eval(&scripts().claim, keys, args).await?;
            let mut reply = array(reply, "claim")?.into_iter();
            let (Some(waiting), Some(items)) = (reply.next(), reply.next()) else {
                return Err(protocol("claim: short reply"));
            };
            let mut jobs = Vec::new();
            for item in array(items, "claim items")? {
                let mut f = array(item, "claim item")?.into_iter();
                let (Some(id), Some(score), Some(payload), Some(tries), Some(token), Some(ab)) =
                    (f.next(), f.next(), f.next(), f.next(), f.next(), f.next())
                else {
                    return Err(protocol("claim: short item"));
                };
                let (Some(recovered), Some(bad)) = (f.next(), f.next()) else {
                    return Err(protocol("claim: short item"));
                };
                jobs.push(ClaimedJob {
                    job_id: string_of(id).ok_or_else(|| protocol("claim: job id"))?,
                    score: score_of(&score).ok_or_else(|| protocol("claim: score"))?,
                    payload: bytes_of(payload),
                    job_try: int_of(&tries).ok_or_else(|| protocol("claim: try"))?,
                    token: string_of(token).ok_or_else(|| protocol("claim: token"))?,
                    abort_marker_ms: int_of(&ab).filter(|ms| *ms > 0),
                    recovered: int_of(&recovered).is_some_and(|r| r >= 1),
                    alone: int_of(&recovered) == Some(2),
                    payload_error: string_of(bad).filter(|e| !e.is_empty()),
                });
            }
            Ok(Claimed {
                jobs,
                recovery_waiting: int_of(&waiting) == Some(1),
            })
        })
    }

    fn heartbeat<'a>(&'a self, hb: &'a Heartbeat) -> BoxFuture<'a, Result<HeartbeatReply>> {
        Box::pin(async move {
            let mut keys = Vec::with_capacity(1 + hb.leases.len());
            keys.push(self.keys.generation());
            let mut args: Vec<RValue> = Vec::with_capacity(1 + hb.leases.len() * 2);
            args.push(uuid::Uuid::new_v4().simple().to_string().into());
            args.push(hb.generation.as_deref().unwrap_or("").into());
            for l in &hb.leases {
                keys.push(self.keys.in_progress(&l.job_id));
                args.push(l.token.as_str().into());
                args.push(l.ms.max(1).into());
            }
            let reply: RValue = self.eval(&scripts().heartbeat, keys, args).await?;
            let mut items = array(reply, "heartbeat")?.into_iter();
            let generation = items
                .next()
                .and_then(string_of)
                .ok_or_else(|| protocol("heartbeat: generation"))?;
            let renewed = items.map(|v| int_of(&v) == Some(1)).collect::<Vec<_>>();
            if renewed.len() != hb.leases.len() {
                return Err(protocol("heartbeat: lease count"));
            }
            Ok(HeartbeatReply {
                renewed,
                generation,
            })
        })
    }

    fn standalone(&self) -> BoxFuture<'_, Result<std::sync::Arc<dyn Backend>>> {
        Box::pin(async move {
            let Some(settings) = &self.settings else {
                return Err(Error::Config(
                    "this backend was built from a pool; it cannot open a connection of its own"
                        .into(),
                ));
            };
            let mut settings = (**settings).clone();
            settings.pool_size = 1;
            let backend = RedisBackend {
                pool: connect(&settings).await?,
                keys: self.keys.clone(),
                settings: None,
            };
            Ok(std::sync::Arc::new(backend) as std::sync::Arc<dyn Backend>)
        })
    }

    fn config_warnings(&self) -> BoxFuture<'_, Result<Vec<String>>> {
        Box::pin(crate::server::config_warnings(&self.pool))
    }

    fn set_try<'a>(&'a self, req: &'a SetTryRequest) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.pool
                .set::<(), _, _>(
                    self.keys.retry(&req.job_id),
                    req.job_try,
                    Some(Expiration::EX(88_400)),
                    None,
                    false,
                )
                .await
                .map_err(err)
        })
    }

    fn finish<'a>(&'a self, reqs: &'a [FinishRequest]) -> BoxFuture<'a, Result<Vec<bool>>> {
        Box::pin(async move {
            let mut flags = vec![false; reqs.len()];
            // One script call per queue in the batch (a worker's batch has one queue).
            let mut queues: Vec<&str> = reqs.iter().map(|r| r.queue.as_str()).collect();
            queues.sort_unstable();
            queues.dedup();
            for queue in queues {
                let batch: Vec<usize> = (0..reqs.len())
                    .filter(|&i| reqs[i].queue == queue)
                    .collect();
                let mut keys = Vec::with_capacity(4 * batch.len() + 2);
                let mut args: Vec<RValue> = Vec::with_capacity(5 * batch.len() + 1);
                args.push(self.keys.finished_channel(queue).into());
                for &i in &batch {
                    let req = &reqs[i];
                    let id = &req.job_id;
                    keys.push(self.keys.in_progress(id));
                    keys.push(self.keys.job(id));
                    keys.push(self.keys.retry(id));
                    keys.push(self.keys.result(id));
                    // Owned strings become fred values without another copy.
                    args.push(id.clone().into());
                    args.push(req.token.clone().into());
                    args.push(optional_bytes(req.result.as_deref()));
                    args.push(optional_ms(req.keep_result_ms));
                    args.push(optional_ms(req.keep_in_progress_ms));
                }
                keys.push(self.keys.queue(queue).to_owned());
                keys.push(self.keys.abort().to_owned());
                let reply: RValue = self.eval(&scripts().finish, keys, args).await?;
                let done = array(reply, "finish")?;
                if done.len() != batch.len() {
                    return Err(protocol("finish: flag count"));
                }
                for (&i, v) in batch.iter().zip(done) {
                    flags[i] = int_of(&v) == Some(1);
                }
            }
            Ok(flags)
        })
    }

    fn watch<'a>(
        &'a self,
        what: &'a Watch,
        on_message: OnMessage,
        stop: tokio_util::sync::CancellationToken,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let Some(settings) = &self.settings else {
                return Err(Error::Config(
                    "this backend was built from a pool; it has no settings to subscribe with"
                        .into(),
                ));
            };
            let channel = match what {
                Watch::Enqueued(q) => self.keys.enqueued_channel(q),
                Watch::Finished(q) => self.keys.finished_channel(q),
            };
            crate::pubsub::subscribe(settings, channel, on_message, stop).await
        })
    }

    fn retry<'a>(&'a self, req: &'a RetryRequest) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let id = &req.job_id;
            let keys = vec![
                self.keys.in_progress(id),
                self.keys.queue(&req.queue).to_owned(),
                self.keys.job(id),
                self.keys.handed_back(id),
            ];
            let args: Vec<RValue> = vec![
                id.as_str().into(),
                req.token.as_str().into(),
                req.defer_ms.max(0).into(),
            ];
            let n: i64 = self.eval(&scripts().retry, keys, args).await?;
            Ok(n == 1)
        })
    }

    fn release<'a>(&'a self, req: &'a ReleaseRequest) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let job_id = req.job_id.as_str();
            let keys = vec![
                self.keys.in_progress(job_id),
                self.keys.retry(job_id),
                self.keys.handed_back(job_id),
                self.keys.releases(job_id),
            ];
            let args: Vec<RValue> = vec![
                req.token.as_str().into(),
                i64::from(req.free_releases).into(),
            ];
            let n: i64 = self.eval(&scripts().release, keys, args).await?;
            if n == 2 {
                tracing::warn!(
                    job_id,
                    "job released by more than {} shutdowns; this try counts",
                    req.free_releases
                );
            }
            Ok(n > 0)
        })
    }

    fn abort<'a>(&'a self, req: &'a AbortRequest) -> BoxFuture<'a, Result<AbortOutcome>> {
        Box::pin(async move {
            let id = &req.job_id;
            let keys = vec![
                self.keys.queue(&req.queue).to_owned(),
                self.keys.abort().to_owned(),
                self.keys.job(id),
                self.keys.result(id),
                self.keys.in_progress(id),
                self.keys.retry(id),
            ];
            let args: Vec<RValue> = vec![
                id.as_str().into(),
                optional_bytes(req.result.as_deref()),
                optional_ms(req.keep_result_ms),
            ];
            let reply: RValue = match self.eval_raw(&scripts().abort, keys, args).await {
                Ok(r) => r,
                Err((e, _)) if maybe_applied(&e) && !crate::acl::is_permission_error(&e) => {
                    return Err(Error::OutcomeUnknown(format!(
                        "abort of job {id} may or may not have been applied ({e}); aborting it \
                         again is safe"
                    )))
                }
                Err((_, mapped)) => return Err(mapped),
            };
            match string_of(reply).as_deref() {
                Some("aborted") => Ok(AbortOutcome::Aborted),
                Some("requested") => Ok(AbortOutcome::Requested),
                Some("finished") => Ok(AbortOutcome::Finished),
                Some("not_found") => Ok(AbortOutcome::NotFound),
                other => Err(protocol(format!("abort: {other:?}"))),
            }
        })
    }

    fn abort_requests<'a>(
        &'a self,
        job_ids: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<(String, i64)>>> {
        Box::pin(async move {
            if job_ids.is_empty() {
                return Ok(Vec::new());
            }
            let mut args: Vec<RValue> = Vec::with_capacity(job_ids.len() + 1);
            args.push(self.keys.abort().into());
            args.extend(job_ids.iter().map(|id| RValue::from(id.as_str())));
            let reply: RValue = self
                .pool
                .next()
                .custom(fred::cmd!("ZMSCORE"), args)
                .await
                .map_err(err)?;
            let scores = array(reply, "ZMSCORE")?;
            Ok(job_ids
                .iter()
                .zip(scores.iter())
                .filter_map(|(id, s)| score_of(s).map(|ms| (id.clone(), ms)))
                .collect())
        })
    }

    fn status<'a>(&'a self, queue: &'a str, job_id: &'a str) -> BoxFuture<'a, Result<RawStatus>> {
        Box::pin(async move {
            let keys = vec![
                self.keys.result(job_id),
                self.keys.in_progress(job_id),
                self.keys.queue(queue).to_owned(),
            ];
            let reply: RValue = self.eval(&scripts().status, keys, vec![job_id]).await?;
            let r = array(reply, "status")?;
            if r.len() < 4 {
                return Err(protocol("status: short reply"));
            }
            Ok(RawStatus {
                result_exists: int_of(&r[0]) == Some(1),
                in_progress: int_of(&r[1]) == Some(1),
                score: score_of(&r[2]),
                now_ms: int_of(&r[3]).ok_or_else(|| protocol("status: time"))?,
            })
        })
    }

    fn result<'a>(&'a self, queue: &'a str, job_id: &'a str) -> BoxFuture<'a, Result<ResultRead>> {
        Box::pin(async move {
            let keys = vec![self.keys.result(job_id), self.keys.queue(queue).to_owned()];
            let reply: RValue = self.eval(&scripts().result, keys, vec![job_id]).await?;
            let mut r = array(reply, "result")?.into_iter();
            let result = r.next().and_then(bytes_of);
            let score = r.next().as_ref().and_then(score_of);
            let ttl = match r.next().as_ref().and_then(int_of) {
                _ if result.is_none() => ResultTtl::Unknown,
                Some(-1) => ResultTtl::Forever,
                Some(ms) if ms >= 0 => ResultTtl::Ms(ms),
                _ => ResultTtl::Unknown,
            };
            Ok(ResultRead { result, ttl, score })
        })
    }

    fn job_record<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, Result<Option<Bytes>>> {
        Box::pin(async move {
            let key = self.keys.job(job_id);
            let v: RValue = self
                .pool
                .get(&key)
                .await
                .map_err(|e| crate::acl::command_error(e, self.pool.next(), "GET", &[&key]))?;
            Ok(bytes_of(v))
        })
    }

    fn score<'a>(&'a self, queue: &'a str, job_id: &'a str) -> BoxFuture<'a, Result<Option<i64>>> {
        Box::pin(async move {
            let v: RValue = self
                .pool
                .zscore(self.keys.queue(queue), job_id)
                .await
                .map_err(err)?;
            Ok(score_of(&v))
        })
    }

    fn queue_size<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let n: u64 =
                self.pool.zcard(self.keys.queue(queue)).await.map_err(|e| {
                    crate::acl::command_error(e, self.pool.next(), "ZCARD", &[queue])
                })?;
            Ok(n)
        })
    }

    fn health<'a>(&'a self, rec: &'a HealthRecord) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let key = match &rec.check_key {
                Some(k) => k.clone(),
                None => self.keys.health_check(&rec.queue),
            };
            let own = self.keys.worker_health(&key, &rec.worker_id);
            let index = self.keys.worker_health_index(&key);
            let keys = vec![key, self.keys.queue(&rec.queue).to_owned(), own, index];
            let args: Vec<RValue> = vec![
                rec.text.as_str().into(),
                rec.ttl_ms.max(1).into(),
                rec.worker_id.as_str().into(),
            ];
            let n: i64 = self.eval(&scripts().health, keys, args).await?;
            Ok(n.max(0) as u64)
        })
    }

    fn health_read<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<Option<String>>> {
        Box::pin(async move {
            let v: RValue = self
                .pool
                .get(self.keys.health_check(queue))
                .await
                .map_err(err)?;
            Ok(string_of(v))
        })
    }

    fn health_close<'a>(
        &'a self,
        queue: &'a str,
        check_key: Option<&'a str>,
        worker_id: &'a str,
    ) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let key = match check_key {
                Some(k) => k.to_owned(),
                None => self.keys.health_check(queue),
            };
            let own = self.keys.worker_health(&key, worker_id);
            let index = self.keys.worker_health_index(&key);
            let keys = vec![key, own, index];
            let n: i64 = self
                .eval(&scripts().health_close, keys, vec![worker_id])
                .await?;
            Ok(n.max(0) as u64)
        })
    }

    fn describe<'a>(&'a self) -> BoxFuture<'a, Result<String>> {
        Box::pin(crate::server::describe(&self.pool))
    }

    fn cron_tick<'a>(&'a self, req: &'a CronTickRequest) -> BoxFuture<'a, Result<CronTickReply>> {
        Box::pin(async move {
            let mut keys = Vec::with_capacity(2 + 3 * req.ticks.len());
            keys.push(self.keys.queue(&req.queue).to_owned());
            keys.push(self.keys.abort().to_owned());
            let mut args: Vec<RValue> = Vec::with_capacity(4 * req.ticks.len());
            for t in &req.ticks {
                keys.push(self.keys.cron_tick(&t.job_id));
                keys.push(self.keys.job(&t.job_id));
                keys.push(self.keys.result(&t.job_id));
                args.push(t.job_id.as_str().into());
                args.push(RValue::Bytes(Bytes::copy_from_slice(&t.payload)));
                args.push(t.tick_ms.into());
                args.push(
                    t.claim_ttl_ms
                        .map(|ms| ms.max(1).to_string())
                        .unwrap_or_default()
                        .into(),
                );
            }
            let reply: RValue = self.eval(&scripts().cron_tick, keys, args).await?;
            let mut items = array(reply, "cron_tick")?.into_iter();
            let now_ms = items
                .next()
                .as_ref()
                .and_then(int_of)
                .ok_or_else(|| protocol("cron_tick: time"))?;
            let outcomes = items
                .map(|v| match int_of(&v) {
                    Some(1) => Ok(CronTickOutcome::Enqueued),
                    Some(0) => Ok(CronTickOutcome::AlreadyClaimed),
                    Some(2) => Ok(CronTickOutcome::JobExists),
                    _ => Err(protocol(format!("cron_tick: outcome {v:?}"))),
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(CronTickReply { now_ms, outcomes })
        })
    }
}

impl Inspect for RedisBackend {
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
            let args: Vec<RValue> = vec![
                (offset as i64).into(),
                (limit.min(i64::MAX as u64) as i64).into(),
                self.keys.job_prefix().into(),
                self.keys.in_progress_prefix().into(),
            ];
            let reply: RValue = self
                .eval(&scripts().queue_page, vec![self.keys.queue(queue)], args)
                .await?;
            let mut items = array(reply, "queue_page")?.into_iter();
            let now_ms = items
                .next()
                .as_ref()
                .and_then(int_of)
                .ok_or_else(|| protocol("queue_page: time"))?;
            let mut entries = Vec::new();
            for item in items {
                let mut f = array(item, "queue_page item")?.into_iter();
                let (Some(id), Some(score), Some(payload), Some(running)) =
                    (f.next(), f.next(), f.next(), f.next())
                else {
                    return Err(protocol("queue_page: short item"));
                };
                entries.push(QueueEntry {
                    job_id: string_of(id).ok_or_else(|| protocol("queue_page: id"))?,
                    score: score_of(&score).unwrap_or(0),
                    payload: bytes_of(payload),
                    in_progress: int_of(&running) == Some(1),
                });
            }
            Ok(QueuePage { now_ms, entries })
        })
    }

    fn queue_stats<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<QueueStats>> {
        Box::pin(async move {
            let args: Vec<RValue> = vec![self.keys.in_progress_prefix().into(), 10_000i64.into()];
            let reply: RValue = self
                .eval(&scripts().queue_stats, vec![self.keys.queue(queue)], args)
                .await?;
            let r = array(reply, "queue_stats")?;
            if r.len() < 6 {
                return Err(protocol("queue_stats: short reply"));
            }
            let n = |i: usize| int_of(&r[i]).unwrap_or(0).max(0) as u64;
            Ok(QueueStats {
                now_ms: int_of(&r[0]).unwrap_or(0),
                total: n(1),
                deferred: n(2),
                running: n(3),
                oldest_score: score_of(&r[4]),
                running_capped: n(5) == 1,
            })
        })
    }

    fn queues<'a>(&'a self) -> BoxFuture<'a, Result<Vec<String>>> {
        Box::pin(async move {
            let mut cursor = "0".to_owned();
            let mut names = Vec::new();
            loop {
                let reply: RValue = self
                    .pool
                    .next()
                    .custom(
                        fred::cmd!("SCAN"),
                        vec![
                            cursor.as_str(),
                            "MATCH",
                            self.keys.queue_scan_pattern(),
                            "COUNT",
                            "1000",
                            "TYPE",
                            "zset",
                        ],
                    )
                    .await
                    .map_err(err)?;
                let mut r = array(reply, "SCAN")?.into_iter();
                cursor = r
                    .next()
                    .and_then(string_of)
                    .ok_or_else(|| protocol("SCAN cursor"))?;
                for key in array(r.next().unwrap_or(RValue::Null), "SCAN keys")? {
                    if let Some(k) = string_of(key) {
                        if k != self.keys.abort() {
                            names.push(k);
                        }
                    }
                }
                if cursor == "0" {
                    break;
                }
            }
            names.sort();
            names.dedup();
            Ok(names)
        })
    }

    fn results<'a>(
        &'a self,
        cursor: Option<&'a str>,
        count: u64,
    ) -> BoxFuture<'a, Result<ResultsPage>> {
        Box::pin(async move {
            let pattern = format!("{}*", self.keys.result(""));
            let reply: RValue = self
                .pool
                .next()
                .custom(
                    fred::cmd!("SCAN"),
                    vec![
                        cursor.unwrap_or("0").to_owned(),
                        "MATCH".into(),
                        pattern,
                        "COUNT".into(),
                        count.max(1).to_string(),
                    ],
                )
                .await
                .map_err(err)?;
            let mut r = array(reply, "SCAN")?.into_iter();
            let next = r
                .next()
                .as_ref()
                .and_then(int_of)
                .ok_or_else(|| protocol("SCAN cursor"))?;
            // SCAN's cursor 0 ends the walk.
            let next = (next != 0).then(|| next.to_string());
            let keys: Vec<String> = array(r.next().unwrap_or(RValue::Null), "SCAN keys")?
                .into_iter()
                .filter_map(string_of)
                .collect();
            if keys.is_empty() {
                return Ok(ResultsPage {
                    results: Vec::new(),
                    next,
                });
            }
            let values: RValue = self
                .pool
                .next()
                .custom(fred::cmd!("MGET"), keys.clone())
                .await
                .map_err(err)?;
            let prefix = self.keys.result("");
            let found = keys
                .into_iter()
                .zip(array(values, "MGET")?)
                .filter_map(|(k, v)| {
                    let id = k.strip_prefix(&prefix)?.to_owned();
                    Some((id, bytes_of(v)?))
                })
                .collect();
            Ok(ResultsPage {
                results: found,
                next,
            })
        })
    }

    fn workers<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<Vec<(String, String)>>> {
        Box::pin(async move {
            let key = self.keys.health_check(queue);
            let key = key.as_str();
            let ids: Vec<String> = self
                .pool
                .next()
                .custom(
                    fred::cmd!("HKEYS"),
                    vec![self.keys.worker_health_index(key)],
                )
                .await
                .map_err(err)?;
            let mut out = Vec::new();
            for id in ids {
                let v: RValue = self
                    .pool
                    .get(self.keys.worker_health(key, &id))
                    .await
                    .map_err(err)?;
                if let Some(record) = string_of(v) {
                    out.push((id, record));
                }
            }
            out.sort();
            Ok(out)
        })
    }

    fn delete<'a>(&'a self, queue: &'a str, job_id: &'a str) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let keys = vec![
                self.keys.queue(queue).to_owned(),
                self.keys.job(job_id),
                self.keys.retry(job_id),
                self.keys.result(job_id),
                self.keys.in_progress(job_id),
                self.keys.abort().to_owned(),
            ];
            let n: i64 = self.eval(&scripts().delete, keys, vec![job_id]).await?;
            Ok(n.max(0) as u64)
        })
    }

    fn purge<'a>(&'a self, queue: &'a str, batch: u64) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let args: Vec<RValue> = vec![
                (batch.clamp(1, 100_000) as i64).into(),
                self.keys.job_prefix().into(),
                self.keys.in_progress_prefix().into(),
                self.keys.retry_prefix().into(),
            ];
            let n: i64 = self
                .eval(&scripts().purge, vec![self.keys.queue(queue)], args)
                .await?;
            Ok(n.max(0) as u64)
        })
    }
}
