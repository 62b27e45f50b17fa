//! An in-repo TCP proxy on 127.0.0.1 for network faults between a worker and Redis, with
//! modes switched while it runs:
//!
//! - `Pass`: forward both ways.
//! - `Latency(ms)`: forward each chunk after a delay.
//! - `Blackhole`: accept and read, but never forward and never close (a partition: the
//!   peer looks half-open). What was read is held, as TCP would retransmit it, and delivered
//!   in order once the mode changes back (a partition that heals).
//! - `Reset`: close every connection abruptly (RST, `SO_LINGER 0`), new ones at once.
//! - `DropReplyAfter(n)`: forward requests and the next `n` whole replies, then swallow a
//!   reply and reset that connection (the command ran, the client never learns it).
//! - `DropReplyTo(pattern)`: like it, for the reply to the first request whose bytes contain
//!   `pattern` (e.g. `arq:result:<id>` picks a job's finish).
//! - `DropReplyContaining(pattern)`: like it, for the first reply containing `pattern`
//!   (e.g. a job id picks the claim that hands out that job).
//!
//! The three `Drop…` modes are one-shot: after dropping a reply the proxy is back in `Pass`
//! (or the mode given to [`Proxy::set_after_drop`]).
//! It runs on its own thread and runtime, so it keeps working whatever the test's runtime
//! does; dropping it closes everything.

use super::resp::ReplyCounter;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Pass,
    Latency(u64),
    Blackhole,
    Reset,
    DropReplyAfter(usize),
    DropReplyTo(String),
    DropReplyContaining(String),
}

impl Mode {
    fn drops(&self) -> bool {
        matches!(
            self,
            Mode::DropReplyAfter(_) | Mode::DropReplyTo(_) | Mode::DropReplyContaining(_)
        )
    }
}

struct Shared {
    mode: watch::Sender<(Mode, u64)>,
    upstream: AtomicU16,
    /// Replies still to forward in `DropReplyAfter` mode (shared by all connections).
    replies_left: Mutex<Option<usize>>,
    /// Set by the connection that takes a one-shot drop, so only one does.
    drop_taken: AtomicBool,
    /// The mode after a one-shot drop (default `Pass`).
    after_drop: Mutex<Mode>,
    accepted: AtomicU64,
    dropped_replies: AtomicU64,
    stop: AtomicBool,
}

impl Shared {
    fn set(&self, mode: Mode) {
        *self.replies_left.lock().unwrap() = match mode {
            Mode::DropReplyAfter(n) => Some(n),
            _ => None,
        };
        self.drop_taken.store(false, Ordering::SeqCst);
        self.mode.send_modify(|(m, gen)| {
            *m = mode;
            *gen += 1;
        });
    }
}

