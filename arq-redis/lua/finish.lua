-- finish: store a job's result and remove the job (Python arq's finish_job /
-- finish_failed_job MULTI), fenced: a worker whose token was replaced writes nothing.
-- KEYS[1] in-progress, KEYS[2] job, KEYS[3] retry, KEYS[4] result, KEYS[5] queue, KEYS[6] abort
-- ARGV[1] job id, ARGV[2] token, ARGV[3] result payload ('' stores none),
-- ARGV[4] result TTL ms ('' keeps it forever), ARGV[5] keep the in-progress key this many
-- ms instead of deleting it ('' deletes it)
-- returns 1 when written, 0 when fenced out
local cur = redis.call('GET', KEYS[1])
if cur ~= ARGV[2] then
  -- Another holder, or the lease lapsed and the job is gone: not ours to finish.
  if cur or redis.call('EXISTS', KEYS[2]) == 0 then
    return 0
  end
end
if ARGV[3] ~= '' then
  if ARGV[4] == '' then
    redis.call('SET', KEYS[4], ARGV[3])
  else
    redis.call('SET', KEYS[4], ARGV[3], 'PX', ARGV[4])
  end
end
redis.call('ZREM', KEYS[6], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
if ARGV[5] ~= '' then
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  redis.call('DEL', KEYS[3], KEYS[2])
else
  redis.call('DEL', KEYS[1], KEYS[3], KEYS[2])
end
return 1
