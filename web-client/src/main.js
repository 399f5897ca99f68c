// @ts-check
/**
 * @file The playable page: lobby form, matchmaking (`POST /api/matchmake` on
 * the page's node, then the room's owner node as answered), one transport
 * per game (WebSocket, or long polling when the WebSocket cannot connect or
 * `?transport=longpoll` asks for it), keyboard and mouse to Inputs, and a canvas that draws the
 * own ship where prediction puts it and the others interpolated in the past
 * (`prediction.js`). Protocol logic lives in `session.js` and
 * `transport.js`; this file only wires them to the browser.
 */

import { Buttons, CloseCode, validName, validRoomId } from './protocol.js';
import { AIM_STEPS, quantiseAim, shotPosition, units } from './rules.js';
import { drawShip } from './draw.js';
import { follow, minimap, toArena, VIEW_H, VIEW_W } from './camera.js';
import { clock, inviteLink, inviteOf, ROOMS_REFRESH_MS, roomRows, withInvite } from './lobby.js';
import { errorOf } from './http.js';
import { drawLeaderboard } from './leaderboards.js';
import { fetchLeaderboards } from './records.js';
import {
  DRAINED_MESSAGE,
  drained,
  movedPlacement,
  lostGame,
  matchmake,
  matchMessage,
  matchStep,
  rematchText,
} from './matchmaking.js';
import { GameSession } from './session.js';
import { playerTokenOf } from './player_token.js';
import { browserStorage, loadPlayerKey, savePlayerKey } from './identity.js';
import {
  ABNORMAL_CLOSE,
  FALLBACK_MS,
  LongPollTransport,
  reconnectDelay,
  transportMode,
  webSocketTrouble,
  WebSocketTransport,
} from './transport.js';

/** @typedef {import('./transport.js').Transport} Transport */
/** @typedef {import('./transport.js').TransportKind} TransportKind */

/** Milliseconds between pings. */
const PING_MS = 2000;
/** Milliseconds a kill-feed line stays up. */
const FEED_MS = 6000;
/** Milliseconds the round-end results stay up. */
const RESULTS_MS = 10000;
/** Where a resumable session is remembered across reloads of this tab. */
const RESUME_KEY = 'skirmish.resume';

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @returns {T}
 */
