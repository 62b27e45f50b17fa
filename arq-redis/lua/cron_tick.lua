-- cron_tick: enqueue cron ticks, each at most once across every worker and every clock.
-- A unique tick is claimed with a marker key (SET, with a TTL longer than the schedule's period
-- plus any clock skew) in the same step as its enqueue, so a slow or skewed worker cannot enqueue
-- a tick again after its job finished and left no key (python-arq #196/#459, reliability D7).
-- The score is the tick, or the server's clock when that is later (arq 0.26.3, #479); "now"
-- is the server's clock for every worker (reliability D3).
-- KEYS[1] queue, KEYS[2] abort set, then for each tick i (from 0):
--   KEYS[3+3i] tick marker, KEYS[4+3i] job key, KEYS[5+3i] result key
-- ARGV for each tick i: ARGV[1+4i] job id, ARGV[2+4i] payload, ARGV[3+4i] tick ms,
--   ARGV[4+4i] marker TTL in ms ('' for no marker: the job id alone de-duplicates)
-- returns {now, outcome...}: 1 enqueued, 0 already claimed, 2 job or result exists (marked now)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {now}
local n = (#KEYS - 2) / 3
for i = 0, n - 1 do
  local marker, job, result = KEYS[3 + 3 * i], KEYS[4 + 3 * i], KEYS[5 + 3 * i]
  local id, payload = ARGV[1 + 4 * i], ARGV[2 + 4 * i]
  local tick, ttl = tonumber(ARGV[3 + 4 * i]), ARGV[4 + 4 * i]
  if ttl ~= '' and redis.call('EXISTS', marker) == 1 then
    out[#out + 1] = 0
  else
    if ttl ~= '' then
      redis.call('SET', marker, string.format('%d', now), 'PX', ttl)
    end
    if redis.call('EXISTS', job, result) > 0 then
      out[#out + 1] = 2
    else
      local score = tick
      if score < now then
        score = now
      end
      redis.call('PSETEX', job, string.format('%d', score - now + 86400000), payload)
      redis.call('ZADD', KEYS[1], string.format('%d', score), id)
      -- A stale abort marker for this id must not cancel the new job (arq #485).
      redis.call('ZREM', KEYS[2], id)
      out[#out + 1] = 1
    end
  end
end
return out
