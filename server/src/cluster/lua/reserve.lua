-- reserve: takes one seat for a ticket, in the room named by ARGV[4], or
-- else in the fullest open room offered to matchmaking. Rooms found dead,
-- draining or full on the way are withdrawn from the offer.
--
-- KEYS[1] matchmaking zset
-- ARGV[1] prefix, [2] ticket, [3] seat ttl ms, [4] room id or '',
--   [5] offered rooms to try at most
-- Returns {'ok', room, owner node, owner url, seat ttl ms}, or for a named
--   room {'gone'}, {'closed'} or {'full'}; {'none'} when no room is open.
local p, ticket, seat_ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = now_ms()
if ARGV[4] ~= '' then
  return reserve_seat(p, KEYS[1], ARGV[4], ticket, seat_ttl, now)
end
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[5]) - 1)) do
  local answer = reserve_seat(p, KEYS[1], id, ticket, seat_ttl, now)
  if answer[1] == 'ok' then
    return answer
  end
end
return {'none'}
