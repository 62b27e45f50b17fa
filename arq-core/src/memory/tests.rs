//! The tricky steps of [`MemoryBackend`], each against what its Lua script does.

use super::*;
use crate::backend::{CronTick, Lease, FREE_RELEASES, RECOVERY_ALONE_FROM_TRY};

const Q: &str = "q";

fn enqueue_req(id: &str, defer: Defer, et: i64) -> EnqueueRequest {
    EnqueueRequest {
        job_id: id.into(),
        queue: Q.into(),
        payload: format!("record of {id}").into_bytes(),
        defer,
        enqueue_time_ms: et,
        expires_ms: None,
        replace_result: false,
        events: None,
    }
}

async fn enqueue(b: &MemoryBackend, id: &str) {
    let now = b.now_ms();
    assert!(b.enqueue(&enqueue_req(id, Defer::None, now)).await.unwrap());
}

fn claim_req(limit: usize, seq: u64, idle: bool) -> ClaimRequest {
    ClaimRequest {
        queue: Q.into(),
        limit,
        scan_limit: 1000,
        token_prefix: "w".into(),
        seq,
        idle,
        alone_from_try: RECOVERY_ALONE_FROM_TRY,
        lease_ms: 1_000,
        check_abort: true,
        events: None,
    }
}

async fn claim(b: &MemoryBackend, limit: usize, seq: u64, idle: bool) -> Claimed {
    b.claim(&claim_req(limit, seq, idle)).await.unwrap()
}

fn finish_req(id: &str, token: &str) -> FinishRequest {
    FinishRequest {
        queue: Q.into(),
        job_id: id.into(),
        token: token.into(),
        result: Some(b"done".to_vec()),
        keep_result_ms: Some(10_000),
        keep_in_progress_ms: None,
        outcome: Default::default(),
        job_try: 1,
        failure: None,
        events: None,
        error: None,
    }
}

fn retry_req(id: &str, token: &str, defer_ms: i64) -> RetryRequest {
    RetryRequest {
        queue: Q.into(),
        job_id: id.into(),
        token: token.into(),
        defer_ms,
        job_try: 1,
        events: None,
        error: None,
    }
}

fn release_req(id: &str, token: &str) -> ReleaseRequest {
    ReleaseRequest {
        job_id: id.into(),
        token: token.into(),
        free_releases: FREE_RELEASES,
    }
}

fn ids(c: &Claimed) -> Vec<&str> {
    c.jobs.iter().map(|j| j.job_id.as_str()).collect()
}

#[tokio::test]
async fn enqueue_refuses_taken_ids_and_replace_result_reruns() {
    let b = MemoryBackend::new();
    enqueue(&b, "a").await;
    let now = b.now_ms();
    assert!(!b
        .enqueue(&enqueue_req("a", Defer::None, now))
        .await
        .unwrap());
    let c = claim(&b, 1, 1, true).await;
    assert!(
        b.finish(&[finish_req("a", &c.jobs[0].token)])
            .await
            .unwrap()[0]
    );
    // The result holds the id now.
    assert!(!b
        .enqueue(&enqueue_req("a", Defer::None, now))
        .await
        .unwrap());
    let mut again = enqueue_req("a", Defer::None, now);
    again.replace_result = true;
    assert!(b.enqueue(&again).await.unwrap());
    assert_eq!(
        b.result(Q, "a").await.unwrap().result,
        None,
        "result replaced"
    );
    let c = claim(&b, 1, 2, true).await;
    assert_eq!(c.jobs[0].job_try, 1, "the try counter starts again");
    // A replace still refuses a job record with the id.
    assert!(!b.enqueue(&again).await.unwrap());
}

