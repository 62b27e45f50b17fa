//! The data structures behind [`MemoryBackend`](super::MemoryBackend): values with a lazy
//! expiry (what Redis keys with a TTL are), sorted sets, event streams, dead sets, pending
//! hooks, and the whole store, each map standing for one family of Redis keys.

use crate::backend::{DeadEntry, DeadLimits, EventEntry, EventKind};
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
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

    /// Every member in order: `(score, id)` (reversed, `ZREVRANGE`'s order).
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (i64, &str)> + '_ {
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

/// An entry id of an event stream, `<ms>-<seq>` as Redis stream ids are: ordered by the two
/// numbers (never as text).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct EventId {
    /// The clock's ms when it was written.
    pub(crate) ms: u64,
    /// Counts up from 0 within one ms.
    pub(crate) seq: u64,
}

impl EventId {
    /// `0-0`: before every entry.
    pub(crate) const ZERO: EventId = EventId { ms: 0, seq: 0 };

    /// Reads `<ms>-<seq>`, or `<ms>` alone (sequence 0), as `XREAD` reads an id.
    pub(crate) fn parse(text: &str) -> Option<EventId> {
        fn number(s: &str) -> Option<u64> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        }
        match text.split_once('-') {
            Some((ms, seq)) => Some(EventId {
                ms: number(ms)?,
                seq: number(seq)?,
            }),
            None => Some(EventId {
                ms: number(text)?,
                seq: 0,
            }),
        }
    }

    /// The id after `last` at clock `now`: `now-0` when the clock has moved past `last`,
    /// else `last`'s ms with the next sequence (so ids only grow, whatever the clock does).
    fn next(last: EventId, now: i64) -> EventId {
        let ms = u64::try_from(now).unwrap_or(0);
        if ms > last.ms {
            EventId { ms, seq: 0 }
        } else {
            EventId {
                ms: last.ms,
                seq: last.seq.saturating_add(1),
            }
        }
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// One stored event entry (the fields `e`, `id`, `t`, `d` of a stream entry).
#[derive(Debug, Clone)]
pub(crate) struct StoredEvent {
    pub(crate) id: EventId,
    pub(crate) kind: EventKind,
    pub(crate) job_id: String,
    pub(crate) job_try: Option<i64>,
    pub(crate) data: Option<Bytes>,
}

impl StoredEvent {
    /// As [`Backend::events_read`](crate::backend::Backend::events_read) returns it.
    pub(crate) fn entry(&self) -> EventEntry {
        EventEntry {
            id: self.id.to_string(),
            time_ms: i64::try_from(self.id.ms).unwrap_or(i64::MAX),
            kind: self.kind,
            job_id: self.job_id.clone(),
            job_try: self.job_try,
            data: self.data.clone(),
        }
    }
}

/// An event to write: what a step reports ([`Store::event`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Event<'a> {
    pub(crate) kind: EventKind,
    pub(crate) job_id: &'a str,
    pub(crate) job_try: Option<i64>,
    pub(crate) data: Option<&'a [u8]>,
}

impl<'a> Event<'a> {
    /// An event with neither try nor data.
    pub(crate) fn new(kind: EventKind, job_id: &'a str) -> Self {
        Event {
            kind,
            job_id,
            job_try: None,
            data: None,
        }
    }

    /// With the try.
    pub(crate) fn job_try(self, job_try: i64) -> Self {
        Event {
            job_try: Some(job_try),
            ..self
        }
    }

    /// With data (`None`: none).
    pub(crate) fn data(self, data: Option<&'a [u8]>) -> Self {
        Event { data, ..self }
    }
}

/// `<queue>:events`, a queue's event stream: entries oldest first, trimmed to a length, and
/// the last id it handed out (kept when trimming empties it, as a Redis stream keeps it).
#[derive(Debug, Clone, Default)]
pub(crate) struct EventStream {
    entries: VecDeque<StoredEvent>,
    last: EventId,
}

impl EventStream {
    /// `XADD <stream> MAXLEN <max_len> * …` (trimmed exactly); returns the new id.
    fn push(&mut self, now: i64, ev: Event<'_>, max_len: u64) -> EventId {
        let id = EventId::next(self.last, now);
        self.last = id;
        self.entries.push_back(StoredEvent {
            id,
            kind: ev.kind,
            job_id: ev.job_id.to_owned(),
            job_try: ev.job_try,
            data: ev.data.map(Bytes::copy_from_slice),
        });
        let keep = usize::try_from(max_len).unwrap_or(usize::MAX);
        while self.entries.len() > keep {
            self.entries.pop_front();
        }
        id
    }

    /// The id of the newest entry, `0-0` when there is none (where `after: None` reads from).
    pub(crate) fn end(&self) -> EventId {
        self.entries.back().map_or(EventId::ZERO, |e| e.id)
    }

    /// Up to `count` entries after `pos`, oldest first (`count` 0: none).
    pub(crate) fn after(&self, pos: EventId, count: usize) -> impl Iterator<Item = &StoredEvent> {
        let start = self.entries.partition_point(|e| e.id <= pos);
        self.entries.range(start..).take(count)
    }

