-- finish: store jobs' results and remove the jobs (Python arq's finish_job /
-- finish_failed_job MULTI), for one job or a batch of one queue, each fenced: a worker whose
-- token was replaced writes nothing for that job. Each finished job's id is published on the
-- queue's finished channel when a client listens there, waking clients waiting for results.
-- The keys of all jobs are read, removed and deleted with one variadic call each.
-- A written job may also get, in the same step: its outcome event (and a `dead` event), a dead
-- letter (the dead set then trimmed by age, at most 100 letters a job, and by size, oldest
-- first) and a pending failure hook. A job without them costs no command more.
-- KEYS: per job i (0-based) KEYS[4i+1..4i+4]: in-progress, job, retry, result; then the
-- queue's keys (the last seven): queue, abort set, event stream, dead set, dead data, hook set,
-- hook data.
-- ARGV[1] channel to publish finished ids on ('' none); per job i ARGV[14i+2..14i+15]: job id,
-- token, result payload ('' stores none), result TTL ms ('' keeps it forever), keep the
-- in-progress key this many ms instead of deleting it ('' deletes it), event stream length
-- ('' writes no event), event kind (`completed`, `failed` or `aborted`), the try, error text
-- for the events ('' none, else '+' and the text), dead set length ('' adds no dead letter),
-- dead letter age limit ms, hook lease ms ('' leaves no hook), job record for the dead letter
-- ('' none, else '+' and the record), the failure's result record (for the letter and hook)
-- returns one flag per job: 1 when written, 0 when fenced out
local n = (#KEYS - 7) / 4
local queue, abort, events = KEYS[#KEYS - 6], KEYS[#KEYS - 5], KEYS[#KEYS - 4]
local dead, dead_data = KEYS[#KEYS - 3], KEYS[#KEYS - 2]
local hooks, hooks_data = KEYS[#KEYS - 1], KEYS[#KEYS]
local now
local function clock()
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return now
end
-- Removes dead letters and their records.
local function drop_letters(ids)
  local fields = {}
  for _, id in ipairs(ids) do
    fields[#fields + 1] = 'j:' .. id
    fields[#fields + 1] = 'r:' .. id
  end
  redis.call('ZREM', dead, unpack(ids))
  redis.call('HDEL', dead_data, unpack(fields))
end
local leases = {}
for i = 0, n - 1 do
  leases[i + 1] = KEYS[i * 4 + 1]
end
local current = redis.call('MGET', unpack(leases))
local out, ids, dels = {}, {}, {}
for i = 0, n - 1 do
  local k, a = i * 4, i * 14 + 1
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
    local stream, kind, try, err = ARGV[a + 6], ARGV[a + 7], ARGV[a + 8], ARGV[a + 9]
    if stream ~= '' then
      if err ~= '' then
        redis.call('XADD', events, 'MAXLEN', '~', stream, '*', 'e', kind, 'id', id, 't', try,
          'd', string.sub(err, 2))
      else
        redis.call('XADD', events, 'MAXLEN', '~', stream, '*', 'e', kind, 'id', id, 't', try)
      end
    end
    local max_len, hook, record = ARGV[a + 10], ARGV[a + 12], ARGV[a + 14]
    if max_len ~= '' then
      local died = clock()
      local job = ARGV[a + 13]
      redis.call('ZADD', dead, string.format('%d', died), id)
      if job ~= '' then
        redis.call('HSET', dead_data, 'r:' .. id, record, 'j:' .. id, string.sub(job, 2))
      else
        -- A letter re-added without its job record replaces the old one whole.
        redis.call('HSET', dead_data, 'r:' .. id, record)
        redis.call('HDEL', dead_data, 'j:' .. id)
      end
      local old = redis.call('ZRANGEBYSCORE', dead, '-inf',
        string.format('(%d', died - tonumber(ARGV[a + 11])), 'LIMIT', 0, 100)
      if #old > 0 then
        drop_letters(old)
      end
      local over = redis.call('ZCARD', dead) - tonumber(max_len)
      while over > 0 do
        local oldest = redis.call('ZRANGE', dead, 0, math.min(over, 1000) - 1)
        drop_letters(oldest)
        over = over - #oldest
      end
      if stream ~= '' then
        if err ~= '' then
          redis.call('XADD', events, 'MAXLEN', '~', stream, '*', 'e', 'dead', 'id', id, 't', try,
            'd', string.sub(err, 2))
        else
          redis.call('XADD', events, 'MAXLEN', '~', stream, '*', 'e', 'dead', 'id', id, 't', try)
        end
      end
    end
    if hook ~= '' then
      redis.call('ZADD', hooks, string.format('%d', clock() + tonumber(hook)), id)
      redis.call('HSET', hooks_data, id, record)
    end
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
