#!lua
-- written.lua -- KEYS leases stats retries; ARGV urls.
local n = 0
for i = 1, #ARGV do
  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
    n = n + 1; redis.call('HDEL', KEYS[3], ARGV[i])
  end
end
if n > 0 then
  redis.call('HINCRBY', KEYS[2], 'written', n); redis.call('HINCRBY', KEYS[2], 'parsed', n)
end
return n
