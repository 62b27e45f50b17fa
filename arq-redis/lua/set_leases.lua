-- set_leases: set the in-progress TTL of jobs the caller still holds (fenced by token).
-- ARGV[1] in-progress key prefix, then triples: job id, token, ttl ms
-- returns how many leases were set
local n = 0
for i = 2, #ARGV, 3 do
  local key = ARGV[1] .. ARGV[i]
  if redis.call('GET', key) == ARGV[i + 1] then
    redis.call('PEXPIRE', key, ARGV[i + 2])
    n = n + 1
  end
end
return n
