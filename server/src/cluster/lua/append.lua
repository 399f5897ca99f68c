-- append: the owner copies one batch of its room's event log: fence check,
-- stream entries, the feed's head and snapshot, and the publish to
-- followers, as one step (a follower that reads the stream after
-- subscribing therefore misses nothing: what the read lacks, the channel
-- brings).
--
-- KEYS[1] room hash, KEYS[2] log stream, KEYS[3] feed hash
-- ARGV[1] prefix, [2] fence (nid:boot), [3] stream length to keep (~),
--   [4] feed ttl ms, [5] channel, [6] message to publish ('' for none),
--   [7] snapshot, [8] its id, [9] closed reason or '',
--   [10] n, then n triples (prev id, id, entry JSON)
-- Returns {'ok', last id}, or {'fenced', holder} when another live
--   incarnation owns the room, or {'fenced', 'lost'} when the room was
--   declared lost (`lose`, after this incarnation's lease ran out): its
--   log is closed for good, and nothing is ever appended after the
--   `closed` entry `lose` wrote.
-- Ids stay strings: Lua numbers are doubles, exact below 2^53 (every id
-- is), but tostring would print large ones in exponent form.
local p, fence = ARGV[1], ARGV[2]
local holder = redis.call('HGET', KEYS[1], 'fence')
if holder and holder ~= fence and fence_alive(p, holder) then
  return {'fenced', holder}
end
if redis.call('HGET', KEYS[3], 'closed') == 'server_lost' then
  return {'fenced', 'lost'}
end
-- The feed names its writer, so `lose` can tell when that writer's lease
-- is gone. Only a leased writer names itself: one whose lease lapsed (or
-- whose lease a Redis restarted empty has not seen yet) must not make a
-- live room look abandoned.
if fence_alive(p, fence) then
  redis.call('HSET', KEYS[3], 'fence', fence)
end
local last = redis.call('HGET', KEYS[3], 'last') or '0'
for k = 0, tonumber(ARGV[10]) - 1 do
  local b = 11 + k * 3
  -- Ids at or below the head were written already (a retried batch).
  if tonumber(ARGV[b + 1]) > tonumber(last) then
    local added = redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], ARGV[b + 1] .. '-0',
                              'p', ARGV[b], 'e', ARGV[b + 2])
    if type(added) ~= 'table' or not added.err then
      last = ARGV[b + 1]
    end
  end
end
local snap_at = redis.call('HGET', KEYS[3], 'snap_at') or '0'
if tonumber(ARGV[8]) >= tonumber(snap_at) then
  redis.call('HSET', KEYS[3], 'snap', ARGV[7], 'snap_at', ARGV[8])
  if tonumber(ARGV[8]) > tonumber(last) then
    last = ARGV[8]
  end
end
redis.call('HSET', KEYS[3], 'last', last)
if ARGV[9] ~= '' then
  redis.call('HSET', KEYS[3], 'closed', ARGV[9])
end
redis.call('PEXPIRE', KEYS[3], ARGV[4])
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
if ARGV[6] ~= '' then
  redis.call('PUBLISH', ARGV[5], ARGV[6])
end
return {'ok', last}
