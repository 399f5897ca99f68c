// @ts-check
/**
 * @file The scoreboard page: one EventSource on a room feed
 * (`?room=main`, the default) or on the global ticker (`?ticker`), its
 * events folded into `standings.js`, and the DOM and minimap drawn from
 * that. What the feeds mean lives in `standings.js`; this file only wires
 * it to the browser. `window.skirmishScoreboard.state` says what is shown.
 * `?replay=<match id>` plays a recorded round's replay instead (its stream
 * carries the live feed's events, folded and drawn the same way), with
 * the controls of `replay.js`.
 */

import { drawShip } from './draw.js';
import { RoomEvent, TickerEvent, endsStream } from './feed.js';
import { inviteOf, withInvite } from './lobby.js';
import { validRoomId } from './protocol.js';
import { drawLeaderboard } from './leaderboards.js';
import { fetchLeaderboard } from './records.js';
import { REPLAY_SPEEDS, ReplayControl, replayOf } from './replay.js';
import { REFERENCE_ARENA, aimRadians } from './rules.js';
import {
  MOVE_MS,
  RESULT_MS,
  RoomBoard,
  TickerBoard,
  formatClock,
  moveText,
  nextConnection,
  parseEventId,
  playerColor,
} from './standings.js';
import { follow, VIEW_H, VIEW_W } from './camera.js';

/** Arena size in units: the feeds do not carry the rules, so the reference arena's. */
const { arena_w: ARENA_W, arena_h: ARENA_H } = REFERENCE_ARENA;
/** The map is square: the longer side fills it. */
const ARENA = Math.max(ARENA_W, ARENA_H);
/**
 * The ship the map follows with the game's camera (`camera.js`), by player
 * id, chosen by clicking its line in the standings (again: the whole
 * arena); null shows the whole arena. A ship that is gone from the room
 * returns the map to the whole arena.
 * @type {number | null}
 */
let followed = null;
/** The camera the map last drew with (arena units), or null for the whole arena. */
/** @type {import('./camera.js').Rect | null} */
let mapView = null;

/** How often the room picker's list is refreshed. */
const ROOMS_MS = 5000;
/** Waits before making a new EventSource after the browser gave up on one. */
const RETRY_MIN_MS = 2000;
const RETRY_MAX_MS = 15000;
/** Seconds without a state sample (10 a second when live) before the bar says so. */
const STALE_SECS = 3;

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @returns {T}
 */
