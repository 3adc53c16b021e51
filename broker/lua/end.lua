#!lua
-- end.lua -- KEYS meta; ARGV run_id state reason now written. Ends our run, only if
-- the meta is still ours.
if redis.call('HGET', KEYS[1], 'run_id') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'reason', ARGV[3], 'ended_at', ARGV[4], 'written', ARGV[5])
return 1
