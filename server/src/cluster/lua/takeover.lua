-- takeover: the adopter of an offered room becomes its owner, atomically:
-- the room's entry and the log's feed name the adopter's fence from now
-- on, so the old owner's `append` is fenced (it can never write another
-- entry under this room, and no id is written twice), and the adopter's
-- log continues the same stream above the old owner's last id.
--
-- The room leaves the old node's rooms set; the adopter's next heartbeat
-- lists it in its own (added here, a heartbeat that read the adopter's
-- rooms before the adoption would withdraw it as closed).
--
-- KEYS[1] room hash, KEYS[2] feed hash
-- ARGV[1] prefix, [2] handover id, [3] the old owner's fence, [4] adopter
--   node id, [5] adopter fence, [6] adopter public url, [7] lease ttl ms,
--   [8] room id
-- Returns {'ok'}, or {'refused', why}: the offer is not this one (another
--   id, another adopter, another owner), it expired (the old owner may
--   have withdrawn it), or the adopter holds no lease.
local p = ARGV[1]
local h = redis.call('HMGET', KEYS[1], 'fence', 'handover', 'handover_to', 'handover_until',
                     'owner')
if h[1] ~= ARGV[3] or h[2] ~= ARGV[2] or h[3] ~= ARGV[4] then
  return {'refused', 'not offered'}
end
local now = now_ms()
if tonumber(h[4]) <= now then
  return {'refused', 'expired'}
end
if not fence_alive(p, ARGV[5]) then
  return {'refused', 'no lease'}
end
redis.call('HDEL', KEYS[1], 'handover', 'handover_to', 'handover_until')
redis.call('HSET', KEYS[1], 'owner', ARGV[4], 'fence', ARGV[5], 'url', ARGV[6],
  'state', 'open', 'published_ms', now)
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('SREM', node_key(p, h[5]) .. ':rooms', ARGV[8])
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[2], 'fence', ARGV[5])
end
return {'ok'}
