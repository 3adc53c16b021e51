#!lua
-- discover.lua -- KEYS seen leases stats waiting; ARGV parent now, then
-- fingerprint/url pairs. The seen set is 65536 hashes, KEYS[1]:0000 ..
-- KEYS[1]:ffff, chosen by the first two bytes of a URL's 8-byte fingerprint; the
-- other six bytes are the field. Small hashes are listpacks in Redis, about 10
-- bytes an entry (docs/REDIS.md). The bucket keys share the crawl's hash tag, so on
-- a cluster they live in its slot. A parent that is not leased adds nothing
-- (returns -1): only a page the crawl handed out may add URLs.
-- include: _push.lua
if ARGV[1] ~= '' then
  if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return -1 end
  redis.call('HINCRBY', KEYS[3], 'parsed', 1)
end
local added, now = 0, tonumber(ARGV[2])
for i = 3, #ARGV, 2 do
  local fp = ARGV[i]
  local bucket = KEYS[1] .. ':' .. string.format('%02x%02x', fp:byte(1), fp:byte(2))
  if redis.call('HSETNX', bucket, string.sub(fp, 3), '') == 1 then
    push(ARGV[i+1], false, now); added = added + 1
  end
end
if added > 0 then
  redis.call('HINCRBY', KEYS[3], 'discovered', added); redis.call('INCRBY', KEYS[4], added)
end
return added
