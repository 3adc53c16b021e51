#!lua
-- robots_done.lua -- KEYS leases excluded stats robots; ARGV url record ttl. The
-- broker's robots.txt request answered, in one step instead of two: a record
-- (not '') is cached at KEYS[4] for ttl seconds, and when the URL was a crawled
-- URL too its lease closes as excluded "robots_txt" (exclude.lua). Returns 1 when
-- a lease closed, else 0.
if ARGV[2] ~= '' then redis.call('SET', KEYS[4], ARGV[2], 'EX', ARGV[3]) end
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], 'robots_txt')
redis.call('HINCRBY', KEYS[3], 'excluded', 1)
return 1
