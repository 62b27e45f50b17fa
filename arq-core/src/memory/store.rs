//! The data structures behind [`MemoryBackend`](super::MemoryBackend): values with a lazy
//! expiry (what Redis keys with a TTL are), sorted sets, and the whole store, each map
//! standing for one family of Redis keys.

use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

/// One value and when it expires (ms since the epoch; `None`: never).
#[derive(Debug, Clone)]
struct Slot<T> {
    value: T,
    expires_at: Option<i64>,
}

impl<T> Slot<T> {
    /// Live at `now`: as Redis, a key expires once the clock has passed its expiry time.
    fn live(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|at| now <= at)
    }
}

/// A family of keys with time-to-lives, expiring lazily: a value past its expiry reads as
/// absent, and [`TtlMap::sweep`] frees the memory of expired ones. Sorted by key, so walks
/// (the results listing) can resume after any key.
#[derive(Debug, Clone)]
pub(crate) struct TtlMap<T> {
    map: BTreeMap<String, Slot<T>>,
}

impl<T> Default for TtlMap<T> {
    fn default() -> Self {
        TtlMap {
            map: BTreeMap::new(),
        }
    }
}

/// When a TTL of `ms` set at `now` runs out; `None` keeps the value forever. Like `PX`, a
/// TTL is at least 1 ms.
fn expiry(now: i64, ttl_ms: Option<i64>) -> Option<i64> {
    ttl_ms.map(|ms| now.saturating_add(ms.max(1)))
}

impl<T> TtlMap<T> {
    /// `GET`: the value, if it exists and has not expired.
    pub(crate) fn get(&self, key: &str, now: i64) -> Option<&T> {
        self.map.get(key).filter(|s| s.live(now)).map(|s| &s.value)
    }

    /// The value to change in place (its TTL stays, as `INCR`/`DECR`/`HSET` keep it).
    pub(crate) fn get_mut(&mut self, key: &str, now: i64) -> Option<&mut T> {
        self.drop_expired(key, now);
        self.map.get_mut(key).map(|s| &mut s.value)
    }

    /// `EXISTS`.
    pub(crate) fn contains(&self, key: &str, now: i64) -> bool {
        self.get(key, now).is_some()
    }

    /// `SET key value [PX ttl]`: replaces the value and its TTL (`None`: no TTL).
    pub(crate) fn set(&mut self, key: &str, value: T, ttl_ms: Option<i64>, now: i64) {
        let slot = Slot {
            value,
            expires_at: expiry(now, ttl_ms),
        };
        match self.map.get_mut(key) {
            Some(s) => *s = slot,
            None => {
                self.map.insert(key.to_owned(), slot);
            }
        }
    }

    /// `DEL`: whether a live value was removed.
    pub(crate) fn remove(&mut self, key: &str, now: i64) -> bool {
        self.map.remove(key).is_some_and(|s| s.live(now))
    }

    /// `PEXPIRE`: a new TTL for an existing value; whether it existed.
    pub(crate) fn expire(&mut self, key: &str, ttl_ms: i64, now: i64) -> bool {
        self.drop_expired(key, now);
        match self.map.get_mut(key) {
            Some(s) => {
                s.expires_at = expiry(now, Some(ttl_ms));
                true
            }
            None => false,
        }
    }

    /// `PTTL`: `None` when absent, `Some(None)` when kept forever, else the ms left.
    pub(crate) fn ttl(&self, key: &str, now: i64) -> Option<Option<i64>> {
        let slot = self.map.get(key).filter(|s| s.live(now))?;
        Some(slot.expires_at.map(|at| at - now))
    }

    /// The live values after `after` (from the start when `None`), in key order.
    pub(crate) fn after<'a>(
        &'a self,
        after: Option<&str>,
        now: i64,
    ) -> impl Iterator<Item = (&'a str, &'a T)> + 'a {
        let start = match after {
            Some(k) => Bound::Excluded(k.to_owned()),
            None => Bound::Unbounded,
        };
        self.map
            .range::<String, _>((start, Bound::Unbounded))
            .filter(move |(_, s)| s.live(now))
            .map(|(k, s)| (k.as_str(), &s.value))
    }

    /// Number of values held, expired ones not yet swept included.
    pub(crate) fn held(&self) -> usize {
        self.map.len()
    }

    /// Frees the expired values.
    pub(crate) fn sweep(&mut self, now: i64) {
        self.map.retain(|_, s| s.live(now));
    }

    fn drop_expired(&mut self, key: &str, now: i64) {
        if self.map.get(key).is_some_and(|s| !s.live(now)) {
            self.map.remove(key);
        }
    }
}

