-- snooze: put a held job back to run later without spending a try, unless it has snoozed its
-- limit. Fenced like retry.lua: the handed-back marker holds the token, so a repeat of a snooze
-- that was applied (its reply was lost) is recognised and changes nothing.
-- KEYS[1] in-progress, KEYS[2] queue, KEYS[3] job, KEYS[4] handed-back marker, KEYS[5] retry
-- counter, KEYS[6] snooze count, KEYS[7] the queue's event stream
-- ARGV[1] job id, ARGV[2] token, ARGV[3] defer ms (at least 1 ms is applied: the score is
-- now + max(defer, 1), and the event's `d` is that deferral, as decimal text),
-- ARGV[4] most snoozes allowed,
-- ARGV[5] the try that ended, ARGV[6] event stream length: write a `snoozed` event kept to
-- about that many entries ('' writes none)
-- The count and the marker live as long as the retry counter: 88400 s, Python arq's retry-key
-- TTL (RETRY_KEY_TTL_S in src/keys.rs). The try counter is decremented (never below 0), which
-- keeps its TTL. ZADD XX never brings back a job that was deleted meanwhile.
-- returns {1, count} snoozed (count after it), {2, count} limit reached (nothing changed, the
-- lease kept), {0, 0} fenced out
local cur = redis.call('GET', KEYS[1])
if cur ~= ARGV[2] then
  if not cur and redis.call('GET', KEYS[4]) == ARGV[2] then
    return {1, tonumber(redis.call('GET', KEYS[6]) or '0') or 0}
  end
  if cur or redis.call('EXISTS', KEYS[3]) == 0 then
    return {0, 0}
  end
end
local count = tonumber(redis.call('GET', KEYS[6]) or '0') or 0
if count >= tonumber(ARGV[4]) then
  return {2, count}
end
redis.call('SET', KEYS[6], count + 1, 'EX', 88400)
local try = tonumber(redis.call('GET', KEYS[5]) or '0')
if try and try > 0 then
  redis.call('DECR', KEYS[5])
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local defer, applied = tonumber(ARGV[3]), ARGV[3]
if defer < 1 then
  defer, applied = 1, '1'
end
redis.call('ZADD', KEYS[2], 'XX', string.format('%d', now + defer), ARGV[1])
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[4], ARGV[2], 'EX', 88400)
if ARGV[6] ~= '' then
  redis.call('XADD', KEYS[7], 'MAXLEN', '~', ARGV[6], '*', 'e', 'snoozed', 'id', ARGV[1],
    't', ARGV[5], 'd', applied)
end
return {1, count + 1}
