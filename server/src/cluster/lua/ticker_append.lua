-- ticker_append: one node's score events and top lines into the cluster
-- ticker, as one step. Redis allocates the ids, so they are contiguous
-- across every writer: each entry's id is the previous one's plus one.
--
-- KEYS[1] ticker hash (last, snap, snap_at), KEYS[2] ticker stream,
-- KEYS[3] board hash (fence -> that node's top lines, a JSON array)
-- ARGV[1] prefix, [2] fence (nid:boot), [3] stream length to keep (~),
--   [4] ttl ms, [5] channel, [6] lines on the board, [7] this node's top
--   lines (JSON array of board lines), [8] '1' to re-derive the board from
--   every live node's lines, [9] n, then n pairs (score data JSON, bot
--   '1' or '0')
-- Returns {'ok', last id}.
--
-- The ids. A ticker with no head (first use, or Redis lost its data)
-- starts at the floor: Redis's clock in ms x 1000, and above the stream's
-- top if the stream survived. A reader's cursor from an earlier
-- incarnation is then below every new id, and its follower finds the
-- chain broken and gives it `reset`, never another event under an id it
-- already saw.
--
-- The snapshot is the board true as of the head: the last `board` with
-- every later `score` folded in as clients fold it (`fold` in
-- room/ticker.rs, `TickerBoard.scored` in the web client). A re-derived
-- board that differs from it is logged as a `board` event.
--
-- Ids stay strings on the way out: Lua numbers are doubles, exact below
-- 2^53 (every id is), but tostring would print large ones in exponent
-- form.
local function int(n)
  return string.format('%.0f', n)
end

-- Byte-wise a < b, as Rust compares room ids (Lua's own `<` on strings
-- follows the server's locale). Equal ids (a room's own lines) are the
-- common case and answered at once: Lua strings are interned, so `==` is
-- one comparison, where the loop walked the whole id.
local function bytes_lt(a, b)
  if a == b then
    return false
  end
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then
      return x < y
    end
  end
  return #a < #b
end

-- Best score first; ties by room, then player.
local function before(a, b)
  if a.score ~= b.score then
    return a.score > b.score
  end
  if a.room ~= b.room then
    return bytes_lt(a.room, b.room)
  end
  return a.player < b.player
end

local function same(a, b)
  return a.room == b.room and a.player == b.player
end

local function top_n(lines, n)
  table.sort(lines, before)
  while #lines > n do
    table.remove(lines)
  end
  return lines
end

-- The board after one score: the player's line moves to its new score;
-- a line already above the new one's starting point means its room began
-- a new round, and the room's other lines are at 0 now.
--
-- The board is kept in `before` order (every board this script writes
-- is), so without a new round the new line is inserted at its place
-- instead of sorting the whole board again: a score costs about n
-- comparisons instead of n log n, and the comparisons (Lua calls) were
-- most of this script's cost (docs/benchmarks.md). The result is the
-- same: `before` is a total order (room and player name one line).
local function fold(board, line, delta, n)
  local new_round = false
  for _, l in ipairs(board) do
    if same(l, line) and l.score > math.max(line.score - delta, 0) then
      new_round = true
    end
  end
  local out = {}
  if new_round then
    for _, l in ipairs(board) do
      if not same(l, line) then
        if l.room == line.room then
          l.score = 0
        end
        out[#out + 1] = l
      end
    end
    out[#out + 1] = line
    return top_n(out, n)
  end
  local placed = false
  for _, l in ipairs(board) do
    if not same(l, line) then
      if not placed and before(line, l) then
        out[#out + 1] = line
        placed = true
      end
      out[#out + 1] = l
    end
  end
  if not placed then
    out[#out + 1] = line
  end
  while #out > n do
    table.remove(out)
  end
  return out
end

local function line_of(l)
  return {bot = l.bot == true, name = l.name, player = l.player, room = l.room, score = l.score}
end

-- A board as the feed writes it: keys in alphabetical order.
local function board_json(time, lines)
  local parts = {}
  for i, l in ipairs(lines) do
    parts[i] = '{"bot":' .. tostring(l.bot) .. ',"name":' .. cjson.encode(l.name)
      .. ',"player":' .. int(l.player) .. ',"room":' .. cjson.encode(l.room)
      .. ',"score":' .. int(l.score) .. '}'
  end
  return '{"time":' .. int(time) .. ',"top":[' .. table.concat(parts, ',') .. ']}'
end

local function same_board(a, b)
  if #a ~= #b then
    return false
  end
  for i = 1, #a do
    local x, y = a[i], b[i]
    if not same(x, y) or x.score ~= y.score or x.name ~= y.name or x.bot ~= y.bot then
      return false
    end
  end
  return true
end

local p, fence = ARGV[1], ARGV[2]
local cap, ttl, channel, n = ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
local now = now_ms()
local h = redis.call('HMGET', KEYS[1], 'last', 'snap')
local last, board, fresh
if h[1] then
  last = tonumber(h[1])
  board = {}
  if h[2] then
    for i, l in ipairs(cjson.decode(h[2]).top) do
      board[i] = line_of(l)
    end
  end
else
  fresh = true
  board = {}
  last = now * 1000
  local top = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
  if top[1] then
    last = math.max(last, tonumber(string.match(top[1][1], '^(%d+)-')))
  end
end
local snap
local published = {}

-- Logs one entry at the next id.
local function log(event, data)
  local prev = last
  last = last + 1
  local entry = '{"id":' .. int(last) .. ',"event":"' .. event .. '","data":' .. data .. '}'
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', cap, int(last) .. '-0', 'p', int(prev), 'e', entry)
  published[#published + 1] = '[' .. int(prev) .. ',' .. int(last) .. ',' .. entry .. ']'
end

redis.call('HSET', KEYS[3], fence, ARGV[7])
local count = tonumber(ARGV[9])
for k = 0, count - 1 do
  local data, bot = ARGV[10 + k * 2], ARGV[11 + k * 2]
  local score = cjson.decode(data)
  local line = {bot = bot == '1', name = score.name, player = score.player,
                room = score.room, score = score.score}
  board = fold(board, line, score.delta, n)
  log('score', data)
end
if count > 0 then
  snap = board_json(now, board)
end

if ARGV[8] == '1' then
  -- Every live node's own top lines hold the cluster's top lines: a line
  -- below its node's top n is below the cluster's too. A dead node's
  -- lines leave the board.
  local all = {}
  local nodes = redis.call('HGETALL', KEYS[3])
  for i = 1, #nodes, 2 do
    if nodes[i] ~= fence and not fence_alive(p, nodes[i]) then
      redis.call('HDEL', KEYS[3], nodes[i])
    else
      for _, l in ipairs(cjson.decode(nodes[i + 1])) do
        all[#all + 1] = line_of(l)
      end
    end
  end
  local derived = top_n(all, n)
  if not same_board(derived, board) then
    board = derived
    snap = board_json(now, board)
    log('board', snap)
  end
end

if fresh and not snap then
  snap = board_json(now, board)
end
if snap then
  redis.call('HSET', KEYS[1], 'last', int(last), 'snap', snap, 'snap_at', int(last))
end
for _, key in ipairs(KEYS) do
  redis.call('PEXPIRE', key, ttl)
end
if snap then
  redis.call('PUBLISH', channel, '{"entries":[' .. table.concat(published, ',')
    .. '],"snap":' .. snap .. ',"snap_at":' .. int(last) .. '}')
end
return {'ok', int(last)}
