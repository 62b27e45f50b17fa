-- queue_stats: counts of a queue by state, and its oldest entry. Running jobs are counted among
-- the first ARGV[2] due entries (the scan is bounded; 'capped' says whether it was cut).
-- KEYS[1] queue; ARGV[1] in-progress prefix, ARGV[2] scan cap
-- returns {now, total, deferred, running, oldest score or '', capped 0/1}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nows = string.format('%d', now)
local total = redis.call('ZCARD', KEYS[1])
local deferred = redis.call('ZCOUNT', KEYS[1], '(' .. nows, '+inf')
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', nows, 'LIMIT', 0, tonumber(ARGV[2]))
local running = 0
for i = 1, #due do
  running = running + redis.call('EXISTS', ARGV[1] .. due[i])
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local capped = 0
if #due >= tonumber(ARGV[2]) then
  capped = 1
end
return {now, total, deferred, running, oldest[2] or '', capped}
