-- enqueue: add a job unless a job or a result with its id exists (Python arq's
-- WATCH/EXISTS/MULTI/PSETEX/ZADD/EXEC, as one atomic step).
-- A stale abort marker for this id (an abort of an earlier job, or of an id never used) is
-- removed, so it cannot cancel the new job (arq #485).
-- KEYS[1] job key, KEYS[2] result key, KEYS[3] queue, KEYS[4] abort set, KEYS[5] retry key,
-- KEYS[6] the queue's event stream, KEYS[7] the snooze count (`<retry key>:snoozes`)
-- ARGV[1] job id, ARGV[2] payload, ARGV[3] defer mode: 'n' now, 'b' by ms, 'a' at ms,
-- ARGV[4] defer value (ms), ARGV[5] job key TTL in ms, or '' for arq's default,
-- ARGV[6] '1' to replace an existing result (re-running a finished job) instead of refusing;
-- it also resets the try counter and the snooze count,
-- ARGV[7] channel to publish on when the job is due at once, waking idle workers ('' none)
-- ARGV[8] the record's enqueue time `et` (ms, the client's clock), ARGV[9] the largest
-- difference between it and Redis's clock for which it is trusted (ms), ARGV[10] the event
-- stream's length: write an `enqueued` event kept to about that many entries ('' writes none
-- and touches no stream)
-- Python arq scores a job at et + defer_by. So does this script, while et agrees with Redis's
-- clock; when they disagree by more than ARGV[9], the score is Redis's now + defer_by, so a
-- skewed client cannot make a job due early or late. A job due at once is scored at the
-- earlier of et and now (never in the future).
-- The client never re-sends this script on its own: a lost reply is reported as an unknown
-- outcome, and a deliberate repeat with the same id is refused if the first one landed.
-- returns {1, score, now} when added, {0, 0} when the id is taken, {-1, expires} when the job would expire at once (a
-- defer_until too far in the past)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', KEYS[1]) > 0 then
  return {0, 0}
end
if ARGV[6] == '1' then
  redis.call('DEL', KEYS[2], KEYS[5], KEYS[7])
elseif redis.call('EXISTS', KEYS[2]) > 0 then
  return {0, 0}
end
local et = tonumber(ARGV[8])
local base = now
if et and math.abs(now - et) <= tonumber(ARGV[9]) then
  base = et
end
-- the score, and how far it is from the enqueue time
local score, ahead = math.min(base, now), 0
if ARGV[3] == 'b' then
  ahead = tonumber(ARGV[4])
  score = base + ahead
elseif ARGV[3] == 'a' then
  score = tonumber(ARGV[4])
  ahead = score - base
end
local expires
if ARGV[5] ~= '' then
  expires = tonumber(ARGV[5])
else
  -- Python's (score - enqueue_ms) + expires_extra_ms
  expires = ahead + 86400000
end
if expires <= 0 then
  return {-1, expires}
end
redis.call('PSETEX', KEYS[1], string.format('%d', expires), ARGV[2])
redis.call('ZADD', KEYS[3], string.format('%d', score), ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
if ARGV[10] ~= '' then
  redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[10], '*', 'e', 'enqueued', 'id', ARGV[1])
end
if ARGV[7] ~= '' and score <= now then
  -- pcall: a user without rights on the channel still enqueues (workers then poll)
  redis.pcall('PUBLISH', ARGV[7], '')
end
return {1, score, now}
