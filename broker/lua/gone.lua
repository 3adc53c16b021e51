#!lua
-- gone.lua -- KEYS leases gone stats; ARGV url status.
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[3], 'gone', 1)
return 1
