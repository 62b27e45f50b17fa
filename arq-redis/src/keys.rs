//! Where each record lives: Python arq's default key layout, or the same layout under a tenant
//! prefix, in one type.
//!
//! Every key this backend touches is built here, so a hash-tagged layout for Redis Cluster
//! (every key of a queue in one slot) can be added as another constructor without touching
//! the scripts, which receive keys and prefixes from this type.

use arq_core::{Error, Result};

/// The time to live of the retry counter `arq:retry:<id>` and of the markers beside it
/// (`:clean`, `:releases`, `:snoozes`), in seconds: what Python arq's worker sets (`EXPIRE
/// 88400`, a day and a bit more than the job key's `expires_extra_ms`). `lua/claim.lua`,
/// `lua/retry.lua`, `lua/release.lua` and `lua/snooze.lua` write the same literal (the test
/// below holds them to it).
pub(crate) const RETRY_KEY_TTL_S: i64 = arq_core::backend::TRY_COUNTER_TTL_MS / 1000;

/// Key names and prefixes.
///
/// The default ([`KeyLayout::arq`]) is Python arq's, so Python and Rust clients and workers
/// can share a queue. [`KeyLayout::prefixed`] puts every job, result, retry, lease, abort and
/// cron key under `<prefix>:arq:`, so each tenant's keys can be confined with ACL key patterns
/// such as `~t1:arq:*` (see `docs/acl.md`). Queue names stay the caller's choice: under a prefix,
/// name queues `<prefix>:arq:<name>` (the pool's default queue is `<prefix>:arq:queue`) so
/// that the same patterns cover them and their health-check keys.
///
/// ```
/// let k = arq_redis::KeyLayout::prefixed("t1").unwrap();
/// assert_eq!(k.job("42"), "t1:arq:job:42");
/// assert_eq!(k.default_queue(), "t1:arq:queue");
/// assert_eq!(arq_redis::KeyLayout::arq().job("42"), "arq:job:42");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLayout {
    prefix: Option<String>,
    job: String,
    in_progress: String,
    result: String,
    retry: String,
    abort: String,
    health_suffix: String,
    cron_tick: String,
    progress: String,
    generation: String,
    default_queue: String,
    queue_pattern: String,
}

impl Default for KeyLayout {
    fn default() -> Self {
        Self::arq()
    }
}

impl KeyLayout {
    /// Python arq's layout: `arq:job:<id>`, `arq:in-progress:<id>`, `arq:result:<id>`,
    /// `arq:retry:<id>`, `arq:abort`, `arq:cron-tick:<id>`, `<queue>:health-check`; and, beyond
    /// Python arq, `arq:progress:<id>`, `arq:retry:<id>:snoozes` and the queue's `<queue>:events`,
    /// `<queue>:dead`, `<queue>:dead:data`, `<queue>:hooks` and `<queue>:hooks:data`.
    pub fn arq() -> Self {
        Self::under(None, "arq")
    }

    /// The same layout under a tenant prefix: `<prefix>:arq:job:<id>`,
    /// `<prefix>:arq:in-progress:<id>`, `<prefix>:arq:result:<id>`, `<prefix>:arq:retry:<id>`,
    /// `<prefix>:arq:abort`, `<prefix>:arq:cron-tick:<id>`, `<prefix>:arq:progress:<id>`; the
    /// health key and the other queue-scoped keys (`<queue>:events`, `<queue>:dead`, ...) stay
    /// under the queue's name.
    ///
    /// The prefix is refused ([`Error::Config`]) when it is empty, ends with `:`, or holds
    /// whitespace, control characters or the glob characters `* ? [ ] \`: it becomes part of
    /// `SCAN MATCH` patterns and of the ACL key patterns that isolate tenants.
    pub fn prefixed(prefix: &str) -> Result<Self> {
        validate_prefix(prefix)?;
        Ok(Self::under(Some(prefix), &format!("{prefix}:arq")))
    }

    fn under(prefix: Option<&str>, ns: &str) -> Self {
        KeyLayout {
            prefix: prefix.map(str::to_owned),
            job: format!("{ns}:job:"),
            in_progress: format!("{ns}:in-progress:"),
            result: format!("{ns}:result:"),
            retry: format!("{ns}:retry:"),
            abort: format!("{ns}:abort"),
            health_suffix: ":health-check".into(),
            cron_tick: format!("{ns}:cron-tick:"),
            progress: format!("{ns}:progress:"),
            generation: format!("{ns}:generation"),
            default_queue: format!("{ns}:queue"),
            queue_pattern: prefix.map_or_else(|| "*".to_owned(), |p| format!("{p}:*")),
        }
    }

