//! The tricky steps of [`MemoryBackend`], each against what its Lua script does.

use super::*;
use crate::backend::{
    CronTick, DeadLimits, EventEntry, FinalFailure, Lease, RequeueOutcome, FREE_RELEASES,
    RECOVERY_ALONE_FROM_TRY,
};
use std::time::Instant;

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

// --- issue 13: events, snooze, progress, failure hooks, dead letters ------------------------

/// Events kept per queue in these tests.
const EV: Option<u64> = Some(100);

fn snooze_req(id: &str, token: &str, defer_ms: i64, max_snoozes: u32) -> SnoozeRequest {
    SnoozeRequest {
        queue: Q.into(),
        job_id: id.into(),
        token: token.into(),
        defer_ms,
        max_snoozes,
        job_try: 1,
        events: EV,
    }
}

fn progress_req(id: &str, token: &str, value: &[u8], ttl_ms: i64) -> ProgressRequest {
    ProgressRequest {
        queue: Q.into(),
        job_id: id.into(),
        token: token.into(),
        value: value.to_vec(),
        ttl_ms,
        events: EV,
    }
}

const DEAD: DeadLimits = DeadLimits {
    max_len: 100,
    max_age_ms: 86_400_000,
};

/// A final failure of a claimed job: a dead letter (unless `dead` is `None`) and a hook
/// leased for 1 s.
fn failed_req(job: &ClaimedJob, dead: Option<DeadLimits>) -> FinishRequest {
    FinishRequest {
        outcome: FinishOutcome::Failed,
        job_try: job.job_try,
        result: Some(format!("failed {}", job.job_id).into_bytes()),
        failure: Some(FinalFailure {
            job: job.payload.clone(),
            record: format!("failed {}", job.job_id).into_bytes(),
            dead,
            hook_lease_ms: Some(1_000),
        }),
        events: EV,
        error: Some("ValueError: boom".into()),
        ..finish_req(&job.job_id, &job.token)
    }
}

fn read_req(after: Option<&str>, count: usize, block_ms: u64) -> EventsRead {
    EventsRead {
        queue: Q.into(),
        after: after.map(str::to_owned),
        count,
        block_ms,
    }
}

/// Every stored event of the queue, oldest first.
async fn all_events(b: &MemoryBackend) -> Vec<EventEntry> {
    b.events_read(&read_req(Some("0-0"), usize::MAX, 0))
        .await
        .unwrap()
        .events
}

/// `(kind, job, try, data)` of each event.
fn summary(events: &[EventEntry]) -> Vec<(&'static str, &str, Option<i64>, Option<&str>)> {
    events
        .iter()
        .map(|e| {
            (
                e.kind.as_str(),
                e.job_id.as_str(),
                e.job_try,
                e.data.as_deref().map(|d| std::str::from_utf8(d).unwrap()),
            )
        })
        .collect()
}

async fn enqueue_ev(b: &MemoryBackend, id: &str) -> bool {
    let mut req = enqueue_req(id, Defer::None, b.now_ms());
    req.events = EV;
    b.enqueue(&req).await.unwrap()
}

async fn claim_ev(b: &MemoryBackend, seq: u64) -> ClaimedJob {
    let mut req = claim_req(1, seq, true);
    req.events = EV;
    b.claim(&req).await.unwrap().jobs.remove(0)
}