function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from index.html`);
  return /** @type {T} */ (el);
}

const ui = {
  lobby: $('lobby'),
  form: /** @type {HTMLFormElement} */ ($('join')),
  name: /** @type {HTMLInputElement} */ ($('name')),
  room: /** @type {HTMLInputElement} */ ($('room')),
  lobbyMessage: $('lobby-message'),
  roomRows: $('room-rows'),
  roomsStatus: $('rooms-status'),
  roomsEmpty: $('rooms-empty'),
  results: $('results'),
  resultsList: $('results-list'),
  resultsClose: $('results-close'),
  watch: /** @type {HTMLAnchorElement} */ ($('watch')),
  createPrivate: /** @type {HTMLButtonElement} */ ($('create-private')),
  invite: $('invite'),
  inviteLink: /** @type {HTMLInputElement} */ ($('invite-link')),
  inviteCopy: /** @type {HTMLButtonElement} */ ($('invite-copy')),
  game: $('game'),
  canvas: /** @type {HTMLCanvasElement} */ ($('arena')),
  score: $('hud-score'),
  time: $('hud-time'),
  ping: $('hud-ping'),
  rate: $('hud-rate'),
  transport: $('hud-transport'),
  fallback: $('hud-fallback'),
  leave: $('leave'),
  scoreboard: $('scoreboard'),
  feed: $('feed'),
  banner: $('banner'),
  bannerText: $('banner-text'),
  back: $('back'),
};

const ctx = /** @type {CanvasRenderingContext2D} */ (ui.canvas.getContext('2d'));

/** `?transport=`: `auto` tries the WebSocket first and falls back. */
const mode = transportMode(location.search);
/** Set once a WebSocket failed in `auto` mode: later games of this page go straight to long polling. */
let webSocketFailed = false;
/** Set once a WebSocket of this page got a Welcome: WebSockets work from here, so a later one that fails is a disconnect, never a reason to fall back. */
let webSocketWorked = false;

/** The transport the next game starts on. */
function firstTransport() {
  return mode === 'longpoll' || (mode === 'auto' && webSocketFailed) ? 'longpoll' : 'websocket';
}

/** The state before any game, so `window.skirmish.state` always exists. */
const LOBBY_STATE = Object.freeze({
  phase: 'lobby',
  get transport() {
    return firstTransport();
  },
  connected: false,
  ship: null,
  tick: null,
  ships: [],
  score: 0,
  predicted: null,
  pendingInputs: 0,
  camera: null,
});

/**
 * The one game in progress. `welcomed` and `answered` feed the fallback rule.
 * @typedef {object} Game
 * @property {GameSession} session
 * @property {Transport} transport
 * @property {number[]} timers intervals and timeouts to clear when it ends
 * @property {boolean} left the player chose to leave
 * @property {boolean} welcomed a Welcome arrived
 * @property {boolean} answered any server message arrived
 */
/** @type {Game | null} */
let game = null;

/** @type {any} */ (window).skirmish = {
  get state() {
    return game ? game.session.state : LOBBY_STATE;
  },
};

// ---------------------------------------------------------------------------
// Input devices

/** @type {Record<string, number>} */
const KEY_BUTTONS = {
  KeyW: Buttons.UP,
  ArrowUp: Buttons.UP,
  KeyS: Buttons.DOWN,
  ArrowDown: Buttons.DOWN,
  KeyA: Buttons.LEFT,
  ArrowLeft: Buttons.LEFT,
  KeyD: Buttons.RIGHT,
  ArrowRight: Buttons.RIGHT,
  Space: Buttons.FIRE,
};

const input = {
  /** @type {Set<string>} held keys and mouse buttons */
  held: new Set(),
  /** Fire pressed since the last Input, so a click between ticks counts. */
  fireLatched: false,
  /**
   * Mouse over the canvas as fractions of its width and height, or null
   * before it moved over it; turned into an arena point under the camera
   * when aiming, so a still mouse keeps its aim relative to the ship.
   */
  mouse: /** @type {{ x: number, y: number } | null} */ (null),
  /** Last aim sent, kept while the mouse is still. */
  aim: 0,
};

/** Buttons for the next Input; clears the fire latch. */
function takeButtons() {
  let buttons = 0;
  for (const key of input.held) buttons |= KEY_BUTTONS[key] ?? (key === 'Mouse' ? Buttons.FIRE : 0);
  if (input.fireLatched) buttons |= Buttons.FIRE;
  input.fireLatched = false;
  return buttons;
}

/** @param {GameSession} session */
function currentAim(session) {
  const me = session.state.predicted ?? ownPosition(session);
  const view = cameraOf(session);
  if (me && view && input.mouse) {
    const at = toArena(view, input.mouse.x, input.mouse.y);
    input.aim = quantiseAim(Math.atan2(at.y - me.y, at.x - me.x));
  }
  return input.aim;
}

/**
 * What the camera shows: `VIEW_W` x `VIEW_H` arena units around the own
 * ship where prediction puts it (`camera.js`); null before the Welcome.
 * @param {GameSession} session
 * @returns {import('./camera.js').Rect | null}
 */
function cameraOf(session) {
  const rules = session.state.rules;
  const me = session.state.predicted ?? ownPosition(session);
  if (!rules) return null;
  return me ? follow(rules, me.x, me.y) : follow(rules, rules.arena_w / 2, rules.arena_h / 2);
}

/**
 * The own ship's last authoritative position in arena units.
 * @param {GameSession} session
 */
function ownPosition(session) {
  const me = session.ownShip();
  return me ? { x: units(me.x), y: units(me.y) } : null;
}

window.addEventListener('keydown', (e) => {
  if (!game || !(e.code in KEY_BUTTONS)) return;
  e.preventDefault();
  if (KEY_BUTTONS[e.code] === Buttons.FIRE && !e.repeat) input.fireLatched = true;
  input.held.add(e.code);
});
window.addEventListener('keyup', (e) => input.held.delete(e.code));
// A key released while the window had no focus would stay held forever.
window.addEventListener('blur', () => input.held.clear());

ui.canvas.addEventListener('mousemove', (e) => {
  const rules = game?.session.state.rules;
  if (!rules) return;
  const rect = ui.canvas.getBoundingClientRect();
  input.mouse = { x: (e.clientX - rect.left) / rect.width, y: (e.clientY - rect.top) / rect.height };
});
ui.canvas.addEventListener('mousedown', (e) => {
  if (e.button !== 0) return;
  input.held.add('Mouse');
  input.fireLatched = true;
});
window.addEventListener('mouseup', (e) => {
  if (e.button === 0) input.held.delete('Mouse');
});
ui.canvas.addEventListener('contextmenu', (e) => e.preventDefault());

// ---------------------------------------------------------------------------
// Lobby and connection

/**
 * @typedef {object} SavedResume
 * @property {string} name
 * @property {string | null} room
 * @property {number[]} token
 * @property {number} seq
 */

/** @returns {SavedResume | null} */
function loadResume() {
  try {
    return JSON.parse(sessionStorage.getItem(RESUME_KEY) ?? 'null');
  } catch {
    return null;
  }
}

/** @param {SavedResume | null} saved */
function saveResume(saved) {
  try {
    if (saved) sessionStorage.setItem(RESUME_KEY, JSON.stringify(saved));
    else sessionStorage.removeItem(RESUME_KEY);
  } catch {
    // Storage may be disabled; resuming is a convenience.
  }
}

ui.name.value = loadResume()?.name ?? `Pilot-${100 + Math.floor(Math.random() * 900)}`;
/**
 * The private room this page was invited to (an invite link), or created.
 * @type {import('./lobby.js').Invite | null}
 */
let invite = inviteOf(location.search, location.hash);

ui.room.value = invite?.room ?? loadResume()?.room ?? new URLSearchParams(location.search).get('room') ?? '';

/**
 * The invite code for `room`, when this page holds one.
 * @param {string | null} room
 */
function inviteCode(room) {
  return invite && invite.room === room ? invite.code : null;
}

/** Shows the invite link of the private room this page holds. */
function showInvite() {
  if (!invite) return;
  const link = inviteLink(location.origin + location.pathname, invite);
  ui.inviteLink.value = link;
  ui.invite.hidden = false;
  // The page itself becomes the link: a reload stays in the room.
  history.replaceState(null, '', link);
}
showInvite();

/** Points "Watch this room" at the scoreboard of the room typed (or main). */
function updateWatchLink() {
  const room = ui.room.value.trim();
  const watched = validRoomId(room) ? room : 'main';
  const code = inviteCode(watched);
  ui.watch.href = `scoreboard.html?room=${encodeURIComponent(watched)}${code ? `#invite=${code}` : ''}`;
}
ui.room.addEventListener('input', updateWatchLink);
updateWatchLink();

ui.createPrivate.addEventListener('click', async () => {
  ui.lobbyMessage.textContent = '';
  try {
    const res = await fetch('/api/rooms', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ private: true }),
    });
    if (!res.ok) {
      ui.lobbyMessage.textContent = (await errorOf(res)).message;
      return;
    }
    const created = await res.json();
    invite = { room: created.room, code: created.invite };
  } catch (err) {
    ui.lobbyMessage.textContent = `Could not create a room: ${err instanceof Error ? err.message : String(err)}`;
    return;
  }
  ui.room.value = invite.room;
  updateWatchLink();
  showInvite();
  ui.lobbyMessage.textContent = 'Private room created: share the link, then press Play.';
});

ui.inviteCopy.addEventListener('click', async () => {
  ui.inviteLink.select();
  try {
    await navigator.clipboard.writeText(ui.inviteLink.value);
    ui.lobbyMessage.textContent = 'Invite link copied.';
  } catch {
    ui.lobbyMessage.textContent = 'Select the link and copy it.';
  }
});

ui.form.addEventListener('submit', (e) => {
  e.preventDefault();
  const name = ui.name.value.trim();
  const room = ui.room.value.trim() || null;
  if (!validName(name)) {
    ui.lobbyMessage.textContent = 'Names are 1 to 24 bytes, without control characters.';
    return;
  }
  if (room !== null && !validRoomId(room)) {
    ui.lobbyMessage.textContent = 'Room ids are 1 to 32 of A-Z, a-z, 0-9, _ and -.';
    return;
  }
  ui.lobbyMessage.textContent = '';
  const saved = loadResume();
  const resumable = saved && saved.name === name && saved.room === room ? saved : null;
  connect(name, room, resumable);
});

ui.leave.addEventListener('click', () => {
  placing += 1;
  if (!game) return;
  game.left = true;
  game.session.leave();
  saveResume(null);
  game.transport.close(1000, 'leave');
  showLobby();
});

ui.back.addEventListener('click', showLobby);

function showLobby() {
  placing += 1;
  stopGame();
  game = null;
  ui.game.hidden = true;
  ui.banner.hidden = true;
  ui.results.hidden = true;
  ui.lobby.hidden = false;
  refreshRooms();
  refreshLeaderboards();
}

// ---------------------------------------------------------------------------
// Room list

/** @type {string} the rows drawn, to skip redrawing an unchanged list */
let roomsDrawn = '';

/** Fetches `GET /api/rooms` and redraws the list; only while the lobby shows. */
async function refreshRooms() {
  if (ui.lobby.hidden) return;
  let rows;
  try {
    const res = await fetch('/api/rooms', { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    rows = roomRows(await res.json());
  } catch (err) {
    setText(ui.roomsStatus, `unavailable (${err instanceof Error ? err.message : String(err)})`);
    return;
  }
  setText(ui.roomsStatus, `${rows.length} live · updated ${new Date().toLocaleTimeString()}`);
  ui.roomsEmpty.hidden = rows.length > 0;
  const key = JSON.stringify(rows);
  if (key === roomsDrawn) return;
  roomsDrawn = key;
  ui.roomRows.replaceChildren(
    ...rows.map((r) => {
      const tr = document.createElement('tr');
      tr.dataset.room = r.id;
      if (r.full) tr.className = 'full';
      /** @param {string} text @param {string} [cls] */
      const cell = (text, cls) => {
        const td = document.createElement('td');
        td.textContent = text;
        if (cls) td.className = cls;
        return td;
      };
      const actions = document.createElement('td');
      actions.className = 'actions';
      const join = document.createElement('button');
      join.type = 'button';
      join.className = 'small-button join';
      join.textContent = r.full ? 'Full' : 'Join';
      join.disabled = r.full;
      join.addEventListener('click', () => {
        ui.room.value = r.id;
        updateWatchLink();
        ui.form.requestSubmit();
      });
      const watch = document.createElement('a');
      watch.className = 'small-button watch-room';
      watch.href = `scoreboard.html?room=${encodeURIComponent(r.id)}`;
      watch.textContent = 'Watch';
      actions.append(join, watch);
      tr.append(
        cell(r.id + (r.public ? '' : ' (named)'), 'room-id'),
        cell(r.players, 'num'),
        cell(String(r.spectators), 'num'),
        cell(String(r.bots), 'num'),
        cell(r.roundLeft, 'num'),
        actions,
      );
      return tr;
    }),
  );
}
window.setInterval(refreshRooms, ROOMS_REFRESH_MS);
refreshRooms();

// ---------------------------------------------------------------------------
// Leaderboards (records kept by the server; none: the panel stays hidden)

/** How often the lobby asks for the leaderboards: they change when rounds end. */
const LEADERBOARDS_MS = 30_000;

/** Fetches both leaderboards and draws them; only while the lobby shows. */
async function refreshLeaderboards() {
  if (ui.lobby.hidden) return;
  const { week, all } = await fetchLeaderboards(fetch);
  const records = /** @type {HTMLElement} */ (document.getElementById('lobby-records'));
  records.hidden = week.kind === 'off' && all.kind === 'off';
  /** @param {string} id */
  const at = (id) => ({
    list: /** @type {HTMLElement} */ (document.getElementById(id)),
    empty: /** @type {HTMLElement} */ (document.getElementById(`${id}-empty`)),
  });
  drawLeaderboard(at('board-week'), week, 'No rounds recorded this week.');
  drawLeaderboard(at('board-all'), all, 'No rounds recorded yet.');
}
window.setInterval(refreshLeaderboards, LEADERBOARDS_MS);
refreshLeaderboards();

// ---------------------------------------------------------------------------
// Round-end results

/** `at` of the results the player closed, so they stay closed. */
let resultsClosed = -1;
ui.resultsClose.addEventListener('click', () => {
  resultsClosed = game?.session.state.results?.at ?? -1;
  ui.results.hidden = true;
});

/**
 * The top ten, and the own line below them if it is not among them.
 * @param {import('./lobby.js').ResultLine[]} lines
 */
function resultsShown(lines) {
  const top = lines.slice(0, 10);
  const own = lines.find((l) => l.own);
  return own && !top.includes(own) ? [...top, own] : top;
}

/** @param {GameSession} session */
function drawResults(session) {
  const results = session.state.results;
  const show = !!results && results.at !== resultsClosed && performance.now() - results.at < RESULTS_MS;
  if (ui.results.hidden === !show) return;
  ui.results.hidden = !show;
  if (!show || !results) return;
  setText(ui.results.querySelector('h2') ?? ui.results, `Round ${results.round} over`);
  ui.resultsList.replaceChildren(
    ...resultsShown(results.lines).map((line) => {
      const li = document.createElement('li');
      if (line.own) li.className = 'own';
      const rank = document.createElement('span');
      rank.className = 'rank';
      rank.textContent = `${line.rank}.`;
      const name = document.createElement('span');
      name.textContent = line.own ? `${line.name} (you)` : line.name;
      const score = document.createElement('b');
      score.textContent = String(line.score);
      li.append(rank, name, score);
      return li;
    }),
  );
}

/** @param {Game} current */
function clearTimers(current) {
  // Timeouts and intervals share one list of ids, so clearTimeout ends either.
  for (const t of current.timers) clearTimeout(t);
  current.timers = [];
}

function stopGame() {
  if (game) clearTimers(game);
}

/**
 * Starts a game on the transport this page uses.
 * @param {string} name
 * @param {string | null} room
 * @param {SavedResume | null} resume
 */
function connect(name, room, resume) {
  const kind = firstTransport();
  void place(kind, name, room, resume, kind === 'longpoll' && mode === 'auto');
}

/** Counts lobby visits and leaves: a placement that finds it changed was abandoned by the player. */
let placing = 0;

/**
 * Asks matchmaking on the page's node where to play (a seat, or the room of
 * the resume token), then starts the game there. A refusal is acted on by
 * its code (`matchStep`) and shown by it (`matchMessage`).
 * @param {TransportKind} kind
 * @param {string} name
 * @param {string | null} room the room the player asked for; null: any
 * @param {SavedResume | null} resume
 * @param {boolean} fallback long polling because the WebSocket failed
 * @param {number} [attempt] reconnects already tried since the game dropped
 */
async function place(kind, name, room, resume, fallback, attempt = 0) {
  const mine = placing;
  if (inviteCode(room) && !resume) {
    // Private rooms are not matchmaking's: join on this node, with the code.
    start(kind, name, room, null, fallback, attempt, null);
    return;
  }
  const asked = { resuming: !!resume, named: room !== null };
  const matched = await matchmake({ room, resume: resume?.token ?? null });
  if (mine !== placing) return;
  if (matched.ok) {
    start(kind, name, room, resume, fallback, attempt, matched.placement);
    return;
  }
  const step = matchStep(matched, asked);
  if (step === 'fresh') {
    saveResume(null);
    showNotice(rematchText(matched.code));
    void place(kind, name, room, null, fallback);
    return;
  }
  if (step === 'direct') {
    // No such room anywhere: Hello on this node opens it.
    start(kind, name, room, null, fallback, attempt, null);
    return;
  }
  const delay = step === 'retry' ? reconnectDelay(ABNORMAL_CLOSE, attempt) : null;
  const text = matchMessage(matched);
  if (delay !== null) {
    showNotice(`${text} Retrying…`);
    setTimeout(() => {
      if (mine === placing) void place(kind, name, room, resume, fallback, attempt + 1);
    }, matched.retryAfterMs ?? delay);
    return;
  }
  showNotice(text);
}

/**
 * A matchmaking message: on the lobby while it shows, else on the banner.
 * @param {string} text
 */
function showNotice(text) {
  if (!ui.lobby.hidden) {
    ui.lobbyMessage.textContent = text;
    return;
  }
  ui.bannerText.textContent = text;
  ui.banner.hidden = false;
}

/**
 * Starts a game on one transport, at the node matchmaking named (or, with
 * no placement, on the page's own node).
 * @param {TransportKind} kind
 * @param {string} name
 * @param {string | null} room the room the player asked for
 * @param {SavedResume | null} resume
 * @param {boolean} fallback long polling because the WebSocket failed
 * @param {number} attempt reconnects already tried since the game dropped
 * @param {import('./matchmaking.js').Placement | null} placement
 */
function start(kind, name, room, resume, fallback, attempt, placement) {
  stopGame();
  /** @type {Transport} */
  let transport;
  if (kind === 'websocket') {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const url = placement?.wsUrl ?? `${scheme}://${location.host}/ws`;
    transport = new WebSocketTransport(withInvite(url, inviteCode(placement?.room ?? room)));
  } else {
    transport = new LongPollTransport({
      base: placement?.nodeUrl ?? '',
      seat: placement?.seat ?? null,
      invite: inviteCode(placement?.room ?? room),
      // `after` and every input's ack: the newest tick the view holds.
      holding: () => session.view.ack,
    });
  }
  const session = new GameSession({
    name,
    room: placement?.room ?? room,
    // Either transport takes the ship back with it (Hello.resume, or the long-poll join's `resume`).
    resume: resume?.token ?? null,
    seq: resume?.seq ?? 0,
    player: loadPlayerKey(browserStorage()),
    token: playerTokenOf(/** @type {any} */ (globalThis).skirmishPlayerToken, location.hash),
    onPlayer: (key) => savePlayerKey(browserStorage(), key),
    send: (msg) => transport.send(msg),
    transport: kind,
    fallback,
  });
  if (fallback) session.notice('WebSocket unavailable: playing over long polling');
  /** @type {Game} */
  const current = { session, transport, timers: [], left: false, welcomed: false, answered: false };
  game = current;

  ui.lobby.hidden = true;
  ui.banner.hidden = true;
  ui.game.hidden = false;
  resize();

  /**
   * Applies the fallback rule to a WebSocket that closed or stalled.
   * @param {'close' | 'timeout'} event
   * @returns {boolean} whether the game moved to long polling
   */
  const fellBack = (event) => {
    if (kind !== 'websocket' || game !== current || current.left) return false;
    const next = webSocketTrouble({ mode, event, welcomed: current.welcomed, answered: current.answered, worked: webSocketWorked });
    if (next !== 'longpoll') return false;
    console.info(`skirmish: the WebSocket ${event === 'close' ? 'could not connect' : 'brought no Welcome'}; falling back to long polling`);
    webSocketFailed = true;
    clearTimers(current);
    transport.abandon();
    session.closed(1006, 'fell back to long polling');
    void place('longpoll', name, room, resume, true);
    return true;
  };

  if (kind === 'websocket') current.timers.push(window.setTimeout(() => fellBack('timeout'), FALLBACK_MS));

  transport.connect({
    open() {
      session.opened();
      if (kind !== 'websocket') return; // long polling has no Ping: its input POSTs are timed
      session.sendPing();
      current.timers.push(window.setInterval(() => session.sendPing(), PING_MS));
    },
    message(msg) {
      current.answered = true;
      session.handle(msg);
      if (typeof msg === 'object' && 'Welcome' in msg) {
        current.welcomed = true;
        if (kind === 'websocket') webSocketWorked = true;
        const hz = Math.max(1, msg.Welcome.rules.tick_hz);
        current.timers.push(
          window.setInterval(() => {
            session.sendInput(takeButtons(), currentAim(session));
            rememberResume(current);
          }, 1000 / hz),
        );
        rememberResume(current);
      }
    },
    rtt(ms) {
      session.measured(ms);
    },
    close(code, reason) {
      if (fellBack('close')) return;
      clearTimers(current);
      session.closed(code, reason);
      if (game !== current || current.left) return;
      const error = session.state.error;
      if (error?.code === 'ResumeRejected' && resume) {
        // The old ship is gone: join afresh, once.
        saveResume(null);
        connect(name, room, null);
        return;
      }
      const lost = lostGame(code);
      if (lost !== null) {
        // The room is gone for good (the cluster closed it): a new game,
        // in any room, and say why.
        saveResume(null);
        showNotice(lost);
        void place(kind, name, null, null, false);
        return;
      }
      const moved = movedPlacement(code, reason, session.state.moved);
      if (moved) {
        // A rolling deploy handed the room to another node at its round's
        // end: the same ship (and score) there, with the resume token (a
        // long-poll join carries it too, at the node's base URL).
        showNotice('Your match moved to a new server; rejoining…');
        start(kind, name, moved.room, loadResume(), kind === 'longpoll' && fallback, 0, moved);
        return;
      }
      if (drained(code, reason)) {
        // The room's node is being replaced and the room is gone with it:
        // no resume, a new match at once, anywhere.
        saveResume(null);
        showNotice(DRAINED_MESSAGE);
        connect(name, null, null);
        return;
      }
      if (code === CloseCode.SessionReplaced) saveResume(null);
      // A dropped game comes back by itself with its resume token, so the
      // ship and score survive a network blip; deliberate ends do not.
      const tries = current.welcomed ? 0 : attempt;
      const saved = loadResume();
      const delay = kind === 'websocket' && (current.welcomed || attempt > 0) && saved
        ? reconnectDelay(code, tries)
        : null;
      if (delay !== null) {
        ui.bannerText.textContent = `Connection lost (${code}); reconnecting…`;
        ui.banner.hidden = false;
        current.timers.push(
          setTimeout(() => {
            if (game !== current) return;
            // Matchmaking on this page's node finds the ship's node again.
            void place('websocket', name, room, loadResume(), false, tries + 1);
          }, delay),
        );
        return;
      }
      showBanner(session);
    },
  });
}