#[tokio::test]
async fn enqueue_scores_as_enqueue_lua() {
    let b = MemoryBackend::new();
    let now = b.now_ms();
    let score = |id: &'static str| {
        let b = b.clone();
        async move { b.score(Q, id).await.unwrap().unwrap() }
    };
    // Due at once: the earlier of et and now, never in the future.
    b.enqueue(&enqueue_req("past", Defer::None, now - 1_500))
        .await
        .unwrap();
    assert_eq!(score("past").await, now - 1_500);
    b.enqueue(&enqueue_req("ahead", Defer::None, now + 1_500))
        .await
        .unwrap();
    assert!(score("ahead").await <= b.now_ms());
    // defer_by counts from et while et is within 2 s of the clock…
    b.enqueue(&enqueue_req("by", Defer::By(10_000), now - 1_000))
        .await
        .unwrap();
    assert_eq!(score("by").await, now - 1_000 + 10_000);
    // …and from the clock when the client is skewed further.
    b.enqueue(&enqueue_req("skewed", Defer::By(10_000), now - 60_000))
        .await
        .unwrap();
    let s = score("skewed").await;
    assert!((now + 10_000..=b.now_ms() + 10_000).contains(&s), "{s}");
    b.enqueue(&enqueue_req("at", Defer::At(now + 5_000), now))
        .await
        .unwrap();
    assert_eq!(score("at").await, now + 5_000);
    // The job key lives its deferral plus a day by default.
    let ttl = b.step(|s, t| s.jobs.ttl("by", t)).unwrap().unwrap();
    assert!(
        (86_400_000 + 9_000..=86_400_000 + 10_000).contains(&ttl),
        "{ttl}"
    );
    // A defer_until more than a day back would expire at once: refused, nothing written.
    let err = b
        .enqueue(&enqueue_req("old", Defer::At(now - 86_400_001), now))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    assert_eq!(b.score(Q, "old").await.unwrap(), None);
    let mut zero = enqueue_req("zero", Defer::None, now);
    zero.expires_ms = Some(0);
    assert!(b.enqueue(&zero).await.is_err());
}

#[tokio::test]
async fn enqueue_clears_a_stale_abort_marker_and_wakes_only_for_due_jobs() {
    let b = MemoryBackend::new();
    let seen = Arc::new(Mutex::new(0));
    let counter = seen.clone();
    let stop = CancellationToken::new();
    b.watch(
        &Watch::Enqueued(Q.into()),
        Arc::new(move |m: &[u8]| {
            assert!(m.is_empty());
            *counter.lock().unwrap() += 1;
        }),
        stop.clone(),
    )
    .await
    .unwrap();
    b.step(|s, now| s.aborts.add("a", now));
    enqueue(&b, "a").await;
    assert_eq!(b.abort_requests(&["a".into()]).await.unwrap(), []);
    let now = b.now_ms();
    b.enqueue(&enqueue_req("later", Defer::By(60_000), now))
        .await
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), 1, "a deferred job wakes nobody");
    stop.cancel();
    enqueue(&b, "b").await;
    assert_eq!(*seen.lock().unwrap(), 1, "a stopped watch hears nothing");
}

#[tokio::test]
async fn claim_takes_due_jobs_in_score_order_skipping_held_ones() {
    let b = MemoryBackend::new();
    let now = b.now_ms();
    for (id, at) in [("c", now - 1), ("a", now - 3), ("b", now - 2)] {
        b.enqueue(&enqueue_req(id, Defer::At(at), now))
            .await
            .unwrap();
    }
    b.enqueue(&enqueue_req("future", Defer::By(60_000), now))
        .await
        .unwrap();
    let first = claim(&b, 2, 7, true).await;
    assert_eq!(ids(&first), ["a", "b"]);
    assert_eq!(first.jobs[0].token, "w:7:1");
    assert_eq!(first.jobs[1].token, "w:7:2");
    assert_eq!(first.jobs[0].payload.as_deref(), Some(&b"record of a"[..]));
    assert_eq!(first.jobs[0].job_try, 1);
    assert!(!first.jobs[0].recovered);
    let second = claim(&b, 5, 8, false).await;
    assert_eq!(
        ids(&second),
        ["c"],
        "held jobs are skipped, future ones not due"
    );
    // The scan limit bounds what is looked at, held entries included.
    enqueue(&b, "d").await;
    let mut req = claim_req(5, 9, false);
    req.scan_limit = 3;
    assert!(b.claim(&req).await.unwrap().jobs.is_empty());
    // A queue entry whose record is gone is claimed with no payload.
    b.step(|s, now| s.jobs.remove("d", now));
    let gone = claim(&b, 5, 10, false).await;
    assert_eq!(ids(&gone), ["d"]);
    assert_eq!(gone.jobs[0].payload, None);
    assert_eq!(gone.jobs[0].payload_error, None);
}

