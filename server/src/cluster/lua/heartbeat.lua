-- heartbeat: refreshes this node's lease and publishes every room it owns,
-- all as absolute values written by the owner (never INCR/DECR, so a lost
-- or repeated call cannot make a count drift).
--
-- KEYS[1] node hash, KEYS[2] nodes zset, KEYS[3] node's rooms set,
-- KEYS[4] matchmaking zset
-- ARGV[1] prefix, [2] node id, [3] boot id, [4] public url,
--   [5] lease ttl ms, [6] draining 0/1, [7] server version,
--   [8] players on the node,
--   [9] n = seats whose players the room counts now, then n pairs
--       (room, ticket) to release from held,
--   then m = rooms, then 9 strings per room (see publish_room)
-- Returns {'ok', live nodes, fresh, room ids held by another live node...,
--   '!' .. id of each room the cluster declared lost (`lose`)...},
--   where fresh is '1' when the lease key was gone (first start, a lapsed
--   lease, or Redis lost its data: the caller rewrites its rooms' feeds),
--   or {'taken', boot id} while another start of this node id holds the
--   lease.
local p, nid, boot, url = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local ttl, draining = tonumber(ARGV[5]), ARGV[6]
local now = now_ms()
local fence = nid .. ':' .. boot

local holder = redis.call('HGET', KEYS[1], 'boot_id')
if holder and holder ~= boot then
  return {'taken', holder}
end

local at = 9
local seated = tonumber(ARGV[at])
for k = 1, seated do
  redis.call('ZREM', room_key(p, ARGV[at + 2 * k - 1]) .. ':held', ARGV[at + 2 * k])
end
at = at + 2 * seated + 1

local old = redis.call('SMEMBERS', KEYS[3])
redis.call('DEL', KEYS[3])
local mine, conflicts, published = {}, {}, 0
for k = 0, tonumber(ARGV[at]) - 1 do
  local b = at + k * 9
  local r = {ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], ARGV[b + 5],
             ARGV[b + 6], ARGV[b + 7], ARGV[b + 8], ARGV[b + 9]}
  if redis.call('HGET', room_key(p, r[1]) .. ':feed', 'closed') == 'server_lost' then
    -- The cluster declared the room lost while this node was cut off
    -- past its lease (`lose`): never offered again; the caller ends it.
    conflicts[#conflicts + 1] = '!' .. r[1]
  elseif publish_room(p, KEYS[4], KEYS[3], nid, fence, url, draining, now, ttl, r) then
    mine[r[1]] = true
    published = published + 1
  else
    conflicts[#conflicts + 1] = r[1]
  end
end
-- Rooms this incarnation published before and has closed since; not one
-- it is offering to another node (`offer`: `settle` withdraws it if no
-- node takes it).
for _, id in ipairs(old) do
  local until_ms = redis.call('HGET', room_key(p, id), 'handover_until')
  if not mine[id] and not (until_ms and tonumber(until_ms) > now) then
    withdraw_room(p, KEYS[4], fence, id)
  end
end
redis.call('PEXPIRE', KEYS[3], ttl)

redis.call('HSET', KEYS[1], 'public_url', url, 'boot_id', boot, 'rooms', published,
  'players', ARGV[8], 'draining', draining, 'version', ARGV[7], 'refreshed_ms', now)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], now + ttl, nid)
-- Leases past their deadline leave the node index (their entries have
-- expired by themselves).
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)

local out = {'ok', tostring(redis.call('ZCARD', KEYS[2])), holder and '0' or '1'}
for _, id in ipairs(conflicts) do
  out[#out + 1] = id
end
return out
