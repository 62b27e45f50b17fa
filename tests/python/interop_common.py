"""Shared helpers of the Python side of tests/interop.rs: codecs, Redis settings, JSON output.

Only the test suite runs these scripts; they print JSON on stdout for the Rust test to parse.
"""
import asyncio
import datetime
import json
import sys

import msgpack
from arq.connections import RedisSettings


def msgpack_loads(b):
    return msgpack.unpackb(b, raw=False)


def codec_kwargs(codec):
    """Keyword arguments for create_pool/Worker/Job that select the codec the Rust side uses."""
    if codec == 'msgpack':
        return {'job_serializer': msgpack.packb, 'job_deserializer': msgpack_loads}
    if codec == 'pickle':
        return {}  # arq's default: pickle.dumps / pickle.loads
    raise SystemExit(f'unknown codec {codec!r}')


def redis_settings(url):
    # Fail fast instead of arq's 5 retries 1 s apart when the private server is gone.
    s = RedisSettings.from_dsn(url)
    s.conn_retries = 1
    s.conn_retry_delay = 0.2
    return s


def jsonable(v):
    """A JSON view of a value that crossed the boundary, keeping what JSON would lose:
    tuples and bytes are tagged, exceptions give their class path and args."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v  # JSON keeps 3 and 3.0 apart
    if isinstance(v, bytes):
        return {'bytes': v.hex()}
    if isinstance(v, tuple):
        return {'tuple': [jsonable(x) for x in v]}
    if isinstance(v, list):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, datetime.datetime):
        return {'datetime_ms': round(v.timestamp() * 1000)}
    if isinstance(v, (BaseException, asyncio.CancelledError)):
        return exception_json(v)
    return {'repr': repr(v)}


def exception_json(e):
    cls = type(e)
    return {'type': f'{cls.__module__}.{cls.__qualname__}', 'args': [jsonable(a) for a in e.args], 'str': str(e)}


def emit(obj):
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()
