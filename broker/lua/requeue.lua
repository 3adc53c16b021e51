#!lua
-- requeue.lua -- KEYS leases waiting; ARGV url: back to the head of its host's
-- queue.
-- include: _push.lua
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  push(ARGV[1], true, clock()); redis.call('INCR', KEYS[2]); return 1
end
return 0
