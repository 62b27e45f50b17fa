//! Event streams, the client side: [`Pool::events`], [`Pool::events_after`] and
//! [`Pool::events_from_start`] read a queue's lifecycle events as an [`EventStream`] of
//! [`JobEvent`]s.
//!
//! The reads go through `EventReader`, also used by the result waiters (`result_watch.rs`):
//! `Backend::events_read` on a connection of the reader's own (`Backend::standalone`), so its
//! blocking reads never hold up the pool's, in batches, waiting a couple of seconds per read.
//! A transient backend error is logged and the read tried again with a capped backoff from the
//! last id read, so a reconnect neither loses nor repeats an event.

use super::Pool;
pub use crate::backend::EventKind;
use crate::backend::{Backend, BoxFuture, EventEntry, EventsPage, EventsRead};
use crate::codec::{foreign_payload_hint, HintFor};
use crate::{ms_to_datetime, Codec, Error, Result, Value};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

/// How long one read waits for an event.
const READ_BLOCK_MS: u64 = 2_000;
/// How many events one read takes at most.
const READ_COUNT: usize = 100;
/// The backoff after a failed read: from this...
const BACKOFF_MIN: Duration = Duration::from_millis(50);
/// ... doubling up to this.
const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// The position before every event.
const START: &str = "0-0";

/// One event of a queue's event stream ([`Pool::events`]): what happened to which job, and
/// when, with its data decoded.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> arq_core::Result<()> {
/// use arq_core::EventKind;
/// let pool = arq_core::Pool::memory().with_events(1_000);
/// let mut events = pool.events(pool.default_queue_name()).await;
/// let job = pool.enqueue_job("resize", vec!["cat.png".into()]).await?;
/// let event = events.next().await.unwrap()?;
/// assert_eq!((event.kind, event.job_id.as_str()), (EventKind::Enqueued, job.id()));
/// assert_eq!(event.job_try, None);
/// assert!(event.progress.is_none() && event.error.is_none());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct JobEvent {
    /// The event's id in the stream: resume after it with [`Pool::events_after`].
    pub id: String,
    /// When it was written (the backend's clock).
    pub time: DateTime<Utc>,
    /// What happened.
    pub kind: EventKind,
    /// The job.
    pub job_id: String,
    /// The try: the one starting for `started`, the one that ended for `retried`,
    /// `snoozed`, `completed`, `failed`, `dead` and an `aborted` run; `None` where the step
    /// does not know it (`enqueued`, `progress`, `requeued`, an abort before the start).
    pub job_try: Option<i64>,
    /// For `progress`: the value the job reported, decoded with the pool's codec (`None`
    /// when it could not be: see [`JobEvent::problem`]).
    pub progress: Option<Value>,
    /// For `failed`, `retried`, `dead` (and `aborted`, when a worker says why): the error
    /// text, `"Class: message"`.
    pub error: Option<String>,
    /// For `snoozed`: how long the job was put off.
    pub defer: Option<Duration>,
    /// The event's data as stored (the encoded progress value, the error text, the defer
    /// in ms as text).
    pub data: Option<Bytes>,
    /// Why the data could not be read, if so (a progress value of another codec).
    pub problem: Option<String>,
}

impl JobEvent {
    /// An entry of the stream, its data read with `codec`.
    fn decode(codec: &dyn Codec, e: EventEntry) -> Self {
        let mut event = JobEvent {
            id: e.id,
            time: ms_to_datetime(e.time_ms),
            kind: e.kind,
            job_id: e.job_id,
            job_try: e.job_try,
            progress: None,
            error: None,
            defer: None,
            data: None,
            problem: None,
        };
        if let Some(data) = &e.data {
            match event.kind {
                EventKind::Progress => match codec.decode(data) {
                    Ok(v) => event.progress = Some(v),
                    Err(err) => {
                        let hint = foreign_payload_hint(codec.name(), data, HintFor::Pool)
                            .unwrap_or_default();
                        event.problem = Some(format!(
                            "the progress value could not be decoded (format={}): {err}{hint}",
                            codec.name()
                        ));
                    }
                },
                EventKind::Snoozed => match std::str::from_utf8(data)
                    .ok()
                    .and_then(|s| s.trim().parse::<i64>().ok())
                {
                    Some(ms) => event.defer = Some(Duration::from_millis(ms.max(0) as u64)),
                    None => {
                        event.problem = Some(format!(
                            "the snooze's defer is not a number of ms: {:?}",
                            String::from_utf8_lossy(data)
                        ))
                    }
                },
                _ => event.error = Some(String::from_utf8_lossy(data).into_owned()),
            }
        }
        event.data = e.data;
        event
    }
}

