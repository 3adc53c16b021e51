#!lua
-- hold.lua -- KEYS leases; ARGV deadline, urls: pushes each open lease to at least
-- deadline (never shortens one, never opens one).
local n = 0
for i = 2, #ARGV do
  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if s and tonumber(s) < tonumber(ARGV[1]) then
    redis.call('ZADD', KEYS[1], 'XX', ARGV[1], ARGV[i]); n = n + 1
  end
end
return n
