//! The steps of issue 13 against a real Redis: event streams, final failures (dead letters and
//! failure hooks), snooze, progress, and what `Inspect` does about them. Each test runs on a
//! private `redis-server` of its own (`arq-test-support`), never on a shared one.

use arq_core::backend::{
    AbortOutcome, AbortRequest, Backend, ClaimRequest, ClaimedJob, DeadLimits, Defer,
    EnqueueRequest, EventEntry, EventKind, EventsPage, EventsRead, FinalFailure, FinishOutcome,
    FinishRequest, ProgressRequest, RequeueOutcome, RetryRequest, SnoozeOutcome, SnoozeRequest,
};
use arq_redis::{RedisBackend, RedisSettings};
use arq_test_support::{Config, RedisServer, Resp};
use std::time::{Duration, Instant};

/// A private server and a backend on it.
struct Fixture {
    server: RedisServer,
    b: RedisBackend,
    seq: std::sync::atomic::AtomicU64,
}

impl Fixture {
    async fn start() -> Fixture {
        Self::with(|s| s).await
    }

    async fn with(settings: impl FnOnce(RedisSettings) -> RedisSettings) -> Fixture {
        let server = RedisServer::start(Config::new("arq-redis-steps"));
        let b = RedisBackend::connect(&settings(RedisSettings::from_url(&server.url()).unwrap()))
            .await
            .unwrap();
        Fixture {
            server,
            b,
            seq: Default::default(),
        }
    }

    /// An admin command on the server's own socket.
    fn cmd(&self, args: &[&str]) -> Resp {
        self.server.cmd(args)
    }

    fn int(&self, args: &[&str]) -> i64 {
        self.cmd(args)
            .int()
            .unwrap_or_else(|| panic!("{args:?}: not an integer"))
    }

    fn exists(&self, key: &str) -> bool {
        self.int(&["EXISTS", key]) == 1
    }

    async fn enqueue(&self, id: &str, events: Option<u64>) {
        let added = self.b.enqueue(&enq(id, events)).await.unwrap();
        assert!(added, "{id}");
    }

    /// Claims everything due (up to 10), as an idle worker.
    async fn claim(&self, events: Option<u64>) -> Vec<ClaimedJob> {
        let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.b
            .claim(&ClaimRequest {
                queue: Q.into(),
                limit: 10,
                scan_limit: 100,
                token_prefix: "w".into(),
                seq,
                idle: true,
                alone_from_try: 3,
                lease_ms: 30_000,
                check_abort: true,
                events,
            })
            .await
            .unwrap()
            .jobs
    }

    /// Claims exactly one job.
    async fn claim_one(&self, events: Option<u64>) -> ClaimedJob {
        let mut jobs = self.claim(events).await;
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        jobs.remove(0)
    }

    async fn finish(&self, req: FinishRequest) -> bool {
        self.b.finish(std::slice::from_ref(&req)).await.unwrap()[0]
    }

    async fn events(&self) -> Vec<EventEntry> {
        self.read(Some("0-0"), 10_000, 0).await.events
    }

    async fn read(&self, after: Option<&str>, count: usize, block_ms: u64) -> EventsPage {
        self.b
            .events_read(&EventsRead {
                queue: Q.into(),
                after: after.map(str::to_owned),
                count,
                block_ms,
            })
            .await
            .unwrap()
    }
}

const Q: &str = "arq:queue";
const EVENTS: Option<u64> = Some(1_000);

fn enq(id: &str, events: Option<u64>) -> EnqueueRequest {
    EnqueueRequest {
        job_id: id.into(),
        queue: Q.into(),
        payload: format!("job {id}").into_bytes(),
        defer: Defer::None,
        enqueue_time_ms: arq_core::now_ms(),
        expires_ms: None,
        replace_result: false,
        events,
    }
}

fn finish_req(job: &ClaimedJob, outcome: FinishOutcome) -> FinishRequest {
    FinishRequest {
        queue: Q.into(),
        job_id: job.job_id.clone(),
        token: job.token.clone(),
        result: Some(format!("result {}", job.job_id).into_bytes()),
        keep_result_ms: Some(60_000),
        keep_in_progress_ms: None,
        outcome,
        job_try: job.job_try,
        failure: None,
        events: None,
        error: None,
    }
}

/// A final failure of `job` leaving a dead letter (and maybe a hook).
fn failed(job: &ClaimedJob, dead: Option<DeadLimits>, hook_lease_ms: Option<i64>) -> FinishRequest {
    FinishRequest {
        failure: Some(FinalFailure {
            job: job.payload.clone(),
            record: format!("failure {}", job.job_id).into_bytes(),
            dead,
            hook_lease_ms,
        }),
        error: Some("ValueError: boom".into()),
        ..finish_req(job, FinishOutcome::Failed)
    }
}

const ROOMY: DeadLimits = DeadLimits {
    max_len: 1_000,
    max_age_ms: 86_400_000,
};

fn snooze_req(job: &ClaimedJob, token: &str, max_snoozes: u32) -> SnoozeRequest {
    SnoozeRequest {
        queue: Q.into(),
        job_id: job.job_id.clone(),
        token: token.into(),
        defer_ms: 60_000,
        max_snoozes,
        job_try: job.job_try,
        events: None,
    }
}