/** @param {{ session: GameSession, left: boolean }} current */
function rememberResume(current) {
  const { session } = current;
  if (current.left || !session.resume) return;
  // The room the Welcome named: a resume must say which room holds the ship,
  // and the player may have asked for "any public room".
  const room = session.state.room ?? session.room;
  saveResume({ name: session.name, room, token: session.resume, seq: session.state.seq });
}

/** @param {GameSession} session a closed session */
function showBanner(session) {
  const { close, error } = session.state;
  const parts = [`Disconnected: ${close?.code ?? '?'} ${close?.name ?? ''}`.trim()];
  if (close?.reason) parts.push(close.reason);
  if (error) parts.push(`${error.code}: ${error.message}`);
  ui.bannerText.textContent = parts.join(' — ');
  ui.banner.hidden = false;
}

// ---------------------------------------------------------------------------
// Drawing

let scale = 1; // canvas pixels per arena unit

/** The minimap's longer side, in CSS pixels, and its distance from the canvas's corner. */
const MINIMAP_PX = 180;
const MINIMAP_PAD = 12;

/** The canvas shows the camera's view (`VIEW_W` x `VIEW_H` units), as large as the window allows. */
function resize() {
  const w = VIEW_W;
  const h = VIEW_H;
  const cssScale = Math.min(window.innerWidth / w, window.innerHeight / h);
  const dpr = window.devicePixelRatio || 1;
  ui.canvas.style.width = `${Math.floor(w * cssScale)}px`;
  ui.canvas.style.height = `${Math.floor(h * cssScale)}px`;
  ui.canvas.width = Math.floor(w * cssScale * dpr);
  ui.canvas.height = Math.floor(h * cssScale * dpr);
  scale = cssScale * dpr;
}
window.addEventListener('resize', resize);

