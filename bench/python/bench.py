"""Python arq 0.28 side of the benchmark (bench/, `cargo run --release -p arq-bench`).

The Rust binary runs this script and parses the one JSON line it prints per result.

    bench.py enqueue <redis-url> --queue Q --count N --concurrency C
        W1: N enqueues of noop('hello', i), by C coroutines each awaiting its enqueues one
        after another -> {"count": n, "seconds": s}
    bench.py worker <redis-url> --queue Q --max-jobs N [--poll-delay S] [--burst]
        W2/W3: a worker running noop. Prints {"ready": true} from on_startup, and when it
        stops {"complete", "failed", "vm_hwm_kb", "vm_rss_kb"}. Stops by itself in burst mode,
        or on SIGTERM.

Both sides use the same codec, msgpack, configured as the interop tests do (tests/python).
"""
import argparse
import asyncio
import json
import sys
import time

import msgpack
from arq import Worker, create_pool
from arq.connections import RedisSettings


def unpack(b):
    return msgpack.unpackb(b, raw=False)


# Python arq's default codec is pickle; the Rust default is msgpack.
CODEC = {'job_serializer': msgpack.packb, 'job_deserializer': unpack}


def settings(url):
    s = RedisSettings.from_dsn(url)
    s.conn_retries = 1
    s.conn_retry_delay = 0.2
    return s


def emit(obj):
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()


def proc_status_kb(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    return None


async def noop(ctx, s, n):
    """The benchmark job: takes a string and an int, does nothing."""
    return None


async def enqueue(a):
    pool = await create_pool(settings(a.url), **CODEC)
    try:
        # Warm up outside the timed part, with the same concurrency, so that the
        # connection pool already holds its connections.
        async def warm(i):
            for j in range(2):
                await pool.enqueue_job('noop', 'warmup', i, _queue_name=a.queue + ':warmup')

        await asyncio.gather(*(warm(i) for i in range(max(a.concurrency, 100))))
        await pool.delete(a.queue + ':warmup')

        per_task = a.count // a.concurrency

        async def run(first):
            for i in range(first, first + per_task):
                await pool.enqueue_job('noop', 'hello', i, _queue_name=a.queue)

        start = time.perf_counter()
        await asyncio.gather(*(run(t * per_task) for t in range(a.concurrency)))
        seconds = time.perf_counter() - start
        emit({'count': per_task * a.concurrency, 'seconds': seconds})
    finally:
        await pool.aclose()


async def worker(a):
    async def startup(ctx):
        emit({'ready': True})

    w = Worker(
        functions=[noop],
        queue_name=a.queue,
        redis_settings=settings(a.url),
        burst=a.burst,
        max_jobs=a.max_jobs,
        poll_delay=a.poll_delay,
        on_startup=startup,
        **CODEC,
    )
    try:
        # async_run (not main) so that arq's SIGTERM handler can cancel it.
        await w.async_run()
    except asyncio.CancelledError:
        pass
    finally:
        await w.close()
    emit(
        {
            'complete': w.jobs_complete,
            'failed': w.jobs_failed,
            'vm_hwm_kb': proc_status_kb('VmHWM'),
            'vm_rss_kb': proc_status_kb('VmRSS'),
        }
    )


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest='command', required=True)
    e = sub.add_parser('enqueue')
    e.add_argument('url')
    e.add_argument('--queue', required=True)
    e.add_argument('--count', type=int, required=True)
    e.add_argument('--concurrency', type=int, default=1)
    w = sub.add_parser('worker')
    w.add_argument('url')
    w.add_argument('--queue', required=True)
    w.add_argument('--max-jobs', type=int, default=10)
    w.add_argument('--poll-delay', type=float, default=0.5)
    w.add_argument('--burst', action='store_true')
    a = p.parse_args()
    asyncio.run(enqueue(a) if a.command == 'enqueue' else worker(a))


if __name__ == '__main__':
    main()
