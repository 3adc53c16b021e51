#!lua
-- clamp.lua -- KEYS leases; ARGV deadline: no open lease ends later than deadline.
local m = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf')
for _, u in ipairs(m) do redis.call('ZADD', KEYS[1], ARGV[1], u) end
return #m