/// Whether a failed read is worth trying again: the backend failed or could not be reached
/// (a lost connection, a timeout). An unsupported capability, a bad position, a refused
/// permission (`NOPERM`) or a configuration error stays what it is.
pub(crate) fn is_transient(e: &Error) -> bool {
    match e {
        Error::Backend(inner) => !inner.to_string().contains("NOPERM"),
        Error::OutcomeUnknown(_) => true,
        _ => false,
    }
}

/// Where a reader reads from.
enum Conn {
    /// No connection of its own yet: opened at the first read.
    Unopened,
    /// A connection of its own.
    Own(Arc<dyn Backend>),
    /// The backend cannot open one: the shared backend.
    Shared,
}

/// A pool's connections for event readers ([`Backend::standalone`]) that no reader holds
/// now: a reader takes one (or opens one) and gives it back when dropped, so a program that
/// opens and drops streams holds no more connections than it ever read on at once (a
/// backend's connection has no close: a dropped one would stay open).
#[derive(Default)]
pub(crate) struct ReaderConns {
    idle: Mutex<Vec<Arc<dyn Backend>>>,
}

impl ReaderConns {
    fn take(&self) -> Option<Arc<dyn Backend>> {
        self.idle.lock().unwrap().pop()
    }

    fn give(&self, backend: Arc<dyn Backend>) {
        self.idle.lock().unwrap().push(backend);
    }
}

/// Reads a queue's event entries after a position, in batches, on a connection of its own,
/// trying again after transient errors from the last id read.
pub(crate) struct EventReader {
    shared: Arc<dyn Backend>,
    conns: Arc<ReaderConns>,
    conn: Conn,
    queue: String,
    /// The last id read; `None`: the stream's end, resolved at the next read.
    after: Option<String>,
    /// How long a read waits for an event (ms).
    block_ms: u64,
}

impl Drop for EventReader {
    fn drop(&mut self) {
        if let Conn::Own(own) = std::mem::replace(&mut self.conn, Conn::Unopened) {
            // A read cut short may still be waiting on it: the next reader's first read then
            // waits behind it (at most READ_BLOCK_MS).
            self.conns.give(own);
        }
    }
}

impl EventReader {
    /// A reader of `queue`'s events after `after` (`None`: after the stream's end at the
    /// first read), on `shared`'s backend, with a connection from `conns`.
    pub(crate) fn new(
        shared: Arc<dyn Backend>,
        conns: Arc<ReaderConns>,
        queue: &str,
        after: Option<String>,
    ) -> Self {
        EventReader {
            shared,
            conns,
            conn: Conn::Unopened,
            queue: queue.to_owned(),
            after,
            block_ms: READ_BLOCK_MS,
        }
    }

    /// The last id read, if the position is known yet.
    pub(crate) fn position(&self) -> Option<&str> {
        self.after.as_deref()
    }

    /// Resolves the stream's end now (a read of nothing that does not wait, on the shared
    /// backend), so every event written after this returns is read. One try.
    pub(crate) async fn resolve_end(&mut self) -> Result<()> {
        if self.after.is_some() {
            return Ok(());
        }
        let page = self
            .shared
            .events_read(&EventsRead {
                queue: self.queue.clone(),
                after: None,
                count: 0,
                block_ms: 0,
            })
            .await?;
        self.after = Some(page.last_id);
        Ok(())
    }

