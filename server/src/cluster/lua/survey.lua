-- survey: every live node and the rooms it owns, as of Redis's clock.
-- A room counts only while its entry carries its owner's current fence.
--
-- KEYS[1] nodes zset
-- ARGV[1] prefix
-- Returns {nodes, rooms}, each a list of string lists:
--   node: id, public url, boot id, rooms, players, draining, lease ms left
--   room: id, node, url, public, players, max, spectators, bots, tick,
--         tick_hz, round ms left
local p = ARGV[1]
local now = now_ms()
local live = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf', 'WITHSCORES')
local nodes, rooms = {}, {}
for i = 1, #live, 2 do
  local nid = live[i]
  local nk = node_key(p, nid)
  local n = redis.call('HMGET', nk, 'public_url', 'boot_id', 'rooms', 'players', 'draining')
  if n[1] and n[2] then
    nodes[#nodes + 1] = {nid, n[1], n[2], n[3] or '0', n[4] or '0', n[5] or '0',
                         tostring(math.max(0, tonumber(live[i + 1]) - now))}
    local fence = nid .. ':' .. n[2]
    for _, id in ipairs(redis.call('SMEMBERS', nk .. ':rooms')) do
      local h = redis.call('HMGET', room_key(p, id), 'fence', 'public', 'players', 'max',
                           'spectators', 'bots', 'tick', 'tick_hz', 'round_ends_ms')
      if h[1] == fence then
        rooms[#rooms + 1] = {id, nid, n[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8],
                             tostring(math.max(0, tonumber(h[9]) - now))}
      end
    end
  end
end
return {nodes, rooms}
