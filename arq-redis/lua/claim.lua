-- claim: take up to ARGV[1] due jobs of a queue and start them, in score order
-- (Python arq's ZRANGEBYSCORE + per-job WATCH/PSETEX claim + start MULTI, in one step).
-- Due-ness uses Redis's clock. A job whose in-progress key exists is running elsewhere.
-- KEYS[1] queue, KEYS[2] abort set, KEYS[3] the queue's event stream
-- ARGV[1] limit, ARGV[2] scan limit, ARGV[3] token prefix, ARGV[4] lease ms,
-- ARGV[5] '1' to consume abort markers (their time is returned; markers older than a day are
-- pruned), ARGV[6] job key prefix,
-- ARGV[7] in-progress key prefix, ARGV[8] retry key prefix, ARGV[9] the worker's claim
-- sequence number (tokens are `<prefix>:<seq>:<n>`, unique per attempt), ARGV[10] '1' when the
-- worker runs nothing (it may take a recovery), ARGV[11] the try from which a recovery runs
-- alone (the worker's policy; 3 by default), ARGV[12] the event stream's length: write a
-- `started` event per job taken, in claim order, kept to about that many entries ('' writes
-- none and touches no stream)
-- Due entries are read in chunks; for each chunk, leases and try counters are read with one
-- MGET each, so a job taken costs two writes: its lease and its try counter (Python arq's
-- INCR + EXPIRE 88400, as one SET; 88400 s is RETRY_KEY_TTL_S in src/keys.rs).
-- A try after the first is a recovery unless the last attempt handed the job back (retry or
-- shutdown leave the marker `<retry key>:clean`): its last worker died or lost the lease,
-- maybe because of the job itself. A first recovery runs as usual (the crash was most likely
-- not its doing); a later one (from try ARGV[11] on) runs alone, on an idle worker, so a job that keeps
-- killing its worker takes no other job down with it: it is taken only as the first job of an
-- idle worker's claim, which then takes nothing more; else it is left queued and reported.
-- The first write is a SET (refused when Redis is out of memory), so a claim over maxmemory
-- changes nothing.
-- returns {recovery waiting 0|1, {{id, score, payload|false, try, token, abort marker ms or 0,
-- recovered: 0 no, 1 yes, 2 yes and alone, payload error or ''}, ...}}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local idle = ARGV[10] == '1'
local alone_from = tonumber(ARGV[11])
local scan = tonumber(ARGV[2])
local max_score = string.format('%d', now)
-- Markers are rare: look them up only when the abort set has any.
local markers = ARGV[5] == '1' and redis.call('ZCARD', KEYS[2]) > 0
local out = {}
local waiting = 0
local offset = 0
local chunk = math.min(scan, math.max(limit * 2, 16))
local n = 0
while #out < limit and offset < scan do
  local size = math.min(chunk, scan - offset)
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', max_score, 'WITHSCORES', 'LIMIT',
    offset, size)
  offset = offset + size
  local count = #due / 2
  if count == 0 then
    break
  end
  local leases, counters = {}, {}
  for j = 1, count do
    leases[j] = ARGV[7] .. due[j * 2 - 1]
    counters[j] = ARGV[8] .. due[j * 2 - 1]
  end
  local held = redis.call('MGET', unpack(leases))
  local tries = redis.call('MGET', unpack(counters))
  for j = 1, count do
    if #out >= limit then
      break
    end
    -- A lease held means the job runs elsewhere (Python sees `1` there).
    if not held[j] then
      local id = due[j * 2 - 1]
      local try = (tonumber(tries[j]) or 0) + 1
      local clean = counters[j] .. ':clean'
      local recovered = 0
      if try > 1 and redis.call('EXISTS', clean) == 0 then
        recovered = 1
        if try >= alone_from then
          recovered = 2
        end
      end
      if recovered == 2 and not (idle and #out == 0) then
        -- Not now: leave it for an idle worker.
        waiting = 1
      else
        n = n + 1
        local token = ARGV[3] .. ':' .. ARGV[9] .. ':' .. n
        redis.call('SET', leases[j], token, 'PX', ARGV[4])
        redis.call('SET', counters[j], try, 'EX', 88400)
        if try > 1 and recovered == 0 then
          redis.call('DEL', clean)
        end
        local aborted = 0
        if markers then
          local marker = redis.call('ZSCORE', KEYS[2], id)
          if marker then
            redis.call('ZREM', KEYS[2], id)
            aborted = tonumber(marker)
          end
        end
        out[#out + 1] = {id, due[j * 2], false, try, token, aborted, recovered, ''}
        if recovered == 2 then
          break
        end
      end
    end
  end
  if count < size or (#out > 0 and out[#out][7] == 2) then
    break
  end
end
-- The records of every job taken, in one call.
if #out > 0 then
  local jobs = {}
  for j, item in ipairs(out) do
    jobs[j] = ARGV[6] .. item[1]
  end
  local records = redis.call('MGET', unpack(jobs))
  for j, item in ipairs(out) do
    item[3] = records[j]
    if not records[j] then
      -- Gone (expired or deleted), or not a string: the worker fails this job alone.
      local kind = redis.call('TYPE', jobs[j])['ok']
      if kind ~= 'none' then
        item[8] = 'WRONGTYPE the job key holds a ' .. kind .. ', not a string'
      end
    end
  end
  if ARGV[12] ~= '' then
    for _, item in ipairs(out) do
      redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[12], '*', 'e', 'started', 'id', item[1],
        't', string.format('%d', item[4]))
    end
  end
end
if markers then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('(%d', now - 86400000))
end
return {waiting, out}
