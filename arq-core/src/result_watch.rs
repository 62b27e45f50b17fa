//! Result wake-ups for `Job::result`: one subscription per queue and pool to the backend's
//! "finished" notifications, waking the callers waiting for each job id. Polling stays the
//! fallback (Python workers publish nothing).

use crate::backend::{Backend, Watch};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The pool's result waiters; dropping it (with the last pool clone) ends its subscriptions.
#[derive(Default)]
pub(crate) struct ResultWatch {
    waiters: Mutex<HashMap<String, Vec<Arc<Notify>>>>,
    /// Queue -> whether its subscription is live.
    queues: tokio::sync::Mutex<HashMap<String, bool>>,
    stop: CancellationToken,
}

impl Drop for ResultWatch {
    fn drop(&mut self) {
        self.stop.cancel();
    }
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
    /// not yet: anything finished after this returns wakes the waiter.
    pub(crate) async fn wait_for(
        self: &Arc<Self>,
        backend: &dyn Backend,
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
        if !queues.contains_key(queue) {
            let weak: Weak<ResultWatch> = Arc::downgrade(self);
            let on_message = Arc::new(move |msg: &[u8]| {
                let Some(watch) = weak.upgrade() else { return };
                let waiters = watch.waiters.lock().unwrap();
                if msg.is_empty() {
                    // Notices were lost: wake everyone to look.
                    waiters.values().flatten().for_each(|n| n.notify_one());
                } else if let Some(list) =
                    std::str::from_utf8(msg).ok().and_then(|id| waiters.get(id))
                {
                    list.iter().for_each(|n| n.notify_one());
                }
            });
            let live = match backend
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
            };
            queues.insert(queue.to_owned(), live);
        }
        Waiting {
            watch: self.clone(),
            id: id.to_owned(),
            notify,
        }
    }
}