#[tokio::test]
async fn finish_retry_and_release_are_fenced_by_the_token() {
    let b = MemoryBackend::new();
    enqueue(&b, "a").await;
    let old = claim(&b, 1, 1, true).await.jobs.remove(0);
    // The lease lapses and another worker takes the job over.
    b.advance(1_001);
    let new = claim(&b, 1, 2, true).await.jobs.remove(0);
    assert!(new.recovered, "its last worker lost the lease");
    assert_eq!(new.job_try, 2);
    assert!(!b.finish(&[finish_req("a", &old.token)]).await.unwrap()[0]);
    assert!(!b.retry(&retry_req("a", &old.token, 0)).await.unwrap());
    assert!(!b.release(&release_req("a", &old.token)).await.unwrap());
    let hb = Heartbeat {
        leases: vec![Lease {
            job_id: "a".into(),
            token: old.token.clone(),
            ms: 1_000,
        }],
        generation: None,
    };
    assert_eq!(b.heartbeat(&hb).await.unwrap().renewed, [false]);
    assert_eq!(
        b.result(Q, "a").await.unwrap().result,
        None,
        "nothing written"
    );
    assert!(b.status(Q, "a").await.unwrap().in_progress);
    // The holder finishes, once: a repeat finds nothing of its own.
    let flags = b
        .finish(&[finish_req("a", &new.token), finish_req("a", &new.token)])
        .await
        .unwrap();
    assert_eq!(
        flags,
        [true, true],
        "a batch is checked against the state before it"
    );
    assert!(!b.finish(&[finish_req("a", &new.token)]).await.unwrap()[0]);
    let status = b.status(Q, "a").await.unwrap();
    assert!(status.result_exists && !status.in_progress && status.score.is_none());
    assert_eq!(b.job_record("a").await.unwrap(), None);
}

#[tokio::test]
async fn a_lapsed_lease_may_still_finish_while_nobody_else_holds_it() {
    let b = MemoryBackend::new();
    enqueue(&b, "a").await;
    let job = claim(&b, 1, 1, true).await.jobs.remove(0);
    b.advance(5_000);
    assert!(b.finish(&[finish_req("a", &job.token)]).await.unwrap()[0]);
    // A lapsed lease whose job is gone is not ours: refused.
    enqueue(&b, "b").await;
    let job = claim(&b, 1, 2, true).await.jobs.remove(0);
    b.advance(5_000);
    b.step(|s, now| s.jobs.remove("b", now));
    assert!(!b.finish(&[finish_req("b", &job.token)]).await.unwrap()[0]);
}

#[tokio::test]
async fn retry_defers_from_the_clock_and_a_repeat_changes_nothing() {
    let b = MemoryBackend::new();
    enqueue(&b, "a").await;
    let job = claim(&b, 1, 1, true).await.jobs.remove(0);
    let before = b.now_ms();
    assert!(b.retry(&retry_req("a", &job.token, 5_000)).await.unwrap());
    let score = b.score(Q, "a").await.unwrap().unwrap();
    assert!((before + 5_000..=b.now_ms() + 5_000).contains(&score));
    b.advance(1_000);
    assert!(
        b.retry(&retry_req("a", &job.token, 5_000)).await.unwrap(),
        "a repeat is recognised by the handed-back marker"
    );
    assert_eq!(
        b.score(Q, "a").await.unwrap(),
        Some(score),
        "not pushed twice"
    );
    b.advance(5_000);
    let next = claim(&b, 1, 2, false).await.jobs.remove(0);
    assert_eq!(next.job_try, 2);
    assert!(!next.recovered, "a retried job is not a recovery");
    assert!(
        !b.step(|s, now| s.handed_back.contains("a", now)),
        "the marker is used up"
    );
    // ZADD XX: a retry never brings back a job deleted meanwhile.
    b.inspect().unwrap().delete(Q, "a").await.unwrap();
    b.step(|s, now| s.jobs.set("a", Bytes::new(), None, now));
    b.step(|s, now| s.leases.set("a", next.token.clone(), None, now));
    assert!(b.retry(&retry_req("a", &next.token, 5_000)).await.unwrap());
    assert_eq!(b.score(Q, "a").await.unwrap(), None);
}

