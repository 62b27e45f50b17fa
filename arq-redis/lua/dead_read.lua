-- dead_read: one dead letter with its records.
-- KEYS[1] dead set, KEYS[2] dead data
-- ARGV[1] job id
-- returns {} when there is no such letter, else {died ms, job record|false,
-- result record|false}
local died = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not died then
  return {}
end
local records = redis.call('HMGET', KEYS[2], 'j:' .. ARGV[1], 'r:' .. ARGV[1])
return {died, records[1], records[2]}
