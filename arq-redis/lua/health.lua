-- health: write the health-check record with the queue size appended (Python arq's ZCARD then
-- PSETEX). KEYS[1] health key, KEYS[2] queue; ARGV[1] text, ARGV[2] ttl ms
-- returns the queue size
local n = redis.call('ZCARD', KEYS[2])
redis.call('PSETEX', KEYS[1], ARGV[2], ARGV[1] .. ' queued=' .. n)
return n
