//! Codec round trips through the backend: arguments, typed and untyped results.

use crate::backends::{Env, Factory};
use crate::support::*;
use crate::{echo, make_point, Point};
use arq::{Pool, Value, WorkerSettings};

/// A value tree with every kind both codecs carry.
fn sample(q: &str) -> Value {
    Value::Map(vec![
        (Value::from("queue"), Value::from(q)),
        (Value::from("nil"), Value::Nil),
        (Value::from("yes"), Value::Bool(true)),
        (Value::from("neg"), Value::Int(-5)),
        (Value::from("big"), Value::Int(i64::MAX)),
        (Value::from("float"), Value::Float(1.5)),
        (Value::from("text"), Value::from("grüße, 日本")),
        (Value::from("bytes"), Value::Bytes(vec![0, 1, 0xff, b'a'])),
        (
            Value::from("nested"),
            Value::List(vec![
                Value::List(vec![Value::Int(1), Value::Int(2)]),
                Value::Map(vec![(Value::from("k"), Value::List(vec![]))]),
            ]),
        ),
        (Value::Int(7), Value::from("int key")),
    ])
}

async fn round_trip(env: &Env, q: &str, pool: Pool, settings: WorkerSettings) {
    let value = sample(q);
    let echoed = echo::enqueue(&pool, q.to_owned(), value.clone())
        .queue_name(q)
        .await
        .unwrap();
    let point = make_point::enqueue(&pool, q.to_owned(), i64::MIN, 0)
        .queue_name(q)
        .job_id(env.id(q, "point"))
        .await
        .unwrap();
    // The stored record decodes back to the arguments.
    let info = echoed.info().await.unwrap().expect("the job");
    assert_eq!(info.args, vec![Value::from(q), value.clone()]);

    let stats = burst(&pool, settings).await;
    assert_eq!((stats.complete, stats.failed), (2, 0), "{stats:?}");
    assert_eq!(echoed.result(RESULT_WAIT).await.unwrap(), value);
    let r = echoed.result_info().await.unwrap().expect("a result");
    assert_eq!(r.result, value);
    assert_eq!(r.job.args, vec![Value::from(q), value.clone()]);
    let p: Point = point.result(RESULT_WAIT).await.unwrap();
    assert_eq!(p.xy, (i64::MIN, 0));
    assert_eq!(p.label, format!("{q}/{}", point.id()));
    assert_eq!(starts(q).len(), 2);
    // Listed results decode with the pool's codec too.
    let listed = pool
        .all_job_results()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.queue_name == q)
        .count();
    assert_eq!(listed, 2);
}

pub async fn msgpack_round_trip(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("msgpack_round_trip");
    let settings = settings(&q, [echo::FUNCTION, make_point::FUNCTION]);
    round_trip(&env, &q, env.pool.clone(), settings).await;
}

#[cfg(feature = "pickle")]
pub async fn pickle_round_trip(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("pickle_round_trip");
    let pool = env.pool.clone().with_codec(arq::PickleCodec);
    let settings = settings(&q, [echo::FUNCTION, make_point::FUNCTION]).codec(arq::PickleCodec);
    round_trip(&env, &q, pool, settings).await;
}

#[cfg(feature = "json")]
pub async fn json_round_trip(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("json_round_trip");
    let pool = env.pool.clone().with_codec(arq::JsonCodec);
    // What JSON carries: no bytes, string keys only.
    let value = Value::Map(vec![
        (Value::from("queue"), Value::from(q.as_str())),
        (Value::from("nil"), Value::Nil),
        (Value::from("neg"), Value::Int(-5)),
        (Value::from("float"), Value::Float(1.5)),
        (Value::from("text"), Value::from("grüße, 日本")),
        (
            Value::from("nested"),
            Value::List(vec![Value::Bool(false), Value::List(vec![])]),
        ),
    ]);
    let job = echo::enqueue(&pool, q.clone(), value.clone())
        .queue_name(&q)
        .await
        .unwrap();
    let stats = burst(&pool, settings(&q, [echo::FUNCTION]).codec(arq::JsonCodec)).await;
    assert_eq!((stats.complete, stats.failed), (1, 0), "{stats:?}");
    assert_eq!(job.result(RESULT_WAIT).await.unwrap(), value);
    let r = job.result_info().await.unwrap().expect("a result");
    assert_eq!(r.job.args, vec![Value::from(q.as_str()), value]);
}
