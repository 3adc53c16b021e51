#!lua
-- lease.lua -- KEYS ready active leases retries waiting; ARGV now deadline max
-- per_host. Takes the hosts whose time has come, earliest first (the heap's head),
-- at most min(per_host, the host's saved cap) URLs from each, up to max in all, and
-- checks those hosts out (ready -> active). Returns one entry per host: {host, cap,
-- until, delay, url, attempt, url, attempt, ...}; cap/until/delay are the saved
-- state, '0' when none. A ready host with an empty queue just leaves ready.
local P = string.match(KEYS[1], '^(zcrawl:{[^}]*}:)')
local now, max, per = tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[4])
local hosts = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, max)
local out, n, CHUNK = {}, 0, 1000
for _, h in ipairs(hosts) do
  if n >= max then break end
  local st = redis.call('HMGET', P .. 'host:' .. h, 'cap', 'until', 'delay')
  local take, cap = per, tonumber(st[1])
  if cap and cap >= 1 and cap < take then take = cap end
  if take > max - n then take = max - n end
  local urls = redis.call('LPOP', P .. 'q:' .. h, take)
  redis.call('ZREM', KEYS[1], h)
  if urls then
    redis.call('ZADD', KEYS[2], now, h)
    local e = {h, st[1] or '0', st[2] or '0', st[3] or '0'}
    -- One ZADD and one HMGET a chunk, not a call each a URL (Lua's unpack takes
    -- some thousands of values at most).
    for i = 1, #urls, CHUNK do
      local j, zargs, part = math.min(i + CHUNK - 1, #urls), {}, {}
      for k = i, j do
        zargs[#zargs+1] = ARGV[2]; zargs[#zargs+1] = urls[k]; part[#part+1] = urls[k]
      end
      redis.call('ZADD', KEYS[3], unpack(zargs))
      local att = redis.call('HMGET', KEYS[4], unpack(part))
      for k = 1, #part do e[#e+1] = part[k]; e[#e+1] = att[k] or '0' end
    end
    n = n + #urls
    out[#out+1] = e
  end
end
if n > 0 then redis.call('DECRBY', KEYS[5], n) end
return out