/// `(kind, job id, try, data)` of each event.
fn summary(events: &[EventEntry]) -> Vec<(EventKind, String, Option<i64>, Option<String>)> {
    events
        .iter()
        .map(|e| {
            (
                e.kind,
                e.job_id.clone(),
                e.job_try,
                e.data
                    .as_ref()
                    .map(|d| String::from_utf8_lossy(d).into_owned()),
            )
        })
        .collect()
}

fn ev(
    kind: EventKind,
    id: &str,
    t: Option<i64>,
    d: Option<&str>,
) -> (EventKind, String, Option<i64>, Option<String>) {
    (kind, id.into(), t, d.map(str::to_owned))
}

#[tokio::test]
async fn a_whole_lifecycle_writes_its_events_in_order() {
    let f = Fixture::start().await;
    let before = arq_core::now_ms();
    f.enqueue("a", EVENTS).await;
    let a = f.claim_one(EVENTS).await;
    assert_eq!(a.job_try, 1);
    let stored =
        f.b.progress(&ProgressRequest {
            queue: Q.into(),
            job_id: "a".into(),
            token: a.token.clone(),
            value: b"50%".to_vec(),
            ttl_ms: 60_000,
            events: EVENTS,
        })
        .await
        .unwrap();
    assert!(stored);
    let retried =
        f.b.retry(&RetryRequest {
            queue: Q.into(),
            job_id: "a".into(),
            token: a.token.clone(),
            defer_ms: 0,
            job_try: 1,
            events: EVENTS,
            error: Some("Retry: later".into()),
        })
        .await
        .unwrap();
    assert!(retried);
    let a = f.claim_one(EVENTS).await;
    assert_eq!(a.job_try, 2);
    let snoozed =
        f.b.snooze(&SnoozeRequest {
            defer_ms: 1,
            events: EVENTS,
            ..snooze_req(&a, &a.token, 5)
        })
        .await
        .unwrap();
    assert_eq!(snoozed, SnoozeOutcome::Snoozed(1));
    tokio::time::sleep(Duration::from_millis(20)).await;
    // The snooze gave the try back.
    let a = f.claim_one(EVENTS).await;
    assert_eq!(a.job_try, 2);
    let written = f
        .finish(FinishRequest {
            events: EVENTS,
            ..failed(&a, Some(ROOMY), None)
        })
        .await;
    assert!(written);
    let dead = f.b.dead_letters().unwrap();
    let requeued = dead.dead_requeue(Q, &["a".into()], EVENTS).await.unwrap();
    assert_eq!(requeued, [RequeueOutcome::Requeued]);
    let a = f.claim_one(EVENTS).await;
    assert_eq!(a.job_try, 1, "a requeue resets the tries");
    let written = f
        .finish(FinishRequest {
            events: EVENTS,
            ..finish_req(&a, FinishOutcome::Completed)
        })
        .await;
    assert!(written);
    // A job aborted before it ran.
    f.b.enqueue(&EnqueueRequest {
        defer: Defer::By(60_000),
        ..enq("b", EVENTS)
    })
    .await
    .unwrap();
    let aborted =
        f.b.abort(&AbortRequest {
            queue: Q.into(),
            job_id: "b".into(),
            result: Some(b"aborted".to_vec()),
            keep_result_ms: None,
            events: EVENTS,
        })
        .await
        .unwrap();
    assert_eq!(aborted, AbortOutcome::Aborted);

    let events = f.events().await;
    use EventKind::*;
    assert_eq!(
        summary(&events),
        [
            ev(Enqueued, "a", None, None),
            ev(Started, "a", Some(1), None),
            ev(Progress, "a", None, Some("50%")),
            ev(Retried, "a", Some(1), Some("Retry: later")),
            ev(Started, "a", Some(2), None),
            ev(Snoozed, "a", Some(2), Some("1")),
            ev(Started, "a", Some(2), None),
            ev(Failed, "a", Some(2), Some("ValueError: boom")),
            ev(Dead, "a", Some(2), Some("ValueError: boom")),
            ev(Requeued, "a", None, None),
            ev(Started, "a", Some(1), None),
            ev(Completed, "a", Some(1), None),
            ev(Enqueued, "b", None, None),
            ev(Aborted, "b", None, None),
        ]
    );
    // Entry ids are `<ms>-<seq>`, strictly increasing, and time_ms is their ms part, Redis's
    // clock (the same machine's here).
    let after = arq_core::now_ms();
    for pair in events.windows(2) {
        let key = |e: &EventEntry| {
            let (ms, seq) = e.id.split_once('-').unwrap();
            (ms.parse::<i64>().unwrap(), seq.parse::<i64>().unwrap())
        };
        assert!(key(&pair[0]) < key(&pair[1]), "{pair:?}");
    }
    for e in &events {
        assert_eq!(e.id.split_once('-').unwrap().0, e.time_ms.to_string());
        assert!(
            (before - 1_000..=after + 1_000).contains(&e.time_ms),
            "{e:?}"
        );
    }
    // Raw fields: `t` only when known, `d` only with data.
    let raw = f.cmd(&["XRANGE", "arq:queue:events", "-", "+", "COUNT", "2"]);
    assert_eq!(
        raw.text(),
        format!(
            "{}\ne\nenqueued\nid\na\n{}\ne\nstarted\nid\na\nt\n1",
            events[0].id, events[1].id
        )
    );
}

