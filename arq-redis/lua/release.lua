-- release: hand a held job back to the queue at shutdown, leaving its queue entry as it is
-- (Python arq deletes the in-progress key). The try the claim counted is given back, for the
-- first ARGV[2] releases of the job; later releases count, so a job cannot loop forever.
-- KEYS[1] in-progress, KEYS[2] retry counter, KEYS[3] handed-back marker, KEYS[4] release count
-- ARGV[1] token, ARGV[2] free releases
-- returns 0 when not held, 1 when released with the try given back, 2 with the try counted
-- 88400 s: Python arq's retry-key TTL (RETRY_KEY_TTL_S in src/keys.rs).
local cur = redis.call('GET', KEYS[1])
if cur ~= ARGV[1] then
  -- A repeat of a release that was applied (its reply was lost) changes nothing.
  if not cur and redis.call('GET', KEYS[3]) == ARGV[1] then
    return 1
  end
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[3], ARGV[1], 'EX', 88400)
local n = redis.call('INCR', KEYS[4])
redis.call('EXPIRE', KEYS[4], 88400)
if n <= tonumber(ARGV[2]) then
  local t = tonumber(redis.call('GET', KEYS[2]) or '0')
  if t and t > 0 then
    redis.call('DECR', KEYS[2])
  end
  return 1
end
return 2
