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
local out, n = {}, 0
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
    for _, u in ipairs(urls) do
      redis.call('ZADD', KEYS[3], ARGV[2], u)
      e[#e+1] = u; e[#e+1] = redis.call('HGET', KEYS[4], u) or '0'
    end
    n = n + #urls
    out[#out+1] = e
  end
end
if n > 0 then redis.call('DECRBY', KEYS[5], n) end
return out
