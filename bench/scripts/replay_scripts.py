#!/usr/bin/env python3
"""Replays this project's claim and finish Lua scripts against a private redis-server and
prints Redis's own cost per job, by command (INFO commandstats): where Redis's time goes,
without a worker or a network in the way.

    python3 bench/scripts/replay_scripts.py [batch size, default 100] [jobs, default 20000]

Needs redis-server on the PATH. Only the standard library is used.
"""
import os, shutil, socket, struct, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
LUA = os.path.join(HERE, "..", "..", "arq-redis", "lua")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")

    @staticmethod
    def encode(*args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        return out

    def read(self):
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2]
        if kind in b"+:":
            return rest
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.file.read(n + 2)[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError(f"unexpected reply {line!r}")

    def call(self, *args):
        self.sock.sendall(self.encode(*args))
        return self.read()


def main():
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    jobs = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    port, tmp = free_port(), tempfile.mkdtemp(prefix="arq-replay-")
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", tmp],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                c = Conn(port)
                c.call("PING")
                break
            except OSError:
                time.sleep(0.05)
        et = int(time.time() * 1000)
        # Python arq's record {t, f, a, k, et} in msgpack, as the bench's no-op job.
        payload = (b"\x85\xa1t\xc0\xa1f\xa4noop\xa1a\x92\xa5hello\x01\xa1k\x80\xa2et\xcf"
                   + struct.pack(">Q", et))
        pipe = b""
        for i in range(jobs):
            pipe += Conn.encode("SET", f"arq:job:j{i}", payload, "PX", "86400000")
            pipe += Conn.encode("ZADD", "arq:queue", str(et - jobs + i), f"j{i}")
        c.sock.sendall(pipe)
        for _ in range(2 * jobs):
            c.read()
        claim = c.call("SCRIPT", "LOAD", open(os.path.join(LUA, "claim.lua")).read()).decode()
        finish = c.call("SCRIPT", "LOAD", open(os.path.join(LUA, "finish.lua")).read()).decode()
        c.call("CONFIG", "RESETSTAT")
        done, seq = 0, 0
        while done < jobs:
            seq += 1
            reply = c.call("EVALSHA", claim, "2", "arq:queue", "arq:abort", str(batch),
                           str(max(5 * batch, 100)), "replay", "30000", "1", "arq:job:",
                           "arq:in-progress:", "arq:retry:", str(seq), "1")
            items = reply[1]
            if not items:
                break
            keys, args = [], ["arq:queue:finished"]
            for item in items:
                jid, token = item[0].decode(), item[4].decode()
                keys += [f"arq:in-progress:{jid}", f"arq:job:{jid}", f"arq:retry:{jid}",
                         f"arq:result:{jid}"]
                args += [jid, token, payload * 2, "3600000", ""]
            keys += ["arq:queue", "arq:abort"]
            c.call("EVALSHA", finish, str(len(keys)), *keys, *args)
            done += len(items)
        stats = c.call("INFO", "commandstats").decode()
        print(f"{done} jobs, batches of {batch}: Redis per job")
        print(f"{'command':24} {'calls':>7} {'µs':>7}")
        for line in stats.splitlines():
            if not line.startswith("cmdstat_") or "config" in line:
                continue
            name, fields = line[8:].split(":", 1)
            kv = dict(f.split("=") for f in fields.split(","))
            print(f"{name:24} {int(kv['calls']) / done:7.3f} {int(kv['usec']) / done:7.2f}")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
