//! The health-check record: present while a worker runs, gone when it stops.

use crate::backends::Factory;
use crate::support::*;
use crate::work;
use std::time::Duration;

pub async fn health_record_while_running_and_gone_after_burst(f: &impl Factory) {
    let env = f.start().await;
    let q = env.queue("health_record_while_running_and_gone_after_burst");
    let pool = &env.pool;
    assert_eq!(pool.health_check(&q).await.unwrap(), None, "no worker yet");

    let worker = spawn(pool, settings(&q, [work::FUNCTION]));
    let record = wait_for("a health record", Duration::from_secs(10), || async {
        pool.health_check(&q).await.unwrap()
    })
    .await;
    // arq's format: "<Mon-DD> <HH:MM:SS> j_complete=0 j_failed=0 j_retried=0 j_ongoing=0 queued=0"
    let parts: Vec<&str> = record.split(' ').collect();
    assert_eq!(parts.len(), 7, "{record}");
    for (part, name) in
        parts[2..]
            .iter()
            .zip(["j_complete", "j_failed", "j_retried", "j_ongoing", "queued"])
    {
        let (k, v) = part.split_once('=').expect(&record);
        assert_eq!(k, name, "{record}");
        v.parse::<u64>().expect(&record);
    }
    let workers = pool.worker_health(&q).await.unwrap();
    assert_eq!(workers.len(), 1, "{workers:?}");
    // Other queues have no record.
    assert_eq!(
        pool.health_check(&format!("{q}:other")).await.unwrap(),
        None
    );
    let job = work::enqueue(pool, q.clone(), 0)
        .queue_name(&q)
        .await
        .unwrap();
    assert_eq!(job.result(RESULT_WAIT).await.unwrap(), 1);
    worker.stop().await;
    assert_eq!(pool.health_check(&q).await.unwrap(), None, "after a stop");
    assert!(pool.worker_health(&q).await.unwrap().is_empty());

    // A burst run leaves no record behind either.
    work::enqueue(pool, q.clone(), 0)
        .queue_name(&q)
        .await
        .unwrap();
    let stats = burst(pool, settings(&q, [work::FUNCTION])).await;
    assert_eq!(stats.complete, 1);
    assert_eq!(pool.health_check(&q).await.unwrap(), None, "after a burst");
    assert!(pool.worker_health(&q).await.unwrap().is_empty());
}
