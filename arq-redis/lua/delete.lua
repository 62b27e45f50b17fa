-- delete: remove a job and everything about it (queue entry, record, retry counter, result,
-- lease, abort marker, progress). A worker still running it is fenced out: its finish writes nothing.
-- KEYS[1] queue, KEYS[2] job, KEYS[3] retry, KEYS[4] result, KEYS[5] in-progress, KEYS[6] abort, KEYS[7] progress
-- ARGV[1] job id. Returns how many of the queue entry, record and result existed.
local n = redis.call('ZREM', KEYS[1], ARGV[1])
n = n + redis.call('DEL', KEYS[2])
n = n + redis.call('DEL', KEYS[4])
redis.call('DEL', KEYS[3], KEYS[5], KEYS[7])
redis.call('ZREM', KEYS[6], ARGV[1])
return n
