#!lua
-- release.lua -- KEYS ready active; ARGV groups of host, time, cap, until, delay.
-- Saves each host's state (cap '' leaves it, cap '0' deletes it) and, when time is
-- not -1, puts the checked-out host back in ready at time if it has URLs waiting.
local P = string.match(KEYS[1], '^(zcrawl:{[^}]*}:)')
for i = 1, #ARGV, 5 do
  local h = ARGV[i]
  if ARGV[i+2] == '0' then redis.call('DEL', P .. 'host:' .. h)
  elseif ARGV[i+2] ~= '' then
    redis.call('HSET', P .. 'host:' .. h, 'cap', ARGV[i+2], 'until', ARGV[i+3], 'delay', ARGV[i+4])
  end
  if ARGV[i+1] ~= '-1' then
    local was = redis.call('ZREM', KEYS[2], h)
    if redis.call('LLEN', P .. 'q:' .. h) > 0 then
      if was == 1 then redis.call('ZADD', KEYS[1], ARGV[i+1], h)
      else redis.call('ZADD', KEYS[1], 'NX', ARGV[i+1], h) end
    end
  end
end
return #ARGV / 5
