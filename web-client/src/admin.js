// @ts-check
/**
 * @file The admin console (`/admin`): logs in with the admin token (kept in
 * sessionStorage, so it dies with the tab), polls `GET /admin/api/overview`
 * every second and the audit list with it, and sends actions (close a
 * room, kick a player, drain the node) after the operator confirms them
 * with a reason. Self-contained: the `--admin-bind` port serves only this
 * page and this file. The API is in `docs/operations.md` ("Admin console").
 */

/** Milliseconds between polls of the overview. */
const POLL_MS = 1000;
/** Where the token is kept for this tab. */
const TOKEN_KEY = 'skirmish-admin-token';

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @type {ReturnType<typeof setTimeout> | undefined} */
let timer;

/** @param {string} text */
function status(text) {
  $('status').textContent = text;
}

/**
 * A request to the admin API with the token; throws the error body's words.
 * @param {string} path
 * @param {object} [body] POSTed as JSON when given
 */
async function api(path, body) {
  const token = sessionStorage.getItem(TOKEN_KEY) ?? '';
  /** @type {RequestInit} */
  const init = { headers: { authorization: `Bearer ${token}` } };
  if (body) {
    init.method = 'POST';
    init.headers = { ...init.headers, 'content-type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`/admin/api/${path}`, init);
  const json = await response.json().catch(() => ({}));
  if (!response.ok) {
    if (json.code === 'unauthorized') logout();
    throw new Error(json.error ?? `HTTP ${response.status}`);
  }
  return json;
}

/**
 * Replaces a table body's rows.
 * @param {string} id
 * @param {HTMLTableRowElement[]} rows
 */
function fill(id, rows) {
  $(id).replaceChildren(...rows);
}

/**
 * A row of text cells, then an optional button.
 * @param {(string | number)[]} cells
 * @param {{ label: string, cls: string, onClick: () => void }} [action]
 * @param {Record<string, string>} [data] data-* attributes of the row
 */
function row(cells, action, data = {}) {
  const tr = document.createElement('tr');
  for (const [k, v] of Object.entries(data)) tr.dataset[k] = v;
  for (const c of cells) {
    const td = document.createElement('td');
    td.textContent = String(c);
    tr.append(td);
  }
  if (action) {
    const td = document.createElement('td');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = action.cls;
    button.textContent = action.label;
    button.addEventListener('click', action.onClick);
    td.append(button);
    tr.append(td);
  }
  return tr;
}

/** @param {number | null} ms */
const p99 = (ms) => (ms === null ? '-' : `${ms.toFixed(2)} ms`);

/** @param {number} secs */
const clock = (secs) => `${Math.floor(secs / 60)}:${String(Math.floor(secs % 60)).padStart(2, '0')}`;

/**
 * Asks for a reason (cancel: nothing happens), then sends the action.
 * @param {string} question
 * @param {string} path
 * @param {object} [extra] more fields of the body
 */
async function act(question, path, extra = {}) {
  const reason = window.prompt(`${question}\nReason:`, '');
  if (reason === null) return;
  try {
    const entry = await api(path, { reason, ...extra });
    status(`done: ${entry.action} ${entry.target}`);
    await refresh();
  } catch (err) {
    status(`refused: ${err instanceof Error ? err.message : err}`);
  }
}

/**
 * How players reach a room: matchmaking, its name, or an invite code.
 * @param {any} r
 */
const kind = (r) => (r.private ? 'private' : r.public ? 'matchmade' : 'named');

/**
 * The ban fields of a kick, from the ban controls: none, or a length with
 * the address, the name or both.
 */
function banOrder() {
  const what = /** @type {HTMLSelectElement} */ ($('ban')).value;
  if (!what) return {};
  const minutes = Math.max(1, Math.min(10080, Number(/** @type {HTMLInputElement} */ ($('ban-minutes')).value) || 60));
  return { ban_secs: minutes * 60, ban_address: what !== 'name', ban_name: what !== 'address' };
}

/** How often the selected room's minimap is fetched. */
const MAP_MS = 250;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let mapTimer;

/**
 * Keeps the minimap's room list in step with the rooms, keeping the
 * selection while its room exists.
 * @param {string[]} rooms
 */
function syncMapRooms(rooms) {
  const select = /** @type {HTMLSelectElement} */ ($('map-room'));
  const chosen = select.value;
  const options = ['', ...rooms];
  if ([...select.options].map((o) => o.value).join('|') === options.join('|')) return;
  select.replaceChildren(
    ...options.map((id) => {
      const option = document.createElement('option');
      option.value = id;
      option.textContent = id || 'none';
      return option;
    }),
  );
  select.value = rooms.includes(chosen) ? chosen : '';
}

/**
 * Draws a minimap answer: the arena, every ship as a dot (dead ones
 * hollow) with its aim.
 * @param {any} map `{arena_w, arena_h, sample: {tick, ships: [[id, x, y, aim, hp]]}}`
 */
function drawMap(map) {
  const canvas = /** @type {HTMLCanvasElement} */ ($('minimap'));
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
  const scale = Math.min(canvas.width / map.arena_w, canvas.height / map.arena_h);
  ctx.fillStyle = '#0e1420';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = '#3a4760';
  ctx.strokeRect(0.5, 0.5, map.arena_w * scale - 1, map.arena_h * scale - 1);
  for (const [id, x, y, aim, hp] of map.sample.ships) {
    const px = x * scale;
    const py = y * scale;
    const angle = (aim / 256) * Math.PI * 2;
    ctx.strokeStyle = ctx.fillStyle = `hsl(${(id * 67) % 360} 70% 60%)`;
    ctx.beginPath();
    ctx.arc(px, py, 4, 0, Math.PI * 2);
    if (hp > 0) ctx.fill();
    else ctx.stroke();
    ctx.beginPath();
    ctx.moveTo(px, py);
    ctx.lineTo(px + Math.cos(angle) * 9, py + Math.sin(angle) * 9);
    ctx.stroke();
  }
  canvas.dataset.room = map.room;
  canvas.dataset.tick = String(map.sample.tick);
  canvas.dataset.ships = String(map.sample.ships.length);
  $('map-meta').textContent = `tick ${map.sample.tick} · ${map.sample.ships.length} ships`;
}

/** Fetches and draws the selected room's minimap, again and again. */
async function pollMap() {
  clearTimeout(mapTimer);
  const room = /** @type {HTMLSelectElement} */ ($('map-room')).value;
  if (!room || !sessionStorage.getItem(TOKEN_KEY)) return;
  try {
    drawMap({ ...(await api(`rooms/${encodeURIComponent(room)}/minimap`)), room });
  } catch (err) {
    $('map-meta').textContent = `${err instanceof Error ? err.message : err}`;
  }
  mapTimer = setTimeout(pollMap, MAP_MS);
}

/** @param {any} o the overview */
function draw(o) {
  syncMapRooms(o.rooms.map((/** @type {any} */ r) => r.id));
  $('node').textContent = `${o.node}${o.draining ? ' (draining)' : ''}`;
  fill('node-rows', o.nodes.map((/** @type {any} */ n) => row([n.id, n.url, n.rooms, n.players, n.draining ? 'yes' : 'no'])));
  if (o.nodes_error) status(`nodes unknown: ${o.nodes_error}`);
  fill(
    'room-rows',
    o.rooms.map((/** @type {any} */ r) =>
      row(
        [r.id, kind(r), `${r.players}/${r.max_players}`, r.spectators, r.bots, `${r.tick_hz} Hz`, p99(r.tick_p99_ms), clock(r.round_secs_left)],
        { label: 'Close', cls: 'close', onClick: () => act(`Close room ${r.id}?`, `rooms/${encodeURIComponent(r.id)}/close`) },
        { room: r.id },
      ),
    ),
  );
  fill(
    'player-rows',
    o.rooms.flatMap((/** @type {any} */ r) =>
      r.humans.map((/** @type {any} */ p) =>
        row(
          [r.id, p.ship, p.name, p.transport, p.address, p.connected ? 'yes' : 'waiting for resume', p.ping_ms == null ? '–' : `${p.ping_ms} ms`],
          {
            label: 'Kick',
            cls: 'kick',
            onClick: () => {
              const ban = banOrder();
              const also = ban.ban_secs ? ` It bans ${/** @type {HTMLSelectElement} */ ($('ban')).selectedOptions[0].text} for ${ban.ban_secs / 60} min.` : '';
              act(`Kick ${p.name} (ship ${p.ship}) from ${r.id}?${also}`, `rooms/${encodeURIComponent(r.id)}/players/${p.ship}/kick`, ban);
            },
          },
          { room: r.id, name: p.name },
        ),
      ),
    ),
  );
}

/** @param {any[]} entries oldest first */
function drawAudit(entries) {
  fill(
    'audit-rows',
    entries
      .slice()
      .reverse()
      .map((e) => row([new Date(e.at_ms).toLocaleString(), e.who, e.action, e.target, e.reason])),
  );
}

async function refresh() {
  const [overview, audit] = await Promise.all([api('overview'), api('audit')]);
  draw(overview);
  drawAudit(audit);
}

async function poll() {
  clearTimeout(timer);
  if (!sessionStorage.getItem(TOKEN_KEY)) return;
  try {
    await refresh();
    $('console').hidden = false;
    $('login').hidden = true;
  } catch (err) {
    status(`${err instanceof Error ? err.message : err}`);
  }
  if (sessionStorage.getItem(TOKEN_KEY)) timer = setTimeout(poll, POLL_MS);
}

function logout() {
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(timer);
  $('console').hidden = true;
  $('login').hidden = false;
}

$('login').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, /** @type {HTMLInputElement} */ ($('token')).value.trim());
  status('');
  poll();
});
$('logout').addEventListener('click', () => {
  logout();
  status('logged out');
});
$('drain').addEventListener('click', () => act('Drain this node? It stops taking players and exits once they are gone.', 'drain'));
$('map-room').addEventListener('change', () => void pollMap());
$('notice').addEventListener('click', async () => {
  const text = window.prompt('Message for every player and scoreboard of this node (at most 200 bytes):', '');
  if (!text) return;
  try {
    const entry = await api('notice', { text });
    status(`done: ${entry.action} to ${entry.target}`);
    await refresh();
  } catch (err) {
    status(`refused: ${err instanceof Error ? err.message : err}`);
  }
});

poll();
