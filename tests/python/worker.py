"""A Python arq worker for tests/interop.rs, and the settings `arq --check` reads.

    worker.py <redis-url> <codec> [--queue Q] [--burst] [--max-jobs N] [--poll-delay S]
              [--ledger-url URL] [--cron]

Prints {"ready": true} once it is polling, and its counters as JSON when it stops.

For `python -m arq --check worker.WorkerSettings` (run in this folder), the settings come from
the environment: ARQ_INTEROP_REDIS_URL, ARQ_INTEROP_QUEUE, ARQ_INTEROP_CODEC.
"""
import argparse
import asyncio
import os

import redis.asyncio
from arq import Worker, cron

from interop_common import codec_kwargs, emit, redis_settings


async def py_add(ctx, a, b, *, c=0):
    return a + b + c


async def py_greet(ctx, name):
    return f'hello {name}'


async def py_point(ctx, x, y, *, label):
    return {'x': x, 'y': y, 'label': label}


async def py_echo(ctx, *args, **kwargs):
    """What the Rust enqueue looked like on this side, with Python's type names."""
    return {
        'args': list(args),
        'kwargs': kwargs,
        'types': [type(a).__name__ for a in args],
        'kwarg_types': {k: type(v).__name__ for k, v in kwargs.items()},
    }


async def py_fail(ctx, msg):
    raise ValueError(msg)


async def ledger(ctx, n):
    """One entry per run, in a list on a second Redis: '<job id> python <try> <n>'."""
    await ctx['ledger'].rpush('ledger', f"{ctx['job_id']} python {ctx['job_try']} {n}")
    await asyncio.sleep(0.01)
    return 'python'


async def interop_tick(ctx):
    """A per-second cron job (`cron:interop_tick`), recorded in 'cron-ledger' on the ledger Redis."""
    await ctx['ledger'].rpush('cron-ledger', f"{ctx['job_id']} python {ctx['job_try']}")


FUNCTIONS = [py_add, py_greet, py_point, py_echo, py_fail, ledger]


class WorkerSettings:
    """For `arq --check`: only the connection, queue and codec matter there."""

    functions = FUNCTIONS
    redis_settings = redis_settings(os.environ.get('ARQ_INTEROP_REDIS_URL', 'redis://127.0.0.1:6379'))
    queue_name = os.environ.get('ARQ_INTEROP_QUEUE', 'arq:queue')
    job_serializer = codec_kwargs(os.environ.get('ARQ_INTEROP_CODEC', 'msgpack')).get('job_serializer')
    job_deserializer = codec_kwargs(os.environ.get('ARQ_INTEROP_CODEC', 'msgpack')).get('job_deserializer')


async def main():
    p = argparse.ArgumentParser()
    p.add_argument('url')
    p.add_argument('codec')
    p.add_argument('--queue', default='arq:queue')
    p.add_argument('--burst', action='store_true')
    p.add_argument('--max-jobs', type=int, default=10)
    p.add_argument('--poll-delay', type=float, default=0.05)
    p.add_argument('--ledger-url')
    p.add_argument('--cron', action='store_true', help='run interop_tick every second')
    a = p.parse_args()

    async def startup(ctx):
        if a.ledger_url:
            ctx['ledger'] = redis.asyncio.from_url(a.ledger_url)
            await ctx['ledger'].ping()
        emit({'ready': True})

    async def shutdown(ctx):
        if 'ledger' in ctx:
            await ctx['ledger'].aclose()

    w = Worker(
        functions=FUNCTIONS,
        queue_name=a.queue,
        redis_settings=redis_settings(a.url),
        burst=a.burst,
        max_jobs=a.max_jobs,
        poll_delay=a.poll_delay,
        handle_signals=False,
        on_startup=startup,
        on_shutdown=shutdown,
        cron_jobs=[cron(interop_tick, second=set(range(60)), unique=True)] if a.cron else None,
        **codec_kwargs(a.codec),
    )
    try:
        await w.main()
    finally:
        await w.close()
    emit({'complete': w.jobs_complete, 'failed': w.jobs_failed, 'retried': w.jobs_retried})


if __name__ == '__main__':
    asyncio.run(main())
