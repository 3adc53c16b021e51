#!lua
-- begin.lua -- KEYS meta stats; ARGV run_id now url_form identity. Starts a run:
-- returns {previous state, ended_at, written, url_form, identity, dead letters}.
-- A crawl recorded with another identity (start URLs, spec, sink) is left as it
-- is ("identity": another crawl of the same name); a complete crawl is left as it
-- is; a crawl whose stats hash exists without meta lost its state ("lost") and is
-- left too; a crawl whose seen set holds fingerprints of another canonical form
-- ("url_form": begun by a zcrawl without the field, form 1, or with another one) is
-- left too, since its fingerprints would not match this broker's. A new crawl
-- records ours; one recorded without an identity takes ours.
local m = redis.call('HMGET', KEYS[1], 'state', 'ended_at', 'written', 'url_form', 'identity')
local st, form, id = m[1], m[4] or '1', m[5] or ''
local dead = redis.call('HGET', KEYS[2], 'dead') or '0'
if not st then
  if redis.call('EXISTS', KEYS[2]) == 1 then return {'lost', '0', '0', form, id, dead} end
  st, form = 'new', ARGV[3]
  redis.call('HSET', KEYS[1], 'created_at', ARGV[2], 'url_form', form)
elseif id ~= '' and ARGV[4] ~= '' and id ~= ARGV[4] then
  return {'identity', m[2] or '0', m[3] or '0', form, id, dead}
elseif st == 'complete' then
  return {st, m[2] or '0', m[3] or '0', form, id, dead}
elseif form ~= ARGV[3] then
  return {'url_form', m[2] or '0', m[3] or '0', form, id, dead}
end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'identity', ARGV[4]) end
redis.call('HSET', KEYS[1], 'state', 'running', 'run_id', ARGV[1], 'started_at', ARGV[2],
           'ended_at', '', 'reason', '')
return {st, m[2] or '0', m[3] or '0', form, id, dead}