function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from scoreboard.html`);
  return /** @type {T} */ (el);
}

/**
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text]
 */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * Sets text only when it changed, so the DOM is not touched every frame.
 * @param {HTMLElement} node
 * @param {string} text
 */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

const ui = {
  toLobby: /** @type {HTMLAnchorElement} */ ($('to-lobby')),
  picker: /** @type {HTMLSelectElement} */ ($('picker')),
  roundNumber: $('round-number'),
  clock: $('clock'),
  conn: $('conn'),
  connPhase: $('conn-phase'),
  connNote: $('conn-note'),
  connId: $('conn-id'),
  serverNotice: $('server-notice'),
  mapPanel: $('map-panel'),
  canvas: /** @type {HTMLCanvasElement} */ ($('minimap')),
  result: $('result'),
  resultTitle: $('result-title'),
  resultList: $('result-list'),
  resultTimer: $('result-timer'),
  standingsTitle: $('standings-title'),
  standings: $('standings'),
  standingsEmpty: $('standings-empty'),
  records: $('records'),
  leaderboard: $('leaderboard'),
  leaderboardEmpty: $('leaderboard-empty'),
  kills: $('kills'),
  killsEmpty: $('kills-empty'),
  meta: $('meta'),
  tape: $('tape'),
  tapeTrack: $('tape-track'),
  replayPlay: /** @type {HTMLButtonElement} */ ($('replay-play')),
  replaySpeed: /** @type {HTMLSelectElement} */ ($('replay-speed')),
  replaySeek: /** @type {HTMLInputElement} */ ($('replay-seek')),
  replayTime: $('replay-time'),
};

const ctx = /** @type {CanvasRenderingContext2D} */ (ui.canvas.getContext('2d'));

// ---------------------------------------------------------------------------
// What to watch, and the one feed watching it

/** @typedef {{ kind: 'room', room: string } | { kind: 'ticker' } | { kind: 'replay', id: number }} Target */

/**
 * The target a URL names: `?ticker`, else `?room=` (default main).
 * @param {string} search
 * @returns {{ target: Target, problem: string }}
 */
function targetOf(search) {
  const params = new URLSearchParams(search);
  if (params.has('ticker')) return { target: { kind: 'ticker' }, problem: '' };
  const replay = replayOf(search);
  if (replay.id !== null) return { target: { kind: 'replay', id: replay.id }, problem: '' };
  if (replay.problem) return { target: { kind: 'room', room: 'main' }, problem: replay.problem };
  const room = params.get('room')?.trim() || 'main';
  if (validRoomId(room)) return { target: { kind: 'room', room }, problem: '' };
  return { target: { kind: 'room', room: 'main' }, problem: `"${room}" is not a room id` };
}

/** @param {Target} target */
function searchOf(target) {
  if (target.kind === 'replay') return `?replay=${target.id}`;
  return target.kind === 'ticker' ? '?ticker' : `?room=${encodeURIComponent(target.room)}`;
}

/**
 * @typedef {object} Feed
 * @property {Target} target
 * @property {RoomBoard | TickerBoard} model
 * @property {EventSource | null} source
 * @property {import('./standings.js').ConnectionPhase} phase
 * @property {string} note why it is not live, if known
 * @property {number} retries new EventSources made after the browser gave up
 * @property {number | undefined} retryTimer
 * @property {number} events events taken in
 * @property {number} openedAt local milliseconds the stream last opened
 * @property {ReplayControl | null} control a replay's controls
 */

/** @type {Feed | null} */
let feed = null;

/**
 * Starts watching `target`, dropping whatever was watched before.
 * @param {Target} target
 * @param {string} [problem] shown until the feed is live
 */
function watch(target, problem = '') {
  stop();
  const current = /** @type {Feed} */ ({
    target,
    model: boardOf(target),
    source: null,
    phase: 'connecting',
    note: problem,
    retries: 0,
    retryTimer: undefined,
    events: 0,
    openedAt: Infinity,
    control: target.kind === 'replay' ? new ReplayControl(target.id) : null,
  });
  feed = current;
  document.body.classList.toggle('view-ticker', target.kind === 'ticker');
  document.body.classList.toggle('view-room', target.kind !== 'ticker');
  document.body.classList.toggle('view-replay', target.kind === 'replay');
  document.title =
    target.kind === 'ticker' ? 'Skirmish ticker' : target.kind === 'replay' ? `Skirmish: replay of match ${target.id}` : `Skirmish: ${target.room}`;
  const invited = inviteOf(location.search, location.hash);
  const back = target.kind === 'room' ? `./?room=${encodeURIComponent(target.room)}` : './';
  ui.toLobby.href = invited && target.kind === 'room' && invited.room === target.room ? `${back}#invite=${invited.code}` : back;
  setText(ui.standingsTitle, target.kind === 'ticker' ? 'Top scores, all rooms' : target.kind === 'replay' ? `Standings · match ${target.id}` : 'Standings');
  resetViews();
  syncPicker();
  open(current, null);
}

function stop() {
  if (!feed) return;
  clearTimeout(feed.retryTimer);
  feed.source?.close();
  feed.source = null;
  feed = null;
}

/**
 * Opens an EventSource for `current`, resuming after `lastEventId` if set
 * (the browser sends Last-Event-ID itself on its own reconnects; a new
 * EventSource needs the query parameter).
 * @param {Feed} current
 * @param {number | null} lastEventId
 */
function open(current, lastEventId) {
  const { target, control } = current;
  const source = new EventSource(control ? control.url() : feedUrl(target, lastEventId));
  current.source = source;

  source.addEventListener('open', () => {
    if (feed !== current) return;
    current.openedAt = performance.now();
    current.phase = nextConnection(current.phase, 'open');
    current.note = '';
    current.retries = 0;
  });
  source.addEventListener('error', () => {
    if (feed !== current || current.source !== source) return;
    current.phase = nextConnection(current.phase, 'error', source.readyState);
    if (source.readyState === EventSource.CLOSED) {
      // The browser gave up (a 404, a 503, a dropped server): try again
      // ourselves, slower each time.
      source.close();
      retryLater(current);
    }
  });

  const kinds = Object.values(target.kind === 'ticker' ? TickerEvent : RoomEvent);
  for (const kind of kinds) {
    source.addEventListener(kind, (e) => {
      if (feed !== current) return;
      const msg = /** @type {MessageEvent<string>} */ (e);
      let data;
      try {
        data = JSON.parse(msg.data);
      } catch {
        console.warn(`skirmish: ${kind} event with bad JSON`, msg.data);
        return;
      }
      if (endsStream(kind)) {
        current.note = String(data?.reason ?? kind);
        if (control) {
          // A replay that ended is not asked for again.
          control.finished(current.note);
          source.close();
          current.phase = 'closed';
        }
        // A live stream ends; the browser reconnects by itself.
        return;
      }
      if (control && (kind === RoomEvent.Snapshot || kind === RoomEvent.Reset)) control.opened(data);
      // EventSource repeats the previous id on events without one, so only
      // logged events are read for their id.
      const id = kind === RoomEvent.State ? null : parseEventId(msg.lastEventId);
      try {
        if (current.model.apply(kind, data, id, performance.now())) current.events++;
      } catch (err) {
        console.warn(`skirmish: could not apply ${kind}`, data, err);
      }
    });
  }
}

