//! Result wake-ups for `Job::result`: one subscription per queue and pool to the backend's
//! "finished" notifications, waking the callers waiting for each job id. Polling stays the
//! fallback (Python workers publish nothing).
//!
//! A pool that writes events ([`Pool::with_events`](crate::Pool::with_events)) also reads them:
//! one reader per queue and pool (`client/events.rs`'s `EventReader`, on a connection of its
//! own, going on from its last id after a lost connection) wakes the waiters of each job whose
//! `completed`, `failed` or `aborted` event it reads.

use crate::backend::{Backend, EventKind, Watch};
use crate::client::events::{is_transient, EventReader, ReaderConns};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The pool's result waiters; dropping it (with the last pool clone) ends its subscriptions.
#[derive(Default)]
pub(crate) struct ResultWatch {
    waiters: Mutex<HashMap<String, Vec<Arc<Notify>>>>,
    /// Queue -> what wakes its waiters.
    queues: tokio::sync::Mutex<HashMap<String, QueueWatch>>,
    stop: CancellationToken,
}

impl Drop for ResultWatch {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// What was set up for one queue (once tried, neither is tried again: polling remains).
#[derive(Debug, Default, Clone, Copy)]
struct QueueWatch {
    /// The "finished" subscription was tried.
    subscribed: bool,
    /// The events reader was tried.
    events: bool,
}

/// Removes its waiter when the wait ends.
pub(crate) struct Waiting {
    watch: Arc<ResultWatch>,
    id: String,
    notify: Arc<Notify>,
}

impl Waiting {
    /// Resolves when the job may have finished (or at once if a notice came since the last
    /// call).
    pub(crate) async fn notified(&self) {
        self.notify.notified().await
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let mut waiters = self.watch.waiters.lock().unwrap();
        if let Some(list) = waiters.get_mut(&self.id) {
            list.retain(|n| !Arc::ptr_eq(n, &self.notify));
            if list.is_empty() {
                waiters.remove(&self.id);
            }
        }
    }
}

impl ResultWatch {
    /// Registers a waiter for `id` on `queue`, subscribing to the queue first if this pool has
    /// not yet (and, with `events`, starting the queue's events reader): anything finished
    /// after this returns wakes the waiter.
    ///
    /// `events`: the pool's connections for event readers, when it has events on.
    pub(crate) async fn wait_for(
        self: &Arc<Self>,
        backend: &Arc<dyn Backend>,
        events: Option<&Arc<ReaderConns>>,
        queue: &str,
        id: &str,
    ) -> Waiting {
        let notify = Arc::new(Notify::new());
        self.waiters
            .lock()
            .unwrap()
            .entry(id.to_owned())
            .or_default()
            .push(notify.clone());
        let mut queues = self.queues.lock().await;
        let state = queues.entry(queue.to_owned()).or_default();
        if !state.subscribed {
            state.subscribed = true;
            self.subscribe(backend.as_ref(), queue).await;
        }
        if let Some(conns) = events.filter(|_| !state.events) {
            state.events = true;
            self.start_events(backend.clone(), conns.clone(), queue)
                .await;
        }
        drop(queues);
        Waiting {
            watch: self.clone(),
            id: id.to_owned(),
            notify,
        }
    }

    /// Wakes the waiters of `id`; every waiter when `id` is `None` (notices were lost).
    fn wake(&self, id: Option<&str>) {
        let waiters = self.waiters.lock().unwrap();
        match id {
            None => waiters.values().flatten().for_each(|n| n.notify_one()),
            Some(id) => {
                if let Some(list) = waiters.get(id) {
                    list.iter().for_each(|n| n.notify_one());
                }
            }
        }
    }

    /// Subscribes to `queue`'s "finished" notifications; returns whether that works.
    async fn subscribe(self: &Arc<Self>, backend: &dyn Backend, queue: &str) -> bool {
        let weak: Weak<ResultWatch> = Arc::downgrade(self);
        let on_message = Arc::new(move |msg: &[u8]| {
            let Some(watch) = weak.upgrade() else { return };
            if msg.is_empty() {
                watch.wake(None);
            } else if let Ok(id) = std::str::from_utf8(msg) {
                watch.wake(Some(id));
            }
        });
        match backend
            .watch(
                &Watch::Finished(queue.to_owned()),
                on_message,
                self.stop.child_token(),
            )
            .await
        {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!(queue, "no result notifications ({e}); polling");
                false
            }
        }
    }

