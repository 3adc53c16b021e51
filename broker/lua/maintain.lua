#!lua
-- maintain.lua -- KEYS leases frontier delayed stats waiting retries dead; ARGV now
-- limit max_retries. Expired leases and due retries go back to the head of their
-- hosts' queues; an expired lease counts an attempt (the page may be one that
-- kills whoever holds it), and a URL whose attempts pass max_retries becomes a
-- dead letter ("lease expired N times") instead. URLs in the single list
-- frontier (a crawl begun by an older broker, or a script that still pushes
-- there) move to their hosts' queues.
-- include: _push.lua
local now, max = tonumber(ARGV[1]), tonumber(ARGV[3])
local exp = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local back, dead = 0, 0
for _, u in ipairs(exp) do
  redis.call('ZREM', KEYS[1], u)
  local n = redis.call('HINCRBY', KEYS[6], u, 1)
  if n > max then
    redis.call('RPUSH', KEYS[7], cjson.encode({url = u, stage = 'broker',
      reason = 'lease expired ' .. n .. ' times', time = now}))
    dead = dead + 1
  else
    push(u, true, now); back = back + 1
  end
end
if #exp > 0 then redis.call('HINCRBY', KEYS[4], 'expired', #exp) end
if dead > 0 then redis.call('HINCRBY', KEYS[4], 'dead', dead) end
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, u in ipairs(due) do redis.call('ZREM', KEYS[3], u); push(u, true, now) end
local old = redis.call('LPOP', KEYS[2], tonumber(ARGV[2])) or {}
for _, u in ipairs(old) do push(u, false, now) end
local moved = back + #due + #old
if moved > 0 then redis.call('INCRBY', KEYS[5], moved) end
return moved
