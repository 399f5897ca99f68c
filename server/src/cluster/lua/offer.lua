-- offer: a draining owner offers one of its rooms, whose round just ended,
-- to another node (a rolling deploy's handover, cluster/handover.rs). The
-- offer is marked on the room's entry (id, adopter, deadline) and the
-- record published on the adopter's handover channel, in one step: only
-- that adopter, with that id, before that deadline, can `takeover`.
--
-- KEYS[1] room hash, KEYS[2] feed hash
-- ARGV[1] prefix, [2] the owner's fence, [3] the log's last id the record
--   continues from, [4] handover id, [5] adopter node id, [6] offer window
--   ms, [7] the adopter's handover channel, [8] the record (JSON)
-- Returns {'offered'}; {'behind', last} while the owner's log writer has
--   not yet copied the log up to ARGV[3] (the adopter would continue over
--   a gap: ask again shortly); {'gone'} when the owner no longer holds the
--   room; {'absent'} when no connection listens on the channel (the
--   adopter is down or not subscribed: try another).
local h = redis.call('HMGET', KEYS[1], 'fence', 'handover_until')
if h[1] ~= ARGV[2] then
  return {'gone'}
end
local now = now_ms()
if h[2] and tonumber(h[2]) > now then
  -- One offer at a time: an earlier one's adopter may still take it.
  return {'behind', 'offer'}
end
local last = redis.call('HGET', KEYS[2], 'last') or '0'
if tonumber(last) < tonumber(ARGV[3]) then
  return {'behind', last}
end
if tonumber(last) > tonumber(ARGV[3]) then
  -- Nothing but this owner writes here; a longer log is not the one the
  -- record continues.
  return {'gone'}
end
local window = tonumber(ARGV[6])
redis.call('HSET', KEYS[1], 'handover', ARGV[4], 'handover_to', ARGV[5],
  'handover_until', now + window)
-- The entry outlives the offer even though its owner no longer publishes
-- the room (it left the owner's registry at its round's end).
if redis.call('PTTL', KEYS[1]) < 2 * window then
  redis.call('PEXPIRE', KEYS[1], 2 * window)
end
if redis.call('PUBLISH', ARGV[7], ARGV[8]) == 0 then
  redis.call('HDEL', KEYS[1], 'handover', 'handover_to', 'handover_until')
  return {'absent'}
end
return {'offered'}
