-- Prepended to every Skirmish script at build time (see cluster/redis.rs):
-- key names, the clock, liveness, and the rules of a room's entry and
-- seats, so each rule is written once.
--
-- Keys under the prefix p (braces are Redis Cluster hash tags):
--   p:nodes                  ZSET node id -> lease deadline (ms)
--   p:node:{nid}             HASH the node's lease (PEXPIRE = lease ttl)
--   p:node:{nid}:rooms       SET  the rooms it owns
--   p:room:{id}              HASH a room's entry, written by its owner
--                                 (handover, handover_to, handover_until:
--                                 an open offer to another node, `offer`)
--   channel p:node:{nid}:handover  rooms offered to that node (`offer`)
--   p:room:{id}:seats        ZSET seat ticket -> expiry (reserved, waiting)
--   p:room:{id}:held         ZSET seat ticket -> expiry (player arrived,
--                                 not yet in the owner's published count)
--   p:mm                     ZSET open public room -> seats taken
--   p:sess:{selector}        HASH where a player's session lives
--   p:room:{id}:log          STREAM the room's event log, entry ids <id>-0,
--                                 fields p (the previous entry's id), e (the
--                                 entry as a poll page lists it)
--   p:room:{id}:feed         HASH last (newest id), snap (snapshot JSON),
--                                 snap_at (its id), closed (reason)
--   channel p:room:{id}:ev   one message per append batch (see log_writer.rs)
--   p:ticker                 HASH the cluster ticker's last (newest id), snap
--                                 (the board JSON), snap_at (its id)
--   p:ticker:log             STREAM the ticker's entries, as a room's log
--   channel p:ticker:ev      one message per ticker_append, as a room's
--   p:board                  HASH fence -> that node's own top lines (JSON)

-- Milliseconds by Redis's clock: one clock for every node.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function node_key(p, nid)
  return p .. ':node:{' .. nid .. '}'
end

local function room_key(p, id)
  return p .. ':room:{' .. id .. '}'
end

-- Whether the incarnation named by a fence ("nid:boot") holds its lease:
-- its node entry exists (it expires with the lease) with that boot id.
local function fence_alive(p, fence)
  if not fence then
    return false
  end
  local nid, boot = string.match(fence, '^(.*):([^:]*)$')
  if not nid then
    return false
  end
  return redis.call('HGET', node_key(p, nid), 'boot_id') == boot
end

-- Seats reserved or held in the room at rk, expired ones dropped first.
local function reserved(rk, now)
  redis.call('ZREMRANGEBYSCORE', rk .. ':seats', '-inf', now)
  redis.call('ZREMRANGEBYSCORE', rk .. ':held', '-inf', now)
  return redis.call('ZCARD', rk .. ':seats') + redis.call('ZCARD', rk .. ':held')
end

-- A room is offered to matchmaking, ranked by seats taken, exactly while
-- it is open, public and has a free seat.
local function offer(mm, id, open, taken, max)
  if open and taken < max then
    redis.call('ZADD', mm, taken, id)
  else
    redis.call('ZREM', mm, id)
  end
end

-- Takes room id out of the directory and the offer, if the incarnation
-- `fence` still owns it.
local function withdraw_room(p, mm, fence, id)
  local rk = room_key(p, id)
  if redis.call('HGET', rk, 'fence') == fence then
    redis.call('DEL', rk, rk .. ':seats', rk .. ':held')
    redis.call('ZREM', mm, id)
  end
end

-- Writes room r's entry for the incarnation (nid, fence) unless another
-- live incarnation holds that id. r = {id, public, players, max,
-- spectators, bots, tick, tick_hz, round_ms_left} as strings.
-- Returns false on such a conflict.
local function publish_room(p, mm, rooms_set, nid, fence, url, draining, now, ttl, r)
  local rk = room_key(p, r[1])
  local holder = redis.call('HGET', rk, 'fence')
  if holder and holder ~= fence and fence_alive(p, holder) then
    return false
  end
  local players, max = tonumber(r[3]), tonumber(r[4])
  local state = 'open'
  if draining == '1' then
    state = 'draining'
  end
  redis.call('HSET', rk,
    'owner', nid, 'fence', fence, 'url', url, 'public', r[2],
    'players', players, 'max', max, 'spectators', r[5], 'bots', r[6],
    'tick', r[7], 'tick_hz', r[8], 'round_ends_ms', now + tonumber(r[9]),
    'state', state, 'published_ms', now)
  redis.call('PEXPIRE', rk, ttl)
  redis.call('SADD', rooms_set, r[1])
  offer(mm, r[1], r[2] == '1' and state == 'open', players + reserved(rk, now), max)
  return true
end

-- Reserves one seat in room id for ticket, counting players, reserved and
-- held seats against the cap. Returns {'ok', id, owner, url, ttl} or
-- {'gone'} (no live owner), {'closed'} (draining) or {'full'}.
local function reserve_seat(p, mm, id, ticket, seat_ttl, now)
  local rk = room_key(p, id)
  local h = redis.call('HMGET', rk, 'owner', 'fence', 'url', 'public', 'players', 'max', 'state')
  if not h[1] or not fence_alive(p, h[2]) then
    redis.call('ZREM', mm, id)
    return {'gone'}
  end
  if h[7] ~= 'open' or redis.call('HGET', node_key(p, h[1]), 'draining') == '1' then
    redis.call('ZREM', mm, id)
    return {'closed'}
  end
  local max = tonumber(h[6])
  local taken = tonumber(h[5]) + reserved(rk, now)
  if taken >= max then
    redis.call('ZREM', mm, id)
    return {'full'}
  end
  redis.call('ZADD', rk .. ':seats', now + seat_ttl, ticket)
  -- Every member expires by then, so the key may too.
  redis.call('PEXPIRE', rk .. ':seats', seat_ttl)
  offer(mm, id, h[4] == '1', taken + 1, max)
  return {'ok', id, h[1], h[3], tostring(seat_ttl)}
end