#[tokio::test]
async fn releases_give_the_try_back_up_to_free_releases() {
    let b = MemoryBackend::new();
    enqueue(&b, "a").await;
    for n in 1..=FREE_RELEASES as u64 + 2 {
        let job = claim(&b, 1, n, false).await.jobs.remove(0);
        let expected = if n <= FREE_RELEASES as u64 + 1 { 1 } else { 2 };
        assert_eq!(job.job_try, expected, "claim {n}");
        assert!(!job.recovered, "a released job is not a recovery");
        assert!(b.release(&release_req("a", &job.token)).await.unwrap());
        assert!(
            b.release(&release_req("a", &job.token)).await.unwrap(),
            "a repeat is recognised"
        );
        assert!(!b.release(&release_req("a", "w:0:0")).await.unwrap());
    }
    assert_eq!(b.step(|s, now| s.tries.get("a", now).copied()), Some(2));
    assert_eq!(b.step(|s, now| s.releases.get("a", now).copied()), Some(5));
    // The release counter expires with the other counters.
    b.advance(COUNTER_TTL_MS + 1);
    assert_eq!(b.step(|s, now| s.releases.get("a", now).copied()), None);
}

#[tokio::test]
async fn repeat_recoveries_run_alone_on_an_idle_worker() {
    let b = MemoryBackend::new();
    let now = b.now_ms();
    b.enqueue(&enqueue_req("pill", Defer::At(now - 10), now))
        .await
        .unwrap();
    enqueue(&b, "other").await;
    // Two attempts die with their workers (their leases lapse).
    for seq in 1..=2 {
        let c = claim(&b, 1, seq, true).await;
        assert_eq!(ids(&c), ["pill"]);
        assert_eq!(c.jobs[0].recovered, seq == 2);
        assert!(!c.jobs[0].alone);
        b.advance(1_001);
    }
    // Try 3 is a repeat recovery: a busy worker leaves it and says so.
    let busy = claim(&b, 5, 3, false).await;
    assert_eq!(ids(&busy), ["other"]);
    assert!(busy.recovery_waiting);
    // An idle worker takes it alone, and nothing after it.
    enqueue(&b, "third").await;
    let idle = claim(&b, 5, 4, true).await;
    assert_eq!(ids(&idle), ["pill"]);
    assert!(idle.jobs[0].alone && idle.jobs[0].recovered);
    assert_eq!(idle.jobs[0].job_try, 3);
    assert!(!idle.recovery_waiting);
    // Not as a later job of an idle claim either.
    b.advance(1_001);
    b.step(|s, _| s.queue_add(Q, "first", 0));
    b.step(|s, now| s.jobs.set("first", Bytes::new(), None, now));
    let c = claim(&b, 5, 5, true).await;
    assert_eq!(ids(&c), ["first", "other", "third"]);
    assert!(c.recovery_waiting);
}

#[tokio::test]
async fn ttls_expire_leases_results_and_records() {
    let b = MemoryBackend::new();
    let now = b.now_ms();
    let mut req = enqueue_req("a", Defer::None, now);
    req.expires_ms = Some(500);
    b.enqueue(&req).await.unwrap();
    b.advance(501);
    let c = claim(&b, 1, 1, true).await;
    assert_eq!(
        c.jobs[0].payload, None,
        "the record expired, the entry stays"
    );
    enqueue(&b, "b").await;
    let job = claim(&b, 1, 2, true).await.jobs.remove(0);
    let mut kept = finish_req("b", &job.token);
    kept.keep_result_ms = Some(2_000);
    kept.keep_in_progress_ms = Some(60_000);
    b.finish(&[kept]).await.unwrap();
    let read = b.result(Q, "b").await.unwrap();
    assert!(matches!(read.ttl, ResultTtl::Ms(ms) if ms > 1_900 && ms <= 2_000));
    assert!(b.status(Q, "b").await.unwrap().in_progress, "kept 60 s");
    b.advance(2_001);
    assert_eq!(b.result(Q, "b").await.unwrap(), ResultRead::default());
    b.advance(60_000);
    assert!(!b.status(Q, "b").await.unwrap().in_progress);
    // Kept forever.
    enqueue(&b, "c").await;
    let job = claim(&b, 1, 3, true).await.jobs.remove(0);
    let mut forever = finish_req("c", &job.token);
    forever.keep_result_ms = None;
    b.finish(&[forever]).await.unwrap();
    b.advance(365 * 86_400_000);
    assert_eq!(b.result(Q, "c").await.unwrap().ttl, ResultTtl::Forever);
}