#[tokio::test]
async fn without_events_no_stream_is_touched() {
    let f = Fixture::start().await;
    f.enqueue("a", None).await;
    let a = f.claim_one(None).await;
    f.b.progress(&ProgressRequest {
        queue: Q.into(),
        job_id: "a".into(),
        token: a.token.clone(),
        value: b"1".to_vec(),
        ttl_ms: 1_000,
        events: None,
    })
    .await
    .unwrap();
    let snoozed =
        f.b.snooze(&SnoozeRequest {
            defer_ms: 1,
            ..snooze_req(&a, &a.token, 3)
        })
        .await
        .unwrap();
    assert_eq!(snoozed, SnoozeOutcome::Snoozed(1));
    tokio::time::sleep(Duration::from_millis(10)).await;
    let a = f.claim_one(None).await;
    assert!(f.finish(failed(&a, Some(ROOMY), Some(1_000))).await);
    let dead = f.b.dead_letters().unwrap();
    assert_eq!(
        dead.dead_requeue(Q, &["a".into()], None).await.unwrap(),
        [RequeueOutcome::Requeued]
    );
    let a = f.claim_one(None).await;
    assert!(f
        .b
        .retry(&RetryRequest {
            queue: Q.into(),
            job_id: "a".into(),
            token: a.token.clone(),
            defer_ms: 60_000,
            job_try: 1,
            events: None,
            error: Some("x".into()),
        })
        .await
        .unwrap());
    let aborted =
        f.b.abort(&AbortRequest {
            queue: Q.into(),
            job_id: "a".into(),
            result: None,
            keep_result_ms: None,
            events: None,
        })
        .await
        .unwrap();
    assert_eq!(aborted, AbortOutcome::Aborted);
    assert!(!f.exists("arq:queue:events"));
    assert_eq!(
        f.read(None, 10, 0).await,
        EventsPage {
            events: vec![],
            last_id: "0-0".into()
        }
    );
}

#[tokio::test]
async fn fenced_steps_write_no_event_and_no_failure_records() {
    let f = Fixture::start().await;
    f.enqueue("a", None).await;
    let a = f.claim_one(None).await;
    let stale = ClaimedJob {
        token: "someone else".into(),
        ..a.clone()
    };
    let written = f
        .finish(FinishRequest {
            events: EVENTS,
            ..failed(&stale, Some(ROOMY), Some(1))
        })
        .await;
    assert!(!written);
    let retried =
        f.b.retry(&RetryRequest {
            queue: Q.into(),
            job_id: "a".into(),
            token: "someone else".into(),
            defer_ms: 0,
            job_try: 1,
            events: EVENTS,
            error: None,
        })
        .await
        .unwrap();
    assert!(!retried);
    let snoozed =
        f.b.snooze(&SnoozeRequest {
            events: EVENTS,
            ..snooze_req(&a, "someone else", 3)
        })
        .await
        .unwrap();
    assert_eq!(snoozed, SnoozeOutcome::Fenced);
    for key in [
        "arq:queue:events",
        "arq:queue:dead",
        "arq:queue:dead:data",
        "arq:queue:hooks",
        "arq:queue:hooks:data",
    ] {
        assert!(!f.exists(key), "{key}");
    }
    // The holder's finish still writes everything.
    assert!(
        f.finish(FinishRequest {
            events: EVENTS,
            ..failed(&a, Some(ROOMY), Some(1))
        })
        .await
    );
    let kinds: Vec<EventKind> = f.events().await.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::Failed, EventKind::Dead]);
    assert_eq!(f.int(&["ZCARD", "arq:queue:dead"]), 1);
    assert_eq!(f.int(&["ZCARD", "arq:queue:hooks"]), 1);
}

#[tokio::test]
async fn events_read_from_the_end_a_position_and_past_unknown_kinds() {
    let f = Fixture::start().await;
    // A missing stream is an empty page from 0-0.
    assert_eq!(f.read(None, 10, 0).await.last_id, "0-0");
    assert_eq!(f.read(Some("0-0"), 10, 0).await.events, []);
    for id in ["a", "b", "c"] {
        f.enqueue(id, EVENTS).await;
    }
    let all = f.events().await;
    assert_eq!(all.len(), 3);
    // From the end: nothing yet, positioned at the last entry.
    let end = f.read(None, 10, 0).await;
    assert_eq!(end.events, []);
    assert_eq!(end.last_id, all[2].id);
    // At most `count`, oldest first, resuming after the last one returned.
    let first = f.read(Some("0-0"), 2, 0).await;
    assert_eq!(first.events, all[..2]);
    assert_eq!(first.last_id, all[1].id);
    let rest = f.read(Some(&first.last_id), 2, 0).await;
    assert_eq!(rest.events, all[2..]);
    // count 0 reads nothing, where it stands, and does not wait (as the memory backend).
    let none = f.read(Some(&all[0].id), 0, 0).await;
    assert_eq!(
        (none.events.len(), none.last_id.as_str()),
        (0, all[0].id.as_str())
    );
    let start = Instant::now();
    let none = f.read(None, 0, 5_000).await;
    assert!(start.elapsed() < Duration::from_secs(1), "no wait");
    assert_eq!(
        (none.events.len(), none.last_id.as_str()),
        (0, all[2].id.as_str()),
        "`after: None` still resolves to the stream's end"
    );
    // An entry of an unknown kind is skipped, and the position moves past it.
    let odd = f
        .cmd(&[
            "XADD",
            "arq:queue:events",
            "*",
            "e",
            "teleported",
            "id",
            "x",
        ])
        .text();
    f.enqueue("d", EVENTS).await;
    let page = f.read(Some(&end.last_id), 10, 0).await;
    assert_eq!(
        summary(&page.events),
        [ev(EventKind::Enqueued, "d", None, None)]
    );
    let only_odd = f.read(Some(&end.last_id), 1, 0).await;
    assert_eq!(only_odd.events, []);
    assert_eq!(only_odd.last_id, odd);
}