    /// How many entries it holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// `<queue>:dead` with `<queue>:dead:data`: a queue's dead letters by when they died, with
/// their job record (`j:<id>`) and result record (`r:<id>`).
#[derive(Debug, Clone, Default)]
pub(crate) struct DeadSet {
    pub(crate) order: SortedSet,
    pub(crate) jobs: HashMap<String, Bytes>,
    pub(crate) records: HashMap<String, Bytes>,
}

/// How many letters past their age one trim removes at most.
const DEAD_AGE_TRIM_BATCH: usize = 100;

impl DeadSet {
    /// Adds (or replaces) a letter.
    fn add(&mut self, id: &str, died_ms: i64, job: Option<Bytes>, record: Bytes) {
        self.order.add(id, died_ms);
        self.records.insert(id.to_owned(), record);
        match job {
            Some(job) => {
                self.jobs.insert(id.to_owned(), job);
            }
            None => {
                self.jobs.remove(id);
            }
        }
    }

    /// Removes a letter and its data; whether it was there.
    fn remove(&mut self, id: &str) -> bool {
        self.jobs.remove(id);
        self.records.remove(id);
        self.order.remove(id)
    }

    /// The letter, if there is one.
    pub(crate) fn get(&self, id: &str) -> Option<DeadEntry> {
        let died_ms = self.order.score(id)?;
        Some(DeadEntry {
            job_id: id.to_owned(),
            died_ms,
            job: self.jobs.get(id).cloned(),
            record: self.records.get(id).cloned(),
        })
    }

    /// The ids of the `n` oldest letters.
    pub(crate) fn oldest(&self, n: usize) -> Vec<String> {
        self.order
            .iter()
            .take(n)
            .map(|(_, id)| id.to_owned())
            .collect()
    }

    /// Drops the letters older than `max_age_ms` (at most [`DEAD_AGE_TRIM_BATCH`]), then the
    /// oldest while there are more than `max_len`.
    fn trim(&mut self, now: i64, limits: DeadLimits) {
        let cutoff = now.saturating_sub(limits.max_age_ms);
        let old: Vec<String> = self
            .order
            .iter()
            .take_while(|(died, _)| *died < cutoff)
            .take(DEAD_AGE_TRIM_BATCH)
            .map(|(_, id)| id.to_owned())
            .collect();
        for id in old {
            self.remove(&id);
        }
        let max_len = usize::try_from(limits.max_len).unwrap_or(usize::MAX);
        while self.order.len() > max_len {
            let Some(id) = self.oldest(1).pop() else {
                break;
            };
            self.remove(&id);
        }
    }
}

/// `<queue>:hooks` with `<queue>:hooks:data`: pending failure hooks by lease end, with their
/// result record.
#[derive(Debug, Clone, Default)]
pub(crate) struct HookSet {
    pub(crate) order: SortedSet,
    pub(crate) data: HashMap<String, Bytes>,
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
    /// `arq:progress:<id>`: the jobs' last progress values.
    pub(crate) progress: TtlMap<Bytes>,
    /// `arq:retry:<id>:snoozes`: how many times each job snoozed.
    pub(crate) snoozes: TtlMap<u32>,
    /// `<queue>:events`: the event streams by queue.
    pub(crate) events: HashMap<String, EventStream>,
    /// `<queue>:dead` and `<queue>:dead:data`: the dead sets by queue (an emptied set goes).
    pub(crate) dead: HashMap<String, DeadSet>,
    /// `<queue>:hooks` and `<queue>:hooks:data`: the pending failure hooks by queue (an
    /// emptied set goes).
    pub(crate) hooks: HashMap<String, HookSet>,
    /// An event was written since the last [`Store::take_events_written`] (wakes blocked
    /// readers once the step is done).
    events_written: bool,
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
        self.progress.sweep(now);
        self.snoozes.sweep(now);
    }

    /// `XADD <queue>:events MAXLEN <n> * e <kind> id <id> [t <try>] [d <data>]` when the
    /// request asks for events (`max_len` is `Some(n)`); `None` writes nothing.
    pub(crate) fn event(&mut self, queue: &str, max_len: Option<u64>, now: i64, ev: Event<'_>) {
        let Some(max_len) = max_len else {
            return;
        };
        self.events
            .entry(queue.to_owned())
            .or_default()
            .push(now, ev, max_len);
        self.events_written = true;
    }

    /// Whether an event was written since the last call (and clears the flag).
    pub(crate) fn take_events_written(&mut self) -> bool {
        std::mem::take(&mut self.events_written)
    }

    /// `ZADD <queue>:dead now <id>` + `HSET <queue>:dead:data r:<id> … [j:<id> …]`, then the
    /// trim by age and by size.
    pub(crate) fn dead_add(
        &mut self,
        queue: &str,
        id: &str,
        now: i64,
        job: Option<Bytes>,
        record: Bytes,
        limits: DeadLimits,
    ) {
        let set = self.dead.entry(queue.to_owned()).or_default();
        set.add(id, now, job, record);
        set.trim(now, limits);
        if set.order.is_empty() {
            self.dead.remove(queue);
        }
    }

