-- abort: stop a job wherever it is, in one atomic step.
--   finished (a result exists)        -> 'finished', nothing written
--   unknown (no job, not queued)      -> 'not_found', and no marker is left behind (arq #485)
--   running (in-progress key exists), or its record exists outside this queue
--                                     -> marker ZADD arq:abort <now> <id>: the worker holding it
--                                        cancels it at its next poll -> 'requested'
--   queued or deferred                -> removed now and its aborted result stored, so it never
--                                        runs, early or late -> 'aborted'
-- KEYS[1] queue, KEYS[2] abort set, KEYS[3] job, KEYS[4] result, KEYS[5] in-progress,
-- KEYS[6] retry, KEYS[7] the queue's event stream
-- ARGV[1] job id, ARGV[2] encoded aborted result ('' stores none), ARGV[3] result TTL ms
-- ('' keeps it forever), ARGV[4] event stream length: write an `aborted` event when the job is
-- removed before it ran, kept to about that many entries ('' writes none)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', KEYS[4]) == 1 then
  return 'finished'
end
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
local job = redis.call('EXISTS', KEYS[3])
if not score and job == 0 then
  return 'not_found'
end
if redis.call('EXISTS', KEYS[5]) == 1 or not score then
  redis.call('ZADD', KEYS[2], string.format('%d', now), ARGV[1])
  return 'requested'
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3], KEYS[6])
if ARGV[2] ~= '' then
  if ARGV[3] == '' then
    redis.call('SET', KEYS[4], ARGV[2])
  else
    redis.call('SET', KEYS[4], ARGV[2], 'PX', ARGV[3])
  end
end
if ARGV[4] ~= '' then
  redis.call('XADD', KEYS[7], 'MAXLEN', '~', ARGV[4], '*', 'e', 'aborted', 'id', ARGV[1])
end
return 'aborted'