/// A running proxy: clients connect to `port`, it connects to the upstream port.
pub struct Proxy {
    pub port: u16,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy in `Pass` mode to `127.0.0.1:<upstream>`.
    pub fn start(upstream: u16) -> Proxy {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("proxy bind");
        std_listener.set_nonblocking(true).unwrap();
        let port = std_listener.local_addr().unwrap().port();
        let (mode, _) = watch::channel((Mode::Pass, 0));
        let shared = Arc::new(Shared {
            mode,
            upstream: AtomicU16::new(upstream),
            replies_left: Mutex::new(None),
            drop_taken: AtomicBool::new(false),
            after_drop: Mutex::new(Mode::Pass),
            accepted: AtomicU64::new(0),
            dropped_replies: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let (tx, rx) = tokio::sync::oneshot::channel();
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("fault-proxy-{port}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let listener = TcpListener::from_std(std_listener).unwrap();
                    tokio::select! {
                        _ = accept_loop(listener, s) => {}
                        _ = rx => {}
                    }
                });
                rt.shutdown_timeout(Duration::from_millis(100));
            })
            .unwrap();
        Proxy {
            port,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `redis://127.0.0.1:<proxy port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Switches the mode for every connection, open or new.
    pub fn set(&self, mode: Mode) {
        self.shared.set(mode);
    }

    pub fn mode(&self) -> Mode {
        self.shared.mode.borrow().0.clone()
    }

    /// The mode a one-shot `Drop…` mode switches to once it dropped its reply (default
    /// `Pass`; `Reset` keeps the client from reconnecting until the test says so).
    pub fn set_after_drop(&self, mode: Mode) {
        *self.shared.after_drop.lock().unwrap() = mode;
    }

    /// Resets every open connection (RST) and stays in (or returns to) `Pass` for new ones.
    pub fn reset_connections(&self) {
        self.set(Mode::Reset);
        std::thread::sleep(Duration::from_millis(30));
        self.set(Mode::Pass);
    }

    /// Points new connections at another upstream port (open ones are reset).
    pub fn set_upstream(&self, port: u16) {
        self.shared.upstream.store(port, Ordering::SeqCst);
        self.reset_connections();
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Replies swallowed by the `Drop…` modes so far.
    pub fn dropped_replies(&self) -> u64 {
        self.shared.dropped_replies.load(Ordering::SeqCst)
    }

    /// Waits until a `Drop…` mode has dropped a reply (it is then back in `Pass`).
    pub async fn wait_dropped(&self, before: u64, within: Duration) -> bool {
        super::wait_until(within, || async { self.dropped_replies() > before }).await
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        let shared = shared.clone();
        tokio::spawn(async move {
            let _ = handle(client, shared).await;
        });
    }
}

fn rst(s: &TcpStream) {
    let _ = s.set_zero_linger();
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Per-connection bookkeeping of whole requests and replies, so a reply can be matched to
/// its request (Redis answers in order).
#[derive(Default)]
struct Tally {
    requests: ReplyCounter,
    replies: ReplyCounter,
    requests_done: usize,
    replies_done: usize,
    /// Index of the reply to swallow.
    target: Option<usize>,
    /// The last bytes of the previous request chunk, so a pattern split across two reads is
    /// still found.
    tail: Vec<u8>,
}

async fn handle(client: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let mut mode_rx = shared.mode.subscribe();
    if mode_rx.borrow_and_update().0 == Mode::Reset {
        rst(&client);
        return Ok(());
    }
    let upstream = shared.upstream.load(Ordering::SeqCst);
    let server = match TcpStream::connect(("127.0.0.1", upstream)).await {
        Ok(s) => s,
        Err(_) => {
            // Upstream down: the client sees its connection reset.
            rst(&client);
            return Ok(());
        }
    };
    client.set_nodelay(true).ok();
    server.set_nodelay(true).ok();
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let mut cbuf = vec![0u8; 64 * 1024];
    let mut sbuf = vec![0u8; 64 * 1024];
    let mut tally = Tally::default();
    let mut client_open = true;
    let mut server_open = true;
    // Bytes held back while in Blackhole, delivered when it heals.
    let mut held_up: Vec<u8> = Vec::new();
    let mut held_down: Vec<u8> = Vec::new();
    macro_rules! reset_both {
        () => {{
            let client = cr.reunite(cw).expect("halves of one stream");
            rst(&client);
            let server = sr.reunite(sw).expect("halves of one stream");
            rst(&server);
            return Ok(());
        }};
    }
    loop {
        let mode = mode_rx.borrow().0.clone();
        if !server_open && mode != Mode::Blackhole {
            let client = cr.reunite(cw).expect("halves of one stream");
            rst(&client);
            return Ok(());
        }
        if !mode.drops() {
            tally.target = None;
        }
        if mode != Mode::Blackhole && mode != Mode::Reset {
            if !held_up.is_empty() {
                sw.write_all(&std::mem::take(&mut held_up)).await?;
            }
            if !held_down.is_empty() {
                cw.write_all(&std::mem::take(&mut held_down)).await?;
            }
        }
        // Biased, mode change first: a test sets a mode and then sends the request it is
        // meant for, so when both are pending (a busy machine) the request must be handled in
        // the new mode, not in the one read at the top of this turn.
        tokio::select! {
            biased;
            changed = mode_rx.changed() => {
                if changed.is_err() || shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                if mode_rx.borrow().0 == Mode::Reset {
                    reset_both!();
                }
            }
            n = cr.read(&mut cbuf), if client_open => {
                let n = n.unwrap_or(0);
                if n == 0 {
                    if mode == Mode::Blackhole {
                        // A half-open peer never closes its side either.
                        client_open = false;
                        continue;
                    }
                    let _ = sw.shutdown().await;
                    break;
                }
                let chunk = &cbuf[..n];
                let ends = tally.requests.feed(chunk);
                if let Mode::DropReplyTo(pattern) = &mode {
                    if tally.target.is_none() {
                        let mut hay = std::mem::take(&mut tally.tail);
                        let carried = hay.len();
                        hay.extend_from_slice(chunk);
                        if let Some(at) = find(&hay, pattern.as_bytes()) {
                            if !shared.drop_taken.swap(true, Ordering::SeqCst) {
                                // Where the match starts, in this chunk (before it: negative).
                                let at = at as isize - carried as isize;
                                let before =
                                    ends.iter().filter(|&&e| (e as isize) <= at).count();
                                tally.target = Some(tally.requests_done + before);
                            }
                        }
                        let keep = pattern.len().saturating_sub(1).min(hay.len());
                        tally.tail = hay[hay.len() - keep..].to_vec();
                    }
                }
                tally.requests_done += ends.len();
                match mode {
                    Mode::Blackhole => held_up.extend_from_slice(chunk),
                    Mode::Latency(ms) => {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        if mode_rx.borrow().0 != Mode::Reset {
                            sw.write_all(chunk).await?;
                        }
                    }
                    _ => sw.write_all(chunk).await?,
                }
            }
            n = sr.read(&mut sbuf), if server_open => {
                let n = n.unwrap_or(0);
                if n == 0 {
                    if mode == Mode::Blackhole {
                        // Keep the client hanging on a dead upstream.
                        server_open = false;
                        continue;
                    }
                    let client = cr.reunite(cw).expect("halves of one stream");
                    rst(&client);
                    return Ok(());
                }
                let chunk = &sbuf[..n];
                let ends = tally.replies.feed(chunk);
                let done_before = tally.replies_done;
                tally.replies_done += ends.len();
                // Where in this chunk to cut (forward bytes before it, swallow the rest).
                let mut cut: Option<usize> = None;
                match &mode {
                    Mode::DropReplyAfter(_) => {
                        let mut left = shared.replies_left.lock().unwrap();
                        let l = left.unwrap_or(0);
                        if ends.len() > l {
                            cut = Some(if l == 0 { 0 } else { ends[l - 1] });
                        } else {
                            *left = Some(l - ends.len());
                        }
                    }
                    Mode::DropReplyTo(_) => {
                        if let Some(t) = tally.target {
                            if t < done_before + ends.len() {
                                let k = t - done_before;
                                cut = Some(if k == 0 { 0 } else { ends[k - 1] });
                            }
                        }
                    }
                    Mode::DropReplyContaining(pattern) => {
                        if let Some(at) = find(chunk, pattern.as_bytes()) {
                            if !shared.drop_taken.swap(true, Ordering::SeqCst) {
                                let k = ends.iter().filter(|&&e| e <= at).count();
                                cut = Some(if k == 0 { 0 } else { ends[k - 1] });
                            }
                        }
                    }
                    _ => {}
                }
                if let Some(upto) = cut {
                    if upto > 0 {
                        cw.write_all(&chunk[..upto]).await?;
                    }
                    shared.dropped_replies.fetch_add(1, Ordering::SeqCst);
                    let next = shared.after_drop.lock().unwrap().clone();
                    shared.set(next);
                    reset_both!();
                }
                match mode {
                    Mode::Blackhole => held_down.extend_from_slice(chunk),
                    Mode::Latency(ms) => {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        cw.write_all(chunk).await?;
                    }
                    _ => cw.write_all(chunk).await?,
                }
            }
        }
    }
    Ok(())
}
