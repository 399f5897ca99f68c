-- claim: publishes one room this node has just opened and reserves a seat
-- in it in the same step, so the room is never offered to other nodes
-- before the seat that caused it is taken.
--
-- KEYS[1] matchmaking zset, KEYS[2] node's rooms set
-- ARGV[1] prefix, [2] node id, [3] boot id, [4] public url, [5] lease ttl ms,
--   [6] draining 0/1, [7] ticket, [8] seat ttl ms, [9..17] the room
-- Returns reserve_seat's answer, or {'taken'} when another live node holds
--   the id, or {'gone'} when this node holds no lease (not registered yet).
local p, nid, boot, url = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now = now_ms()
local fence = nid .. ':' .. boot
if not fence_alive(p, fence) then
  return {'gone'}
end
local r = {ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[14], ARGV[15], ARGV[16], ARGV[17]}
if not publish_room(p, KEYS[1], KEYS[2], nid, fence, url, ARGV[6], now, tonumber(ARGV[5]), r) then
  return {'taken'}
end
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return reserve_seat(p, KEYS[1], r[1], ARGV[7], tonumber(ARGV[8]), now)