    /// The backend to read on: a connection of its own, taken from the pool's idle ones or
    /// opened (the shared backend when it cannot open one).
    async fn backend(&mut self) -> Result<Arc<dyn Backend>> {
        match &self.conn {
            Conn::Own(b) => return Ok(b.clone()),
            Conn::Shared => return Ok(self.shared.clone()),
            Conn::Unopened => {}
        }
        if let Some(own) = self.conns.take() {
            self.conn = Conn::Own(own.clone());
            return Ok(own);
        }
        match self.shared.standalone().await {
            Ok(own) => {
                self.conn = Conn::Own(own.clone());
                Ok(own)
            }
            Err(e) if is_transient(&e) => Err(e),
            Err(e) => {
                tracing::debug!(
                    queue = %self.queue,
                    "reading events on the shared connection (no connection of its own: {e})"
                );
                self.conn = Conn::Shared;
                Ok(self.shared.clone())
            }
        }
    }

    /// One read: the entries after the position (waiting up to `block_ms` when there are
    /// none), the position moved past them.
    async fn read_once(&mut self) -> Result<Vec<EventEntry>> {
        let backend = self.backend().await?;
        let page: EventsPage = backend
            .events_read(&EventsRead {
                queue: self.queue.clone(),
                after: self.after.clone(),
                count: READ_COUNT,
                block_ms: self.block_ms,
            })
            .await?;
        self.after = Some(page.last_id);
        Ok(page.events)
    }