#[tokio::test]
async fn cron_ticks_are_claimed_once_by_their_marker() {
    let b = MemoryBackend::new();
    let now = b.now_ms();
    let tick = |id: &str, at: i64, ttl: Option<i64>| CronTick {
        job_id: id.into(),
        tick_ms: at,
        payload: b"cron".to_vec(),
        claim_ttl_ms: ttl,
    };
    let req = |ticks| CronTickRequest {
        queue: Q.into(),
        ticks,
    };
    let r = b
        .cron_tick(&req(vec![
            tick("cron:x:1", now - 5_000, Some(10_000)),
            tick("cron:x:2", now + 5_000, Some(10_000)),
        ]))
        .await
        .unwrap();
    assert_eq!(r.outcomes, [CronTickOutcome::Enqueued; 2]);
    assert!(r.now_ms >= now);
    assert_eq!(
        b.score(Q, "cron:x:1").await.unwrap(),
        Some(r.now_ms),
        "max(tick, now)"
    );
    assert_eq!(b.score(Q, "cron:x:2").await.unwrap(), Some(now + 5_000));
    // The job runs and leaves nothing: the marker still refuses the tick.
    let job = claim(&b, 1, 1, true).await.jobs.remove(0);
    let mut done = finish_req("cron:x:1", &job.token);
    done.result = None;
    b.finish(&[done]).await.unwrap();
    let again = b
        .cron_tick(&req(vec![tick("cron:x:1", now - 5_000, Some(10_000))]))
        .await
        .unwrap();
    assert_eq!(again.outcomes, [CronTickOutcome::AlreadyClaimed]);
    // Without a marker, the job id alone de-duplicates; a job that exists marks the tick.
    let r = b
        .cron_tick(&req(vec![
            tick("cron:x:2", now + 5_000, None),
            tick("cron:y:2", now, None),
        ]))
        .await
        .unwrap();
    assert_eq!(
        r.outcomes,
        [CronTickOutcome::JobExists, CronTickOutcome::Enqueued]
    );
    b.step(|s, now| s.cron_ticks.remove("cron:x:2", now));
    let r = b
        .cron_tick(&req(vec![tick("cron:x:2", now + 5_000, Some(10_000))]))
        .await
        .unwrap();
    assert_eq!(r.outcomes, [CronTickOutcome::JobExists]);
    assert!(b.step(|s, now| s.cron_ticks.contains("cron:x:2", now)));
    // Markers expire.
    b.advance(10_001);
    let r = b
        .cron_tick(&req(vec![tick("cron:x:1", now - 5_000, Some(10_000))]))
        .await
        .unwrap();
    assert_eq!(r.outcomes, [CronTickOutcome::Enqueued]);
    // An empty request reads the clock.
    let r = b.cron_tick(&req(vec![])).await.unwrap();
    assert!(r.outcomes.is_empty() && r.now_ms >= now + 10_001);
}