/** The hp pips and name colours. */
const COLORS = { own: '#ffd166', other: '#ef476f', bot: '#8d99ae', shot: '#f8f8f2', grid: '#161d2b' };

/**
 * @typedef {object} ShipDrawn
 * @property {number} id
 * @property {string} name
 * @property {boolean} bot
 * @property {number} x arena units
 * @property {number} y arena units
 * @property {number} aim quantised, may be fractional
 * @property {number} hp
 */

/**
 * The ships of this frame: the own ship where prediction puts it, aiming
 * where the mouse is now; every other ship interpolated a little in the past.
 * @param {GameSession} session
 * @param {import('./snapshot.js').WorldState} world
 * @returns {ShipDrawn[]}
 */
function shipsToDraw(session, world) {
  const ownId = session.state.ship;
  /** @type {ShipDrawn[]} */
  const out = [];
  const now = performance.now();
  const others = session.interpolator?.sample(now, ownId) ?? [];
  // What the player sees and aims at, for tests that aim the same way.
  session.state.drawn = { at: now, tick: session.interpolator?.shownTick(now) ?? null, ships: others };
  for (const s of others) {
    const known = world.ships.get(s.id);
    out.push({ ...s, name: known?.name ?? session.view.names.get(s.id) ?? `#${s.id}`, bot: known?.bot ?? false });
  }
  const me = session.ownShip();
  if (me) {
    const at = session.state.predicted ?? { x: units(me.x), y: units(me.y) };
    out.push({ id: me.id, name: me.name, bot: false, x: at.x, y: at.y, aim: input.aim, hp: me.hp });
  }
  return out;
}

