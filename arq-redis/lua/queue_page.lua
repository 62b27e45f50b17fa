-- queue_page: one page of a queue in score order, with each job's record and whether it is
-- running. A member whose job key is gone comes back with a nil record (never an error).
-- KEYS[1] queue; ARGV[1] offset, ARGV[2] count, ARGV[3] job prefix, ARGV[4] in-progress prefix
-- returns {now ms, {id, score, payload|nil, running 0/1}, ...}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local members = redis.call('ZRANGE', KEYS[1], ARGV[1], tonumber(ARGV[1]) + tonumber(ARGV[2]) - 1,
  'WITHSCORES')
local out = {now}
for i = 1, #members, 2 do
  local id = members[i]
  out[#out + 1] = {id, members[i + 1], redis.call('GET', ARGV[3] .. id),
    redis.call('EXISTS', ARGV[4] .. id)}
end
return out