    /// The tenant prefix, `None` for Python arq's layout.
    pub fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    /// `arq:job:<id>`
    pub fn job(&self, id: &str) -> String {
        concat(&self.job, id)
    }

    /// `arq:in-progress:<id>`
    pub fn in_progress(&self, id: &str) -> String {
        concat(&self.in_progress, id)
    }

    /// `arq:result:<id>`
    pub fn result(&self, id: &str) -> String {
        concat(&self.result, id)
    }

    /// `arq:retry:<id>`
    pub fn retry(&self, id: &str) -> String {
        concat(&self.retry, id)
    }

    /// `arq:abort`
    pub fn abort(&self) -> &str {
        &self.abort
    }

    /// The queue's own key: its name.
    pub fn queue<'a>(&self, queue: &'a str) -> &'a str {
        queue
    }

    /// The queue a pool on this layout uses when none is given: Python arq's `arq:queue`, or
    /// `<prefix>:arq:queue`.
    pub fn default_queue(&self) -> &str {
        &self.default_queue
    }

    /// The `SCAN MATCH` pattern for finding queues: `*` (every sorted set, as Python arq has no
    /// namespace for queue names), or `<prefix>:*`, so a tenant lists only its own queues.
    pub fn queue_scan_pattern(&self) -> &str {
        &self.queue_pattern
    }

    /// The `SCAN MATCH` pattern for result keys: `arq:result:*`.
    pub fn result_scan_pattern(&self) -> String {
        format!("{}*", self.result)
    }

    /// `<queue>:health-check`
    pub fn health_check(&self, queue: &str) -> String {
        format!("{queue}{}", self.health_suffix)
    }

    /// The shared health record of a queue's workers: `check_key` when the worker's settings
    /// name one (`WorkerSettings::health_check_key`), else `<queue>:health-check`.
    pub fn health_key(&self, queue: &str, check_key: Option<&str>) -> String {
        match check_key {
            Some(key) => key.to_owned(),
            None => self.health_check(queue),
        }
    }

    /// The job id of a result key (`arq:result:<id>` -> `<id>`); `None` for another key.
    pub fn result_id<'a>(&self, result_key: &'a str) -> Option<&'a str> {
        result_key.strip_prefix(self.result.as_str())
    }

    /// `<health key>:<worker id>`: one worker's own health record.
    pub fn worker_health(&self, health_key: &str, worker_id: &str) -> String {
        format!("{health_key}:{worker_id}")
    }

    /// `<health key>:workers`: the hash of the workers with a health record.
    pub fn worker_health_index(&self, health_key: &str) -> String {
        format!("{health_key}:workers")
    }

    pub(crate) fn job_prefix(&self) -> &str {
        &self.job
    }

    pub(crate) fn in_progress_prefix(&self) -> &str {
        &self.in_progress
    }

    pub(crate) fn retry_prefix(&self) -> &str {
        &self.retry
    }

    /// `arq:retry:<id>:clean`: the marker that the last attempt handed the job back (a retry or
    /// a shutdown release), so the next claim is not a recovery. `claim.lua` builds the same
    /// name from the retry key.
    pub fn handed_back(&self, id: &str) -> String {
        format!("{}{id}:clean", self.retry)
    }

    /// `arq:retry:<id>:releases`: how many shutdown releases the job has had.
    pub fn releases(&self, id: &str) -> String {
        format!("{}{id}:releases", self.retry)
    }

    /// `arq:generation`: the dataset generation, created by the first worker heartbeat; when
    /// it disappears the dataset was reset.
    pub fn generation(&self) -> String {
        self.generation.clone()
    }

    /// `arq:cron-tick:<job id>`: the marker that a cron tick (job id `cron:<name>:<ms>`) was
    /// claimed by a worker, kept after its job finished.
    pub fn cron_tick(&self, job_id: &str) -> String {
        concat(&self.cron_tick, job_id)
    }

    /// `arq:retry:<id>:snoozes`: how many times the job snoozed (kept as long as the retry
    /// counter: 88 400 s).
    ///
    /// ```
    /// let k = arq_redis::KeyLayout::arq();
    /// assert_eq!(k.snoozes("42"), "arq:retry:42:snoozes");
    /// ```
    pub fn snoozes(&self, id: &str) -> String {
        format!("{}{id}:snoozes", self.retry)
    }

    /// `arq:progress:<id>`: the last progress a running job reported.
    ///
    /// ```
    /// let k = arq_redis::KeyLayout::prefixed("t1").unwrap();
    /// assert_eq!(k.progress("42"), "t1:arq:progress:42");
    /// ```
    pub fn progress(&self, id: &str) -> String {
        concat(&self.progress, id)
    }

    /// `<queue>:events`: the stream of the queue's lifecycle events. Queue-scoped, like every
    /// key below, so a cluster layout can put it in the queue's slot.
    ///
    /// ```
    /// assert_eq!(arq_redis::KeyLayout::arq().events("arq:queue"), "arq:queue:events");
    /// ```
    pub fn events(&self, queue: &str) -> String {
        format!("{queue}:events")
    }

    /// `<queue>:dead`: the queue's dead letters, a sorted set of job ids scored by when they
    /// died (ms). Not a queue: [`Inspect::queues`](arq_core::backend::Inspect::queues) skips
    /// it ([`KeyLayout::is_side_set`]).
    ///
    /// ```
    /// assert_eq!(arq_redis::KeyLayout::arq().dead("arq:queue"), "arq:queue:dead");
    /// ```
    pub fn dead(&self, queue: &str) -> String {
        format!("{queue}:dead")
    }

    /// `<queue>:dead:data`: the hash of the dead letters' records, fields `j:<id>` (the job
    /// record as claimed) and `r:<id>` (the result record).
    ///
    /// ```
    /// assert_eq!(arq_redis::KeyLayout::arq().dead_data("arq:queue"), "arq:queue:dead:data");
    /// ```
    pub fn dead_data(&self, queue: &str) -> String {
        format!("{queue}:dead:data")
    }

    /// `<queue>:hooks`: the queue's pending failure hooks, a sorted set of job ids scored by
    /// the end of their lease (ms). Not a queue either.
    ///
    /// ```
    /// assert_eq!(arq_redis::KeyLayout::arq().hooks("arq:queue"), "arq:queue:hooks");
    /// ```
    pub fn hooks(&self, queue: &str) -> String {
        format!("{queue}:hooks")
    }

    /// `<queue>:hooks:data`: the hash of the pending hooks' result records, field `<id>`.
    ///
    /// ```
    /// assert_eq!(arq_redis::KeyLayout::arq().hooks_data("arq:queue"), "arq:queue:hooks:data");
    /// ```
    pub fn hooks_data(&self, queue: &str) -> String {
        format!("{queue}:hooks:data")
    }

    /// Whether a sorted set is a queue's dead set or hook set (`<queue>:dead`,
    /// `<queue>:hooks`) rather than a queue.
    ///
    /// ```
    /// let k = arq_redis::KeyLayout::arq();
    /// assert!(k.is_side_set("arq:queue:dead") && k.is_side_set("arq:queue:hooks"));
    /// assert!(!k.is_side_set("arq:queue"));
    /// ```
    pub fn is_side_set(&self, key: &str) -> bool {
        key.ends_with(":dead") || key.ends_with(":hooks")
    }

    /// `<queue>:enqueued`: the pub/sub channel an enqueue of a due job publishes on, waking
    /// idle workers of the queue.
    pub fn enqueued_channel(&self, queue: &str) -> String {
        format!("{queue}:enqueued")
    }

    /// `<queue>:finished`: the pub/sub channel a worker publishes each finished job's id on,
    /// waking clients waiting for its result.
    pub fn finished_channel(&self, queue: &str) -> String {
        format!("{queue}:finished")
    }
}

