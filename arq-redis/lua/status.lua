-- status: what Job.status() decides from, read atomically, with Redis's clock.
-- KEYS[1] result, KEYS[2] in-progress, KEYS[3] queue; ARGV[1] job id
-- returns {result exists, in-progress exists, score|nil, now ms}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return {
  redis.call('EXISTS', KEYS[1]),
  redis.call('EXISTS', KEYS[2]),
  redis.call('ZSCORE', KEYS[3], ARGV[1]),
  now,
}