#[tokio::test]
async fn a_blocking_read_waits_for_the_next_event_on_its_own_connection() {
    // A command timeout well below the wait: the read must outlast it.
    let f = Fixture::with(|s| s.command_timeout(Some(Duration::from_millis(300)))).await;
    let reader = f.b.standalone().await.unwrap();
    let read = |after: Option<String>, block_ms| {
        let reader = reader.clone();
        async move {
            reader
                .events_read(&EventsRead {
                    queue: Q.into(),
                    after,
                    count: 10,
                    block_ms,
                })
                .await
        }
    };
    // Nothing comes: the read returns empty after the wait, not a timeout.
    let start = Instant::now();
    let page = read(None, 1_200).await.unwrap();
    let waited = start.elapsed();
    assert_eq!(page.events, []);
    assert_eq!(page.last_id, "0-0");
    assert!(waited >= Duration::from_millis(1_100), "{waited:?}");

    // An event written while it waits ends the wait.
    let waiting = tokio::spawn(read(None, 5_000));
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The shared backend is not held up meanwhile.
    let start = Instant::now();
    f.enqueue("a", EVENTS).await;
    assert!(start.elapsed() < Duration::from_millis(250));
    let page = waiting.await.unwrap().unwrap();
    assert_eq!(
        summary(&page.events),
        [ev(EventKind::Enqueued, "a", None, None)]
    );

    // The shared backend can block too (it holds up its own connection meanwhile).
    let page = f.read(Some(&page.last_id), 10, 400).await;
    assert_eq!(page.events, []);
}

#[tokio::test]
async fn streams_are_trimmed_to_about_their_length() {
    let f = Fixture::start().await;
    for i in 0..600 {
        f.enqueue(&format!("j{i}"), Some(50)).await;
    }
    let len = f.int(&["XLEN", "arq:queue:events"]);
    // MAXLEN ~ drops whole stream nodes (100 entries each by default), never below the length.
    assert!((50..=200).contains(&len), "{len}");
}

#[tokio::test]
async fn snooze_counts_gives_the_try_back_and_stops_at_its_limit() {
    let f = Fixture::start().await;
    f.enqueue("a", None).await;
    let a = f.claim_one(None).await;
    let before = arq_core::now_ms();
    let s = f.b.snooze(&snooze_req(&a, &a.token, 2)).await.unwrap();
    assert_eq!(s, SnoozeOutcome::Snoozed(1));
    assert_eq!(f.cmd(&["GET", "arq:retry:a:snoozes"]).text(), "1");
    let ttl = f.int(&["TTL", "arq:retry:a:snoozes"]);
    assert!((88_000..=88_400).contains(&ttl), "{ttl}");
    // The try is given back, the counter keeps its TTL.
    assert_eq!(f.cmd(&["GET", "arq:retry:a"]).text(), "0");
    assert!(f.int(&["TTL", "arq:retry:a"]) > 88_000);
    // Due a minute from Redis's now, the lease dropped, the token kept as handed back.
    let score = f.int(&["ZSCORE", Q, "a"]);
    assert!(
        (before + 59_000..=before + 61_000).contains(&score),
        "{score}"
    );
    assert!(!f.exists("arq:in-progress:a"));
    assert_eq!(f.cmd(&["GET", "arq:retry:a:clean"]).text(), a.token);

    // A repeat with the same token changes nothing and reads the count.
    f.cmd(&["ZADD", Q, "0", "a"]);
    let again = f.b.snooze(&snooze_req(&a, &a.token, 2)).await.unwrap();
    assert_eq!(again, SnoozeOutcome::Snoozed(1));
    assert_eq!(f.int(&["ZSCORE", Q, "a"]), 0);
    assert_eq!(f.cmd(&["GET", "arq:retry:a:snoozes"]).text(), "1");

    // The next run, try 1 again (a snooze is not a recovery).
    let a2 = f.claim_one(None).await;
    assert_eq!(a2.job_try, 1);
    assert!(!a2.recovered);
    // The old token is stale now.
    let stale = f.b.snooze(&snooze_req(&a, &a.token, 2)).await.unwrap();
    assert_eq!(stale, SnoozeOutcome::Fenced);
    let s = f.b.snooze(&snooze_req(&a2, &a2.token, 2)).await.unwrap();
    assert_eq!(s, SnoozeOutcome::Snoozed(2));

    // At the limit nothing changes: the lease and the try stay.
    f.cmd(&["ZADD", Q, "0", "a"]);
    let a3 = f.claim_one(None).await;
    let limit = f.b.snooze(&snooze_req(&a3, &a3.token, 2)).await.unwrap();
    assert_eq!(limit, SnoozeOutcome::LimitReached(2));
    assert_eq!(f.cmd(&["GET", "arq:in-progress:a"]).text(), a3.token);
    assert_eq!(f.cmd(&["GET", "arq:retry:a"]).text(), "1");
    assert_eq!(f.int(&["ZSCORE", Q, "a"]), 0);
    // A larger limit lets it snooze again.
    let more = f.b.snooze(&snooze_req(&a3, &a3.token, 3)).await.unwrap();
    assert_eq!(more, SnoozeOutcome::Snoozed(3));
}

