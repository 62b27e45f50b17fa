-- finish: store jobs' results and remove the jobs (Python arq's finish_job /
-- finish_failed_job MULTI), for one job or a batch, each fenced: a worker whose token was
-- replaced writes nothing for that job. Each finished job's id is published on its queue's
-- finished channel, waking clients waiting for its result.
-- Per job i (0-based), KEYS[6i+1..6i+6]: in-progress, job, retry, result, queue, abort;
-- ARGV[6i+1..6i+6]: job id, token, result payload ('' stores none), result TTL ms ('' keeps
-- it forever), keep the in-progress key this many ms instead of deleting it ('' deletes it),
-- channel to publish the id on ('' publishes nothing)
-- returns one flag per job: 1 when written, 0 when fenced out
-- Per batch, not per job: is anyone listening on a channel, are there abort markers at all.
local listeners = {}
local function listened(channel)
  if listeners[channel] == nil then
    listeners[channel] = redis.call('PUBSUB', 'NUMSUB', channel)[2] > 0
  end
  return listeners[channel]
end
local markers = {}
local function has_markers(key)
  if markers[key] == nil then
    markers[key] = redis.call('ZCARD', key) > 0
  end
  return markers[key]
end
local out = {}
for i = 0, #KEYS / 6 - 1 do
  local k, a = i * 6, i * 6
  local ip, job = KEYS[k + 1], KEYS[k + 2]
  local id, token = ARGV[a + 1], ARGV[a + 2]
  local cur = redis.call('GET', ip)
  -- Another holder, or the lease lapsed and the job is gone: not ours to finish.
  if cur ~= token and (cur or redis.call('EXISTS', job) == 0) then
    out[#out + 1] = 0
  else
    local payload, ttl = ARGV[a + 3], ARGV[a + 4]
    if payload ~= '' then
      if ttl == '' then
        redis.call('SET', KEYS[k + 4], payload)
      else
        redis.call('SET', KEYS[k + 4], payload, 'PX', ttl)
      end
    end
    if has_markers(KEYS[k + 6]) then
      redis.call('ZREM', KEYS[k + 6], id)
    end
    redis.call('ZREM', KEYS[k + 5], id)
    if ARGV[a + 5] ~= '' then
      redis.call('PEXPIRE', ip, ARGV[a + 5])
      redis.call('DEL', KEYS[k + 3], job)
    else
      redis.call('DEL', ip, KEYS[k + 3], job)
    end
    if ARGV[a + 6] ~= '' and listened(ARGV[a + 6]) then
      -- pcall: a user without rights on the channel still finishes (clients then poll)
      redis.pcall('PUBLISH', ARGV[a + 6], id)
    end
    out[#out + 1] = 1
  end
end
return out
