//! Batched finishes: jobs hand their outcomes to one task, which stores whatever has piled up
//! in one backend step. Under load many jobs share a round trip; an idle worker's single job
//! goes out at once.

use crate::backend::FinishRequest;
use crate::{Error, Pool, Result};
use tokio::sync::{mpsc, oneshot};

/// At most this many outcomes per backend step.
const MAX_BATCH: usize = 256;

type Reply = oneshot::Sender<std::result::Result<bool, String>>;

/// The sending side; the task ends when every clone is dropped.
#[derive(Clone)]
pub(crate) struct Finisher {
    tx: mpsc::UnboundedSender<(FinishRequest, Reply)>,
}

impl Finisher {
    /// Starts the batching task on the current runtime.
    pub(crate) fn spawn(pool: Pool) -> (Finisher, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<(FinishRequest, Reply)>();
        let task = tokio::spawn(async move {
            let mut reqs = Vec::new();
            let mut replies = Vec::new();
            while let Some((req, reply)) = rx.recv().await {
                reqs.push(req);
                replies.push(reply);
                while reqs.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok((req, reply)) => {
                            reqs.push(req);
                            replies.push(reply);
                        }
                        Err(_) => break,
                    }
                }
                let outcome = pool.backend().finish(&reqs).await;
                for (i, reply) in replies.drain(..).enumerate() {
                    let _ = reply.send(match &outcome {
                        Ok(flags) => Ok(flags.get(i).copied().unwrap_or(false)),
                        Err(e) => Err(e.to_string()),
                    });
                }
                reqs.clear();
            }
        });
        (Finisher { tx }, task)
    }

    /// Stores one job's outcome (batched with others waiting); `Ok(false)` when fenced out.
    pub(crate) async fn finish(&self, req: FinishRequest) -> Result<bool> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send((req, tx))
            .map_err(|_| Error::backend("the worker's finisher has stopped"))?;
        rx.await
            .map_err(|_| Error::backend("the worker's finisher has stopped"))?
            .map_err(Error::backend)
    }
}
