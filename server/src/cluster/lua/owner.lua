-- owner: the live node that owns one room, for a node whose cached
-- survey does not list it yet (the room is newer than the survey).
--
-- KEYS[1] the room's key
-- ARGV[1] prefix
-- Returns {node, url}, or {} when no live node owns the room.
local h = redis.call('HMGET', KEYS[1], 'owner', 'fence', 'url')
if not h[1] or not fence_alive(ARGV[1], h[2]) then
  return {}
end
return {h[1], h[3] or ''}