    /// Removes a dead letter and its data; whether it was there. An emptied set goes.
    pub(crate) fn dead_remove(&mut self, queue: &str, id: &str) -> bool {
        let Some(set) = self.dead.get_mut(queue) else {
            return false;
        };
        let removed = set.remove(id);
        if set.order.is_empty() {
            self.dead.remove(queue);
        }
        removed
    }

    /// `ZADD <queue>:hooks <lease end> <id>` + `HSET <queue>:hooks:data <id> <record>`.
    pub(crate) fn hook_add(&mut self, queue: &str, id: &str, lease_end: i64, record: Bytes) {
        let set = self.hooks.entry(queue.to_owned()).or_default();
        set.order.add(id, lease_end);
        set.data.insert(id.to_owned(), record);
    }

    /// `ZREM <queue>:hooks <id>` + `HDEL <queue>:hooks:data <id>`: whether the member was
    /// there. An emptied set goes.
    pub(crate) fn hook_remove(&mut self, queue: &str, id: &str) -> bool {
        let Some(set) = self.hooks.get_mut(queue) else {
            return false;
        };
        set.data.remove(id);
        let removed = set.order.remove(id);
        if set.order.is_empty() {
            self.hooks.remove(queue);
        }
        removed
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

    #[test]
    fn event_ids_parse_print_and_order_as_numbers() {
        let id = |t: &str| EventId::parse(t).unwrap();
        assert_eq!(id("17-3"), EventId { ms: 17, seq: 3 });
        assert_eq!(
            id("17"),
            EventId { ms: 17, seq: 0 },
            "an incomplete id is seq 0"
        );
        assert_eq!(id("17-3").to_string(), "17-3");
        for bad in ["", "-", "a-1", "1-", "-1", "1-2-3", "+1-0", "1--1", " 1-0"] {
            assert_eq!(EventId::parse(bad), None, "{bad:?}");
        }
        // As text "9-10" > "10-9"; as ids it is the other way round.
        assert!(id("9-10") < id("10-9"));
        assert!(id("10-9") < id("10-10"));
        // Ids only grow: the same ms counts up, a clock gone back keeps the last ms.
        let a = EventId::next(EventId::ZERO, 100);
        assert_eq!(a, id("100-0"));
        assert_eq!(EventId::next(a, 100), id("100-1"));
        assert_eq!(EventId::next(id("100-1"), 50), id("100-2"));
        assert_eq!(EventId::next(id("100-2"), 101), id("101-0"));
    }

    #[test]
    fn event_streams_trim_exactly_and_read_after_a_position() {
        let mut st = EventStream::default();
        let ev = |id| Event::new(EventKind::Enqueued, id);
        for (i, job) in ["a", "b", "c", "d"].into_iter().enumerate() {
            st.push(1_000 + i as i64 / 2, ev(job), 3);
        }
        assert_eq!(st.len(), 3, "trimmed to exactly 3");
        let ids: Vec<String> = st
            .after(EventId::ZERO, usize::MAX)
            .map(|e| e.id.to_string())
            .collect();
        assert_eq!(ids, ["1000-1", "1001-0", "1001-1"]);
        assert_eq!(st.after(EventId::ZERO, 0).count(), 0, "count 0: none");
        assert_eq!(st.end(), EventId { ms: 1001, seq: 1 });
        let jobs: Vec<&str> = st
            .after(EventId { ms: 1000, seq: 1 }, 1)
            .map(|e| e.job_id.as_str())
            .collect();
        assert_eq!(jobs, ["c"], "after the position, at most count");
        // Trimmed to nothing, the stream still hands out later ids.
        st.push(5, ev("e"), 0);
        assert_eq!(st.len(), 0);
        assert_eq!(st.end(), EventId::ZERO);
        st.push(5, ev("f"), 10);
        assert_eq!(st.end(), EventId { ms: 1001, seq: 3 });
    }

    #[test]
    fn dead_sets_trim_by_age_at_most_a_batch_then_by_size() {
        let mut d = DeadSet::default();
        let limits = |max_len, max_age_ms| DeadLimits {
            max_len,
            max_age_ms,
        };
        for i in 0..150 {
            d.add(&format!("old{i:03}"), i, None, Bytes::new());
        }
        d.add("new", 10_000, Some(Bytes::from_static(b"j")), Bytes::new());
        d.trim(10_000, limits(1_000, 5_000));
        assert_eq!(
            d.order.len(),
            51,
            "100 of the 150 old letters go in one step"
        );
        assert_eq!(d.oldest(1), ["old100"], "the oldest first");
        assert_eq!(d.records.len(), 51, "with their data");
        d.trim(10_000, limits(1_000, 5_000));
        assert_eq!(d.oldest(5), ["new"]);
        d.add("newer", 10_001, None, Bytes::new());
        d.trim(10_001, limits(1, 5_000));
        assert_eq!(d.oldest(5), ["newer"], "then by size, oldest first");
        assert!(d.jobs.is_empty() && d.records.len() == 1);
    }
}
