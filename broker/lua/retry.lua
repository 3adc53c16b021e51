#!lua
-- retry.lua -- KEYS leases retries delayed dead stats; ARGV url retry_after base
-- max max_retries now rand dead_json.
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
local n = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
if n > tonumber(ARGV[5]) then
  redis.call('RPUSH', KEYS[4], ARGV[8])
  redis.call('HINCRBY', KEYS[5], 'dead', 1)
  return -2
end
local d = tonumber(ARGV[3]) * math.pow(2, n - 1)
if d > tonumber(ARGV[4]) then d = tonumber(ARGV[4]) end
d = d / 2 + d / 2 * tonumber(ARGV[7])
if d < tonumber(ARGV[2]) then d = tonumber(ARGV[2]) end
redis.call('ZADD', KEYS[3], tonumber(ARGV[6]) + math.floor(d), ARGV[1])
redis.call('HINCRBY', KEYS[5], 'retried', 1)
return n
