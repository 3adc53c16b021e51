#!lua
-- dead.lua -- KEYS leases dead stats; ARGV url dead_json stage.
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('HINCRBY', KEYS[3], 'dead', 1)
if ARGV[3] == 'parse' then redis.call('HINCRBY', KEYS[3], 'parsed', 1) end
return 1
