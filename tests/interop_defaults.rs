//! Parameters with a default, across languages: real Python arq 0.28.0 enqueues a Rust job
//! leaving the defaulted keyword argument out (as a caller of
//! `async def send_email(ctx, to, from_addr="noreply@example.com")` may), and once passing
//! it; a Rust worker runs both; Python reads the results. Harness: `tests/common/python.rs`.

mod common;

use arq::{Ctx, Worker, WorkerSettings};
use common::python::*;
use common::TestRedis;
use serde_json::json;
use std::time::Duration;

#[arq::job]
async fn send_email(
    ctx: &Ctx,
    to: String,
    #[arq(default = "noreply@example.com".to_owned())] from_addr: String,
    #[arq(default)] retries: u32,
) -> String {
    let _ = ctx;
    format!("{to} from {from_addr} x{retries}")
}

async fn python_omits_the_defaulted_argument(wire: Wire) {
    common::init_tracing();
    let redis = TestRedis::start();
    let pool = wire.pool(&redis).await;
    let jobs = json!({"jobs": [
        {"job_id": "omitted", "function": "send_email", "args": ["a@x"]},
        {"job_id": "by-keyword", "function": "send_email", "args": ["b@x"],
         "kwargs": {"from_addr": "me@x"}},
        {"job_id": "all-keywords", "function": "send_email",
         "kwargs": {"retries": 3, "to": "c@x"}},
        {"job_id": "by-position", "function": "send_email", "args": ["d@x", "you@x", 1]},
        {"job_id": "missing-required", "function": "send_email", "kwargs": {"retries": 1}},
    ]});
    let enqueued = py_client(&redis, wire, "enqueue", jobs).await;
    assert_eq!(enqueued.as_object().map(|o| o.len()), Some(5), "{enqueued}");

    let worker = Worker::new(
        pool.clone(),
        WorkerSettings::new()
            .functions([send_email::FUNCTION])
            .handle_signals(false)
            .poll_delay(Duration::from_millis(20))
            .burst(true),
    )
    .unwrap();
    let stats = tokio::time::timeout(Duration::from_secs(60), worker.run())
        .await
        .expect("the Rust burst worker finished")
        .unwrap();
    assert_eq!((stats.complete, stats.failed), (4, 1), "{stats:?}");

    let ids = [
        "omitted",
        "by-keyword",
        "all-keywords",
        "by-position",
        "missing-required",
    ];
    let out = py_client(&redis, wire, "results", json!({"ids": ids, "timeout": 5})).await;
    for (id, expected) in [
        ("omitted", "a@x from noreply@example.com x0"),
        ("by-keyword", "b@x from me@x x0"),
        ("all-keywords", "c@x from noreply@example.com x3"),
        ("by-position", "d@x from you@x x1"),
    ] {
        assert_eq!(out[id]["returned"], json!(expected), "{id}: {}", out[id]);
    }
    // The record Python reads back holds what it sent: no default was filled in on the wire.
    // (Pickle keeps Python's args tuple, which the script reports as `{"tuple": [...]}`.)
    let sent_args = match wire {
        Wire::Msgpack => json!(["a@x"]),
        #[cfg(feature = "pickle")]
        Wire::Pickle => json!({"tuple": ["a@x"]}),
    };
    assert_eq!(out["omitted"]["info"]["a"], sent_args, "{}", out["omitted"]);
    assert_eq!(out["omitted"]["info"]["k"], json!({}), "{}", out["omitted"]);
    let raised = out["missing-required"]["raised"].to_string();
    assert!(
        raised.contains("missing required argument: 'to'"),
        "{}",
        out["missing-required"]
    );
}

#[tokio::test]
async fn msgpack_python_omits_a_defaulted_argument_of_a_rust_job() {
    python_omits_the_defaulted_argument(Wire::Msgpack).await;
}

#[cfg(feature = "pickle")]
#[tokio::test]
async fn pickle_python_omits_a_defaulted_argument_of_a_rust_job() {
    python_omits_the_defaulted_argument(Wire::Pickle).await;
}
