-- settle: the old owner ends its offer of a room: taken (the adopter's
-- `takeover` ran: its node and url), or withdrawn, atomically, so an
-- adopter arriving later is refused and the room closes here as drained.
--
-- KEYS[1] room hash, KEYS[2] matchmaking zset
-- ARGV[1] prefix, [2] the owner's fence, [3] handover id, [4] room id
-- ARGV[5] "1" when this is the last try: a room kept is withdrawn (it
--   closes here as drained); "0" leaves it to the next offer.
-- Returns {'taken', node, url} or {'kept'}.
local h = redis.call('HMGET', KEYS[1], 'fence', 'handover', 'owner', 'url')
if h[1] and h[1] ~= ARGV[2] then
  return {'taken', h[3] or '', h[4] or ''}
end
if h[1] and h[2] == ARGV[3] then
  redis.call('HDEL', KEYS[1], 'handover', 'handover_to', 'handover_until')
end
if h[1] and ARGV[5] == '1' then
  withdraw_room(ARGV[1], KEYS[2], ARGV[2], ARGV[4])
end
return {'kept'}
