-- route: where a player's session lives, and whether its owner still
-- holds its lease.
--
-- KEYS[1] the session's key
-- ARGV[1] prefix
-- Returns {room, node, owner url, kind, alive ('1' or '0')}, or {} when
-- unknown. A route whose owner died is still answered (alive '0') until
-- it expires, so the player hears that its node is gone rather than that
-- its session never existed.
local s = redis.call('HMGET', KEYS[1], 'room', 'node', 'fence', 'kind')
if not s[1] or not s[2] then
  return {}
end
if not fence_alive(ARGV[1], s[3]) then
  return {s[1], s[2], '', s[4] or '', '0'}
end
local url = redis.call('HGET', node_key(ARGV[1], s[2]), 'public_url')
return {s[1], s[2], url or '', s[4] or '', '1'}
