-- health_close: a worker stops. Its own record goes; the queue's shared record goes only when
-- no other live worker of the queue has a record (Python arq deleted it outright, so one
-- worker's shutdown made the others look dead, arq #276).
-- KEYS[1] health key, KEYS[2] this worker's key, KEYS[3] workers hash; ARGV[1] worker id
-- returns how many other live workers remain
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('DEL', KEYS[2])
redis.call('HDEL', KEYS[3], ARGV[1])
local entries = redis.call('HGETALL', KEYS[3])
local live = 0
for i = 1, #entries, 2 do
  if tonumber(entries[i + 1]) > now then
    live = live + 1
  else
    redis.call('HDEL', KEYS[3], entries[i])
  end
end
if live == 0 then
  redis.call('DEL', KEYS[1], KEYS[3])
end
return live