#[tokio::test]
async fn events_follow_a_whole_lifecycle_in_order() {
    let b = MemoryBackend::new();
    let t0 = b.now_ms();
    assert!(enqueue_ev(&b, "a").await);
    let job = claim_ev(&b, 1).await;
    assert!(b
        .progress(&progress_req("a", &job.token, b"50%", 10_000))
        .await
        .unwrap());
    let mut retry = retry_req("a", &job.token, 0);
    retry.events = EV;
    retry.error = Some("IOError: flaky".into());
    assert!(b.retry(&retry).await.unwrap());
    let job = claim_ev(&b, 2).await;
    let mut snooze = snooze_req("a", &job.token, 0, 5);
    snooze.job_try = 2;
    assert_eq!(b.snooze(&snooze).await.unwrap(), SnoozeOutcome::Snoozed(1));
    b.advance(1);
    let job = claim_ev(&b, 3).await;
    assert_eq!(job.job_try, 2, "the snooze gave its try back");
    assert_eq!(
        b.finish(&[failed_req(&job, Some(DEAD))]).await.unwrap(),
        [true]
    );
    let dl = b.dead_letters().unwrap();
    assert_eq!(
        dl.dead_requeue(Q, &["a".into()], EV).await.unwrap(),
        [RequeueOutcome::Requeued]
    );
    let abort = AbortRequest {
        queue: Q.into(),
        job_id: "a".into(),
        result: None,
        keep_result_ms: None,
        events: EV,
    };
    assert_eq!(b.abort(&abort).await.unwrap(), AbortOutcome::Aborted);
    // A completed run and an aborted one.
    assert!(enqueue_ev(&b, "b").await);
    let job = claim_ev(&b, 4).await;
    let mut done = finish_req("b", &job.token);
    done.events = EV;
    b.finish(&[done]).await.unwrap();
    assert!(enqueue_ev(&b, "c").await);
    let job = claim_ev(&b, 5).await;
    let mut aborted = finish_req("c", &job.token);
    aborted.events = EV;
    aborted.outcome = FinishOutcome::Aborted;
    aborted.job_try = 1;
    b.finish(&[aborted]).await.unwrap();

    let events = all_events(&b).await;
    assert_eq!(
        summary(&events),
        [
            ("enqueued", "a", None, None),
            ("started", "a", Some(1), None),
            ("progress", "a", None, Some("50%")),
            ("retried", "a", Some(1), Some("IOError: flaky")),
            ("started", "a", Some(2), None),
            ("snoozed", "a", Some(2), Some("1")),
            ("started", "a", Some(2), None),
            ("failed", "a", Some(2), Some("ValueError: boom")),
            ("dead", "a", Some(2), Some("ValueError: boom")),
            ("requeued", "a", None, None),
            ("aborted", "a", None, None),
            ("enqueued", "b", None, None),
            ("started", "b", Some(1), None),
            ("completed", "b", Some(1), None),
            ("enqueued", "c", None, None),
            ("started", "c", Some(1), None),
            ("aborted", "c", Some(1), None),
        ]
    );
    // Ids strictly increase (as numbers), and their ms part is the entry's time.
    let parsed: Vec<EventId> = events
        .iter()
        .map(|e| EventId::parse(&e.id).unwrap())
        .collect();
    assert!(parsed.windows(2).all(|w| w[0] < w[1]), "{parsed:?}");
    for (e, id) in events.iter().zip(&parsed) {
        assert_eq!(e.time_ms, id.ms as i64);
        assert!((t0..=b.now_ms()).contains(&e.time_ms));
    }
    // Without `events`, nothing is written and no stream is made.
    let quiet = MemoryBackend::new();
    enqueue(&quiet, "a").await;
    let job = claim(&quiet, 1, 1, true).await.jobs.remove(0);
    quiet.finish(&[finish_req("a", &job.token)]).await.unwrap();
    assert!(quiet.step(|s, _| s.events.is_empty()));
}

#[tokio::test]
async fn claim_writes_started_per_job_in_claim_order() {
    let b = MemoryBackend::new();
    let now = b.now_ms();
    for (id, at) in [("y", now - 1), ("x", now - 2), ("z", now)] {
        let mut req = enqueue_req(id, Defer::At(at), now);
        req.events = EV;
        b.enqueue(&req).await.unwrap();
    }
    let mut req = claim_req(2, 1, true);
    req.events = EV;
    let c = b.claim(&req).await.unwrap();
    assert_eq!(ids(&c), ["x", "y"]);
    let events = all_events(&b).await;
    let started: Vec<_> = summary(&events)
        .into_iter()
        .filter(|e| e.0 == "started")
        .collect();
    assert_eq!(
        started,
        [
            ("started", "x", Some(1), None),
            ("started", "y", Some(1), None)
        ]
    );
}

#[tokio::test]
async fn fenced_and_refused_steps_write_no_event() {
    let b = MemoryBackend::new();
    assert!(enqueue_ev(&b, "a").await);
    assert!(!enqueue_ev(&b, "a").await, "refused: no event");
    let old = claim_ev(&b, 1).await;
    b.advance(1_001);
    let new = claim_ev(&b, 2).await;
    let before = all_events(&b).await.len();
    assert_eq!(before, 3);
    let mut stale_finish = failed_req(&old, Some(DEAD));
    stale_finish.token = old.token.clone();
    assert_eq!(b.finish(&[stale_finish]).await.unwrap(), [false]);
    let mut stale_retry = retry_req("a", &old.token, 0);
    stale_retry.events = EV;
    assert!(!b.retry(&stale_retry).await.unwrap());
    assert!(!b
        .progress(&progress_req("a", &old.token, b"x", 1_000))
        .await
        .unwrap());
    assert_eq!(
        b.snooze(&snooze_req("a", &old.token, 10, 5)).await.unwrap(),
        SnoozeOutcome::Fenced
    );
    assert_eq!(
        b.snooze(&snooze_req("a", &new.token, 10, 0)).await.unwrap(),
        SnoozeOutcome::LimitReached(0)
    );
    let abort = AbortRequest {
        queue: Q.into(),
        job_id: "a".into(),
        result: None,
        keep_result_ms: None,
        events: EV,
    };
    assert_eq!(b.abort(&abort).await.unwrap(), AbortOutcome::Requested);
    assert_eq!(all_events(&b).await.len(), before, "nothing written");
    // A fenced final failure leaves no dead letter and no hook either.
    assert!(b.step(|s, _| s.dead.is_empty() && s.hooks.is_empty()));
}

