-- release: drop a held job's lease, leaving it queued (shutdown; Python arq's DEL in-progress).
-- KEYS[1] in-progress; ARGV[1] token. Returns 1 when released, 0 when not held.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
