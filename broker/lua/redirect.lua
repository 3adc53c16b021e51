#!lua
-- redirect.lua -- KEYS leases seen waiting stats; ARGV url [fingerprint target]:
-- the seen set as discover.lua keeps it, the target queued at its host like a
-- discovered URL.
-- include: _push.lua
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return -1 end
redis.call('HINCRBY', KEYS[4], 'redirected', 1)
if not ARGV[2] then return 0 end
local fp = ARGV[2]
local bucket = KEYS[2] .. ':' .. string.format('%02x%02x', fp:byte(1), fp:byte(2))
if redis.call('HSETNX', bucket, string.sub(fp, 3), '') == 1 then
  push(ARGV[3], false, clock()); redis.call('INCR', KEYS[3])
  redis.call('HINCRBY', KEYS[4], 'discovered', 1)
  return 1
end
return 0
