"""Python arq as a client of Rust workers (tests/interop.rs).

    client.py <redis-url> <codec> <command> <json-args>

codec is msgpack or pickle. Commands (their JSON argument, and what they print as one JSON line):

    enqueue  {"jobs": [{"function", "args", "kwargs", "job_id", "queue", "defer_by"}]}
             -> {"<job_id>": true|false}          (false: arq refused the id)
    bulk     {"function", "count", "prefix", "queue"}: enqueue <prefix><i> with args [i]
             -> {"enqueued": n}
    results  {"ids": [...], "queue", "timeout"}: Job.result/status/result_info of each id
             -> {"<id>": {"status", "returned" | "raised", "info"}}
    status   {"ids": [...], "queue"} -> {"<id>": "<JobStatus value>"}
    abort    {"id", "queue", "timeout"}: Job.abort()
             -> {"returned": <value>} | {"raised": <exception>}, plus "status" and "info" after it
"""
import asyncio
import json
import sys

from arq import create_pool
from arq.jobs import Job

from interop_common import codec_kwargs, emit, exception_json, jsonable, redis_settings

DEFAULT_QUEUE = 'arq:queue'


def info_json(info):
    """JobResult as the wire record's field names (spec §3.2)."""
    if info is None:
        return None
    return {
        't': info.job_try,
        'f': info.function,
        'a': jsonable(info.args),
        'k': jsonable(info.kwargs),
        'et': round(info.enqueue_time.timestamp() * 1000),
        's': info.success,
        'r': jsonable(info.result),
        'st': round(info.start_time.timestamp() * 1000),
        'ft': round(info.finish_time.timestamp() * 1000),
        'q': info.queue_name,
        'id': info.job_id,
    }


async def main(url, codec, command, args):
    kw = codec_kwargs(codec)
    pool = await create_pool(redis_settings(url), **kw)
    deser = kw.get('job_deserializer')

    def job(job_id, queue):
        return Job(job_id, pool, _queue_name=queue or DEFAULT_QUEUE, _deserializer=deser)

    try:
        if command == 'enqueue':
            out = {}
            for spec in args['jobs']:
                options = {'_job_id': spec['job_id']}
                if spec.get('queue'):
                    options['_queue_name'] = spec['queue']
                if spec.get('defer_by'):
                    options['_defer_by'] = spec['defer_by']
                j = await pool.enqueue_job(spec['function'], *spec.get('args', []), **options, **spec.get('kwargs', {}))
                out[spec['job_id']] = j is not None
            emit(out)
        elif command == 'bulk':
            n = 0
            for i in range(args['count']):
                j = await pool.enqueue_job(
                    args['function'], i, _job_id=f"{args['prefix']}{i}", _queue_name=args.get('queue') or DEFAULT_QUEUE
                )
                n += j is not None
            emit({'enqueued': n})
        elif command == 'results':
            out = {}
            for job_id in args['ids']:
                j = job(job_id, args.get('queue'))
                entry = {}
                try:
                    entry['returned'] = jsonable(await j.result(timeout=args.get('timeout', 10), poll_delay=0.05))
                except BaseException as e:  # noqa: B036 - CancelledError is what an abort raises
                    entry['raised'] = exception_json(e)
                entry['status'] = (await j.status()).value
                entry['info'] = info_json(await j.result_info())
                out[job_id] = entry
            emit(out)
        elif command == 'status':
            emit({job_id: (await job(job_id, args.get('queue')).status()).value for job_id in args['ids']})
        elif command == 'abort':
            j = job(args['id'], args.get('queue'))
            out = {}
            try:
                out['returned'] = jsonable(await j.abort(timeout=args.get('timeout', 10), poll_delay=0.05))
            except BaseException as e:  # noqa: B036
                out['raised'] = exception_json(e)
            out['status'] = (await j.status()).value
            out['info'] = info_json(await j.result_info())
            emit(out)
        else:
            raise SystemExit(f'unknown command {command!r}')
    finally:
        await pool.aclose()


if __name__ == '__main__':
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])))