#[tokio::test]
async fn snooze_never_counts_below_zero_or_brings_back_a_deleted_job() {
    let f = Fixture::start().await;
    f.enqueue("a", None).await;
    let a = f.claim_one(None).await;
    f.cmd(&["SET", "arq:retry:a", "0", "EX", "100"]);
    // Deleted from its queue while it ran: the snooze applies but does not requeue it.
    f.cmd(&["ZREM", Q, "a"]);
    let s = f.b.snooze(&snooze_req(&a, &a.token, 5)).await.unwrap();
    assert_eq!(s, SnoozeOutcome::Snoozed(1));
    assert_eq!(f.cmd(&["GET", "arq:retry:a"]).text(), "0");
    assert!(!f.exists(Q));

    // No lease and no job: fenced.
    f.enqueue("b", None).await;
    let b = f.claim_one(None).await;
    f.cmd(&["DEL", "arq:in-progress:b", "arq:job:b"]);
    let s = f.b.snooze(&snooze_req(&b, &b.token, 5)).await.unwrap();
    assert_eq!(s, SnoozeOutcome::Fenced);
    f.cmd(&["ZREM", Q, "b"]);
    // No lease but the job is there (the lease lapsed, nobody took it): like retry, it applies.
    f.enqueue("c", None).await;
    let c = f.claim_one(None).await;
    f.cmd(&["DEL", "arq:in-progress:c"]);
    let before = arq_core::now_ms();
    let s =
        f.b.snooze(&SnoozeRequest {
            defer_ms: 0,
            events: EVENTS,
            ..snooze_req(&c, &c.token, 5)
        })
        .await
        .unwrap();
    assert_eq!(s, SnoozeOutcome::Snoozed(1));
    // A defer of 0 is still a move ahead (at least 1 ms); the event holds the deferral applied.
    let score = f.int(&["ZSCORE", Q, "c"]);
    assert!(score > before - 1_000, "{score}");
    assert_eq!(
        summary(&f.events().await),
        [ev(EventKind::Snoozed, "c", Some(1), Some("1"))]
    );
}

#[tokio::test]
async fn the_snoozed_event_holds_the_deferral_applied() {
    let f = Fixture::start().await;
    for id in ["neg", "zero", "later"] {
        f.enqueue(id, None).await;
    }
    let jobs = f.claim(None).await;
    assert_eq!(jobs.len(), 3);
    for job in &jobs {
        let defer_ms = match job.job_id.as_str() {
            "neg" => -5,
            "zero" => 0,
            _ => 250,
        };
        let s =
            f.b.snooze(&SnoozeRequest {
                defer_ms,
                events: EVENTS,
                ..snooze_req(job, &job.token, 5)
            })
            .await
            .unwrap();
        assert_eq!(s, SnoozeOutcome::Snoozed(1));
    }
    // `max(defer_ms, 1)` as decimal text, as the memory backend writes it.
    let mut snoozed = summary(&f.events().await);
    snoozed.sort_by(|a, b| a.1.cmp(&b.1));
    use EventKind::Snoozed;
    assert_eq!(
        snoozed,
        [
            ev(Snoozed, "later", Some(1), Some("250")),
            ev(Snoozed, "neg", Some(1), Some("1")),
            ev(Snoozed, "zero", Some(1), Some("1")),
        ]
    );
}

