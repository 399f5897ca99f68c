-- log_read: what a follower needs from a room's log, read in one step so
-- the head, the snapshot and the entries agree.
--
-- KEYS[1] log stream, KEYS[2] feed hash
-- ARGV[1] read entries after this id, or '' for the newest ones,
--   [2] entries at most
-- ARGV[3] the key prefix
-- Returns {last, snap_at, snap, closed, entries, orphaned} ('' for what is
--   missing); entries is a flat list of (id, prev id, entry JSON), oldest
--   first; orphaned is '1' when the log is open but the incarnation that
--   writes it no longer holds its lease (the caller runs `lose`).
local h = redis.call('HMGET', KEYS[2], 'last', 'snap_at', 'snap', 'closed', 'fence')
local orphaned = ''
if h[1] and not h[4] and h[5] and not fence_alive(ARGV[3], h[5]) then
  orphaned = '1'
end
local raw
if ARGV[1] == '' then
  raw = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', ARGV[2])
  local n = #raw
  for i = 1, math.floor(n / 2) do
    raw[i], raw[n - i + 1] = raw[n - i + 1], raw[i]
  end
else
  raw = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1] .. '-0', '+', 'COUNT', ARGV[2])
end
local entries = {}
for _, item in ipairs(raw) do
  local id = string.match(item[1], '^(%d+)-')
  local f = {}
  for i = 1, #item[2], 2 do
    f[item[2][i]] = item[2][i + 1]
  end
  entries[#entries + 1] = id
  entries[#entries + 1] = f.p or '0'
  entries[#entries + 1] = f.e or 'null'
end
return {h[1] or '', h[2] or '', h[3] or '', h[4] or '', entries, orphaned}
