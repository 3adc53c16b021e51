#!lua
-- recover.lua -- KEYS active ready; ARGV now [host...]. After a broker restart nobody
-- holds a checked-out host: every one goes back to ready, at its back-off time if
-- that is later. Given hosts (strays: checked out, yet the broker holds none of
-- their URLs), only those of them still checked out go back.
local P = string.match(KEYS[1], '^(zcrawl:{[^}]*}:)')
local now = tonumber(ARGV[1])
local hs
if #ARGV > 1 then
  hs = {}
  for i = 2, #ARGV do
    if redis.call('ZSCORE', KEYS[1], ARGV[i]) then hs[#hs + 1] = ARGV[i] end
  end
else
  hs = redis.call('ZRANGE', KEYS[1], 0, -1)
end
for _, h in ipairs(hs) do
  redis.call('ZREM', KEYS[1], h)
  if redis.call('LLEN', P .. 'q:' .. h) > 0 then
    local t = tonumber(redis.call('HGET', P .. 'host:' .. h, 'until')) or 0
    if t < now then t = now end
    redis.call('ZADD', KEYS[2], t, h)
  end
end
return #hs