#[tokio::test]
async fn a_rerun_resets_the_snooze_count() {
    let f = Fixture::start().await;
    f.enqueue("a", None).await;
    let a = f.claim_one(None).await;
    f.b.snooze(&SnoozeRequest {
        defer_ms: 1,
        ..snooze_req(&a, &a.token, 5)
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    let a = f.claim_one(None).await;
    assert!(f.finish(finish_req(&a, FinishOutcome::Completed)).await);
    assert!(f.exists("arq:retry:a:snoozes"));
    let added =
        f.b.enqueue(&EnqueueRequest {
            replace_result: true,
            ..enq("a", None)
        })
        .await
        .unwrap();
    assert!(added);
    assert!(!f.exists("arq:retry:a:snoozes"));
}

#[tokio::test]
async fn progress_is_fenced_by_the_token_and_deleted_with_the_job() {
    let f = Fixture::start().await;
    assert_eq!(f.b.progress_read("a").await.unwrap(), None);
    f.enqueue("a", None).await;
    let a = f.claim_one(None).await;
    let progress = |token: &str, value: &[u8]| ProgressRequest {
        queue: Q.into(),
        job_id: "a".into(),
        token: token.into(),
        value: value.to_vec(),
        ttl_ms: 60_000,
        events: EVENTS,
    };
    assert!(f.b.progress(&progress(&a.token, b"10")).await.unwrap());
    assert_eq!(
        f.b.progress_read("a").await.unwrap().as_deref(),
        Some(&b"10"[..])
    );
    let ttl = f.int(&["PTTL", "arq:progress:a"]);
    assert!((59_000..=60_000).contains(&ttl), "{ttl}");
    // A stale token writes nothing, and no event.
    assert!(!f.b.progress(&progress("stale", b"99")).await.unwrap());
    assert_eq!(
        f.b.progress_read("a").await.unwrap().as_deref(),
        Some(&b"10"[..])
    );
    assert_eq!(f.events().await.len(), 1);
    // Once finished, the lease is gone: refused.
    assert!(f.finish(finish_req(&a, FinishOutcome::Completed)).await);
    assert!(!f.b.progress(&progress(&a.token, b"20")).await.unwrap());
    // Inspect::delete removes it.
    assert_eq!(f.b.inspect().unwrap().delete(Q, "a").await.unwrap(), 1);
    assert_eq!(f.b.progress_read("a").await.unwrap(), None);
}

#[tokio::test]
async fn hooks_are_leased_claimed_when_the_lease_ends_and_done_once() {
    let f = Fixture::start().await;
    for id in ["a", "b"] {
        f.enqueue(id, None).await;
    }
    let jobs = f.claim(None).await;
    let start = arq_core::now_ms();
    for job in &jobs {
        assert!(f.finish(failed(job, None, Some(300))).await);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        f.cmd(&["HGET", "arq:queue:hooks:data", "a"]).text(),
        "failure a"
    );
    let lease_end = f.int(&["ZSCORE", "arq:queue:hooks", "a"]);
    assert!(
        (start + 250..=start + 1_300).contains(&lease_end),
        "{lease_end}"
    );
    // Leased to the finishing worker: nobody else takes them yet.
    assert!(f.b.hooks_claim(Q, 10, 5_000).await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(400)).await;
    // A member without data cannot run: dropped.
    f.cmd(&["ZADD", "arq:queue:hooks", "0", "orphan"]);
    // Oldest lease first, up to the limit; leased again for the claimer.
    let one = f.b.hooks_claim(Q, 1, 5_000).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].job_id, "a");
    assert_eq!(&one[0].record[..], b"failure a");
    assert_eq!(
        f.cmd(&["ZSCORE", "arq:queue:hooks", "orphan"]),
        Resp::Bulk(None)
    );
    let next = f.b.hooks_claim(Q, 10, 5_000).await.unwrap();
    assert_eq!(
        next.iter().map(|h| h.job_id.as_str()).collect::<Vec<_>>(),
        ["b"]
    );
    assert!(f.b.hooks_claim(Q, 10, 5_000).await.unwrap().is_empty());
    let lease_end = f.int(&["ZSCORE", "arq:queue:hooks", "a"]);
    assert!(lease_end >= arq_core::now_ms() + 4_000, "{lease_end}");
    assert!(f.b.hooks_claim(Q, 0, 5_000).await.unwrap().is_empty());
    // Done: gone, once.
    assert!(f.b.hook_done(Q, "a").await.unwrap());
    assert!(!f.b.hook_done(Q, "a").await.unwrap());
    assert_eq!(
        f.cmd(&["HEXISTS", "arq:queue:hooks:data", "a"]).int(),
        Some(0)
    );
    assert!(f.b.hook_done(Q, "b").await.unwrap());
    assert!(!f.exists("arq:queue:hooks") && !f.exists("arq:queue:hooks:data"));
}

