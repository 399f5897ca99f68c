-- lose: closes the log of a room whose writer is gone (its lease ran out:
-- the node was killed, lost power, or paused past its lease), so every
-- reader on every node learns it from the log itself. Any node may call
-- it; it acts only while the writer's lease is gone, and once.
--
-- The `closed` entry takes the next id after the log's head (the dead
-- writer issues no more), is chained on that head like any entry, and
-- is published in the channel's format, so followers append it as the
-- next event. The snapshot stays: a closed entry changes no state, so the
-- snapshot is true as of the new head too. The feed's `closed` is
-- 'server_lost' from now on, which `append` answers with `fenced`: the
-- writer, should it come back, can never write under this id or after it.
-- The room's directory entry, its seats and its offer go with it.
--
-- KEYS[1] room hash, KEYS[2] log stream, KEYS[3] feed hash
-- ARGV[1] prefix, [2] feed ttl ms, [3] channel, [4] room id
-- (The stream is not trimmed: its writer is gone, so it grows by this
-- one entry and expires with the feed.)
-- Returns {'lost', id} (closed now, under id), {'closed', reason} (closed
--   already), {'alive'} (its writer holds its lease) or {'empty'} (no log).
local p = ARGV[1]
local h = redis.call('HMGET', KEYS[3], 'last', 'closed', 'fence', 'snap')
if h[2] then
  return {'closed', h[2]}
end
if not h[1] or not h[4] then
  return {'empty'}
end
if not h[3] or fence_alive(p, h[3]) then
  return {'alive'}
end
-- Ids are below 2^53, exact in a Lua number; %.0f prints them whole.
local id = string.format('%.0f', tonumber(h[1]) + 1)
local entry = '{"id":' .. id .. ',"event":"closed","data":{"reason":"server_lost"}}'
redis.call('XADD', KEYS[2], id .. '-0', 'p', h[1], 'e', entry)
redis.call('HSET', KEYS[3], 'last', id, 'snap_at', id, 'closed', 'server_lost')
redis.call('PEXPIRE', KEYS[3], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('PUBLISH', ARGV[3], '{"entries":[[' .. h[1] .. ',' .. id .. ',' .. entry ..
  ']],"snap":' .. h[4] .. ',"snap_at":' .. id .. ',"closed":"server_lost"}')
withdraw_room(p, p .. ':mm', h[3], ARGV[4])
return {'lost', id}