/// A Redis sorted set of job ids by integer score (ms): ordered by score, then by id, as
/// Redis orders members of equal score.
#[derive(Debug, Clone, Default)]
pub(crate) struct SortedSet {
    scores: HashMap<String, i64>,
    ordered: BTreeSet<(i64, String)>,
}

impl SortedSet {
    /// `ZADD`: adds the member or moves it to `score`.
    pub(crate) fn add(&mut self, member: &str, score: i64) {
        if let Some(old) = self.scores.get_mut(member) {
            if *old != score {
                self.ordered.remove(&(*old, member.to_owned()));
                *old = score;
                self.ordered.insert((score, member.to_owned()));
            }
            return;
        }
        self.scores.insert(member.to_owned(), score);
        self.ordered.insert((score, member.to_owned()));
    }

    /// `ZADD XX`: moves an existing member only; whether it existed.
    pub(crate) fn update(&mut self, member: &str, score: i64) -> bool {
        if !self.scores.contains_key(member) {
            return false;
        }
        self.add(member, score);
        true
    }

    /// `ZREM`: whether the member was there.
    pub(crate) fn remove(&mut self, member: &str) -> bool {
        match self.scores.remove(member) {
            Some(score) => {
                self.ordered.remove(&(score, member.to_owned()));
                true
            }
            None => false,
        }
    }

    /// `ZSCORE`.
    pub(crate) fn score(&self, member: &str) -> Option<i64> {
        self.scores.get(member).copied()
    }

    /// `ZCARD`.
    pub(crate) fn len(&self) -> usize {
        self.scores.len()
    }

    /// Whether the set is empty (Redis then has no key at all).
    pub(crate) fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// Every member in order: `(score, id)`.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (i64, &str)> + '_ {
        self.ordered.iter().map(|(s, m)| (*s, m.as_str()))
    }

    /// `ZRANGEBYSCORE -inf max`: the members scored at most `max`, in order.
    pub(crate) fn up_to(&self, max: i64) -> impl Iterator<Item = (i64, &str)> + '_ {
        self.iter().take_while(move |(s, _)| *s <= max)
    }

    /// `ZCOUNT (min +inf`: how many members score above `min`.
    pub(crate) fn count_above(&self, min: i64) -> usize {
        match min.checked_add(1) {
            Some(from) => self.ordered.range((from, String::new())..).count(),
            None => 0,
        }
    }

    /// `ZREMRANGEBYSCORE -inf (below`: removes the members scored below `below`.
    pub(crate) fn remove_below(&mut self, below: i64) {
        let gone: Vec<(i64, String)> = self
            .ordered
            .range(..(below, String::new()))
            .cloned()
            .collect();
        for (score, member) in gone {
            self.ordered.remove(&(score, member.clone()));
            self.scores.remove(&member);
        }
    }
}

/// Everything a Redis database would hold for arq, one map per family of keys (the Redis key
/// each stands for is in its comment).
#[derive(Debug, Default)]
pub(crate) struct Store {
    /// The queues (sorted sets named by the queue); an empty queue is removed, as Redis
    /// removes an empty sorted set.
    pub(crate) queues: HashMap<String, SortedSet>,
    /// `arq:abort`: abort requests by job id, scored by when they were made.
    pub(crate) aborts: SortedSet,
    /// `arq:job:<id>`: the job records.
    pub(crate) jobs: TtlMap<Bytes>,
    /// `arq:result:<id>`: the result records.
    pub(crate) results: TtlMap<Bytes>,
    /// `arq:in-progress:<id>`: the leases, holding their fencing token.
    pub(crate) leases: TtlMap<String>,
    /// `arq:retry:<id>`: the try counters.
    pub(crate) tries: TtlMap<i64>,
    /// `arq:retry:<id>:clean`: the last attempt handed the job back (holds its token).
    pub(crate) handed_back: TtlMap<String>,
    /// `arq:retry:<id>:releases`: how many shutdown releases the job has had.
    pub(crate) releases: TtlMap<i64>,
    /// `arq:cron-tick:<id>`: claimed cron ticks (holds the claim time).
    pub(crate) cron_ticks: TtlMap<i64>,
    /// `<health key>` and `<health key>:<worker id>`: health-check records.
    pub(crate) health: TtlMap<String>,
    /// `<health key>:workers`: per health key, each worker's record expiry (ms).
    pub(crate) health_workers: TtlMap<BTreeMap<String, i64>>,
    /// `arq:generation`: the dataset generation, created by the first heartbeat.
    pub(crate) generation: Option<String>,
    /// When expired values were last swept (ms).
    last_sweep: i64,
}