/// Fails `ids` for good one after another, each leaving a dead letter within `limits`.
async fn bury(f: &Fixture, ids: &[&str], limits: DeadLimits) {
    for id in ids {
        f.enqueue(id, None).await;
        let job = f.claim_one(None).await;
        assert!(f.finish(failed(&job, Some(limits), None)).await);
        // Distinct scores, so "oldest" is well defined.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
}

#[tokio::test]
async fn dead_letters_are_kept_in_order_and_trimmed_by_size() {
    let f = Fixture::start().await;
    let three = DeadLimits {
        max_len: 3,
        max_age_ms: 86_400_000,
    };
    let before = arq_core::now_ms();
    bury(&f, &["j0", "j1", "j2", "j3", "j4"], three).await;
    let dead = f.b.dead_letters().unwrap();
    let page = dead.dead_page(Q, 0, 10).await.unwrap();
    assert_eq!(page.total, 3);
    assert!(page.now_ms >= before);
    let ids: Vec<&str> = page.entries.iter().map(|e| e.job_id.as_str()).collect();
    assert_eq!(ids, ["j4", "j3", "j2"], "newest first");
    assert!(page.entries.windows(2).all(|w| w[0].died_ms > w[1].died_ms));
    let j4 = &page.entries[0];
    assert_eq!(j4.job.as_deref(), Some(&b"job j4"[..]));
    assert_eq!(j4.record.as_deref(), Some(&b"failure j4"[..]));
    assert!((before..=page.now_ms).contains(&j4.died_ms));
    // The trimmed letters' records went with them.
    assert_eq!(f.int(&["HLEN", "arq:queue:dead:data"]), 6);
    let middle = dead.dead_page(Q, 1, 1).await.unwrap();
    assert_eq!(middle.entries.len(), 1);
    assert_eq!(middle.entries[0].job_id, "j3");
    assert!(dead.dead_page(Q, 5, 10).await.unwrap().entries.is_empty());

    assert!(dead.dead_read(Q, "j0").await.unwrap().is_none());
    let read = dead.dead_read(Q, "j2").await.unwrap().unwrap();
    assert_eq!(read.job_id, "j2");
    assert_eq!(read.job.as_deref(), Some(&b"job j2"[..]));
    assert_eq!(read.died_ms, page.entries[2].died_ms);
}

#[tokio::test]
async fn a_dead_page_of_limit_0_reads_only_the_total_and_the_clock() {
    let f = Fixture::start().await;
    bury(&f, &["j0", "j1", "j2"], ROOMY).await;
    let dead = f.b.dead_letters().unwrap();
    // At every offset (0 included, where `ZREVRANGE 0 -1` would be every letter): no entries.
    for offset in [0, 1, 2, 3, 10, u64::MAX] {
        let before = arq_core::now_ms();
        let page = dead.dead_page(Q, offset, 0).await.unwrap();
        assert_eq!(
            (page.total, page.entries.len()),
            (3, 0),
            "offset {offset}: {page:?}"
        );
        assert!(
            (before - 1_000..=arq_core::now_ms() + 1_000).contains(&page.now_ms),
            "Redis's clock: {page:?}"
        );
    }
    // A missing set: no entries, total 0.
    let page = dead.dead_page("arq:nowhere", 0, 0).await.unwrap();
    assert_eq!((page.total, page.entries.len()), (0, 0));
}

#[tokio::test]
async fn dead_letters_past_their_age_go_at_most_100_a_step() {
    let f = Fixture::start().await;
    for i in 0..150 {
        let id = format!("old{i}");
        f.cmd(&["ZADD", "arq:queue:dead", &(1_000 + i).to_string(), &id]);
        f.cmd(&[
            "HSET",
            "arq:queue:dead:data",
            &format!("r:{id}"),
            "r",
            &format!("j:{id}"),
            "j",
        ]);
    }
    let minute = DeadLimits {
        max_len: 1_000,
        max_age_ms: 60_000,
    };
    bury(&f, &["new"], minute).await;
    // The 100 oldest went, with their records; 50 old ones wait for the next step.
    assert_eq!(f.int(&["ZCARD", "arq:queue:dead"]), 51);
    assert_eq!(
        f.cmd(&["ZSCORE", "arq:queue:dead", "old99"]),
        Resp::Bulk(None)
    );
    assert_eq!(f.int(&["ZSCORE", "arq:queue:dead", "old100"]), 1_100);
    assert_eq!(f.int(&["HLEN", "arq:queue:dead:data"]), 51 * 2);
    bury(&f, &["newer"], minute).await;
    let page =
        f.b.dead_letters()
            .unwrap()
            .dead_page(Q, 0, 10)
            .await
            .unwrap();
    let ids: Vec<&str> = page.entries.iter().map(|e| e.job_id.as_str()).collect();
    assert_eq!(ids, ["newer", "new"]);
    assert_eq!(f.int(&["HLEN", "arq:queue:dead:data"]), 4);
}

#[tokio::test]
async fn dead_requeue_reports_each_outcome_and_starts_the_job_afresh() {
    let f = Fixture::start().await;
    bury(&f, &["a", "b", "c", "d"], ROOMY).await;
    let dead = f.b.dead_letters().unwrap();
    // `b` died again without its job record: the letter is replaced, and holds none.
    let requeued = dead.dead_requeue(Q, &["b".into()], None).await.unwrap();
    assert_eq!(requeued, [RequeueOutcome::Requeued]);
    let b = f.claim_one(None).await;
    let b = ClaimedJob { payload: None, ..b };
    assert!(f.finish(failed(&b, Some(ROOMY), None)).await);
    let letter = dead.dead_read(Q, "b").await.unwrap().unwrap();
    assert!(letter.job.is_none());
    // `c` is back: its job key exists again. `d` has a queue entry.
    f.cmd(&["SET", "arq:job:c", "again"]);
    f.cmd(&["ZADD", Q, "5", "d"]);
    // `a` has a try counter, markers and a failed result, all to go.
    for key in [
        "arq:retry:a",
        "arq:retry:a:clean",
        "arq:retry:a:releases",
        "arq:retry:a:snoozes",
    ] {
        f.cmd(&["SET", key, "3"]);
    }
    assert!(f.exists("arq:result:a"));
    let before = arq_core::now_ms();
    let outcomes = dead
        .dead_requeue(
            Q,
            &[
                "nope".into(),
                "b".into(),
                "c".into(),
                "d".into(),
                "a".into(),
            ],
            EVENTS,
        )
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            RequeueOutcome::NotFound,
            RequeueOutcome::NoRecord,
            RequeueOutcome::JobExists,
            RequeueOutcome::JobExists,
            RequeueOutcome::Requeued,
        ]
    );
    // The refused letters stay.
    for id in ["b", "c", "d"] {
        assert!(dead.dead_read(Q, id).await.unwrap().is_some(), "{id}");
    }
    // `a`: its record as it was claimed, due now, counters reset, letter and result gone.
    assert_eq!(f.cmd(&["GET", "arq:job:a"]).text(), "job a");
    let ttl = f.int(&["PTTL", "arq:job:a"]);
    assert!((86_390_000..=86_400_000).contains(&ttl), "{ttl}");
    let score = f.int(&["ZSCORE", Q, "a"]);
    assert!(
        (before - 1_000..=arq_core::now_ms() + 1_000).contains(&score),
        "{score}"
    );
    for key in [
        "arq:retry:a",
        "arq:retry:a:clean",
        "arq:retry:a:releases",
        "arq:retry:a:snoozes",
        "arq:result:a",
    ] {
        assert!(!f.exists(key), "{key}");
    }
    assert!(dead.dead_read(Q, "a").await.unwrap().is_none());
    assert_eq!(
        f.cmd(&["HEXISTS", "arq:queue:dead:data", "j:a"]).int(),
        Some(0)
    );
    assert_eq!(
        f.cmd(&["HEXISTS", "arq:queue:dead:data", "r:a"]).int(),
        Some(0)
    );
    assert_eq!(
        summary(&f.events().await),
        [ev(EventKind::Requeued, "a", None, None)]
    );
    // It runs again as a first try.
    f.cmd(&["ZREM", Q, "d"]);
    let a = f.claim_one(None).await;
    assert_eq!((a.job_id.as_str(), a.job_try, a.recovered), ("a", 1, false));
    assert_eq!(a.payload.as_deref(), Some(&b"job a"[..]));
    assert!(dead.dead_requeue(Q, &[], EVENTS).await.unwrap().is_empty());
}

