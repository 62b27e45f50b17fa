-- hook_done: remove a pending failure hook once it ran.
-- KEYS[1] hook set, KEYS[2] hook data
-- ARGV[1] job id
-- returns 1 when it was pending, 0 when not
local n = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return n
