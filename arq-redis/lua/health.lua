-- health: write the health-check record with the queue size appended (Python arq's ZCARD then
-- PSETEX), to the queue's shared key that `arq --check` reads, and to this worker's own key
-- `<health key>:<worker id>`, listed in the hash `<health key>:workers` (arq #276).
-- KEYS[1] health key, KEYS[2] queue, KEYS[3] this worker's key, KEYS[4] workers hash
-- ARGV[1] text, ARGV[2] ttl ms, ARGV[3] worker id
-- returns the queue size
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = redis.call('ZCARD', KEYS[2])
local record = ARGV[1] .. ' queued=' .. n
redis.call('PSETEX', KEYS[1], ARGV[2], record)
redis.call('PSETEX', KEYS[3], ARGV[2], record)
redis.call('HSET', KEYS[4], ARGV[3], string.format('%d', now + tonumber(ARGV[2])))
redis.call('PEXPIRE', KEYS[4], ARGV[2])
return n
