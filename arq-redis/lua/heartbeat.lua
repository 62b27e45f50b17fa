-- heartbeat: renew the leases a worker holds (fenced by token) and read the dataset
-- generation, creating it when missing.
-- KEYS[1] generation key, KEYS[2..] in-progress keys
-- ARGV[1] a fresh generation value (used only when the key is missing), ARGV[2] the generation
-- the worker saw before ('' on its first beat), then pairs per in-progress key: token, lease ms
-- When the generation differs from the one the worker saw, the dataset was reset (a restart
-- without persistence, a flush): leases that vanished with it are taken again, so the jobs in
-- flight keep running and can store their results.
-- returns {generation, renewed flags...}
local gen = redis.call('GET', KEYS[1])
if not gen then
  gen = ARGV[1]
  redis.call('SET', KEYS[1], gen)
end
local reset = ARGV[2] ~= '' and gen ~= ARGV[2]
local out = {gen}
for i = 2, #KEYS do
  local a = (i - 2) * 2 + 3
  local cur = redis.call('GET', KEYS[i])
  if cur == ARGV[a] then
    redis.call('PEXPIRE', KEYS[i], ARGV[a + 1])
    out[#out + 1] = 1
  elseif reset and not cur then
    redis.call('SET', KEYS[i], ARGV[a], 'PX', ARGV[a + 1])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
