-- result: a job's result record and its queue score, read together.
-- KEYS[1] result, KEYS[2] queue; ARGV[1] job id
-- returns {result|nil, score|nil}
return {redis.call('GET', KEYS[1]), redis.call('ZSCORE', KEYS[2], ARGV[1])}
