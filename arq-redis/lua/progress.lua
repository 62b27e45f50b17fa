-- progress: store a running job's progress, fenced: only while the in-progress key holds the
-- caller's token (a worker that lost its lease writes nothing).
-- KEYS[1] in-progress, KEYS[2] progress, KEYS[3] the queue's event stream
-- ARGV[1] job id, ARGV[2] token, ARGV[3] the encoded value, ARGV[4] its TTL ms (at least 1),
-- ARGV[5] event stream length: write a `progress` event with the value, kept to about that
-- many entries ('' writes none)
-- returns 1 when stored, 0 when fenced out
if redis.call('GET', KEYS[1]) ~= ARGV[2] then
  return 0
end
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
if ARGV[5] ~= '' then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'e', 'progress', 'id', ARGV[1],
    'd', ARGV[3])
end
return 1
