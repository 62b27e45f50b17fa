-- result: a job's result record, its time to live and its queue score, read together.
-- KEYS[1] result, KEYS[2] queue; ARGV[1] job id
-- returns {result|nil, score|nil, pttl|nil}: pttl is PTTL's reply (-1: no expiry), nil when
-- there is no result or PTTL is refused (a user without it still reads results)
local r = redis.call('GET', KEYS[1])
local ttl = false
if r then
  local t = redis.pcall('PTTL', KEYS[1])
  if type(t) == 'number' then
    ttl = t
  end
end
return {r, redis.call('ZSCORE', KEYS[2], ARGV[1]), ttl}
