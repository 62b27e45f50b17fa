-- dead_delete: remove dead letters with their records.
-- KEYS[1] dead set, KEYS[2] dead data
-- ARGV the job ids (at least one), removed 1000 at a time (Lua's unpack has a limit)
-- returns how many letters existed
local n = 0
for i = 1, #ARGV, 1000 do
  local ids, fields = {}, {}
  for j = i, math.min(i + 999, #ARGV) do
    ids[#ids + 1] = ARGV[j]
    fields[#fields + 1] = 'j:' .. ARGV[j]
    fields[#fields + 1] = 'r:' .. ARGV[j]
  end
  n = n + redis.call('ZREM', KEYS[1], unpack(ids))
  redis.call('HDEL', KEYS[2], unpack(fields))
end
return n
