#!lua
-- maintain.lua -- KEYS leases frontier delayed stats waiting; ARGV now limit.
-- Expired leases and due retries go back to the head of their hosts' queues; URLs
-- in the single list frontier (a crawl begun by an older broker, or a script that
-- still pushes there) move to their hosts' queues.
-- include: _push.lua
local now = tonumber(ARGV[1])
local exp = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, u in ipairs(exp) do redis.call('ZREM', KEYS[1], u); push(u, true, now) end
if #exp > 0 then redis.call('HINCRBY', KEYS[4], 'expired', #exp) end
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, u in ipairs(due) do redis.call('ZREM', KEYS[3], u); push(u, true, now) end
local old = redis.call('LPOP', KEYS[2], tonumber(ARGV[2])) or {}
for _, u in ipairs(old) do push(u, false, now) end
local moved = #exp + #due + #old
if moved > 0 then redis.call('INCRBY', KEYS[5], moved) end
return moved