#[tokio::test]
async fn abort_has_the_four_outcomes_of_abort_lua() {
    let b = MemoryBackend::new();
    let abort = |id: &str| AbortRequest {
        queue: Q.into(),
        job_id: id.into(),
        result: Some(b"aborted".to_vec()),
        keep_result_ms: Some(60_000),
        events: None,
    };
    assert_eq!(
        b.abort(&abort("nope")).await.unwrap(),
        AbortOutcome::NotFound
    );
    assert_eq!(
        b.abort_requests(&["nope".into()]).await.unwrap(),
        [],
        "no marker left for an unknown id"
    );
    enqueue(&b, "queued").await;
    assert_eq!(
        b.abort(&abort("queued")).await.unwrap(),
        AbortOutcome::Aborted
    );
    let read = b.result(Q, "queued").await.unwrap();
    assert_eq!(read.result.as_deref(), Some(&b"aborted"[..]));
    assert_eq!(read.score, None);
    assert_eq!(b.job_record("queued").await.unwrap(), None);
    assert_eq!(
        b.abort(&abort("queued")).await.unwrap(),
        AbortOutcome::Finished
    );
    enqueue(&b, "running").await;
    let job = claim(&b, 1, 1, true).await.jobs.remove(0);
    assert_eq!(
        b.abort(&abort("running")).await.unwrap(),
        AbortOutcome::Requested
    );
    let marks = b.abort_requests(&["running".into()]).await.unwrap();
    assert_eq!(marks.len(), 1);
    assert!(b.result(Q, "running").await.unwrap().result.is_none());
    // The marker survives a retry and is consumed by the next claim that checks aborts.
    assert!(b.retry(&retry_req("running", &job.token, 0)).await.unwrap());
    let c = claim(&b, 1, 2, true).await;
    assert_eq!(c.jobs[0].abort_marker_ms, Some(marks[0].1));
    assert_eq!(b.abort_requests(&["running".into()]).await.unwrap(), []);
    // A record outside this queue: requested too.
    b.step(|s, now| s.jobs.set("elsewhere", Bytes::new(), None, now));
    assert_eq!(
        b.abort(&abort("elsewhere")).await.unwrap(),
        AbortOutcome::Requested
    );
    // Markers older than a day are pruned at claim.
    b.advance(ABORT_MARKER_LIFE_MS + 1);
    claim(&b, 1, 3, true).await;
    assert_eq!(b.abort_requests(&["elsewhere".into()]).await.unwrap(), []);
}

#[tokio::test]
async fn heartbeat_creates_the_generation_once_and_renews_only_its_own() {
    let b = MemoryBackend::new();
    enqueue(&b, "a").await;
    let job = claim(&b, 1, 1, true).await.jobs.remove(0);
    let hb = |generation: Option<String>, token: &str| Heartbeat {
        leases: vec![Lease {
            job_id: "a".into(),
            token: token.into(),
            ms: 5_000,
        }],
        generation,
    };
    let first = b.heartbeat(&hb(None, &job.token)).await.unwrap();
    assert_eq!(first.renewed, [true]);
    let second = b
        .heartbeat(&hb(Some(first.generation.clone()), &job.token))
        .await
        .unwrap();
    assert_eq!(second.generation, first.generation, "created once");
    b.advance(4_000);
    assert!(
        b.status(Q, "a").await.unwrap().in_progress,
        "renewed to 5 s"
    );
    assert_eq!(
        b.heartbeat(&hb(None, "w:9:9")).await.unwrap().renewed,
        [false]
    );
    // A standalone backend shares the store.
    let own = b.standalone().await.unwrap();
    assert_eq!(own.queue_size(Q).await.unwrap(), 1);
}

