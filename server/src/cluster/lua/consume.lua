-- consume: the owner takes the reserved seat of the player presenting its
-- ticket. The seat moves from reserved to held, still counted, until the
-- owner's next heartbeat publishes a player count that includes it.
--
-- KEYS[1] the room's seats zset, KEYS[2] its held zset
-- ARGV[1] ticket, [2] held ttl ms (a lease: past it the owner is dead)
-- Returns 1 for a reserved, unexpired ticket (now spent), else 0.
local now = now_ms()
local expires = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expires then
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
if tonumber(expires) <= now then
  return 0
end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