    /// Starts `queue`'s events reader: from the stream's end now, so every outcome written
    /// after this returns is read, until the pool (this watch) is dropped. Returns whether it
    /// runs (`false`: the backend has no event streams).
    async fn start_events(
        self: &Arc<Self>,
        backend: Arc<dyn Backend>,
        conns: Arc<ReaderConns>,
        queue: &str,
    ) -> bool {
        let mut reader = EventReader::new(backend, conns, queue, None);
        match reader.resolve_end().await {
            Ok(()) => {}
            Err(e) if is_transient(&e) => tracing::debug!(
                queue,
                "could not find where the event stream ends ({e}); the result waiters' \
                 reader starts at its first read that works"
            ),
            Err(e) => {
                tracing::debug!(queue, "no result wake-ups from events ({e})");
                return false;
            }
        }
        let weak: Weak<ResultWatch> = Arc::downgrade(self);
        let stop = self.stop.child_token();
        let queue = queue.to_owned();
        tokio::spawn(async move {
            loop {
                let batch = tokio::select! {
                    _ = stop.cancelled() => return,
                    batch = reader.next_batch() => batch,
                };
                match batch {
                    Ok(entries) => {
                        let Some(watch) = weak.upgrade() else { return };
                        for e in entries {
                            if matches!(
                                e.kind,
                                EventKind::Completed | EventKind::Failed | EventKind::Aborted
                            ) {
                                watch.wake(Some(&e.job_id));
                            }
                        }
                    }
                    Err(e) => {
                        tracing::debug!(queue, "result wake-ups from events ended ({e})");
                        return;
                    }
                }
            }
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{ClaimRequest, FinishOutcome, FinishRequest};
    use crate::client::events::limited::Limited;
    use crate::{MemoryBackend, Pool};
    use std::time::Duration;

    /// Enqueues, claims and finishes job `id` of `q`, writing its `completed` event.
    async fn run_job(pool: &Pool, q: &str, id: &str) {
        pool.enqueue_job("f", vec![])
            .job_id(id)
            .queue_name(q)
            .await
            .unwrap();
        let claimed = pool
            .backend()
            .claim(&ClaimRequest {
                queue: q.into(),
                limit: 1,
                scan_limit: 10,
                token_prefix: "w".into(),
                seq: 1,
                idle: true,
                alone_from_try: 3,
                lease_ms: 10_000,
                check_abort: false,
                events: Some(100),
            })
            .await
            .unwrap();
        let job = &claimed.jobs[0];
        let done = pool
            .backend()
            .finish(&[FinishRequest {
                queue: q.into(),
                job_id: id.into(),
                token: job.token.clone(),
                result: Some(b"done".to_vec()),
                keep_result_ms: None,
                keep_in_progress_ms: None,
                outcome: FinishOutcome::Completed,
                job_try: job.job_try,
                failure: None,
                events: Some(100),
                error: None,
            }])
            .await
            .unwrap();
        assert_eq!(done, [true]);
    }

    /// A backend without push notifications: only the events reader wakes a waiter.
    fn no_push() -> Arc<dyn Backend> {
        Arc::new(Limited {
            inner: MemoryBackend::new(),
            events: true,
        })
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn with_events_on_an_outcome_event_wakes_its_waiter() {
        let backend = no_push();
        let pool = Pool::new(backend.clone());
        let watch = Arc::new(ResultWatch::default());
        let conns = Some(&pool.event_conns);
        let waiting = watch.wait_for(&backend, conns, "q", "j").await;
        let other = watch.wait_for(&backend, conns, "q", "other").await;
        run_job(&pool, "q", "j").await;
        tokio::time::timeout(Duration::from_secs(5), waiting.notified())
            .await
            .expect("woken by the completed event");
        let no = tokio::time::timeout(Duration::from_millis(200), other.notified()).await;
        assert!(no.is_err(), "another job's waiter stays asleep");
        // The reader holds no pool alive: the watch goes with its last holder.
        drop((waiting, other));
        let weak = Arc::downgrade(&watch);
        drop(watch);
        for _ in 0..100 {
            if weak.upgrade().is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the events reader keeps the watch alive");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn without_events_nothing_but_polling_is_left() {
        let backend = no_push();
        let pool = Pool::new(backend.clone());
        let watch = Arc::new(ResultWatch::default());
        let waiting = watch.wait_for(&backend, None, "q", "j").await;
        run_job(&pool, "q", "j").await;
        let woken = tokio::time::timeout(Duration::from_millis(300), waiting.notified()).await;
        assert!(woken.is_err(), "no notification and no events reader");
    }
}