/// `prefix + rest` in one allocation (keys are built for every job: no `format!` machinery).
fn concat(prefix: &str, rest: &str) -> String {
    let mut key = String::with_capacity(prefix.len() + rest.len());
    key.push_str(prefix);
    key.push_str(rest);
    key
}

/// Checks a tenant prefix (see [`KeyLayout::prefixed`]).
fn validate_prefix(prefix: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::Config(format!(
            "invalid key prefix {prefix:?}: {why} (use e.g. \"tenant1\", which gives keys \
             like \"tenant1:arq:job:<id>\")"
        )))
    };
    if prefix.is_empty() {
        return bad("it is empty");
    }
    if prefix.ends_with(':') {
        return bad("it must not end with ':' (the separator is added)");
    }
    if let Some(c) = prefix
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "*?[]\\".contains(*c))
    {
        return bad(&format!(
            "{c:?} is not allowed (no whitespace, control or glob characters)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arq_layout_matches_python_constants() {
        let k = KeyLayout::arq();
        assert_eq!(k.job("abc"), "arq:job:abc");
        assert_eq!(k.in_progress("abc"), "arq:in-progress:abc");
        assert_eq!(k.result("abc"), "arq:result:abc");
        assert_eq!(k.retry("abc"), "arq:retry:abc");
        assert_eq!(k.abort(), "arq:abort");
        assert_eq!(k.health_check("arq:queue"), "arq:queue:health-check");
        assert_eq!(
            k.cron_tick("cron:f:1795904914123"),
            "arq:cron-tick:cron:f:1795904914123"
        );
        assert_eq!(k.default_queue(), "arq:queue");
        assert_eq!(k.handed_back("abc"), "arq:retry:abc:clean");
        assert_eq!(k.releases("abc"), "arq:retry:abc:releases");
        assert_eq!(k.generation(), "arq:generation");
        assert_eq!(k.prefix(), None);
        assert_eq!(k.queue_scan_pattern(), "*");
        assert_eq!(k.result_scan_pattern(), "arq:result:*");
        assert_eq!(k.job_prefix(), "arq:job:");
        assert_eq!(k.in_progress_prefix(), "arq:in-progress:");
        assert_eq!(k.retry_prefix(), "arq:retry:");
        assert_eq!(KeyLayout::default(), k);
        assert_eq!(k.health_key("arq:queue", None), "arq:queue:health-check");
        assert_eq!(k.health_key("arq:queue", Some("custom:hc")), "custom:hc");
        assert_eq!(k.result_id("arq:result:abc"), Some("abc"));
        assert_eq!(k.result_id("arq:job:abc"), None);
        assert_eq!(k.snoozes("abc"), "arq:retry:abc:snoozes");
        assert_eq!(k.progress("abc"), "arq:progress:abc");
        assert_eq!(k.events("arq:queue"), "arq:queue:events");
        assert_eq!(k.dead("arq:queue"), "arq:queue:dead");
        assert_eq!(k.dead_data("arq:queue"), "arq:queue:dead:data");
        assert_eq!(k.hooks("arq:queue"), "arq:queue:hooks");
        assert_eq!(k.hooks_data("arq:queue"), "arq:queue:hooks:data");
    }

    #[test]
    fn dead_and_hook_sets_are_not_queues() {
        let k = KeyLayout::arq();
        for q in ["arq:queue", "emails"] {
            assert!(k.is_side_set(&k.dead(q)), "{q}");
            assert!(k.is_side_set(&k.hooks(q)), "{q}");
            assert!(!k.is_side_set(q), "{q}");
        }
        assert!(!k.is_side_set("arq:queue:dead:data"));
        assert!(!k.is_side_set("arq:deadline"));
    }

    #[test]
    fn the_scripts_use_pythons_retry_key_ttl() {
        // Python arq: `await conn.expire(retry_key_prefix + job_id, 88400)`.
        assert_eq!(RETRY_KEY_TTL_S, 88_400);
        let ex = format!("'EX', {RETRY_KEY_TTL_S}");
        for (name, lua, sets) in [
            ("claim", include_str!("../lua/claim.lua"), 1),
            ("retry", include_str!("../lua/retry.lua"), 1),
            ("release", include_str!("../lua/release.lua"), 1),
            ("snooze", include_str!("../lua/snooze.lua"), 2),
        ] {
            assert_eq!(lua.matches(&ex).count(), sets, "{name}.lua");
            assert!(
                lua.contains("RETRY_KEY_TTL_S"),
                "{name}.lua names its source"
            );
        }
        let release = include_str!("../lua/release.lua");
        assert!(release.contains(&format!("'EXPIRE', KEYS[4], {RETRY_KEY_TTL_S})")));
    }

    #[test]
    fn prefixed_layout_puts_every_key_under_the_tenant() {
        let k = KeyLayout::prefixed("t1").unwrap();
        assert_eq!(k.prefix(), Some("t1"));
        assert_eq!(k.job("abc"), "t1:arq:job:abc");
        assert_eq!(k.in_progress("abc"), "t1:arq:in-progress:abc");
        assert_eq!(k.result("abc"), "t1:arq:result:abc");
        assert_eq!(k.retry("abc"), "t1:arq:retry:abc");
        assert_eq!(k.abort(), "t1:arq:abort");
        assert_eq!(k.cron_tick("cron:f:1"), "t1:arq:cron-tick:cron:f:1");
        assert_eq!(k.default_queue(), "t1:arq:queue");
        assert_eq!(k.handed_back("abc"), "t1:arq:retry:abc:clean");
        assert_eq!(k.releases("abc"), "t1:arq:retry:abc:releases");
        assert_eq!(k.generation(), "t1:arq:generation");
        assert_eq!(k.queue("t1:arq:queue"), "t1:arq:queue");
        assert_eq!(k.health_check("t1:arq:queue"), "t1:arq:queue:health-check");
        assert_eq!(
            k.worker_health(&k.health_check("t1:arq:queue"), "w9"),
            "t1:arq:queue:health-check:w9"
        );
        assert_eq!(
            k.worker_health_index("t1:arq:queue:health-check"),
            "t1:arq:queue:health-check:workers"
        );
        assert_eq!(k.queue_scan_pattern(), "t1:*");
        assert_eq!(k.result_scan_pattern(), "t1:arq:result:*");
        assert_eq!(k.job_prefix(), "t1:arq:job:");
        assert_eq!(k.in_progress_prefix(), "t1:arq:in-progress:");
        assert_eq!(k.retry_prefix(), "t1:arq:retry:");
        assert_eq!(k.result_id("t1:arq:result:abc"), Some("abc"));
        assert_eq!(k.result_id("arq:result:abc"), None);
        assert_eq!(k.snoozes("abc"), "t1:arq:retry:abc:snoozes");
        assert_eq!(k.progress("abc"), "t1:arq:progress:abc");
        let q = k.default_queue();
        assert_eq!(k.events(q), "t1:arq:queue:events");
        assert_eq!(k.dead(q), "t1:arq:queue:dead");
        assert_eq!(k.dead_data(q), "t1:arq:queue:dead:data");
        assert_eq!(k.hooks(q), "t1:arq:queue:hooks");
        assert_eq!(k.hooks_data(q), "t1:arq:queue:hooks:data");

        // Every key of the tenant, and its default queue, matches the one ACL pattern.
        let acl = "t1:arq:";
        for key in [
            k.job("x"),
            k.in_progress("x"),
            k.result("x"),
            k.retry("x"),
            k.abort().to_owned(),
            k.cron_tick("x"),
            k.handed_back("x"),
            k.releases("x"),
            k.generation(),
            k.default_queue().to_owned(),
            k.health_check(k.default_queue()),
            k.snoozes("x"),
            k.progress("x"),
            k.events(k.default_queue()),
            k.dead(k.default_queue()),
            k.dead_data(k.default_queue()),
            k.hooks(k.default_queue()),
            k.hooks_data(k.default_queue()),
        ] {
            assert!(key.starts_with(acl), "{key}");
        }
        // Tenants never share a key.
        let t2 = KeyLayout::prefixed("t2").unwrap();
        assert_ne!(k.abort(), t2.abort());
        assert_ne!(k.job("x"), t2.job("x"));
        assert_ne!(k, t2);
    }

    #[test]
    fn prefixes_that_would_break_patterns_are_refused() {
        for bad in ["", "t1:", "a b", "t*", "t?", "t[1]", "a\\b", "a\nb"] {
            let err = KeyLayout::prefixed(bad).unwrap_err();
            assert!(
                matches!(&err, Error::Config(m) if m.contains("invalid key prefix")),
                "{bad:?}: {err}"
            );
        }
        for good in ["t1", "tenant-1", "acme.prod", "a:b", "{t1}"] {
            assert!(KeyLayout::prefixed(good).is_ok(), "{good:?}");
        }
    }
}
