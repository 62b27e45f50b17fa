-- retry: put a held job back for another try (Python arq's ZINCRBY + DEL in-progress).
-- The new score is Redis's now + defer; defer 0 leaves the score (runs at the next poll).
-- ZADD XX never brings back a job that was deleted meanwhile.
-- KEYS[1] in-progress, KEYS[2] queue, KEYS[3] job, KEYS[4] handed-back marker (so the next
-- claim is not taken for a recovery from a dead worker), KEYS[5] the queue's event stream
-- ARGV[1] job id, ARGV[2] token, ARGV[3] defer ms, ARGV[4] event stream length: write a
-- `retried` event kept to about that many entries ('' writes none), ARGV[5] the try that
-- ended, ARGV[6] the error text for the event ('' none, else '+' and the text)
-- The marker holds the token, so a repeat of a retry that was applied (its reply was lost) is
-- recognised and changes nothing: the deferral is not pushed twice.
-- returns 1 when done (or done before), 0 when fenced out
-- 88400 s: Python arq's retry-key TTL (RETRY_KEY_TTL_S in src/keys.rs).
local cur = redis.call('GET', KEYS[1])
if cur ~= ARGV[2] then
  if not cur and redis.call('GET', KEYS[4]) == ARGV[2] then
    return 1
  end
  if cur or redis.call('EXISTS', KEYS[3]) == 0 then
    return 0
  end
end
local defer = tonumber(ARGV[3])
if defer > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZADD', KEYS[2], 'XX', string.format('%d', now + defer), ARGV[1])
end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[4], ARGV[2], 'EX', 88400)
if ARGV[4] ~= '' then
  if ARGV[6] ~= '' then
    redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[4], '*', 'e', 'retried', 'id', ARGV[1],
      't', ARGV[5], 'd', string.sub(ARGV[6], 2))
  else
    redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[4], '*', 'e', 'retried', 'id', ARGV[1],
      't', ARGV[5])
  end
end
return 1