    /// The next batch of entries, possibly empty after a wait with nothing new. Transient
    /// errors are logged and retried here, with a backoff from [`BACKOFF_MIN`] to
    /// [`BACKOFF_MAX`], from the last id read; only an error that stays is returned.
    pub(crate) async fn next_batch(&mut self) -> Result<Vec<EventEntry>> {
        let mut failures = 0u32;
        let mut delay = BACKOFF_MIN;
        loop {
            match self.read_once().await {
                Ok(entries) => {
                    if failures > 0 {
                        tracing::info!(
                            queue = %self.queue,
                            after = ?self.after,
                            "reading events again after {failures} failed reads"
                        );
                    }
                    return Ok(entries);
                }
                Err(e) if is_transient(&e) => {
                    failures += 1;
                    if failures == 1 {
                        tracing::warn!(
                            queue = %self.queue,
                            after = ?self.after,
                            "reading events failed ({e}); trying again"
                        );
                    } else {
                        tracing::debug!(
                            queue = %self.queue,
                            "reading events failed again ({e}; {failures} in a row)"
                        );
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(BACKOFF_MAX);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// What an [`EventStream`] does next.
enum State {
    /// Ready to read.
    Idle(Box<EventReader>),
    /// A read is under way (it owns the reader until it ends).
    Reading(BoxFuture<'static, (Box<EventReader>, Result<Vec<EventEntry>>)>),
    /// An error to yield once, then the end.
    Failed(Error),
    /// The end.
    Done,
}

/// A queue's events, oldest first, as a [`Stream`](futures_core::Stream) of
/// `Result<`[`JobEvent`]`>`; see [`Pool::events`].
///
/// It never ends by itself while the backend can be read: a lost connection is logged and
/// read again from the last event (no event lost or repeated). It yields an error, once, and
/// then ends, only when reading cannot work: the backend has no event streams
/// ([`Error::Unsupported`]), the position given is not an event id, or a permission is
/// refused. Read it with [`EventStream::next`], or as any stream. It reads on a connection
/// of its own; dropping it hands that connection to the pool's next stream.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> arq_core::Result<()> {
/// let pool = arq_core::Pool::memory().with_events(1_000);
/// let queue = pool.default_queue_name().to_owned();
/// pool.enqueue_job("a", vec![]).job_id("a").await?;
/// pool.enqueue_job("b", vec![]).job_id("b").await?;
/// let mut events = pool.events_from_start(&queue);
/// let first = events.next().await.unwrap()?;
/// assert_eq!(first.job_id, "a");
/// assert_eq!(events.last_id(), Some(first.id.as_str()));
/// // Later, or in another process: go on after the last event seen.
/// let mut resumed = pool.events_after(&queue, events.last_id().unwrap());
/// assert_eq!(resumed.next().await.unwrap()?.job_id, "b");
/// # Ok(())
/// # }
/// ```
pub struct EventStream {
    codec: Arc<dyn Codec>,
    queue: String,
    /// Read, not yet yielded.
    ready: VecDeque<JobEvent>,
    /// The id of the last event yielded, or the reader's position when all were.
    last_id: Option<String>,
    /// The reader's position after the last read.
    read_to: Option<String>,
    state: State,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("queue", &self.queue)
            .field("last_id", &self.last_id)
            .field("buffered", &self.ready.len())
            .finish_non_exhaustive()
    }
}

impl EventStream {
    fn new(pool: &Pool, reader: EventReader) -> Self {
        let position = reader.position().map(str::to_owned);
        EventStream {
            codec: pool.codec_arc(),
            queue: reader.queue.clone(),
            ready: VecDeque::new(),
            last_id: position.clone(),
            read_to: position,
            state: State::Idle(Box::new(reader)),
        }
    }

    fn failed(pool: &Pool, queue: &str, e: Error) -> Self {
        EventStream {
            codec: pool.codec_arc(),
            queue: queue.to_owned(),
            ready: VecDeque::new(),
            last_id: None,
            read_to: None,
            state: State::Failed(e),
        }
    }

    /// The queue whose events these are.
    ///
    /// ```
    /// let pool = arq_core::Pool::memory();
    /// assert_eq!(pool.events_from_start("emails").queue(), "emails");
    /// ```
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// The id of the last event this stream yielded (or, when it skipped entries of kinds
    /// this version does not know, of the last entry read): pass it to
    /// [`Pool::events_after`] to go on from there. `None` before the first read of a stream
    /// from [`Pool::events`] whose end could not be found at the call.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> arq_core::Result<()> {
    /// let pool = arq_core::Pool::memory();
    /// assert_eq!(pool.events_from_start("q").last_id(), Some("0-0"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn last_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// The next event: waits until one comes. `None` once the stream ended (after yielding
    /// the error that ended it). The same as [`StreamExt::next`] of the `futures` crate,
    /// without it; cancel-safe (dropping the future loses no event).
    ///
    /// [`StreamExt::next`]: https://docs.rs/futures/latest/futures/stream/trait.StreamExt.html#method.next
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> arq_core::Result<()> {
    /// use std::time::Duration;
    /// let pool = arq_core::Pool::memory().with_events(100);
    /// let mut events = pool.events("q").await;
    /// // Nothing happened yet: wait a little, then give up.
    /// let waited = tokio::time::timeout(Duration::from_millis(50), events.next()).await;
    /// assert!(waited.is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn next(&mut self) -> Option<Result<JobEvent>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_event(cx)).await
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<JobEvent>>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                self.last_id = if self.ready.is_empty() {
                    self.read_to.clone()
                } else {
                    Some(event.id.clone())
                };
                return Poll::Ready(Some(Ok(event)));
            }
            match std::mem::replace(&mut self.state, State::Done) {
                State::Done => return Poll::Ready(None),
                State::Failed(e) => return Poll::Ready(Some(Err(e))),
                State::Idle(mut reader) => {
                    self.state = State::Reading(Box::pin(async move {
                        let read = reader.next_batch().await;
                        (reader, read)
                    }));
                }
                State::Reading(mut read) => match read.as_mut().poll(cx) {
                    Poll::Pending => {
                        self.state = State::Reading(read);
                        return Poll::Pending;
                    }
                    Poll::Ready((reader, Ok(entries))) => {
                        self.read_to = reader.position().map(str::to_owned);
                        if entries.is_empty() {
                            self.last_id = self.read_to.clone();
                        }
                        let codec = self.codec.clone();
                        self.ready.extend(
                            entries
                                .into_iter()
                                .map(|e| JobEvent::decode(codec.as_ref(), e)),
                        );
                        self.state = State::Idle(reader);
                    }
                    Poll::Ready((_, Err(e))) => return Poll::Ready(Some(Err(e))),
                },
            }
        }
    }
}

impl futures_core::Stream for EventStream {
    type Item = Result<JobEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_event(cx)
    }
}

/// Whether `id` can be a stream id: `<ms>` or `<ms>-<seq>`, decimal.
fn is_event_id(id: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match id.split_once('-') {
        Some((ms, seq)) => digits(ms) && digits(seq),
        None => digits(id),
    }
}

impl Pool {
    /// The events of `queue` written after this call returns, oldest first, as they come:
    /// enqueued, started, progress, retried, snoozed, completed, failed, dead, aborted and
    /// requeued, each with its job, try and data ([`JobEvent`]).
    ///
    /// Events are written by the pools that make the changes when they have
    /// [`Pool::with_events`] (clients and workers alike); this pool only reads. The stream
    /// reads on a connection of its own, a couple of seconds per read, in batches, and goes
    /// on from its last event after a lost connection. Resume a stream later with
    /// [`Pool::events_after`] and its [`EventStream::last_id`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> arq_core::Result<()> {
    /// use arq_core::EventKind;
    /// let pool = arq_core::Pool::memory().with_events(10_000);
    /// let mut events = pool.events("emails").await;
    /// let job = pool.enqueue_job("send", vec![]).queue_name("emails").await?;
    /// job.abort(None).await?;
    /// for kind in [EventKind::Enqueued, EventKind::Aborted] {
    ///     let event = events.next().await.unwrap()?;
    ///     assert_eq!((event.kind, event.job_id.as_str()), (kind, job.id()));
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn events(&self, queue: &str) -> EventStream {
        let mut reader =
            EventReader::new(self.backend_arc(), self.event_conns.clone(), queue, None);
        match reader.resolve_end().await {
            Ok(()) => {}
            Err(e) if is_transient(&e) => tracing::warn!(
                queue,
                "could not find where the event stream ends ({e}); reading from its end at \
                 the first read that works"
            ),
            Err(e) => return EventStream::failed(self, queue, e),
        }
        EventStream::new(self, reader)
    }

    /// The events of `queue` after the one with id `last_id` (an [`EventStream::last_id`] or
    /// [`JobEvent::id`]), oldest first: resumes a stream where it stopped. Events trimmed
    /// from the stream since (it keeps about [`Pool::with_events`]'s length) are gone. A
    /// `last_id` that is no stream id (`<ms>-<seq>`) ends the stream with
    /// [`Error::InvalidArgument`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> arq_core::Result<()> {
    /// let pool = arq_core::Pool::memory().with_events(100);
    /// pool.enqueue_job("a", vec![]).job_id("a").await?;
    /// let seen = pool.events_from_start("arq:queue").next().await.unwrap()?;
    /// pool.enqueue_job("b", vec![]).job_id("b").await?;
    /// let mut events = pool.events_after("arq:queue", &seen.id);
    /// assert_eq!(events.next().await.unwrap()?.job_id, "b");
    ///
    /// let mut bad = pool.events_after("arq:queue", "yesterday");
    /// assert!(matches!(bad.next().await, Some(Err(arq_core::Error::InvalidArgument(_)))));
    /// assert!(bad.next().await.is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub fn events_after(&self, queue: &str, last_id: impl Into<String>) -> EventStream {
        let last_id = last_id.into();
        if !is_event_id(&last_id) {
            return EventStream::failed(
                self,
                queue,
                Error::InvalidArgument(format!(
                    "{last_id:?} is not an event id (<ms>-<seq>, as JobEvent::id)"
                )),
            );
        }
        EventStream::new(
            self,
            EventReader::new(
                self.backend_arc(),
                self.event_conns.clone(),
                queue,
                Some(last_id),
            ),
        )
    }

    /// Every event `queue`'s stream still holds, oldest first, then the new ones as they
    /// come.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> arq_core::Result<()> {
    /// use arq_core::EventKind;
    /// let pool = arq_core::Pool::memory().with_events(100);
    /// let job = pool.enqueue_job("a", vec![]).await?;
    /// let first = pool.events_from_start("arq:queue").next().await.unwrap()?;
    /// assert_eq!((first.kind, first.job_id.as_str()), (EventKind::Enqueued, job.id()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn events_from_start(&self, queue: &str) -> EventStream {
        EventStream::new(
            self,
            EventReader::new(
                self.backend_arc(),
                self.event_conns.clone(),
                queue,
                Some(START.to_owned()),
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MsgpackCodec;

    fn entry(kind: EventKind, data: Option<&[u8]>) -> EventEntry {
        EventEntry {
            id: "5-1".into(),
            time_ms: 5,
            kind,
            job_id: "j".into(),
            job_try: Some(2),
            data: data.map(Bytes::copy_from_slice),
        }
    }

    #[test]
    fn event_data_is_read_by_kind() {
        let codec = MsgpackCodec;
        let value = codec.encode(&Value::Int(42)).unwrap();
        let e = JobEvent::decode(&codec, entry(EventKind::Progress, Some(&value)));
        assert_eq!(e.progress, Some(Value::Int(42)));
        assert_eq!((e.error, e.problem), (None, None));
        assert_eq!(e.time, ms_to_datetime(5));
        let e = JobEvent::decode(&codec, entry(EventKind::Progress, Some(b"\x80\x04\x95")));
        assert_eq!(e.progress, None);
        let p = e.problem.unwrap();
        assert!(
            p.contains("format=msgpack") && p.contains("looks like pickle"),
            "{p}"
        );
        let e = JobEvent::decode(&codec, entry(EventKind::Failed, Some(b"ValueError: x")));
        assert_eq!(e.error.as_deref(), Some("ValueError: x"));
        let e = JobEvent::decode(&codec, entry(EventKind::Snoozed, Some(b"1500")));
        assert_eq!(e.defer, Some(Duration::from_millis(1500)));
        assert_eq!(e.error, None);
        let e = JobEvent::decode(&codec, entry(EventKind::Snoozed, Some(b"soon")));
        assert!(e.defer.is_none() && e.problem.is_some());
        let e = JobEvent::decode(&codec, entry(EventKind::Started, None));
        assert_eq!((e.job_try, e.data), (Some(2), None));
    }

    #[tokio::test]
    async fn a_backend_without_event_streams_ends_the_stream_with_one_error() {
        let backend = limited::Limited {
            inner: crate::MemoryBackend::new(),
            events: false,
        };
        let pool = Pool::new(Arc::new(backend));
        for mut s in [
            pool.events("q").await,
            pool.events_from_start("q"),
            pool.events_after("q", "1-0"),
        ] {
            match s.next().await {
                Some(Err(Error::Unsupported { backend, what })) => {
                    assert_eq!((backend, what), ("limited", "event streams"))
                }
                other => panic!("{other:?}"),
            }
            assert!(s.next().await.is_none());
            assert!(s.next().await.is_none());
        }
    }

    #[test]
    fn ids_and_errors() {
        assert!(is_event_id("0-0") && is_event_id("1700000000000-12") && is_event_id("5"));
        for bad in ["", "-", "1-", "-1", "a-b", "1-2-3", "$", "1 -2"] {
            assert!(!is_event_id(bad), "{bad:?}");
        }
        assert!(is_transient(&Error::backend("connection reset")));
        assert!(is_transient(&Error::OutcomeUnknown("timed out".into())));
        assert!(!is_transient(&Error::backend(
            "redis user 'u' lacks permission for XREAD on 'q:events' (NOPERM) — see docs/acl.md"
        )));
        assert!(!is_transient(&crate::backend::unsupported(
            "x",
            "event streams"
        )));
        assert!(!is_transient(&Error::InvalidArgument("bad id".into())));
    }
}

/// A [`MemoryBackend`](crate::MemoryBackend) with fewer capabilities, for the tests of what a
/// backend may lack: no push notifications, no dead letters, and event streams only when
/// asked for.
#[cfg(test)]
pub(crate) mod limited {
    use crate::backend::*;
    use crate::{MemoryBackend, Result};
    use bytes::Bytes;
    use std::sync::Arc;

    #[derive(Clone)]
    pub(crate) struct Limited {
        pub(crate) inner: MemoryBackend,
        /// Forward `events_read` (else: unsupported).
        pub(crate) events: bool,
    }

    impl Backend for Limited {
        fn name(&self) -> &'static str {
            "limited"
        }
        fn enqueue<'a>(&'a self, req: &'a EnqueueRequest) -> BoxFuture<'a, Result<bool>> {
            self.inner.enqueue(req)
        }
        fn claim<'a>(&'a self, req: &'a ClaimRequest) -> BoxFuture<'a, Result<Claimed>> {
            self.inner.claim(req)
        }
        fn set_try<'a>(&'a self, req: &'a SetTryRequest) -> BoxFuture<'a, Result<()>> {
            self.inner.set_try(req)
        }
        fn heartbeat<'a>(&'a self, hb: &'a Heartbeat) -> BoxFuture<'a, Result<HeartbeatReply>> {
            self.inner.heartbeat(hb)
        }
        fn finish<'a>(&'a self, reqs: &'a [FinishRequest]) -> BoxFuture<'a, Result<Vec<bool>>> {
            self.inner.finish(reqs)
        }
        fn retry<'a>(&'a self, req: &'a RetryRequest) -> BoxFuture<'a, Result<bool>> {
            self.inner.retry(req)
        }
        fn release<'a>(&'a self, req: &'a ReleaseRequest) -> BoxFuture<'a, Result<bool>> {
            self.inner.release(req)
        }
        fn abort<'a>(&'a self, req: &'a AbortRequest) -> BoxFuture<'a, Result<AbortOutcome>> {
            self.inner.abort(req)
        }
        fn abort_requests<'a>(
            &'a self,
            job_ids: &'a [String],
        ) -> BoxFuture<'a, Result<Vec<(String, i64)>>> {
            self.inner.abort_requests(job_ids)
        }
        fn cron_tick<'a>(
            &'a self,
            req: &'a CronTickRequest,
        ) -> BoxFuture<'a, Result<CronTickReply>> {
            self.inner.cron_tick(req)
        }
        fn status<'a>(&'a self, queue: &'a str, id: &'a str) -> BoxFuture<'a, Result<RawStatus>> {
            self.inner.status(queue, id)
        }
        fn result<'a>(&'a self, queue: &'a str, id: &'a str) -> BoxFuture<'a, Result<ResultRead>> {
            self.inner.result(queue, id)
        }
        fn job_record<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Bytes>>> {
            self.inner.job_record(id)
        }
        fn score<'a>(&'a self, queue: &'a str, id: &'a str) -> BoxFuture<'a, Result<Option<i64>>> {
            self.inner.score(queue, id)
        }
        fn queue_size<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64>> {
            self.inner.queue_size(queue)
        }
        fn health<'a>(&'a self, rec: &'a HealthRecord) -> BoxFuture<'a, Result<u64>> {
            self.inner.health(rec)
        }
        fn health_close<'a>(
            &'a self,
            queue: &'a str,
            check_key: Option<&'a str>,
            worker_id: &'a str,
        ) -> BoxFuture<'a, Result<u64>> {
            self.inner.health_close(queue, check_key, worker_id)
        }
        fn health_read<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<Option<String>>> {
            self.inner.health_read(queue)
        }
        fn events_read<'a>(&'a self, req: &'a EventsRead) -> BoxFuture<'a, Result<EventsPage>> {
            if self.events {
                self.inner.events_read(req)
            } else {
                Box::pin(async { Err(unsupported("limited", "event streams")) })
            }
        }
        fn standalone(&self) -> BoxFuture<'_, Result<Arc<dyn Backend>>> {
            let own: Arc<dyn Backend> = Arc::new(self.clone());
            Box::pin(async move { Ok(own) })
        }
    }
}
