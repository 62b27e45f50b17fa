-- claim: take up to ARGV[1] due jobs of a queue and start them, in score order
-- (Python arq's ZRANGEBYSCORE + per-job WATCH/PSETEX claim + start MULTI, in one step).
-- Due-ness uses Redis's clock. A job whose in-progress key exists is running elsewhere.
-- KEYS[1] queue, KEYS[2] abort set
-- ARGV[1] limit, ARGV[2] scan limit, ARGV[3] token prefix, ARGV[4] lease ms,
-- ARGV[5] '1' to consume abort markers (their time is returned; markers older than a day are
-- pruned), ARGV[6] job key prefix,
-- ARGV[7] in-progress key prefix, ARGV[8] retry key prefix, ARGV[9] the worker's claim
-- sequence number (tokens are `<prefix>:<seq>:<n>`, unique per attempt)
-- A try after the first is a recovery unless the last attempt handed the job back (retry or
-- shutdown leave the marker `<retry key>:clean`).
-- returns {{id, score, payload|nil, try, token, abort marker ms or 0, recovered 0|1}, ...}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
if ARGV[5] == '1' then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('(%d', now - 86400000))
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now),
  'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
-- Markers are rare: look them up only when the abort set has any.
local markers = ARGV[5] == '1' and redis.call('ZCARD', KEYS[2]) > 0
local out = {}
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
    local payload = redis.call('GET', ARGV[6] .. id)
    local aborted = 0
    if markers then
      local marker = redis.call('ZSCORE', KEYS[2], id)
      if marker then
        redis.call('ZREM', KEYS[2], id)
        aborted = tonumber(marker)
      end
    end
    out[#out + 1] = {id, due[i + 1], payload, try, token, aborted, recovered}
  end
end
return out
