-- dead_page: one page of a queue's dead letters, newest first, with their records.
-- KEYS[1] dead set (score: when the job died, ms), KEYS[2] dead data (fields `j:<id>` job
-- record, `r:<id>` result record)
-- ARGV[1] offset, ARGV[2] count (0 reads only the clock and the total)
-- The records are read 500 letters at a time (Lua's unpack has a limit).
-- returns {now, total, {id, died ms, job record|false, result record|false}, ...}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {now, redis.call('ZCARD', KEYS[1])}
local start, size = tonumber(ARGV[1]), tonumber(ARGV[2])
if size < 1 then
  return out
end
local page = redis.call('ZREVRANGE', KEYS[1], start, start + size - 1, 'WITHSCORES')
for i = 1, #page, 1000 do
  local fields = {}
  for j = i, math.min(i + 999, #page), 2 do
    fields[#fields + 1] = 'j:' .. page[j]
    fields[#fields + 1] = 'r:' .. page[j]
  end
  local records = redis.call('HMGET', KEYS[2], unpack(fields))
  for j = 1, #fields, 2 do
    local at = i + j - 1
    out[#out + 1] = {page[at], page[at + 1], records[j], records[j + 1]}
  end
end
return out