/** @param {GameSession} session */
function draw(session) {
  const { rules } = session.state;
  const world = session.view.latest;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = '#0d1320';
  ctx.fillRect(0, 0, ui.canvas.width, ui.canvas.height);
  if (!rules || !world) return;
  if (Math.abs(ui.canvas.width - Math.floor(VIEW_W * scale)) > 1) resize();
  const view = cameraOf(session) ?? follow(rules, rules.arena_w / 2, rules.arena_h / 2);
  session.state.camera = view;

  // Arena units to canvas pixels through the camera.
  ctx.setTransform(scale, 0, 0, scale, -view.x0 * scale, -view.y0 * scale);
  ctx.strokeStyle = COLORS.grid;
  ctx.lineWidth = 1 / scale;
  ctx.beginPath();
  for (let x = 100; x < rules.arena_w; x += 100) {
    ctx.moveTo(x, 0);
    ctx.lineTo(x, rules.arena_h);
  }
  for (let y = 100; y < rules.arena_h; y += 100) {
    ctx.moveTo(0, y);
    ctx.lineTo(rules.arena_w, y);
  }
  ctx.stroke();
  ctx.strokeStyle = '#3a4760';
  ctx.lineWidth = 3 / scale;
  ctx.strokeRect(0, 0, rules.arena_w, rules.arena_h);

  // Projectiles: extrapolated from their origin, since the snapshot's tick.
  const elapsed = ((performance.now() - session.snapshotAt) / 1000) * rules.tick_hz;
  ctx.fillStyle = COLORS.shot;
  for (const shot of world.shots.values()) {
    const age = world.tick - shot.fired + elapsed;
    if (age < 0 || age > rules.shot_life_ticks) continue;
    const [x, y] = shotPosition(rules, [shot.x, shot.y], shot.aim, age);
    ctx.beginPath();
    ctx.arc(x, y, Math.max(4, 2 / scale), 0, Math.PI * 2);
    ctx.fill();
  }

  const size = Math.max(rules.hit_radius, 8 / scale);
  const font = Math.max(14, 11 / scale);
  ctx.font = `${font}px system-ui, sans-serif`;
  ctx.textAlign = 'center';
  const ownId = session.state.ship;
  const ships = shipsToDraw(session, world);
  for (const ship of ships) {
    if (ship.hp === 0) continue;
    const own = ship.id === ownId;
    const { x, y } = ship;
    const color = own ? COLORS.own : ship.bot ? COLORS.bot : COLORS.other;

    drawShip(ctx, x, y, (ship.aim * 2 * Math.PI) / AIM_STEPS, size, color);

    if (own) {
      ctx.strokeStyle = COLORS.own;
      ctx.lineWidth = 2 / scale;
      ctx.beginPath();
      ctx.arc(x, y, size * 1.8, 0, Math.PI * 2);
      ctx.stroke();
      continue;
    }
    ctx.fillStyle = '#d8dee9';
    ctx.fillText(ship.name, x, y - size * 1.6);
    const pip = Math.max(5, 4 / scale);
    const left = x - ((rules.max_hp - 1) * pip * 1.6) / 2;
    for (let i = 0; i < rules.max_hp; i++) {
      ctx.fillStyle = i < ship.hp ? '#06d6a0' : '#3a4760';
      ctx.fillRect(left + i * pip * 1.6 - pip / 2, y + size * 1.4, pip, pip);
    }
  }
  drawMinimap(rules, ships, ownId, view);
}

