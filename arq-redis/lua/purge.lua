-- purge: remove up to ARGV[1] entries of a queue that are not running (and their records and
-- retry counters). Call until it returns 0.
-- KEYS[1] queue; ARGV[1] batch, ARGV[2] job prefix, ARGV[3] in-progress prefix,
-- ARGV[4] retry prefix. Returns how many were removed.
local members = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local n = 0
for i = 1, #members do
  local id = members[i]
  if redis.call('EXISTS', ARGV[3] .. id) == 0 then
    redis.call('ZREM', KEYS[1], id)
    redis.call('DEL', ARGV[2] .. id, ARGV[4] .. id)
    n = n + 1
  end
end
return n
