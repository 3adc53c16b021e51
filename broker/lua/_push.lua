-- _push.lua -- included by the scripts that queue URLs ("-- include: _push.lua"),
-- never loaded alone.
--
-- The per-host frontier (Mercator's back queues and heap; docs/REDIS.md): a LIST
-- q:<host> per host, the ZSET ready of hosts that have URLs waiting scored by the
-- wall-clock ms at which each may be fetched next, the ZSET active of hosts the
-- broker has checked out (it holds some of their URLs; it puts them back in ready
-- when it has room for more), the HASH host:<host> of a host's saved politeness
-- (cap, back-off until, delay) and the counter waiting (URLs in all q:<host>).
-- Every one of these keys starts with the crawl's prefix zcrawl:{crawl}:, so it
-- lies in the crawl's cluster slot; scripts build them from KEYS[1]'s prefix.
-- hostof() reads host:port from the URL's text; for every URL zc_url_canonical
-- accepts that is the host:port zc_url_host() gets from libcurl (it refuses a host
-- libcurl reads otherwise, and credentials; tests/fuzz/fuzz_url.c holds the two
-- to it). push() queues a URL and makes its host ready unless the broker has it
-- checked out. clock() is Redis's time in ms, for scripts given none.
local P = string.match(KEYS[1], '^(zcrawl:{[^}]*}:)')
local function hostof(u)
  local s, a = string.match(u, '^(%a+)://([^/?#]*)')
  if not s then return '?' end
  a = string.match(a, '^.*@(.*)$') or a
  local h, p
  if string.sub(a, 1, 1) == '[' then h, p = string.match(a, '^(%[[^%]]*%])(.*)$') end
  if not h then h, p = string.match(a, '^([^:]*)(.*)$') end
  p = tonumber(string.sub(p, 2))
  if not p then if string.lower(s) == 'https' then p = 443 else p = 80 end end
  return string.lower(h) .. ':' .. string.format('%d', p)
end
local touched = {}
local function push(u, head, now)
  local h = hostof(u)
  if head then redis.call('LPUSH', P .. 'q:' .. h, u) else redis.call('RPUSH', P .. 'q:' .. h, u) end
  if touched[h] then return end
  touched[h] = true
  if not redis.call('ZSCORE', P .. 'active', h) then
    local t = tonumber(redis.call('HGET', P .. 'host:' .. h, 'until')) or 0
    if t < now then t = now end
    redis.call('ZADD', P .. 'ready', 'NX', t, h)
  end
end
local function clock()
  local t = redis.call('TIME'); return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