/**
 * The whole arena in the canvas's corner: every ship the client knows of
 * (in a crowded room, only those in its area of interest; in a small room,
 * all of them), the own ship brighter, and the camera's view as a frame.
 * @param {import('./protocol.js').Rules} rules
 * @param {ShipDrawn[]} ships
 * @param {number | null} ownId
 * @param {import('./camera.js').Rect} view
 */
function drawMinimap(rules, ships, ownId, view) {
  const dpr = window.devicePixelRatio || 1;
  const m = minimap(rules, ui.canvas.width, ui.canvas.height, MINIMAP_PX * dpr, MINIMAP_PAD * dpr);
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = 'rgba(13, 19, 32, 0.85)';
  ctx.fillRect(m.left, m.top, m.w, m.h);
  ctx.strokeStyle = '#3a4760';
  ctx.lineWidth = dpr;
  ctx.strokeRect(m.left, m.top, m.w, m.h);
  const corner = m.at(view.x0, view.y0);
  const far = m.at(view.x1, view.y1);
  ctx.strokeStyle = '#d8dee9';
  ctx.strokeRect(corner.x, corner.y, far.x - corner.x, far.y - corner.y);
  const dot = 2 * dpr;
  for (const ship of ships) {
    if (ship.hp === 0) continue;
    const own = ship.id === ownId;
    const at = m.at(ship.x, ship.y);
    ctx.fillStyle = own ? COLORS.own : ship.bot ? COLORS.bot : COLORS.other;
    const r = own ? dot * 1.6 : dot;
    ctx.fillRect(at.x - r, at.y - r, 2 * r, 2 * r);
  }
}