#[tokio::test]
async fn event_streams_are_trimmed_exactly_and_read_from_a_position() {
    let b = MemoryBackend::new();
    for i in 0..10 {
        let mut req = enqueue_req(&format!("j{i}"), Defer::None, b.now_ms());
        req.events = Some(4);
        b.enqueue(&req).await.unwrap();
    }
    let events = all_events(&b).await;
    let jobs: Vec<&str> = events.iter().map(|e| e.job_id.as_str()).collect();
    assert_eq!(jobs, ["j6", "j7", "j8", "j9"], "trimmed to exactly 4");
    // Reads resume after an id, `count` at a time; last_id is where to go on from.
    let page = b
        .events_read(&read_req(Some(&events[0].id), 2, 0))
        .await
        .unwrap();
    assert_eq!(page.events, events[1..3]);
    assert_eq!(page.last_id, events[2].id);
    let page = b
        .events_read(&read_req(Some(&page.last_id), 2, 0))
        .await
        .unwrap();
    assert_eq!(page.events, events[3..]);
    let end = b
        .events_read(&read_req(Some(&page.last_id), 2, 0))
        .await
        .unwrap();
    assert!(end.events.is_empty());
    assert_eq!(end.last_id, page.last_id, "the position read from");
    // `count` 0 reads nothing, where it stands (as the Redis backend: no XREAD), and does
    // not wait.
    let none = b
        .events_read(&read_req(Some(&events[0].id), 0, 0))
        .await
        .unwrap();
    assert_eq!(
        (none.events.len(), none.last_id.as_str()),
        (0, events[0].id.as_str())
    );
    let start = Instant::now();
    let none = b.events_read(&read_req(None, 0, 5_000)).await.unwrap();
    assert!(start.elapsed() < Duration::from_secs(1), "no wait");
    assert_eq!(
        (none.events.len(), none.last_id.as_str()),
        (0, events[3].id.as_str()),
        "`after: None` still resolves to the stream's end"
    );
    // `after: None` reads only what comes after the call.
    let now = b.events_read(&read_req(None, 10, 0)).await.unwrap();
    assert!(now.events.is_empty());
    assert_eq!(now.last_id, events[3].id, "resolved to the stream's end");
    // A missing stream is an empty page from 0-0; a bad id is refused.
    let other = EventsRead {
        queue: "nothing-here".into(),
        ..read_req(None, 10, 0)
    };
    let page = b.events_read(&other).await.unwrap();
    assert!(page.events.is_empty());
    assert_eq!(page.last_id, "0-0");
    for bad in ["x", "1-x", "$"] {
        let err = b
            .events_read(&read_req(Some(bad), 10, 0))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{bad}: {err}");
    }
}