/**
 * The board a target's events are folded into.
 * @param {Target} target
 */
function boardOf(target) {
  if (target.kind === 'ticker') return new TickerBoard();
  return new RoomBoard(target.kind === 'room' ? target.room : `match ${target.id}`);
}

/**
 * A live feed's URL, resuming after `lastEventId` if set.
 * @param {Target} target
 * @param {number | null} lastEventId
 */
function feedUrl(target, lastEventId) {
  const base = target.kind === 'room' ? `/api/rooms/${encodeURIComponent(target.room)}/events` : '/api/ticker';
  const invited = inviteOf(location.search, location.hash);
  const code = target.kind === 'room' && invited?.room === target.room ? invited.code : null;
  return withInvite(lastEventId === null ? base : `${base}?lastEventId=${lastEventId}`, code);
}

/**
 * Opens the replay again from its control's position and speed, on a
 * fresh board (the stream starts with a snapshot and what came before).
 * @param {Feed} current
 */
function restartReplay(current) {
  clearTimeout(current.retryTimer);
  current.source?.close();
  current.model = boardOf(current.target);
  current.phase = 'connecting';
  current.note = '';
  resetViews();
  open(current, null);
}

/** @param {Feed} current */
function retryLater(current) {
  const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** current.retries);
  current.retries++;
  current.retryTimer = window.setTimeout(() => {
    if (feed !== current) return;
    current.phase = nextConnection(current.phase, 'retry');
    if (current.control) {
      current.control.at = current.control.position(current.model instanceof RoomBoard ? current.model.tick : null);
      restartReplay(current);
      return;
    }
    open(current, current.model.lastEventId);
  }, delay);
  if (current.target.kind === 'room') {
    const room = current.target.room;
    fetchRooms().then((rooms) => {
      if (feed !== current || !rooms) return;
      if (!rooms.some((r) => r.id === room)) current.note = `no room "${room}"`;
      else if (!current.note) current.note = 'feed unavailable';
    });
  } else if (!current.note) {
    current.note = current.control ? 'replay unavailable' : 'feed unavailable';
  }
}

// ---------------------------------------------------------------------------
// The room picker

/**
 * @typedef {object} RoomInfo
 * @property {string} id
 * @property {boolean} public
 * @property {number} players
 * @property {number} max_players
 * @property {number} spectators
 * @property {number} bots
 */

/** @type {RoomInfo[]} */
let rooms = [];

/** @returns {Promise<RoomInfo[] | null>} */
async function fetchRooms() {
  try {
    const res = await fetch('/api/rooms', { cache: 'no-store' });
    if (!res.ok) return null;
    const list = await res.json();
    return Array.isArray(list) ? list : null;
  } catch {
    return null;
  }
}

async function refreshRooms() {
  const asked = performance.now();
  const list = await fetchRooms();
  if (!list) return;
  rooms = list;
  syncPicker();
  // The server does not end a closed room's stream (no `closed` event: it
  // goes quiet but for heartbeats), so a room missing from a list asked for
  // after the stream opened is taken as closed.
  const current = feed;
  if (current?.target.kind !== 'room' || current.phase !== 'live' || asked < current.openedAt) return;
  const room = current.target.room;
  if (list.some((r) => r.id === room)) return;
  current.source?.close();
  current.phase = 'closed';
  current.note = `room "${room}" closed`;
  retryLater(current);
}

/**
 * @typedef {object} MatchInfo
 * @property {number} id
 * @property {string} room
 * @property {number} round
 * @property {number} ended_ms
 * @property {string | null} winner
 */

/** The newest recorded matches, to pick a replay from. */
/** @type {MatchInfo[]} */
let matches = [];

/** How many recent matches the picker offers. */
const MATCHES_LISTED = 10;

async function refreshMatches() {
  try {
    const res = await fetch(`/api/matches?limit=${MATCHES_LISTED}`, { cache: 'no-store' });
    if (!res.ok) return;
    const page = await res.json();
    matches = Array.isArray(page?.matches) ? page.matches : [];
    syncPicker();
  } catch {
    // No records on this server: no replays to offer.
  }
}

