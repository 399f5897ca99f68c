-- route: where a player's session lives, if its owner still holds its
-- lease.
--
-- KEYS[1] the session's key
-- ARGV[1] prefix
-- Returns {room, node, owner url, kind}, or {} when unknown or orphaned.
local s = redis.call('HMGET', KEYS[1], 'room', 'node', 'fence', 'kind')
if not s[1] or not fence_alive(ARGV[1], s[3]) then
  return {}
end
local url = redis.call('HGET', node_key(ARGV[1], s[2]), 'public_url')
return {s[1], s[2], url or '', s[4] or ''}
