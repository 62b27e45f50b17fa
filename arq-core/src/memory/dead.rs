//! [`DeadLetters`] for [`MemoryBackend`]: the dead sets (`<queue>:dead` and
//! `<queue>:dead:data` on Redis), each method one step as the Redis backend's.

use super::{MemoryBackend, EXPIRES_EXTRA_MS, MAX_DEAD_PURGE};
use crate::backend::{BoxFuture, DeadEntry, DeadLetters, DeadPage, EventKind, RequeueOutcome};
use crate::memory::store::Event;
use crate::Result;

impl DeadLetters for MemoryBackend {
    /// `ZCARD` + `ZREVRANGE <queue>:dead <offset> …` + `HMGET` of each letter's data.
    fn dead_page<'a>(
        &'a self,
        queue: &'a str,
        offset: u64,
        limit: u64,
    ) -> BoxFuture<'a, Result<DeadPage>> {
        Box::pin(async move {
            Ok(self.step(|s, now| {
                let skip = usize::try_from(offset).unwrap_or(usize::MAX);
                let take = usize::try_from(limit).unwrap_or(usize::MAX);
                let set = s.dead.get(queue);
                let entries = set.map_or_else(Vec::new, |set| {
                    set.order
                        .iter()
                        .rev()
                        .skip(skip)
                        .take(take)
                        .filter_map(|(_, id)| set.get(id))
                        .collect()
                });
                DeadPage {
                    now_ms: now,
                    total: set.map_or(0, |set| set.order.len() as u64),
                    entries,
                }
            }))
        })
    }

    /// `ZSCORE <queue>:dead <id>` + `HMGET <queue>:dead:data j:<id> r:<id>`.
    fn dead_read<'a>(
        &'a self,
        queue: &'a str,
        job_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<DeadEntry>>> {
        Box::pin(
            async move { Ok(self.step(|s, _| s.dead.get(queue).and_then(|set| set.get(job_id)))) },
        )
    }

    /// The Redis backend's dead requeue: per id, the letter's job back in its queue, due now,
    /// unless the id is taken again.
    fn dead_requeue<'a>(
        &'a self,
        queue: &'a str,
        job_ids: &'a [String],
        events: Option<u64>,
    ) -> BoxFuture<'a, Result<Vec<RequeueOutcome>>> {
        Box::pin(async move {
            Ok(self.step(|s, now| {
                job_ids
                    .iter()
                    .map(|id| {
                        let Some(letter) = s.dead.get(queue).and_then(|set| set.get(id)) else {
                            return RequeueOutcome::NotFound;
                        };
                        let Some(job) = letter.job else {
                            return RequeueOutcome::NoRecord;
                        };
                        if s.jobs.contains(id, now) || s.queue_score(queue, id).is_some() {
                            return RequeueOutcome::JobExists;
                        }
                        s.jobs.set(id, job, Some(EXPIRES_EXTRA_MS), now);
                        s.queue_add(queue, id, now);
                        s.tries.remove(id, now);
                        s.handed_back.remove(id, now);
                        s.releases.remove(id, now);
                        s.snoozes.remove(id, now);
                        s.results.remove(id, now);
                        s.dead_remove(queue, id);
                        s.event(queue, events, now, Event::new(EventKind::Requeued, id));
                        RequeueOutcome::Requeued
                    })
                    .collect()
            }))
        })
    }

    /// `ZREM <queue>:dead <ids…>` + `HDEL` of their data: how many letters existed.
    fn dead_delete<'a>(
        &'a self,
        queue: &'a str,
        job_ids: &'a [String],
    ) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            Ok(self.step(|s, _| {
                job_ids
                    .iter()
                    .map(|id| u64::from(s.dead_remove(queue, id)))
                    .sum()
            }))
        })
    }

    /// `ZRANGE <queue>:dead 0 <batch - 1>` + their removal: the oldest `batch` letters (at
    /// most 100 000; 0 removes none).
    fn dead_purge<'a>(&'a self, queue: &'a str, batch: u64) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            Ok(self.step(|s, _| {
                let batch = usize::try_from(batch.min(MAX_DEAD_PURGE)).unwrap_or(usize::MAX);
                let ids = s
                    .dead
                    .get(queue)
                    .map_or_else(Vec::new, |set| set.oldest(batch));
                ids.iter()
                    .map(|id| u64::from(s.dead_remove(queue, id)))
                    .sum()
            }))
        })
    }
}