/** @param {MatchInfo} m */
function matchLabel(m) {
  const when = new Date(m.ended_ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return `Replay: ${m.room} round ${m.round} · ${when}${m.winner ? ` · won by ${m.winner}` : ''}`;
}

/** @param {RoomInfo} r */
function roomLabel(r) {
  const people = r.bots > 0 ? `${r.players} + ${r.bots} bots` : `${r.players} playing`;
  return `${r.id}${r.public ? '' : ' (private)'} · ${people} · ${r.spectators} watching`;
}

/** Rebuilds the picker's options when they changed, keeping the selection. */
function syncPicker() {
  const target = feed?.target;
  const options = [{ value: '?ticker', label: 'All rooms: score ticker' }];
  for (const r of rooms) options.push({ value: `?room=${encodeURIComponent(r.id)}`, label: roomLabel(r) });
  if (target?.kind === 'room' && !rooms.some((r) => r.id === target.room)) {
    options.push({ value: searchOf(target), label: target.room });
  }
  for (const m of matches) options.push({ value: `?replay=${m.id}`, label: matchLabel(m) });
  if (target?.kind === 'replay' && !matches.some((m) => m.id === target.id)) {
    options.push({ value: searchOf(target), label: `Replay: match ${target.id}` });
  }
  const key = options.map((o) => `${o.value}=${o.label}`).join('\n');
  if (ui.picker.dataset.key !== key) {
    ui.picker.dataset.key = key;
    ui.picker.replaceChildren(
      ...options.map((o) => {
        const option = /** @type {HTMLOptionElement} */ (el('option', '', o.label));
        option.value = o.value;
        return option;
      }),
    );
  }
  if (target) ui.picker.value = searchOf(target);
}

ui.picker.addEventListener('change', () => {
  const { target } = targetOf(ui.picker.value);
  history.pushState(null, '', `scoreboard.html${searchOf(target)}`);
  watch(target);
});

window.addEventListener('popstate', () => {
  const { target, problem } = targetOf(location.search);
  watch(target, problem);
});

// ---------------------------------------------------------------------------
// Replay controls

ui.replaySpeed.replaceChildren(
  ...REPLAY_SPEEDS.map((speed) => {
    const option = /** @type {HTMLOptionElement} */ (el('option', '', `${speed}×`));
    option.value = String(speed);
    return option;
  }),
);

/** The replay being watched and its board's newest tick, if any. */
function replaying() {
  const current = feed;
  if (!current?.control) return null;
  const tick = current.model instanceof RoomBoard ? current.model.tick : null;
  return { current, control: current.control, tick };
}

ui.replayPlay.addEventListener('click', () => {
  const r = replaying();
  if (!r) return;
  if (r.control.playing) {
    r.control.pause(r.tick);
    r.current.source?.close();
    r.current.source = null;
    r.current.phase = 'closed';
    r.current.note = 'paused';
  } else {
    r.control.play();
    restartReplay(r.current);
  }
});

ui.replaySpeed.addEventListener('change', () => {
  const r = replaying();
  if (!r) return;
  if (r.control.setSpeed(Number(ui.replaySpeed.value), r.tick) && r.control.playing) restartReplay(r.current);
});

ui.replaySeek.addEventListener('change', () => {
  const r = replaying();
  if (!r) return;
  r.control.seek(Number(ui.replaySeek.value));
  r.control.playing = true;
  restartReplay(r.current);
});

/** @param {number} secs */
function mmss(secs) {
  const s = Math.max(0, Math.floor(secs));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * The replay bar: play or pause, the speed, the seek bar at the position.
 * @param {ReplayControl} control
 * @param {number | null} tick
 */
function drawReplayBar(control, tick) {
  const at = control.playing ? control.position(tick) : control.at;
  const duration = control.duration;
  setText(ui.replayPlay, control.playing ? 'Pause' : control.ended ? 'Replay' : 'Play');
  if (ui.replaySpeed.value !== String(control.speed)) ui.replaySpeed.value = String(control.speed);
  if (duration !== null && ui.replaySeek.max !== String(duration)) ui.replaySeek.max = String(duration);
  // Not while the user drags it.
  if (document.activeElement !== ui.replaySeek) ui.replaySeek.value = String(at);
  setText(ui.replayTime, `${mmss(at)} / ${duration === null ? '–:––' : mmss(duration)}`);
}

// ---------------------------------------------------------------------------
// Drawing the lists

/** Rows of the standings by key, kept so a row can slide to its new place. */
/** @type {Map<string, HTMLLIElement>} */
const rows = new Map();
/** @type {Map<number | string, HTMLLIElement>} */
const killRows = new Map();
/** Tape items already on the track, by the event id (or a counter). */
const taped = new Set();
const tapeMotion = { x: 0, last: 0 };

function resetViews() {
  rows.clear();
  ui.standings.replaceChildren();
  ui.standings.dataset.key = '';
  killRows.clear();
  ui.kills.replaceChildren();
  ui.kills.dataset.key = '';
  ui.result.hidden = true;
  ui.resultList.dataset.key = '';
  taped.clear();
  ui.tapeTrack.replaceChildren();
  tapeMotion.x = ui.tape.clientWidth;
}

/**
 * @typedef {object} Line
 * @property {string} key
 * @property {number} player
 * @property {string} name
 * @property {boolean} bot
 * @property {number} score
 * @property {number} rank
 * @property {import('./standings.js').Move | null} move
 * @property {string} [room]
 * @property {number | null} [hp]
 */

/**
 * The standings, each row moving from where it was to its new place (FLIP),
 * with its move (▲/▼ and points) fading out and a flash when it changed.
 * @param {Line[]} lines
 * @param {number | null} leader
 */
function drawStandings(lines, leader) {
  const key = lines
    .map((l) => `${l.key}:${l.name}:${l.score}:${l.rank}:${l.move?.at ?? '-'}:${l.hp === 0 ? 0 : 1}`)
    .join('|');
  ui.standingsEmpty.hidden = lines.length > 0;
  if (ui.standings.dataset.key === key) return;
  ui.standings.dataset.key = key;

  /** @type {Map<string, number>} */
  const before = new Map();
  for (const [k, row] of rows) before.set(k, row.getBoundingClientRect().top);

  const keep = new Set(lines.map((l) => l.key));
  for (const [k, row] of rows) {
    if (!keep.has(k)) {
      row.remove();
      rows.delete(k);
    }
  }
  for (const line of lines) {
    let row = rows.get(line.key);
    if (!row) {
      row = /** @type {HTMLLIElement} */ (el('li'));
      row.append(el('span', 'rank'), el('i', 'swatch'), el('span', 'name'), el('span', 'move'), el('b', 'score'));
      if (line.room === undefined) {
        // A room's line: clicking it follows that ship on the map.
        const player = line.player;
        row.title = 'Follow on the map (click again for the whole arena)';
        row.addEventListener('click', () => {
          followed = followed === player ? null : player;
        });
      }
      arrive(row);
      rows.set(line.key, row);
    }
    fillRow(row, line, leader);
    ui.standings.append(row); // appending an existing row moves it: the new order
  }

  // FLIP: start each moved row where it was, then let it slide home.
  for (const line of lines) {
    const row = /** @type {HTMLLIElement} */ (rows.get(line.key));
    const was = before.get(line.key);
    if (was === undefined) continue;
    const dy = was - row.getBoundingClientRect().top;
    if (Math.abs(dy) < 1) continue;
    row.style.transition = 'none';
    row.style.transform = `translateY(${dy}px)`;
    row.getBoundingClientRect(); // commit the start position
    row.style.transition = '';
    row.style.transform = '';
  }
}

/**
 * Slides a new line in, once: the class goes when its animation ends, or a
 * later change of the row's animation (a flash ending) would replay it.
 * @param {HTMLElement} node
 */
function arrive(node) {
  node.classList.add('arrived');
  /** @param {AnimationEvent} e */
  const done = (e) => {
    if (e.target !== node || e.animationName !== 'arrive') return;
    node.classList.remove('arrived');
    node.removeEventListener('animationend', done);
  };
  node.addEventListener('animationend', done);
}

/**
 * @param {HTMLLIElement} row
 * @param {Line} line
 * @param {number | null} leader
 */
function fillRow(row, line, leader) {
  const [rank, swatch, name, move, score] = /** @type {HTMLElement[]} */ ([...row.children]);
  setText(rank, String(line.rank));
  swatch.style.background = playerColor(line.player);
  name.replaceChildren(line.name);
  if (line.room !== undefined) name.append(el('small', 'room', line.room));
  if (line.bot) name.append(el('small', 'tag', 'bot'));
  setText(score, String(line.score));
  row.classList.toggle('leader', line.rank === 1 && line.score > 0 && (leader === null || leader === line.player));
  row.classList.toggle('dead', line.hp === 0);
  row.classList.toggle('followed', line.room === undefined && line.player === followed);

  const at = line.move ? String(line.move.at) : '';
  if (row.dataset.moveAt !== at) {
    row.dataset.moveAt = at;
    setText(move, moveText(line.move));
    move.className = 'move';
    row.classList.remove('flash-up', 'flash-down', 'arrived');
    if (line.move) {
      const up = line.move.rank > 0 || (line.move.rank === 0 && line.move.score > 0);
      void row.offsetWidth; // restart the animations
      move.classList.add(up ? 'up' : 'down', 'fading');
      move.style.animationDuration = `${MOVE_MS}ms`;
      row.classList.add(up ? 'flash-up' : 'flash-down');
    }
  }
}

/** @param {import('./standings.js').Kill[]} kills */
function drawKills(kills) {
  const key = kills.map((k, i) => k.id ?? `${k.tick}:${i}`).join('|');
  ui.killsEmpty.hidden = kills.length > 0;
  if (ui.kills.dataset.key === key) return;
  ui.kills.dataset.key = key;
  const keep = new Set();
  const items = kills.map((k, i) => {
    const id = k.id ?? `${k.tick}:${i}`;
    keep.add(id);
    let li = killRows.get(id);
    if (!li) {
      li = /** @type {HTMLLIElement} */ (el('li'));
      arrive(li);
      const killer = el('b', '', k.killerName);
      killer.style.color = playerColor(k.killer);
      const victim = el('b', '', k.victimName);
      victim.style.color = playerColor(k.victim);
      li.append(killer, el('span', 'weapon', ` ${k.weapon === 'blaster' ? '⟶' : `[${k.weapon}]`} `), victim);
      li.title = `tick ${k.tick}, ${k.weapon}`;
      killRows.set(id, li);
    }
    return li;
  });
  for (const id of killRows.keys()) if (!keep.has(id)) killRows.delete(id);
  ui.kills.replaceChildren(...items);
}

/**
 * The last round's results over the minimap, for a few seconds.
 * @param {import('./standings.js').RoundResult | null} result
 * @param {number} now
 */
function drawResult(result, now) {
  ui.result.hidden = !result;
  if (!result) return;
  const key = `${result.round}:${result.at}`;
  if (ui.resultList.dataset.key !== key) {
    ui.resultList.dataset.key = key;
    setText(ui.resultTitle, `Round ${result.round} results`);
    ui.resultList.replaceChildren(
      ...result.standings.slice(0, 8).map((s, i) => {
        const li = el('li');
        li.append(el('span', i < 3 ? `medal place-${i + 1}` : 'medal', String(i + 1)));
        const name = el('span', 'name', s.name);
        name.style.color = playerColor(s.player);
        li.append(name, el('b', 'score', String(s.score)));
        return li;
      }),
    );
    if (result.standings.length === 0) ui.resultList.append(el('li', 'empty', 'Nobody played.'));
  }
  const left = Math.max(0, 1 - (now - result.at) / RESULT_MS);
  /** @type {HTMLElement} */ (ui.resultTimer.firstElementChild).style.width = `${(left * 100).toFixed(1)}%`;
}

// ---------------------------------------------------------------------------
// The ticker's tape: score changes crawl right to left, newest entering last

/** @param {TickerBoard} model */
function feedTape(model) {
  // model.tape is newest first; append the unseen ones oldest first.
  const fresh = model.tape.filter((item) => !taped.has(item.id ?? item.at));
  for (const item of fresh.reverse()) {
    taped.add(item.id ?? item.at);
    const span = el('span', 'tape-item');
    const name = el('b', '', item.name);
    name.style.color = playerColor(item.player);
    span.append(name, el('small', '', ` (${item.room}) `), el('span', 'score', String(item.score)));
    span.append(el('em', item.delta >= 0 ? 'up' : 'down', ` ${item.delta >= 0 ? '▲' : '▼'}${Math.abs(item.delta)}`));
    ui.tapeTrack.append(span);
  }
}

/** @param {number} now */
function moveTape(now) {
  const dt = Math.min(0.1, (now - (tapeMotion.last || now)) / 1000);
  tapeMotion.last = now;
  const width = ui.tape.clientWidth;
  const track = ui.tapeTrack.scrollWidth;
  // Crawl, faster with a backlog off to the right; stop when the newest is in view.
  const backlog = Math.max(0, tapeMotion.x + track - width);
  tapeMotion.x = Math.max(width - track, tapeMotion.x - (70 + backlog * 0.8) * dt);
  // Items gone off the left are dropped, the track shifted to match.
  let first = /** @type {HTMLElement | null} */ (ui.tapeTrack.firstElementChild);
  while (first && tapeMotion.x + first.offsetLeft + first.offsetWidth < 0) {
    const gone = first.offsetWidth + parseFloat(getComputedStyle(ui.tapeTrack).columnGap || '0');
    first.remove();
    tapeMotion.x += gone;
    first = /** @type {HTMLElement | null} */ (ui.tapeTrack.firstElementChild);
  }
  ui.tapeTrack.style.transform = `translateX(${tapeMotion.x.toFixed(1)}px)`;
}

// ---------------------------------------------------------------------------
// The minimap

function sizeCanvas() {
  const box = ui.mapPanel.getBoundingClientRect();
  const side = Math.max(120, Math.floor(Math.min(box.width, box.height)));
  const dpr = window.devicePixelRatio || 1;
  if (ui.canvas.width !== Math.floor(side * dpr)) {
    ui.canvas.width = Math.floor(side * dpr);
    ui.canvas.height = Math.floor(side * dpr);
    ui.canvas.style.width = `${side}px`;
    ui.canvas.style.height = `${side}px`;
  }
}

/**
 * @param {RoomBoard} model
 * @param {number} now
 */
function drawMap(model, now) {
  sizeCanvas();
  const ships = model.shipsAt(now);
  const target = followed === null ? null : ships.find((s) => s.id === followed);
  if (followed !== null && model.sample && !model.players.has(followed)) followed = null;
  // Following: the game's camera on that ship, its 16:10 view across the
  // square map, centred; otherwise the whole arena.
  const view = target ? follow(REFERENCE_ARENA, target.x, target.y) : null;
  mapView = view;
  const scale = ui.canvas.width / (view ? VIEW_W : ARENA);
  const top = view ? (ui.canvas.height - VIEW_H * scale) / 2 : 0;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = '#0d1320';
  ctx.fillRect(0, 0, ui.canvas.width, ui.canvas.height);
  ctx.setTransform(scale, 0, 0, scale, view ? -view.x0 * scale : 0, view ? top - view.y0 * scale : 0);

  ctx.strokeStyle = '#161d2b';
  ctx.lineWidth = 1 / scale;
  ctx.beginPath();
  for (let x = 200; x < ARENA_W; x += 200) {
    ctx.moveTo(x, 0);
    ctx.lineTo(x, ARENA_H);
  }
  for (let y = 200; y < ARENA_H; y += 200) {
    ctx.moveTo(0, y);
    ctx.lineTo(ARENA_W, y);
  }
  ctx.stroke();
  ctx.strokeStyle = '#3a4760';
  ctx.lineWidth = 3 / scale;
  ctx.strokeRect(0, 0, ARENA_W, ARENA_H);

  const leader = model.leader();
  // Followed: ships at their true size (the reference hit radius, 20 units).
  const size = view ? 20 : Math.max(22, 7 / scale);
  const labels = view !== null || ships.length <= 16;
  ctx.font = `${view ? 16 : Math.max(26, 11 / scale)}px system-ui, sans-serif`;
  ctx.textAlign = 'center';
  // The leader last, on top of the others.
  ships.sort((a, b) => Number(a.id === leader) - Number(b.id === leader));
  for (const ship of ships) {
    const color = playerColor(ship.id);
    const lead = ship.id === leader;
    if (lead) {
      ctx.strokeStyle = '#ffd166';
      ctx.lineWidth = 3 / scale;
      ctx.beginPath();
      ctx.arc(ship.x, ship.y, size * 2, 0, Math.PI * 2);
      ctx.stroke();
    }
    drawShip(ctx, ship.x, ship.y, aimRadians(ship.aim), size, color);
    if (labels || lead) {
      const name = model.players.get(ship.id)?.name ?? `#${ship.id}`;
      ctx.fillStyle = lead ? '#ffd166' : '#aeb8c8';
      ctx.fillText(lead ? `★ ${name}` : name, ship.x, ship.y - size * 1.7);
    }
  }
  if (!model.sample) {
    ctx.fillStyle = '#7b8798';
    ctx.fillText('waiting for positions…', ARENA_W / 2, ARENA_H / 2);
  }
  if (view) {
    // Bars above and below the followed view.
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = '#070b13';
    ctx.fillRect(0, 0, ui.canvas.width, top);
    ctx.fillRect(0, ui.canvas.height - top, ui.canvas.width, top);
  }
}

// ---------------------------------------------------------------------------
// Every frame

/**
 * @param {Feed} current
 * @param {number} now
 */
function drawConnection(current, now) {
  ui.conn.dataset.phase = current.phase;
  setText(ui.connPhase, current.phase);
  const sample = current.model instanceof RoomBoard ? current.model.sample : null;
  const quiet = sample && current.phase === 'live' ? (now - sample.at) / 1000 : 0;
  setText(
    ui.connNote,
    current.phase !== 'live' ? current.note : quiet >= STALE_SECS ? `no update for ${Math.floor(quiet)} s` : '',
  );
  const id = current.model.lastEventId;
  setText(ui.connId, id === null ? '' : `#${id}`);
}

/** How long an operator's message stays on the board. */
const NOTICE_MS = 30_000;

/**
 * Shows the operators' newest message for a while.
 * @param {{ text: string, at: number } | null} notice
 * @param {number} now
 */
function drawNotice(notice, now) {
  const shown = notice !== null && now - notice.at < NOTICE_MS;
  ui.serverNotice.hidden = !shown;
  if (shown) setText(ui.serverNotice, `Server: ${notice.text}`);
}

function frame() {
  const current = feed;
  const now = performance.now();
  if (current) {
    drawConnection(current, now);
    const { model } = current;
    if (model instanceof RoomBoard) {
      setText(ui.roundNumber, model.round.number === null ? '–' : String(model.round.number));
      setText(ui.clock, formatClock(model.secsLeft(now)));
      const leader = model.leader();
      drawStandings(
        model.standings(now).map((p) => ({ ...p, key: String(p.player) })),
        leader,
      );
      drawKills(model.kills);
      drawNotice(model.notice, now);
      drawResult(model.resultAt(now), now);
      drawMap(model, now);
      if (current.control) drawReplayBar(current.control, model.tick);
      const ships = model.sample?.ships ?? [];
      setText(
        ui.meta,
        model.tick === null
          ? ''
          : `Tick ${model.tick} at ${model.tickHz ?? '?'} Hz · ${ships.filter((s) => s.hp > 0).length} of ${ships.length} ships alive`,
      );
    } else {
      drawStandings(
        model.standings(now).map((l) => ({ ...l, key: `${l.room}/${l.player}` })),
        null,
      );
      feedTape(model);
      moveTape(now);
    }
    setText(ui.standingsEmpty, model.ready ? 'Nobody here yet.' : 'Waiting for the feed…');
  }
  requestAnimationFrame(frame);
}

// ---------------------------------------------------------------------------
// For browser tests: what the page shows, as plain data.

/** @type {any} */ (window).skirmishScoreboard = {
  get state() {
    const current = feed;
    if (!current) return null;
    const { model, target } = current;
    const now = performance.now();
    const { control } = current;
    const common = {
      view: target.kind,
      room: target.kind === 'room' ? target.room : null,
      replay: control
        ? {
            match: control.id,
            playing: control.playing,
            ended: control.ended,
            speed: control.speed,
            at: control.playing && model instanceof RoomBoard ? control.position(model.tick) : control.at,
            duration: control.duration,
          }
        : null,
      connection: current.phase,
      note: current.note,
      lastEventId: model.lastEventId,
      events: current.events,
      ready: model.ready,
    };
    if (model instanceof RoomBoard) {
      return {
        ...common,
        standings: model.standings(now).map((p) => ({
          player: p.player,
          name: p.name,
          score: p.score,
          bot: p.bot,
          rank: p.rank,
          move: moveText(p.move) || null,
        })),
        kills: model.kills.map((k) => ({ ...k })),
        tick: model.tick,
        ships: model.sample?.ships.length ?? 0,
        alive: model.shipsAt(now).length,
        round: { number: model.round.number, secsLeft: model.secsLeft(now), clock: formatClock(model.secsLeft(now)) },
        result: model.resultAt(now),
        leader: model.leader(),
        following: followed,
        camera: mapView,
      };
    }
    return {
      ...common,
      standings: model.standings(now).map((l) => ({
        room: l.room,
        player: l.player,
        name: l.name,
        score: l.score,
        bot: l.bot,
        rank: l.rank,
        move: moveText(l.move) || null,
      })),
      kills: [],
      tick: null,
      ships: 0,
      tape: model.tape.map((i) => ({ ...i })),
    };
  },
};

// ---------------------------------------------------------------------------
// The week's leaderboard (records kept by the server; none: the panel stays hidden)

/** How often the leaderboard is asked for again: it changes when rounds end. */
const LEADERBOARD_MS = 30_000;

async function refreshLeaderboard() {
  const view = await fetchLeaderboard(fetch);
  ui.records.hidden = view.kind === 'off';
  drawLeaderboard({ list: ui.leaderboard, empty: ui.leaderboardEmpty }, view, 'No rounds recorded this week.');
}

// ---------------------------------------------------------------------------
// Start

{
  const { target, problem } = targetOf(location.search);
  watch(target, problem);
  refreshRooms();
  window.setInterval(refreshRooms, ROOMS_MS);
  refreshLeaderboard();
  window.setInterval(refreshLeaderboard, LEADERBOARD_MS);
  refreshMatches();
  window.setInterval(refreshMatches, LEADERBOARD_MS);
  requestAnimationFrame(frame);
}