/// How often expired values are freed (reads never see them either way).
const SWEEP_EVERY_MS: i64 = 5_000;

impl Store {
    /// The queue, if it has entries.
    pub(crate) fn queue(&self, name: &str) -> Option<&SortedSet> {
        self.queues.get(name)
    }

    /// `ZADD <queue> <score> <id>`.
    pub(crate) fn queue_add(&mut self, name: &str, id: &str, score: i64) {
        self.queues
            .entry(name.to_owned())
            .or_default()
            .add(id, score);
    }

    /// `ZREM <queue> <id>`: whether it was there; an emptied queue goes.
    pub(crate) fn queue_remove(&mut self, name: &str, id: &str) -> bool {
        let Some(q) = self.queues.get_mut(name) else {
            return false;
        };
        let removed = q.remove(id);
        if q.is_empty() {
            self.queues.remove(name);
        }
        removed
    }

    /// `ZSCORE <queue> <id>`.
    pub(crate) fn queue_score(&self, name: &str, id: &str) -> Option<i64> {
        self.queue(name)?.score(id)
    }

    /// `ZCARD <queue>`.
    pub(crate) fn queue_len(&self, name: &str) -> usize {
        self.queue(name).map_or(0, SortedSet::len)
    }

    /// Frees expired values, at most every few seconds (called at the start of a step).
    pub(crate) fn maybe_sweep(&mut self, now: i64) {
        if now - self.last_sweep < SWEEP_EVERY_MS && now >= self.last_sweep {
            return;
        }
        self.last_sweep = now;
        self.jobs.sweep(now);
        self.results.sweep(now);
        self.leases.sweep(now);
        self.tries.sweep(now);
        self.handed_back.sweep(now);
        self.releases.sweep(now);
        self.cron_ticks.sweep(now);
        self.health.sweep(now);
        self.health_workers.sweep(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_expire_lazily_and_ttls_read_as_pttl() {
        let mut m = TtlMap::default();
        m.set("a", 1, Some(100), 1_000);
        m.set("b", 2, None, 1_000);
        assert_eq!(m.get("a", 1_100), Some(&1), "live up to its expiry");
        assert_eq!(m.get("a", 1_101), None, "absent past it");
        assert_eq!(m.ttl("a", 1_050), Some(Some(50)));
        assert_eq!(m.ttl("b", 9_999_999), Some(None), "kept forever");
        assert!(
            !m.expire("a", 10, 1_200),
            "an expired key cannot be renewed"
        );
        assert!(!m.remove("a", 1_200), "nor counted as deleted");
        m.set("c", 3, Some(0), 1_000);
        assert_eq!(m.ttl("c", 1_000), Some(Some(1)), "a TTL is at least 1 ms");
        m.sweep(1_200);
        assert_eq!(m.held(), 1);
    }

    #[test]
    fn sorted_sets_order_by_score_then_member() {
        let mut s = SortedSet::default();
        s.add("b", 10);
        s.add("a", 10);
        s.add("c", 5);
        s.add("b", 1);
        let order: Vec<_> = s.iter().collect();
        assert_eq!(order, [(1, "b"), (5, "c"), (10, "a")]);
        assert_eq!(s.up_to(5).count(), 2);
        assert_eq!(s.count_above(5), 1);
        assert!(!s.update("z", 3), "XX never adds");
        assert!(s.update("a", 0));
        s.remove_below(5);
        assert_eq!(s.iter().collect::<Vec<_>>(), [(5, "c")]);
    }
}
