#!lua
-- shift.lua -- KEYS leases; ARGV ms: every open lease ends ms later.
local m = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, u in ipairs(m) do redis.call('ZINCRBY', KEYS[1], ARGV[1], u) end
return #m
