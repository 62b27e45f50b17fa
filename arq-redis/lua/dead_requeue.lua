-- dead_requeue: put dead jobs back in their queue, due now, as if never run: the job record
-- kept in the letter is written again, the try counter, its markers, the snooze count and the
-- failed result are removed, and the letter goes.
-- KEYS[1] dead set, KEYS[2] dead data, KEYS[3] queue, KEYS[4] the queue's event stream; then
-- per job i (0-based) KEYS[6i+5..6i+10]: job, try counter, handed-back marker, release count,
-- snooze count, result
-- ARGV[1] event stream length: write a `requeued` event per requeued job, kept to about that
-- many entries ('' writes none), ARGV[2] the job key's TTL ms (JOB_EXPIRES_EXTRA_MS); then
-- the job ids, in KEYS order
-- returns one outcome per id: 1 requeued, 0 no such letter, 2 the job exists again (queued or
-- running; the letter stays), 3 the letter holds no job record (it stays)
local t = redis.call('TIME')
local now = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
local out = {}
for i = 0, #ARGV - 3 do
  local id, k = ARGV[i + 3], i * 6 + 4
  if not redis.call('ZSCORE', KEYS[1], id) then
    out[i + 1] = 0
  else
    local job = redis.call('HGET', KEYS[2], 'j:' .. id)
    if not job then
      out[i + 1] = 3
    elseif redis.call('EXISTS', KEYS[k + 1]) == 1 or redis.call('ZSCORE', KEYS[3], id) then
      out[i + 1] = 2
    else
      redis.call('SET', KEYS[k + 1], job, 'PX', ARGV[2])
      redis.call('ZADD', KEYS[3], now, id)
      redis.call('DEL', KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], KEYS[k + 5], KEYS[k + 6])
      redis.call('ZREM', KEYS[1], id)
      redis.call('HDEL', KEYS[2], 'j:' .. id, 'r:' .. id)
      if ARGV[1] ~= '' then
        redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[1], '*', 'e', 'requeued', 'id', id)
      end
      out[i + 1] = 1
    end
  end
end
return out