#[tokio::test]
async fn dead_letters_are_deleted_and_purged_with_their_records() {
    let f = Fixture::start().await;
    bury(&f, &["a", "b", "c", "d", "e"], ROOMY).await;
    let dead = f.b.dead_letters().unwrap();
    let n = dead
        .dead_delete(Q, &["b".into(), "nope".into(), "d".into()])
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(dead.dead_delete(Q, &[]).await.unwrap(), 0);
    assert_eq!(f.int(&["HLEN", "arq:queue:dead:data"]), 6);
    // Purge takes the oldest first.
    assert_eq!(dead.dead_purge(Q, 2).await.unwrap(), 2);
    let page = dead.dead_page(Q, 0, 10).await.unwrap();
    let ids: Vec<&str> = page.entries.iter().map(|e| e.job_id.as_str()).collect();
    assert_eq!(ids, ["e"]);
    assert_eq!(f.int(&["HLEN", "arq:queue:dead:data"]), 2);
    assert_eq!(dead.dead_purge(Q, 0).await.unwrap(), 0);
    assert_eq!(dead.dead_purge(Q, 100).await.unwrap(), 1);
    assert_eq!(dead.dead_purge(Q, 100).await.unwrap(), 0);
    assert!(!f.exists("arq:queue:dead") && !f.exists("arq:queue:dead:data"));
}

#[tokio::test]
async fn queues_do_not_list_dead_or_hook_sets() {
    let f = Fixture::start().await;
    bury(&f, &["a"], ROOMY).await;
    f.enqueue("b", None).await;
    let b = f.claim_one(None).await;
    assert!(f.finish(failed(&b, None, Some(60_000))).await);
    f.enqueue("c", EVENTS).await;
    assert!(f.exists("arq:queue:dead") && f.exists("arq:queue:hooks"));
    assert_eq!(f.b.inspect().unwrap().queues().await.unwrap(), [Q]);
}

#[tokio::test]
async fn large_batches_go_through_in_chunks() {
    let f = Fixture::start().await;
    // 1500 due hooks and 1500 dead letters (scores 1..1500), written in one go.
    f.cmd(&[
        "EVAL",
        "for i = 1, 1500 do \
           redis.call('ZADD', KEYS[1], i, 'h' .. i) \
           redis.call('HSET', KEYS[2], 'h' .. i, 'r' .. i) \
           redis.call('ZADD', KEYS[3], i, 'd' .. i) \
           redis.call('HSET', KEYS[4], 'j:d' .. i, 'j', 'r:d' .. i, 'r') \
         end",
        "4",
        "arq:queue:hooks",
        "arq:queue:hooks:data",
        "arq:queue:dead",
        "arq:queue:dead:data",
    ]);
    let hooks = f.b.hooks_claim(Q, 1_200, 60_000).await.unwrap();
    assert_eq!(hooks.len(), 1_200);
    assert_eq!(
        (hooks[0].job_id.as_str(), &hooks[0].record[..]),
        ("h1", &b"r1"[..])
    );
    assert_eq!(hooks[1_199].job_id, "h1200");
    assert_eq!(f.b.hooks_claim(Q, 1_200, 60_000).await.unwrap().len(), 300);

    let dead = f.b.dead_letters().unwrap();
    let page = dead.dead_page(Q, 100, 700).await.unwrap();
    assert_eq!((page.total, page.entries.len()), (1_500, 700));
    assert_eq!(page.entries[0].job_id, "d1400");
    assert_eq!(page.entries[699].job_id, "d701");
    assert!(page
        .entries
        .iter()
        .all(|e| e.job.is_some() && e.record.is_some()));
    assert_eq!(dead.dead_purge(Q, 1_200).await.unwrap(), 1_200);
    assert_eq!(f.int(&["ZSCORE", "arq:queue:dead", "d1201"]), 1_201);
    let ids: Vec<String> = (1..=1_500).map(|i| format!("d{i}")).collect();
    assert_eq!(dead.dead_delete(Q, &ids).await.unwrap(), 300);
    assert!(!f.exists("arq:queue:dead") && !f.exists("arq:queue:dead:data"));
}
