-- hooks_claim: take up to ARGV[1] pending failure hooks of a queue whose lease ran out (their
-- worker died before running them), oldest first, and lease them to the caller.
-- KEYS[1] hook set (score: lease end, ms), KEYS[2] hook data (field: job id)
-- ARGV[1] limit (at least 1), ARGV[2] lease ms (at least 1, so a leased hook is not due)
-- A member without data cannot run: it is removed and not returned. Hooks are read 1000 at a
-- time (Lua's unpack has a limit).
-- returns {{id, result record}, ...}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = string.format('%d', now + tonumber(ARGV[2]))
local left = tonumber(ARGV[1])
local out = {}
while left > 0 do
  local want = math.min(left, 1000)
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now), 'LIMIT', 0,
    want)
  if #due == 0 then
    break
  end
  local records = redis.call('HMGET', KEYS[2], unpack(due))
  local leased, orphans = {}, {}
  for i, id in ipairs(due) do
    if records[i] then
      out[#out + 1] = {id, records[i]}
      leased[#leased + 1] = lease
      leased[#leased + 1] = id
      left = left - 1
    else
      orphans[#orphans + 1] = id
    end
  end
  if #leased > 0 then
    redis.call('ZADD', KEYS[1], unpack(leased))
  end
  if #orphans > 0 then
    redis.call('ZREM', KEYS[1], unpack(orphans))
  end
  if #due < want then
    break
  end
end
return out