#[tokio::test]
async fn health_records_per_worker_and_shared() {
    let b = MemoryBackend::new();
    enqueue(&b, "a").await;
    let rec = |worker: &str| HealthRecord {
        queue: Q.into(),
        check_key: None,
        worker_id: worker.into(),
        text: format!("j_complete=0 ({worker})"),
        ttl_ms: 1_000,
    };
    assert_eq!(b.health(&rec("w1")).await.unwrap(), 1);
    b.health(&rec("w2")).await.unwrap();
    assert_eq!(
        b.health_read(Q).await.unwrap().as_deref(),
        Some("j_complete=0 (w2) queued=1")
    );
    let workers = b.inspect().unwrap().workers(Q).await.unwrap();
    assert_eq!(
        workers,
        [
            ("w1".to_owned(), "j_complete=0 (w1) queued=1".to_owned()),
            ("w2".to_owned(), "j_complete=0 (w2) queued=1".to_owned()),
        ]
    );
    assert_eq!(b.health_close(Q, None, "w1").await.unwrap(), 1);
    assert!(b.health_read(Q).await.unwrap().is_some(), "w2 still lives");
    assert_eq!(b.health_close(Q, None, "w2").await.unwrap(), 0);
    assert_eq!(b.health_read(Q).await.unwrap(), None);
    // A worker whose record lapsed does not count as live.
    b.health(&rec("w3")).await.unwrap();
    let mut later = rec("w4");
    later.ttl_ms = 10_000;
    b.health(&later).await.unwrap();
    b.advance(1_001);
    assert_eq!(b.health_close(Q, None, "w4").await.unwrap(), 0);
    assert!(b.inspect().unwrap().workers(Q).await.unwrap().is_empty());
    // The records expire.
    b.health(&rec("w5")).await.unwrap();
    b.advance(1_001);
    assert_eq!(b.health_read(Q).await.unwrap(), None);
}

#[tokio::test]
async fn inspection_pages_counts_walks_and_purges() {
    let b = MemoryBackend::new();
    let inspect = b.inspect().unwrap();
    let now = b.now_ms();
    for i in 0..5 {
        b.enqueue(&enqueue_req(&format!("j{i}"), Defer::At(now - 10 + i), now))
            .await
            .unwrap();
    }
    b.enqueue(&enqueue_req("later", Defer::By(60_000), now))
        .await
        .unwrap();
    claim(&b, 1, 1, true).await;
    let page = inspect.queue_page(Q, 1, 2).await.unwrap();
    let listed: Vec<_> = page.entries.iter().map(|e| e.job_id.as_str()).collect();
    assert_eq!(listed, ["j1", "j2"]);
    assert!(inspect.queue_page(Q, 0, 1).await.unwrap().entries[0].in_progress);
    let stats = inspect.queue_stats(Q).await.unwrap();
    assert_eq!(
        (
            stats.total,
            stats.deferred,
            stats.running,
            stats.oldest_score
        ),
        (6, 1, 1, Some(now - 10))
    );
    assert_eq!(inspect.queues().await.unwrap(), [Q]);
    assert_eq!(
        inspect.purge(Q, 100).await.unwrap(),
        5,
        "the running job stays"
    );
    assert_eq!(b.queue_size(Q).await.unwrap(), 1);
    assert_eq!(inspect.delete(Q, "j0").await.unwrap(), 2);
    assert!(
        inspect.queues().await.unwrap().is_empty(),
        "an empty queue is gone"
    );
    // Results are walked by cursor, each once.
    for i in 0..7 {
        b.step(|s, now| s.results.set(&format!("r{i}"), Bytes::new(), None, now));
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = inspect.results(cursor.as_deref(), 3).await.unwrap();
        seen.extend(page.results.into_iter().map(|(id, _)| id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["r0", "r1", "r2", "r3", "r4", "r5", "r6"]);
    assert!(inspect.results(Some("garbage"), 3).await.is_err());
}

#[tokio::test]
async fn finish_notifies_finished_listeners_with_the_ids() {
    let b = MemoryBackend::new();
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    b.watch(
        &Watch::Finished(Q.into()),
        Arc::new(move |m: &[u8]| sink.lock().unwrap().push(m.to_vec())),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    enqueue(&b, "a").await;
    enqueue(&b, "b").await;
    let c = claim(&b, 2, 1, true).await;
    b.finish(&[finish_req("a", &c.jobs[0].token), finish_req("b", "stale")])
        .await
        .unwrap();
    assert_eq!(*got.lock().unwrap(), [b"a".to_vec()]);
}

#[test]
fn named_stores_are_shared_and_clones_share_one_store() {
    let a = MemoryBackend::named("memory-tests-shared");
    let b = MemoryBackend::named("memory-tests-shared");
    assert!(a.same_store(&b) && a.same_store(&a.clone()));
    assert!(!MemoryBackend::new().same_store(&MemoryBackend::new()));
    let text = format!("{a:?}");
    assert!(text.contains("memory-tests-shared"), "{text}");
}
