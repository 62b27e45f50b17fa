-- dead_purge: remove up to ARGV[1] of a queue's oldest dead letters, with their records.
-- KEYS[1] dead set, KEYS[2] dead data
-- ARGV[1] how many at most (at least 1); they go 1000 at a time (Lua's unpack has a limit)
-- returns how many were removed
local left, n = tonumber(ARGV[1]), 0
while left > 0 do
  local want = math.min(left, 1000)
  local ids = redis.call('ZRANGE', KEYS[1], 0, want - 1)
  if #ids == 0 then
    break
  end
  local fields = {}
  for _, id in ipairs(ids) do
    fields[#fields + 1] = 'j:' .. id
    fields[#fields + 1] = 'r:' .. id
  end
  redis.call('ZREM', KEYS[1], unpack(ids))
  redis.call('HDEL', KEYS[2], unpack(fields))
  n = n + #ids
  left = left - #ids
  if #ids < want then
    break
  end
end
return n
