#!lua
-- requeue.lua -- KEYS leases waiting retries dead stats; ARGV url count max_retries
-- dead_json: back to the head of its host's queue. With count 1 (a JOB lost with
-- its fetcher, or never answered) it counts an attempt, and a URL whose attempts
-- pass max_retries becomes the dead letter dead_json instead (returns -2).
-- include: _push.lua
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
if ARGV[2] == '1' and redis.call('HINCRBY', KEYS[3], ARGV[1], 1) > tonumber(ARGV[3]) then
  redis.call('RPUSH', KEYS[4], ARGV[4])
  redis.call('HINCRBY', KEYS[5], 'dead', 1)
  return -2
end
push(ARGV[1], true, clock()); redis.call('INCR', KEYS[2]); return 1
