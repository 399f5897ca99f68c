-- append: the owner copies one batch of the event log of each of several
-- rooms (a writer round's rooms, see log_writer.rs): per room the fence
-- check, stream entries, the feed's head and snapshot, and the publish to
-- followers, as one step (a follower that reads the stream after
-- subscribing therefore misses nothing: what the read lacks, the channel
-- brings). One call for many rooms because what a small call costs Redis
-- is mostly the call itself (docs/benchmarks.md).
--
-- Each room is answered on its own: a fenced or lost room, or one whose
-- commands fail, does not keep the others from being written.
--
-- The keys of several rooms in one call need one Redis (or Valkey): in a
-- Redis Cluster they would hash to different slots, which it refuses. A
-- cluster-sharded deployment would split each round by the slot of the
-- room's hash tag ({id}) and send one call per slot.
--
-- KEYS: per room, in order: room hash, log stream, feed hash
-- ARGV[1] prefix, [2] fence (nid:boot), [3] stream length to keep (~),
--   [4] feed ttl ms, [5] number of rooms, then per room, in KEYS' order:
--   channel, message to publish ('' for none), snapshot, its id, closed
--   reason or '', '1' to refresh the feed's and stream's ttl or '' (the
--   writer asks about once a minute, see log_writer.rs), n, then n
--   triples (prev id, id, entry JSON)
-- Returns per room, in order: {'ok', last id}, or {'fenced', holder} when
--   another live incarnation owns the room, or {'fenced', 'lost'} when the
--   room was declared lost (`lose`, after this incarnation's lease ran
--   out): its log is closed for good, and nothing is ever appended after
--   the `closed` entry `lose` wrote; or {'failed', why} when a command
--   failed (the writer resends that room from its ring).
-- Ids stay strings: Lua numbers are doubles, exact below 2^53 (every id
-- is), but tostring would print large ones in exponent form.
local p, fence, maxlen, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
-- The feed names its writer, so `lose` can tell when that writer's lease
-- is gone. Only a leased writer names itself: one whose lease lapsed (or
-- whose lease a Redis restarted empty has not seen yet) must not make a
-- live room look abandoned. The same for every room of the call.
local leased = fence_alive(p, fence)

-- Room r's batch, its arguments from ARGV[a] on.
local function append_room(room, log, feed, a)
  local holder = redis.call('HGET', room, 'fence')
  if holder and holder ~= fence and fence_alive(p, holder) then
    return {'fenced', holder}
  end
  local h = redis.call('HMGET', feed, 'closed', 'last', 'snap_at')
  if h[1] == 'server_lost' then
    return {'fenced', 'lost'}
  end
  local last = h[2] or '0'
  for b = a + 7, a + 6 + tonumber(ARGV[a + 6]) * 3, 3 do
    -- Ids at or below the head were written already (a retried batch).
    if tonumber(ARGV[b + 1]) > tonumber(last) then
      local added = redis.pcall('XADD', log, 'MAXLEN', '~', maxlen, ARGV[b + 1] .. '-0',
                                'p', ARGV[b], 'e', ARGV[b + 2])
      if type(added) ~= 'table' or not added.err then
        last = ARGV[b + 1]
      end
    end
  end
  local set = {}
  if leased then
    set[#set + 1] = 'fence'
    set[#set + 1] = fence
  end
  local snap_at = ARGV[a + 3]
  if tonumber(snap_at) >= tonumber(h[3] or '0') then
    set[#set + 1] = 'snap'
    set[#set + 1] = ARGV[a + 2]
    set[#set + 1] = 'snap_at'
    set[#set + 1] = snap_at
    if tonumber(snap_at) > tonumber(last) then
      last = snap_at
    end
  end
  set[#set + 1] = 'last'
  set[#set + 1] = last
  if ARGV[a + 4] ~= '' then
    set[#set + 1] = 'closed'
    set[#set + 1] = ARGV[a + 4]
  end
  redis.call('HSET', feed, unpack(set))
  -- The ttls only bound what a dead node leaves behind, so the writer
  -- refreshes them about once a minute, not at every batch: two commands
  -- of a room's eight. A feed that had no head was just created here (a
  -- first write, or Redis lost it), so it gets its ttl at once whatever
  -- the writer asked. A missing stream (a batch of no new entries) is
  -- left missing.
  if ARGV[a + 5] == '1' or not h[2] then
    redis.call('PEXPIRE', feed, ttl)
    redis.call('PEXPIRE', log, ttl)
  end
  if ARGV[a + 1] ~= '' then
    redis.call('PUBLISH', ARGV[a], ARGV[a + 1])
  end
  return {'ok', last}
end

local answers = {}
local a = 6
for r = 0, tonumber(ARGV[5]) - 1 do
  local ok, answer = pcall(append_room, KEYS[r * 3 + 1], KEYS[r * 3 + 2], KEYS[r * 3 + 3], a)
  if not ok then
    -- redis.call raises its error as a table with `err`.
    if type(answer) == 'table' and answer.err then
      answer = answer.err
    end
    answer = {'failed', tostring(answer)}
  end
  answers[r + 1] = answer
  a = a + 7 + tonumber(ARGV[a + 6]) * 3
end
return answers
