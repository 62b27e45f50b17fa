-- claim: take up to ARGV[1] due jobs of a queue and start them, in score order
-- (Python arq's ZRANGEBYSCORE + per-job WATCH/PSETEX claim + start MULTI, in one step).
-- Due-ness uses Redis's clock. A job whose in-progress key exists is running elsewhere.
-- KEYS[1] queue, KEYS[2] abort set
-- ARGV[1] limit, ARGV[2] scan limit, ARGV[3] token prefix, ARGV[4] lease ms,
-- ARGV[5] '1' to consume abort markers (their time is returned; markers older than a day are
-- pruned), ARGV[6] job key prefix,
-- ARGV[7] in-progress key prefix, ARGV[8] retry key prefix, ARGV[9] the worker's claim
-- sequence number (tokens are `<prefix>:<seq>:<n>`, unique per attempt), ARGV[10] '1' when the
-- worker runs nothing (it may take a recovery)
-- A try after the first is a recovery unless the last attempt handed the job back (retry or
-- shutdown leave the marker `<retry key>:clean`): its last worker died or lost the lease,
-- maybe because of the job itself. A recovery runs alone, on an idle worker, so a job that
-- kills its worker takes no other job down with it: it is taken only as the first job of an
-- idle worker's claim, which then takes nothing more; else it is left queued and reported.
-- The first write is a SET (refused when Redis is out of memory), so a claim over maxmemory
-- changes nothing.
-- returns {recovery waiting 0|1, {{id, score, payload|false, try, token, abort marker ms or 0,
-- recovered 0|1, payload error or ''}, ...}}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local idle = ARGV[10] == '1'
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now),
  'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
-- Markers are rare: look them up only when the abort set has any.
local markers = ARGV[5] == '1' and redis.call('ZCARD', KEYS[2]) > 0
local out = {}
local waiting = 0
for i = 1, #due, 2 do
  if #out >= limit then
    break
  end
  local id = due[i]
  local ip = ARGV[7] .. id
  local token = ARGV[3] .. ':' .. ARGV[9] .. ':' .. i
  -- SET NX: a job whose in-progress key exists is running elsewhere (Python sees `1` there).
  if redis.call('SET', ip, token, 'PX', ARGV[4], 'NX') then
    local retry_key = ARGV[8] .. id
    local try = redis.call('INCR', retry_key)
    redis.call('EXPIRE', retry_key, 88400)
    local recovered = 0
    if try > 1 and redis.call('DEL', retry_key .. ':clean') == 0 then
      recovered = 1
    end
    if recovered == 1 and not (idle and #out == 0) then
      -- Not now: undo the take and leave it for an idle worker.
      redis.call('DEL', ip)
      redis.call('DECR', retry_key)
      waiting = 1
    else
      local payload = redis.pcall('GET', ARGV[6] .. id)
      local bad = ''
      if type(payload) == 'table' and payload.err then
        -- e.g. WRONGTYPE: the job key is not a string; the worker fails this job alone.
        bad = payload.err
        payload = false
      end
      local aborted = 0
      if markers then
        local marker = redis.call('ZSCORE', KEYS[2], id)
        if marker then
          redis.call('ZREM', KEYS[2], id)
          aborted = tonumber(marker)
        end
      end
      out[#out + 1] = {id, due[i + 1], payload, try, token, aborted, recovered, bad}
      if recovered == 1 then
        break
      end
    end
  end
end
if ARGV[5] == '1' and markers then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('(%d', now - 86400000))
end
return {waiting, out}