#[tokio::test]
async fn event_ids_increase_within_one_ms_and_when_the_clock_goes_back() {
    let b = MemoryBackend::new();
    for i in 0..20 {
        let mut req = enqueue_req(&format!("j{i}"), Defer::None, b.now_ms());
        req.events = EV;
        b.enqueue(&req).await.unwrap();
        if i == 10 {
            b.advance(-60_000);
        }
    }
    let ids: Vec<EventId> = all_events(&b)
        .await
        .iter()
        .map(|e| EventId::parse(&e.id).unwrap())
        .collect();
    assert_eq!(ids.len(), 20);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

#[tokio::test]
async fn a_blocked_read_wakes_on_a_write_and_times_out_otherwise() {
    let b = MemoryBackend::new();
    // Nothing comes: the read returns empty once its time is up.
    let start = Instant::now();
    let page = b.events_read(&read_req(None, 10, 150)).await.unwrap();
    assert!(page.events.is_empty());
    assert_eq!(page.last_id, "0-0");
    assert!(start.elapsed() >= Duration::from_millis(150));
    // A write to another queue wakes it, but it goes back to waiting.
    let writer = b.clone();
    let other = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut req = enqueue_req("elsewhere", Defer::None, writer.now_ms());
        req.queue = "other".into();
        req.events = EV;
        writer.enqueue(&req).await.unwrap();
    });
    let start = Instant::now();
    let page = b.events_read(&read_req(None, 10, 150)).await.unwrap();
    assert!(page.events.is_empty());
    assert!(start.elapsed() >= Duration::from_millis(150));
    other.await.unwrap();
    // An entry written while it waits comes at once, long before its time.
    let writer = b.clone();
    let write = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(enqueue_ev(&writer, "late").await);
    });
    let start = Instant::now();
    let page = b.events_read(&read_req(None, 10, 30_000)).await.unwrap();
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(summary(&page.events), [("enqueued", "late", None, None)]);
    assert_eq!(page.last_id, page.events[0].id);
    write.await.unwrap();
    // With entries already after the position, a blocking read does not wait.
    let start = Instant::now();
    let page = b
        .events_read(&read_req(Some("0-0"), 10, 30_000))
        .await
        .unwrap();
    assert_eq!(page.events.len(), 1);
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_read_on_a_multi_thread_runtime_wakes_too() {
    let b = MemoryBackend::new();
    let reader = b.clone();
    let read = tokio::spawn(async move {
        reader
            .events_read(&read_req(Some("0-0"), 10, 30_000))
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(enqueue_ev(&b, "a").await);
    let page = tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("woken by the write")
        .unwrap();
    assert_eq!(page.events.len(), 1);
}

#[tokio::test]
async fn snooze_counts_gives_the_try_back_and_stops_at_the_limit() {
    let b = MemoryBackend::new();
    enqueue(&b, "a").await;
    for n in 1..=3u32 {
        let job = claim(&b, 1, u64::from(n), true).await.jobs.remove(0);
        assert_eq!(job.job_try, 1, "snoozes spend no try");
        assert!(!job.recovered, "a snoozed job is not a recovery");
        let before = b.now_ms();
        assert_eq!(
            b.snooze(&snooze_req("a", &job.token, 5_000, 3))
                .await
                .unwrap(),
            SnoozeOutcome::Snoozed(n)
        );
        let score = b.score(Q, "a").await.unwrap().unwrap();
        assert!((before + 5_000..=b.now_ms() + 5_000).contains(&score));
        assert!(
            !b.status(Q, "a").await.unwrap().in_progress,
            "lease dropped"
        );
        // A repeat with the same token is recognised and changes nothing.
        b.advance(10);
        assert_eq!(
            b.snooze(&snooze_req("a", &job.token, 5_000, 3))
                .await
                .unwrap(),
            SnoozeOutcome::Snoozed(n)
        );
        assert_eq!(b.score(Q, "a").await.unwrap(), Some(score));
        b.advance(5_000);
    }
    assert_eq!(b.step(|s, now| s.snoozes.get("a", now).copied()), Some(3));
    let ttl = b.step(|s, now| s.snoozes.ttl("a", now)).unwrap().unwrap();
    assert!(
        (COUNTER_TTL_MS - 6_000..=COUNTER_TTL_MS - 5_000).contains(&ttl),
        "set with the counter's TTL at the last snooze, 5 s ago: {ttl}"
    );
    // The fourth is refused: nothing changes, the lease is kept.
    let job = claim(&b, 1, 9, true).await.jobs.remove(0);
    let score = b.score(Q, "a").await.unwrap();
    assert_eq!(
        b.snooze(&snooze_req("a", &job.token, 5_000, 3))
            .await
            .unwrap(),
        SnoozeOutcome::LimitReached(3)
    );
    assert!(b.status(Q, "a").await.unwrap().in_progress);
    assert_eq!(b.score(Q, "a").await.unwrap(), score);
    assert_eq!(b.step(|s, now| s.snoozes.get("a", now).copied()), Some(3));
    assert_eq!(b.step(|s, now| s.tries.get("a", now).copied()), Some(1));
    // A stale token is fenced.
    assert_eq!(
        b.snooze(&snooze_req("a", "w:0:0", 5_000, 10))
            .await
            .unwrap(),
        SnoozeOutcome::Fenced
    );
}

#[tokio::test]
async fn snooze_defers_at_least_a_ms_and_keeps_the_counter_s_ttl() {
    let b = MemoryBackend::new();
    enqueue(&b, "a").await;
    let job = claim(&b, 1, 1, true).await.jobs.remove(0);
    b.step(|s, now| s.tries.set("a", 4, Some(50_000), now));
    let before = b.now_ms();
    assert_eq!(
        b.snooze(&snooze_req("a", &job.token, 0, 5)).await.unwrap(),
        SnoozeOutcome::Snoozed(1)
    );
    let score = b.score(Q, "a").await.unwrap().unwrap();
    assert!(
        (before + 1..=b.now_ms() + 1).contains(&score),
        "max(defer, 1)"
    );
    let (t, ttl) = b.step(|s, now| (s.tries.get("a", now).copied(), s.tries.ttl("a", now)));
    assert_eq!(t, Some(3), "decremented");
    assert!(
        matches!(ttl, Some(Some(ms)) if ms <= 50_000),
        "its TTL kept"
    );
    // Never below 0.
    b.step(|s, now| s.leases.set("a", "t0".into(), Some(1_000), now));
    b.step(|s, now| s.tries.set("a", 0, None, now));
    b.snooze(&snooze_req("a", "t0", 10, 5)).await.unwrap();
    assert_eq!(b.step(|s, now| s.tries.get("a", now).copied()), Some(0));
}

#[tokio::test]
async fn the_snoozed_event_holds_the_deferral_applied() {
    let b = MemoryBackend::new();
    for id in ["neg", "zero", "later"] {
        assert!(enqueue_ev(&b, id).await);
    }
    let jobs = claim(&b, 3, 1, true).await.jobs;
    assert_eq!(jobs.len(), 3);
    for job in &jobs {
        let defer = match job.job_id.as_str() {
            "neg" => -5,
            "zero" => 0,
            _ => 250,
        };
        assert_eq!(
            b.snooze(&snooze_req(&job.job_id, &job.token, defer, 5))
                .await
                .unwrap(),
            SnoozeOutcome::Snoozed(1)
        );
    }
    // `max(defer_ms, 1)` as decimal text, as the Redis backend writes it.
    let events = all_events(&b).await;
    let mut snoozed: Vec<_> = summary(&events)
        .into_iter()
        .filter(|e| e.0 == "snoozed")
        .collect();
    snoozed.sort();
    assert_eq!(
        snoozed,
        [
            ("snoozed", "later", Some(1), Some("250")),
            ("snoozed", "neg", Some(1), Some("1")),
            ("snoozed", "zero", Some(1), Some("1")),
        ]
    );
}

#[tokio::test]
async fn snooze_is_fenced_like_retry() {
    let b = MemoryBackend::new();
    enqueue(&b, "a").await;
    let job = claim(&b, 1, 1, true).await.jobs.remove(0);
    // The lease lapsed but nobody else holds the job: the snooze still applies.
    b.advance(1_001);
    assert_eq!(
        b.snooze(&snooze_req("a", &job.token, 10, 5)).await.unwrap(),
        SnoozeOutcome::Snoozed(1)
    );
    // Lease and job both gone: fenced.
    b.advance(11);
    let job = claim(&b, 1, 2, true).await.jobs.remove(0);
    b.advance(1_001);
    b.step(|s, now| s.jobs.remove("a", now));
    assert_eq!(
        b.snooze(&snooze_req("a", &job.token, 10, 5)).await.unwrap(),
        SnoozeOutcome::Fenced
    );
    // ZADD XX: a job deleted meanwhile is not brought back.
    b.inspect().unwrap().delete(Q, "a").await.unwrap();
    b.step(|s, now| s.jobs.set("a", Bytes::new(), None, now));
    b.step(|s, now| s.leases.set("a", "t".into(), None, now));
    assert_eq!(
        b.snooze(&snooze_req("a", "t", 10, 5)).await.unwrap(),
        SnoozeOutcome::Snoozed(2)
    );
    assert_eq!(b.score(Q, "a").await.unwrap(), None);
}

#[tokio::test]
async fn a_rerun_resets_the_snooze_count() {
    let b = MemoryBackend::new();
    enqueue(&b, "a").await;
    let job = claim(&b, 1, 1, true).await.jobs.remove(0);
    b.snooze(&snooze_req("a", &job.token, 1, 5)).await.unwrap();
    b.advance(2);
    let job = claim(&b, 1, 2, true).await.jobs.remove(0);
    b.finish(&[finish_req("a", &job.token)]).await.unwrap();
    assert_eq!(b.step(|s, now| s.snoozes.get("a", now).copied()), Some(1));
    let mut rerun = enqueue_req("a", Defer::None, b.now_ms());
    rerun.replace_result = true;
    assert!(b.enqueue(&rerun).await.unwrap());
    assert_eq!(b.step(|s, now| s.snoozes.get("a", now).copied()), None);
}

#[tokio::test]
async fn progress_is_fenced_expires_and_goes_with_delete() {
    let b = MemoryBackend::new();
    enqueue(&b, "a").await;
    let job = claim(&b, 1, 1, true).await.jobs.remove(0);
    assert_eq!(b.progress_read("a").await.unwrap(), None);
    assert!(b
        .progress(&progress_req("a", &job.token, b"1", 500))
        .await
        .unwrap());
    assert!(b
        .progress(&progress_req("a", &job.token, b"2", 500))
        .await
        .unwrap());
    assert_eq!(
        b.progress_read("a").await.unwrap().as_deref(),
        Some(&b"2"[..])
    );
    assert!(!b
        .progress(&progress_req("a", "w:0:0", b"3", 500))
        .await
        .unwrap());
    assert_eq!(
        b.progress_read("a").await.unwrap().as_deref(),
        Some(&b"2"[..])
    );
    b.advance(501);
    assert_eq!(b.progress_read("a").await.unwrap(), None, "expired");
    // A lapsed lease is not enough (unlike finish): the token must be in the key.
    b.advance(1_000);
    assert!(!b
        .progress(&progress_req("a", &job.token, b"4", 500))
        .await
        .unwrap());
    let job = claim(&b, 1, 2, true).await.jobs.remove(0);
    assert!(b
        .progress(&progress_req("a", &job.token, b"5", 60_000))
        .await
        .unwrap());
    assert_eq!(b.inspect().unwrap().delete(Q, "a").await.unwrap(), 2);
    assert_eq!(
        b.progress_read("a").await.unwrap(),
        None,
        "deleted with the job"
    );
}

#[tokio::test]
async fn hooks_wait_out_their_lease_and_are_claimed_again() {
    let b = MemoryBackend::new();
    for id in ["a", "b", "c"] {
        enqueue(&b, id).await;
    }
    let c = claim(&b, 3, 1, true).await;
    let reqs: Vec<_> = c.jobs.iter().map(|j| failed_req(j, None)).collect();
    assert_eq!(b.finish(&reqs).await.unwrap(), [true; 3]);
    assert!(b.step(|s, _| s.dead.is_empty()), "no dead letter asked for");
    // Leased to the finishing worker for 1 s.
    assert!(b.hooks_claim(Q, 10, 5_000).await.unwrap().is_empty());
    b.advance(1_001);
    let got = b.hooks_claim(Q, 2, 5_000).await.unwrap();
    let claimed: Vec<&str> = got.iter().map(|h| h.job_id.as_str()).collect();
    assert_eq!(claimed, ["a", "b"], "oldest first, at most limit");
    assert_eq!(got[0].record.as_ref(), b"failed a");
    // Leased again: the next claim takes only the rest.
    let got = b.hooks_claim(Q, 10, 5_000).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].job_id, "c");
    assert!(b.hooks_claim(Q, 10, 5_000).await.unwrap().is_empty());
    // Done hooks are gone; the others come back when their lease runs out.
    assert!(b.hook_done(Q, "a").await.unwrap());
    assert!(!b.hook_done(Q, "a").await.unwrap());
    b.advance(5_001);
    let got = b.hooks_claim(Q, 10, 5_000).await.unwrap();
    let claimed: Vec<&str> = got.iter().map(|h| h.job_id.as_str()).collect();
    assert_eq!(claimed, ["b", "c"]);
    // A member without data is dropped, not returned, and not counted against the limit.
    b.step(|s, now| {
        let set = s.hooks.get_mut(Q).unwrap();
        set.data.remove("b");
        set.order.add("b", now - 1);
        set.order.add("c", now);
    });
    let got = b.hooks_claim(Q, 1, 5_000).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].job_id, "c");
    assert!(!b.hook_done(Q, "b").await.unwrap());
    // Limit 0 takes none; a lease of 0 still lasts 1 ms.
    b.advance(5_001);
    assert!(b.hooks_claim(Q, 0, 5_000).await.unwrap().is_empty());
    let before = b.now_ms();
    assert_eq!(b.hooks_claim(Q, 10, 0).await.unwrap().len(), 1);
    let lease_end = b.step(|s, _| s.hooks[Q].order.score("c")).unwrap();
    assert!(lease_end > before, "not due again at once");
    assert!(b.hook_done(Q, "c").await.unwrap());
    assert!(b.step(|s, _| s.hooks.is_empty()));
    assert_eq!(
        b.inspect().unwrap().queues().await.unwrap(),
        Vec::<String>::new()
    );
}

