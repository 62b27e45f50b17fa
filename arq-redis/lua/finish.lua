-- finish: store jobs' results and remove the jobs (Python arq's finish_job /
-- finish_failed_job MULTI), for one job or a batch of one queue, each fenced: a worker whose
-- token was replaced writes nothing for that job. Each finished job's id is published on the
-- queue's finished channel when a client listens there, waking clients waiting for results.
-- The keys of all jobs are read, removed and deleted with one variadic call each.
-- KEYS: per job i (0-based) KEYS[4i+1..4i+4]: in-progress, job, retry, result; then the queue
-- and the abort set (the last two).
-- ARGV[1] channel to publish finished ids on ('' none); per job i ARGV[5i+2..5i+6]: job id,
-- token, result payload ('' stores none), result TTL ms ('' keeps it forever), keep the
-- in-progress key this many ms instead of deleting it ('' deletes it)
-- returns one flag per job: 1 when written, 0 when fenced out
local n = (#KEYS - 2) / 4
local queue, abort = KEYS[#KEYS - 1], KEYS[#KEYS]
local leases = {}
for i = 0, n - 1 do
  leases[i + 1] = KEYS[i * 4 + 1]
end
local current = redis.call('MGET', unpack(leases))
local out, ids, dels = {}, {}, {}
for i = 0, n - 1 do
  local k, a = i * 4, i * 5 + 1
  local id, token = ARGV[a + 1], ARGV[a + 2]
  local cur = current[i + 1]
  -- Another holder, or the lease lapsed and the job is gone: not ours to finish.
  if cur ~= token and (cur or redis.call('EXISTS', KEYS[k + 2]) == 0) then
    out[i + 1] = 0
  else
    local payload, ttl, keep = ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
    if payload ~= '' then
      if ttl == '' then
        redis.call('SET', KEYS[k + 4], payload)
      else
        redis.call('SET', KEYS[k + 4], payload, 'PX', ttl)
      end
    end
    ids[#ids + 1] = id
    if keep ~= '' then
      redis.call('PEXPIRE', KEYS[k + 1], keep)
    else
      dels[#dels + 1] = KEYS[k + 1]
    end
    dels[#dels + 1] = KEYS[k + 3]
    dels[#dels + 1] = KEYS[k + 2]
    out[i + 1] = 1
  end
end
if #ids > 0 then
  redis.call('ZREM', queue, unpack(ids))
  -- Markers are rare: remove them only when there are any.
  if redis.call('ZCARD', abort) > 0 then
    redis.call('ZREM', abort, unpack(ids))
  end
  redis.call('DEL', unpack(dels))
  -- pcall: a user without rights on the channel (or on PUBSUB) still finishes; clients poll.
  if ARGV[1] ~= '' then
    local listeners = redis.pcall('PUBSUB', 'NUMSUB', ARGV[1])
    if type(listeners) == 'table' and not listeners.err and listeners[2] > 0 then
      for _, id in ipairs(ids) do
        redis.pcall('PUBLISH', ARGV[1], id)
      end
    end
  end
end
return out
