-- leave: a node stopping on purpose takes its lease and its rooms out of
-- the directory at once, instead of letting them expire.
--
-- KEYS[1] node hash, KEYS[2] nodes zset, KEYS[3] node's rooms set,
-- KEYS[4] matchmaking zset
-- ARGV[1] prefix, [2] node id, [3] boot id
-- Returns 1, or 0 when the lease belongs to another start of this node id.
local p, nid, boot = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HGET', KEYS[1], 'boot_id') ~= boot then
  return 0
end
local fence = nid .. ':' .. boot
for _, id in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  withdraw_room(p, KEYS[4], fence, id)
end
redis.call('DEL', KEYS[3], KEYS[1])
redis.call('ZREM', KEYS[2], nid)
return 1