/// Finishes `id` (enqueued and claimed now) with a final failure kept under `limits`.
async fn kill(b: &MemoryBackend, id: &str, seq: u64, limits: DeadLimits) {
    enqueue(b, id).await;
    let job = claim(b, 1, seq, true).await.jobs.remove(0);
    assert_eq!(job.job_id, id);
    assert_eq!(
        b.finish(&[failed_req(&job, Some(limits))]).await.unwrap(),
        [true]
    );
}

#[tokio::test]
async fn dead_letters_are_added_trimmed_and_paged_newest_first() {
    let b = MemoryBackend::new();
    let dl = b.dead_letters().unwrap();
    let small = DeadLimits {
        max_len: 3,
        max_age_ms: 86_400_000,
    };
    for (i, id) in ["d0", "d1", "d2", "d3"].into_iter().enumerate() {
        kill(&b, id, i as u64, small).await;
        b.advance(10);
    }
    let page = dl.dead_page(Q, 0, 10).await.unwrap();
    assert_eq!(page.total, 3, "trimmed by size, oldest first");
    let order: Vec<&str> = page.entries.iter().map(|e| e.job_id.as_str()).collect();
    assert_eq!(order, ["d3", "d2", "d1"], "newest first");
    assert!(page.entries[0].died_ms > page.entries[1].died_ms);
    assert!(page.now_ms >= page.entries[0].died_ms);
    assert_eq!(page.entries[0].job.as_deref(), Some(&b"record of d3"[..]));
    assert_eq!(page.entries[0].record.as_deref(), Some(&b"failed d3"[..]));
    let page = dl.dead_page(Q, 1, 1).await.unwrap();
    assert_eq!(page.entries.len(), 1);
    assert_eq!(page.entries[0].job_id, "d2");
    assert_eq!(page.total, 3);
    // `limit` 0 reads only the total and the clock, at any offset (as the Redis backend).
    for offset in [0, 1, 3, 10, u64::MAX] {
        let before = b.now_ms();
        let page = dl.dead_page(Q, offset, 0).await.unwrap();
        assert_eq!((page.total, page.entries.len()), (3, 0), "offset {offset}");
        assert!((before..=b.now_ms()).contains(&page.now_ms));
    }
    assert!(
        dl.dead_read(Q, "d0").await.unwrap().is_none(),
        "trimmed with its data"
    );
    assert!(
        b.step(|s, _| !s.dead[Q].jobs.contains_key("d0") && !s.dead[Q].records.contains_key("d0"))
    );
    let d1 = dl.dead_read(Q, "d1").await.unwrap().unwrap();
    assert_eq!(d1.record.as_deref(), Some(&b"failed d1"[..]));
    // By age: letters older than max_age_ms go when the next is added.
    b.advance(60_000);
    kill(
        &b,
        "d4",
        9,
        DeadLimits {
            max_len: 3,
            max_age_ms: 30_000,
        },
    )
    .await;
    let page = dl.dead_page(Q, 0, 10).await.unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.entries[0].job_id, "d4");
    // Neither the dead set nor the hooks are queues.
    assert_eq!(
        b.inspect().unwrap().queues().await.unwrap(),
        Vec::<String>::new()
    );
    assert!(b.step(|s, _| !s.hooks.is_empty()));
    // An empty or missing dead set reads as empty.
    let page = dl.dead_page("nowhere", 0, 10).await.unwrap();
    assert_eq!((page.total, page.entries.len()), (0, 0));
}