/**
 * Sets text only when it changed, so the DOM is not touched every frame.
 * @param {HTMLElement} el
 * @param {string} text
 */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/** Snapshots counted over about a second, for the measured rate. */
const rate = { since: 0, count: 0, perSecond: 0 };

/** @param {GameSession} session */
function drawHud(session) {
  const s = session.state;
  const now = performance.now();
  if (now - rate.since >= 1000) {
    rate.perSecond = session.snapshots < rate.count ? 0 : ((session.snapshots - rate.count) * 1000) / (now - rate.since);
    rate.since = now;
    rate.count = session.snapshots;
  }

  setText(ui.score, String(s.score));
  setText(ui.time, s.timeLeft === null ? '-' : clock(s.timeLeft));
  setText(ui.ping, s.rttMs === null ? '-' : `${Math.round(s.rttMs)} ms`);
  setText(ui.rate, s.rules ? `${s.rules.tick_hz} Hz (${Math.round(rate.perSecond)}/s)` : '-');
  setText(ui.transport, s.transport === 'longpoll' ? 'Long polling' : 'WebSocket');
  ui.fallback.hidden = !s.fallback;

  const top = [...s.ships].sort((a, b) => b.score - a.score || a.id - b.id).slice(0, 8);
  const board = top.map((p) => `${p.own ? '*' : ''}${p.name}:${p.score}`).join('|');
  if (ui.scoreboard.dataset.board !== board) {
    ui.scoreboard.dataset.board = board;
    ui.scoreboard.replaceChildren(
      ...top.map((p) => {
        const li = document.createElement('li');
        li.textContent = p.name;
        if (p.own) li.className = 'own';
        const score = document.createElement('span');
        score.textContent = String(p.score);
        li.append(score);
        return li;
      }),
    );
  }

  const lines = s.feed.filter((line) => line.at > now - FEED_MS);
  const feed = lines.map((line) => `${line.at}:${line.text}`).join('|');
  if (ui.feed.dataset.feed !== feed) {
    ui.feed.dataset.feed = feed;
    ui.feed.replaceChildren(
      ...lines.map((line) => {
        const li = document.createElement('li');
        li.textContent = line.text;
        return li;
      }),
    );
  }
}

function frame() {
  if (game && !ui.game.hidden) {
    draw(game.session);
    drawHud(game.session);
    drawResults(game.session);
  }
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);