#[tokio::test]
async fn re_adding_a_dead_letter_replaces_it() {
    let b = MemoryBackend::new();
    let dl = b.dead_letters().unwrap();
    kill(&b, "a", 1, DEAD).await;
    let first = dl.dead_read(Q, "a").await.unwrap().unwrap();
    b.advance(100);
    // The same id runs again and dies again, its job key gone this time.
    let mut rerun = enqueue_req("a", Defer::None, b.now_ms());
    rerun.replace_result = true;
    b.enqueue(&rerun).await.unwrap();
    let mut job = claim(&b, 1, 2, true).await.jobs.remove(0);
    job.payload = None;
    b.finish(&[failed_req(&job, Some(DEAD))]).await.unwrap();
    let page = dl.dead_page(Q, 0, 10).await.unwrap();
    assert_eq!(page.total, 1);
    let second = &page.entries[0];
    assert_eq!(second.died_ms, first.died_ms + 100);
    assert_eq!(second.job, None, "the whole letter replaced");
}

#[tokio::test]
async fn dead_requeue_has_four_outcomes_and_resets_the_job() {
    let b = MemoryBackend::new();
    let dl = b.dead_letters().unwrap();
    kill(&b, "a", 1, DEAD).await;
    kill(&b, "exists", 2, DEAD).await;
    kill(&b, "norecord", 3, DEAD).await;
    b.step(|s, _| s.dead.get_mut(Q).unwrap().jobs.remove("norecord"));
    // "exists" was enqueued again meanwhile.
    let mut again = enqueue_req("exists", Defer::By(60_000), b.now_ms());
    again.replace_result = true;
    assert!(b.enqueue(&again).await.unwrap());
    // Counters and markers of the dead job, as a worker might leave them.
    b.step(|s, now| {
        s.tries.set("a", 3, None, now);
        s.handed_back.set("a", "t".into(), None, now);
        s.releases.set("a", 1, None, now);
        s.snoozes.set("a", 2, None, now);
    });
    let outcomes = dl
        .dead_requeue(
            Q,
            &[
                "a".into(),
                "nope".into(),
                "norecord".into(),
                "exists".into(),
                "a".into(),
            ],
            EV,
        )
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            RequeueOutcome::Requeued,
            RequeueOutcome::NotFound,
            RequeueOutcome::NoRecord,
            RequeueOutcome::JobExists,
            RequeueOutcome::NotFound,
        ]
    );
    let now = b.now_ms();
    assert!(
        (now - 100..=now).contains(&b.score(Q, "a").await.unwrap().unwrap()),
        "due now"
    );
    assert_eq!(
        b.job_record("a").await.unwrap().as_deref(),
        Some(&b"record of a"[..])
    );
    let ttl = b.step(|s, now| s.jobs.ttl("a", now)).unwrap().unwrap();
    assert!(
        ttl <= EXPIRES_EXTRA_MS && ttl > EXPIRES_EXTRA_MS - 1_000,
        "{ttl}"
    );
    assert_eq!(
        b.result(Q, "a").await.unwrap().result,
        None,
        "failed result gone"
    );
    assert!(b.step(|s, now| {
        !s.tries.contains("a", now)
            && !s.handed_back.contains("a", now)
            && !s.releases.contains("a", now)
            && !s.snoozes.contains("a", now)
    }));
    assert!(dl.dead_read(Q, "a").await.unwrap().is_none(), "letter gone");
    assert!(
        dl.dead_read(Q, "norecord").await.unwrap().is_some(),
        "stays"
    );
    assert!(dl.dead_read(Q, "exists").await.unwrap().is_some(), "stays");
    let job = claim(&b, 1, 9, true).await.jobs.remove(0);
    assert_eq!(
        (job.job_id.as_str(), job.job_try, job.recovered),
        ("a", 1, false)
    );
    let events = all_events(&b).await;
    let requeued: Vec<_> = summary(&events)
        .into_iter()
        .filter(|e| e.0 == "requeued")
        .collect();
    assert_eq!(requeued, [("requeued", "a", None, None)]);
    // A letter whose id has only a queue entry (the job key gone) is refused too.
    b.step(|s, now| s.jobs.remove("exists", now));
    assert_eq!(
        dl.dead_requeue(Q, &["exists".into()], None).await.unwrap(),
        [RequeueOutcome::JobExists]
    );
}

#[tokio::test]
async fn dead_delete_and_purge_count_what_existed() {
    let b = MemoryBackend::new();
    let dl = b.dead_letters().unwrap();
    for (i, id) in ["p0", "p1", "p2", "p3", "p4"].into_iter().enumerate() {
        kill(&b, id, i as u64, DEAD).await;
        b.advance(1);
    }
    assert_eq!(
        dl.dead_delete(Q, &["p1".into(), "nope".into(), "p1".into()])
            .await
            .unwrap(),
        1
    );
    assert_eq!(dl.dead_purge(Q, 2).await.unwrap(), 2);
    let left: Vec<String> = dl
        .dead_page(Q, 0, 10)
        .await
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.job_id)
        .collect();
    assert_eq!(left, ["p4", "p3"], "the oldest were purged");
    assert_eq!(dl.dead_purge(Q, 0).await.unwrap(), 0);
    assert_eq!(dl.dead_purge(Q, 100).await.unwrap(), 2);
    assert_eq!(dl.dead_purge(Q, 100).await.unwrap(), 0);
    assert!(
        b.step(|s, _| s.dead.is_empty()),
        "data gone with the letters"
    );
}
