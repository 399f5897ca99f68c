// @ts-check
/**
 * @file End to end in a real browser: starts the real server (cargo run,
 * port 0), drives Debian's Chromium through playwright-core, and checks the
 * lobby, movement with prediction, firing at a bot, the scoreboard page, a
 * private room made in the lobby and joined by its invite link, a
 * game over long polling, the round-end results and the frame rate with
 * 32+ ships on screen, a recorded round's replay on the scoreboard (play,
 * pause, seek, speed), the admin console (log in, see a room, kick its
 * player, see the player gone); then, through nginx in front of three cluster nodes
 * (`cluster.mjs`), a game matchmade on the room's owner, its resume after a
 * reload, and a game over long polling.
 *
 * Run from anywhere: `node web-client/e2e/game.e2e.mjs`. Prints one line per
 * check and a last line `N passed, M failed`; exits non-zero on any failure.
 * Screenshots go to `web-client/test-results/`. Environment:
 * `CHROMIUM` (default /usr/bin/chromium), `SKIRMISH_SERVER` (a built
 * skirmish-server binary to use instead of `cargo run`).
 */

import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { startCluster } from './cluster.mjs';
import {
  assert,
  check,
  CHROMIUM,
  CHROMIUM_ARGS,
  gameState,
  openPage,
  sleep,
  startServer,
  stopServer,
  tally,
  toScreen,
  until,
  VIEWPORT,
} from './harness.mjs';

const WEB = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = `${WEB}test-results/`;
/** The main server's admin token, for the admin console's check. */
const ADMIN_TOKEN = 'e2e-admin-token-0123456789';

mkdirSync(RESULTS, { recursive: true });

/**
 * A TCP proxy to `base` whose live connections can be cut at once: a
 * network blip the browser sees as an abnormal close (1006).
 * @param {string} base http://host:port of the real server
 */
async function blipProxy(base) {
  const target = new URL(base);
  /** @type {Set<[net.Socket, net.Socket]>} */
  const live = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    /** @type {[net.Socket, net.Socket]} */
    const pair = [client, upstream];
    live.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      live.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const sock of pair) {
      sock.on('error', end);
      sock.on('close', end);
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const address = /** @type {net.AddressInfo} */ (server.address());
  return {
    base: `http://127.0.0.1:${address.port}`,
    cut() {
      for (const [client, upstream] of live) {
        client.resetAndDestroy();
        upstream.destroy();
      }
    },
    close() {
      server.close();
    },
  };
}

// ---------------------------------------------------------------------------

/** @type {Server | null} */
let main = null;
/** @type {Server | null} */
let crowd = null;
/** @type {import('playwright-core').Browser | null} */
let browser = null;
/** @type {import('./cluster.mjs').Cluster | null} */
let cluster = null;

try {
  // Main: 3 bots, the checks of play. Crowd: 32 bots in every room and
  // 5-second rounds, for the frame rate and the round-end results.
  [main, crowd] = await Promise.all([
    startServer(['--bots', '3', '--admin-token', ADMIN_TOKEN]),
    startServer(['--bots', '32', '--round-secs', '5']),
  ]);
  console.log(`# servers at ${main.base} and ${crowd.base}`);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const { page, errors } = await openPage(browser);
  /** @type {string} */
  let myName = '';

  await check('lobby lists the rooms, joins one, and a held key moves the predicted and the server ship', 20000, async () => {
    await page.goto(`${main?.base}/`);
    await page.waitForSelector('#room-rows tr[data-room="main"]', { timeout: 5000 });
    const cells = await page.locator('#room-rows tr[data-room="main"] td').allTextContents();
    assert(/^\d+\/\d+$/.test(cells[1]) && cells[3] === '3' && /^\d+:\d\d$/.test(cells[4]), `room row: ${cells.join(' | ')}`);
    await page.screenshot({ path: `${RESULTS}lobby.png` });
    myName = await page.inputValue('#name');
    await page.click('#room-rows tr[data-room="main"] button.join');
    const start = await until(
      async () => {
        const s = await gameState(page);
        return s.phase === 'playing' && s.predicted && s.ships.length >= 4 ? s : null;
      },
      5000,
      'a playing state with a predicted position and 4 ships',
    );
    assert(start.room === 'main', `room ${start.room}`);
    // Away from the nearer wall.
    const key = start.predicted.x < start.rules.arena_w / 2 ? 'KeyD' : 'KeyA';
    const sign = key === 'KeyD' ? 1 : -1;
    const ownAt = (/** @type {any} */ s) => s.ships.find((/** @type {any} */ p) => p.own);
    const serverStart = ownAt(start);
    await page.keyboard.down(key);
    await sleep(1000);
    const moving = await gameState(page);
    await page.keyboard.up(key);
    const dx = (moving.predicted.x - start.predicted.x) * sign;
    assert(dx > 100, `predicted x moved ${dx} units in 1 s (expected about 200)`);
    assert(moving.pendingInputs < 30, `${moving.pendingInputs} inputs pending`);
    await sleep(500);
    const after = await gameState(page);
    const serverDx = (ownAt(after).x - serverStart.x) * sign;
    assert(serverDx > 100, `server x moved ${serverDx}`);
    assert(Math.abs(after.predicted.x - ownAt(after).x) < 1 || after.pendingInputs > 0, 'prediction settled on the server position');
    await page.screenshot({ path: `${RESULTS}game.png` });
  });

  await check('the camera follows the own ship and the minimap shows it in the arena', 10000, async () => {
    // Read right after the page drew a frame (a callback queued after the
    // game's own), so the camera, the predicted ship and the pixels agree.
    const probe = await page.evaluate(async () => {
      const camera = await import('/src/camera.js');
      const frame = () => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
      const alive = () => /** @type {any} */ (window).skirmish.state.hp > 0;
      // A ship the bots just killed is not drawn: wait for it to respawn.
      for (let i = 0; i < 300 && !alive(); i++) await frame();
      await frame();
      const st = JSON.parse(JSON.stringify(/** @type {any} */ (window).skirmish.state));
      const canvas = /** @type {HTMLCanvasElement} */ (document.getElementById('arena'));
      const dpr = window.devicePixelRatio || 1;
      const m = camera.minimap(st.rules, canvas.width, canvas.height, 180 * dpr, 12 * dpr);
      const at = m.at(st.predicted.x, st.predicted.y);
      const px = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d')).getImageData(Math.round(at.x), Math.round(at.y), 1, 1).data;
      return { st, ratio: canvas.width / canvas.height, rgb: [px[0], px[1], px[2]] };
    });
    const { st: s } = probe;
    const cam = s.camera;
    const me = s.predicted;
    assert(cam && cam.x1 - cam.x0 === 960 && cam.y1 - cam.y0 === 600, `camera ${JSON.stringify(cam)}`);
    // Centred on the ship, slid inwards at the walls.
    const clamp = (/** @type {number} */ v, /** @type {number} */ half, /** @type {number} */ size) => Math.min(Math.max(v, half), size - half);
    const cx = clamp(me.x, 480, s.rules.arena_w);
    const cy = clamp(me.y, 300, s.rules.arena_h);
    assert(Math.abs(cam.x0 - (cx - 480)) < 0.01 && Math.abs(cam.y0 - (cy - 300)) < 0.01, `camera ${JSON.stringify(cam)} for ship ${JSON.stringify(me)}`);
    // The canvas keeps the view's 16:10 shape; the minimap pixel under the
    // own ship is the own ship's colour.
    assert(Math.abs(probe.ratio - 1.6) < 0.02, `canvas ratio ${probe.ratio}`);
    assert(probe.rgb.join(',') === '255,209,102', `minimap pixel under the own ship: ${probe.rgb}`);
  });

  await check('firing at the nearest bot raises the score or puts the player\'s kill on the feed', 30000, async () => {
    const before = await gameState(page);
    const feedBefore = before.feed.map((/** @type {any} */ l) => `${l.at}${l.text}`).join('|');
    /** @type {string[]} */
    let held = [];
    const hold = async (/** @type {string[]} */ keys) => {
      for (const k of held) if (!keys.includes(k)) await page.keyboard.up(k);
      for (const k of keys) if (!held.includes(k)) await page.keyboard.down(k);
      held = keys;
    };
    let firing = false;
    const end = Date.now() + 25000;
    let outcome = '';
    while (Date.now() < end) {
      const s = await gameState(page);
      const feed = s.feed.map((/** @type {any} */ l) => `${l.at}${l.text}`).join('|');
      if (s.score > before.score) {
        outcome = `score ${before.score} → ${s.score}`;
        break;
      }
      // A kill by the player on the feed (bots killing each other do not count).
      if (feed !== feedBefore && s.feed.some((/** @type {any} */ l) => l.text.startsWith(`${myName} ✕`))) {
        outcome = `kill feed: ${s.feed.map((/** @type {any} */ l) => l.text).join('; ')}`;
        break;
      }
      const me = s.predicted;
      const bots = s.ships.filter((/** @type {any} */ p) => p.bot && p.hp > 0);
      if (!me || bots.length === 0) {
        await sleep(100);
        continue;
      }
      const dist = (/** @type {any} */ b) => Math.hypot(b.x - me.x, b.y - me.y);
      const target = bots.reduce((/** @type {any} */ a, /** @type {any} */ b) => (dist(b) < dist(a) ? b : a));
      // The target may be beyond the camera's view: aim at the point 200
      // units along the way to it, which is always on screen.
      const d = Math.max(1, dist(target));
      const at = await toScreen(page, me.x + ((target.x - me.x) / d) * 200, me.y + ((target.y - me.y) / d) * 200);
      await page.mouse.move(at.x, at.y);
      if (!firing) {
        await page.mouse.down();
        firing = true;
      }
      // Close in to well inside the projectile range (600 units).
      const keys = [];
      if (dist(target) > 250) {
        if (target.x - me.x > 60) keys.push('KeyD');
        if (me.x - target.x > 60) keys.push('KeyA');
        if (target.y - me.y > 60) keys.push('KeyS');
        if (me.y - target.y > 60) keys.push('KeyW');
      }
      await hold(keys);
      await sleep(50);
    }
    await hold([]);
    if (firing) await page.mouse.up();
    await page.screenshot({ path: `${RESULTS}firing.png` });
    assert(outcome, 'no kill by the player (score or kill feed) in 25 s');
    console.log(`# ${outcome}`);
  });

  await check('the scoreboard page fills the standings', 15000, async () => {
    const { page: board, errors: boardErrors } = await openPage(/** @type {any} */ (browser));
    await board.goto(`${main?.base}/scoreboard.html?room=main`);
    await board.waitForFunction(() => document.querySelectorAll('#standings li').length >= 4, null, { timeout: 10000 });
    const names = await board.locator('#standings li').allTextContents();
    assert(names.some((n) => n.includes(myName)), `own name ${myName} in the standings: ${names.join(' / ')}`);
    await board.screenshot({ path: `${RESULTS}scoreboard.png` });
    // Clicking the player's line follows its ship with the game's camera;
    // clicking again shows the whole arena.
    const row = board.locator('#standings li', { hasText: myName });
    await row.click();
    const followed = await board.waitForFunction(
      () => {
        const st = /** @type {any} */ (window).skirmishScoreboard.state;
        return st.following !== null && st.camera ? st : null;
      },
      null,
      { timeout: 5000 },
    );
    const st = await followed.jsonValue();
    const mine = st.standings.find((/** @type {any} */ p) => p.name === myName);
    assert(st.following === mine.player, `following ${st.following}, the player is ${mine.player}`);
    assert(st.camera.x1 - st.camera.x0 === 960 && st.camera.y1 - st.camera.y0 === 600, `camera ${JSON.stringify(st.camera)}`);
    await board.screenshot({ path: `${RESULTS}scoreboard-follow.png` });
    await row.click();
    await board.waitForFunction(() => /** @type {any} */ (window).skirmishScoreboard.state.following === null, null, { timeout: 5000 });
    assert(boardErrors.length === 0, `page errors: ${boardErrors.join('; ')}`);
    await board.close();
  });

  await check('the lobby creates a private room, shows its link, and only the link lets a friend in', 30000, async () => {
    const pages = await Promise.all([0, 1, 2].map(() => openPage(/** @type {any} */ (browser))));
    const [host, friend, stranger] = pages.map((p) => p.page);
    try {
      await host.goto(`${main?.base}/`);
      await host.click('#create-private');
      await host.waitForSelector('#invite:not([hidden])', { timeout: 5000 });
      const link = await host.inputValue('#invite-link');
      const url = new URL(link);
      const room = url.searchParams.get('room') ?? '';
      assert(room.startsWith('p-') && /^#invite=[0-9a-f]{32}$/.test(url.hash), `invite link ${link}`);
      assert(host.url() === link, `the page became its link: ${host.url()}`);
      assert((await host.inputValue('#room')) === room, 'the room field names the new room');
      const listed = await (await fetch(`${main?.base}/api/rooms`)).json();
      assert(!listed.some((/** @type {any} */ r) => r.id === room), 'the private room is not listed');
      await host.fill('#name', 'Host');
      await host.click('#play');
      await until(async () => {
        const st = await gameState(host);
        return st.phase === 'playing' && st.room === room;
      }, 10000, 'the host playing in the private room');

      /** @type {string[]} */
      const sockets = [];
      friend.on('websocket', (ws) => sockets.push(ws.url()));
      await friend.goto(link);
      assert((await friend.inputValue('#room')) === room, 'the link fills the room field');
      await friend.fill('#name', 'Friend');
      await friend.click('#play');
      const joined = await until(async () => {
        const st = await gameState(friend);
        return st.phase === 'playing' && st.room === room && st.ships.some((/** @type {any} */ p) => p.name === 'Host') ? st : null;
      }, 10000, 'the friend in the private room, seeing the host');
      assert(joined.transport === 'websocket', `joined over ${joined.transport}`);
      assert(sockets.some((u) => u.includes(`invite=${url.hash.slice('#invite='.length)}`)), `the socket showed the code: ${sockets}`);

      // The same room without the code: refused, and told why.
      await stranger.goto(`${main?.base}/?room=${room}`);
      await stranger.fill('#name', 'Stranger');
      await stranger.click('#play');
      await stranger.waitForFunction(() => /InviteRequired/.test(document.getElementById('banner-text')?.textContent ?? ''), null, { timeout: 10000 });
      await stranger.screenshot({ path: `${RESULTS}private-refused.png` });
      const errors = pages.flatMap((p) => p.errors);
      assert(errors.length === 0, `page errors: ${errors.join('; ')}`);
    } finally {
      await Promise.all([host.close(), friend.close(), stranger.close()]);
    }
  });

  await check('a dropped connection reconnects by itself and keeps the ship and score', 25000, async () => {
    const proxy = await blipProxy(/** @type {Server} */ (main).base);
    const { page: blip, errors: blipErrors } = await openPage(/** @type {any} */ (browser));
    try {
      await blip.goto(`${proxy.base}/`);
      await blip.fill('#name', 'Blip');
      await blip.click('#play');
      await blip.waitForFunction(() => /** @type {any} */ (window).skirmish?.state?.tick > 0, null, { timeout: 10000 });
      const before = await gameState(blip);
      proxy.cut();
      await blip.waitForFunction(() => /reconnecting/.test(document.getElementById('banner-text')?.textContent ?? ''), null, { timeout: 10000 });
      const after = await until(async () => {
        const st = await gameState(blip);
        return st.connected && st.resumed && st.ship === before.ship && st.tick > before.tick ? st : null;
      }, 15000, 'the same ship back, resumed');
      assert(after.transport === 'websocket', `resumed over ${after.transport}`);
      assert(typeof before.score === 'number' && after.score >= before.score, `score ${before.score} kept: ${after.score}`);
      assert(await blip.locator('#banner').isHidden(), 'the banner goes once back in the game');
      assert(blipErrors.length === 0, `page errors: ${blipErrors.join('; ')}`);
    } finally {
      await blip.close();
      proxy.close();
    }
  });

  await check('over long polling the JSON snapshots move the ship', 25000, async () => {
    const { page: legacy, errors: legacyErrors } = await openPage(/** @type {any} */ (browser));
    try {
      await legacy.goto(`${main?.base}/?transport=longpoll`);
      await legacy.fill('#name', 'Polly');
      await legacy.click('#play');
      const start = await until(async () => {
        const st = await gameState(legacy);
        return st.phase === 'playing' && st.transport === 'longpoll' && st.predicted && st.ships.length >= 4 ? st : null;
      }, 10000, 'a long-poll game with 4 ships');
      const ownAt = (/** @type {any} */ st) => st.ships.find((/** @type {any} */ p) => p.own);
      // The room's bots shoot: a kill mid-move respawns the ship at a random
      // point, so a move that did not get there is tried again (three kills
      // in a row in 1.5 s windows would be a bug of its own).
      let from = start;
      let after = start;
      let moved = 0;
      for (let attempt = 0; attempt < 3 && moved <= 100; attempt++) {
        from = await gameState(legacy);
        const key = ownAt(from).x < from.rules.arena_w / 2 ? 'KeyD' : 'KeyA';
        const sign = key === 'KeyD' ? 1 : -1;
        await legacy.keyboard.down(key);
        await sleep(1000);
        await legacy.keyboard.up(key);
        await sleep(500);
        after = await gameState(legacy);
        moved = (ownAt(after).x - ownAt(from).x) * sign;
      }
      assert(moved > 100, `the server ship moved ${moved} units over long polling`);
      assert(after.tick > from.tick + 20, `ticks ${from.tick} -> ${after.tick}`);
      await legacy.screenshot({ path: `${RESULTS}longpoll.png` });
      assert(legacyErrors.length === 0, `page errors: ${legacyErrors.join('; ')}`);
    } finally {
      await legacy.close();
    }
  });

  await check('a named room is created on demand, shows the round-end results, and draws 32+ ships smoothly', 25000, async () => {
    const { page: crowded, errors: crowdErrors } = await openPage(/** @type {any} */ (browser));
    await crowded.goto(`${crowd?.base}/`);
    await crowded.fill('#name', 'e2e-fps');
    await crowded.fill('#room', 'e2e-crowd');
    await crowded.click('#play');
    const s = await until(
      async () => {
        const st = await gameState(crowded);
        return st.phase === 'playing' && st.ships.filter((/** @type {any} */ p) => p.hp > 0).length >= 32 ? st : null;
      },
      8000,
      '32 living ships',
    );
    assert(s.room === 'e2e-crowd', `room ${s.room}`);
    // Frame timing: requestAnimationFrame callbacks over 3 s.
    const frames = await crowded.evaluate(
      () =>
        new Promise((resolve) => {
          let n = 0;
          let worst = 0;
          const t0 = performance.now();
          let last = t0;
          const tick = (/** @type {number} */ now) => {
            n++;
            worst = Math.max(worst, now - last);
            last = now;
            if (now - t0 < 3000) requestAnimationFrame(tick);
            else resolve({ n, ms: now - t0, worst });
          };
          requestAnimationFrame(tick);
        }),
    );
    const { n, ms, worst } = /** @type {{ n: number, ms: number, worst: number }} */ (frames);
    const fps = (n * 1000) / ms;
    const ships = (await gameState(crowded)).ships.filter((/** @type {any} */ p) => p.hp > 0).length;
    console.log(`# fps: ${fps.toFixed(1)} (${n} frames in ${ms.toFixed(0)} ms, worst frame ${worst.toFixed(1)} ms, ${ships} ships on screen, ${VIEWPORT.width}x${VIEWPORT.height})`);
    await crowded.screenshot({ path: `${RESULTS}crowd.png` });
    assert(fps >= 30, `fps ${fps.toFixed(1)} below 30`);
    // Rounds last 5 s here: the results overlay shows when one ends.
    await crowded.waitForSelector('#results:not([hidden])', { timeout: 8000 });
    const lines = await crowded.locator('#results-list li').count();
    assert(lines >= 10, `${lines} result lines`);
    await crowded.screenshot({ path: `${RESULTS}results.png` });
    assert(crowdErrors.length === 0, `page errors: ${crowdErrors.join('; ')}`);
    await crowded.close();
  });

  await check('the scoreboard plays a recorded round\'s replay: it draws, pauses, seeks, speeds up and ends', 30000, async () => {
    // The crowd room's 5-second rounds had a player in them: each is
    // recorded with its replay.
    const match = await until(
      async () => {
        const res = await fetch(`${crowd?.base}/api/matches?room=e2e-crowd&limit=1`);
        return res.ok ? (await res.json()).matches?.[0] ?? null : null;
      },
      10000,
      'a recorded round of e2e-crowd',
    );
    const { page: board, errors: boardErrors } = await openPage(/** @type {any} */ (browser));
    const state = () => board.evaluate(() => JSON.parse(JSON.stringify(/** @type {any} */ (window).skirmishScoreboard.state)));
    await board.goto(`${crowd?.base}/scoreboard.html?replay=${match.id}`);
    const playing = await until(
      async () => {
        const s = await state();
        return s?.view === 'replay' && s.ready && s.ships >= 10 && s.standings.length >= 10 ? s : null;
      },
      8000,
      'the replay drawing ships and standings',
    );
    assert(playing.round.number === match.round, `round ${playing.round.number}, match round ${match.round}`);
    await board.screenshot({ path: `${RESULTS}replay.png` });
    await board.click('#replay-play');
    const paused = await state();
    assert(paused.replay.playing === false, 'paused');
    await sleep(700);
    const still = await state();
    assert(still.tick === paused.tick, `paused, yet the tick moved: ${paused.tick} -> ${still.tick}`);
    // A 5-second round: from 1 s at 2x it plays for 2 s.
    await board.selectOption('#replay-speed', '2');
    await board.evaluate(() => {
      const seek = /** @type {HTMLInputElement} */ (document.getElementById('replay-seek'));
      seek.value = '1';
      seek.dispatchEvent(new Event('change'));
    });
    const seeked = await until(
      async () => {
        const s = await state();
        return s.replay.playing && s.replay.speed === 2 && s.tick !== null && s.replay.at >= 1 ? s : null;
      },
      5000,
      'playing from 1 s at 2x',
    );
    assert(seeked.replay.at < 4, `at ${seeked.replay.at} after a seek to 1 s`);
    await board.selectOption('#replay-speed', '16');
    const ended = await until(
      async () => {
        const s = await state();
        return s.replay.ended ? s : null;
      },
      8000,
      'the replay reaching its end',
    );
    assert(ended.kills.length > 0 || ended.standings.length >= 10, 'the end shows the round');
    assert(boardErrors.length === 0, `page errors: ${boardErrors.join('; ')}`);
    await board.close();
  });

  await check('a refused matchmake is shown on the lobby by its code', 20000, async () => {
    // One seat per room: a second player asking for main is refused room_full.
    const tiny = await startServer(['--bots', '0', '--max-players', '1']);
    const { page: first } = await openPage(/** @type {any} */ (browser));
    const { page: second, errors: secondErrors } = await openPage(/** @type {any} */ (browser));
    try {
      await first.goto(`${tiny.base}/`);
      await first.fill('#name', 'First');
      await first.fill('#room', 'main');
      await first.click('#play');
      await first.waitForFunction(() => /** @type {any} */ (window).skirmish?.state?.phase === 'playing', null, { timeout: 10000 });
      await second.goto(`${tiny.base}/`);
      await second.fill('#name', 'Second');
      await second.fill('#room', 'main');
      await second.click('#play');
      await second.waitForFunction(() => /\(room_full\)/.test(document.getElementById('lobby-message')?.textContent ?? ''), null, { timeout: 10000 });
      const shown = await second.textContent('#lobby-message');
      assert(shown === 'That room is full. (room_full)', `lobby message: ${shown}`);
      assert(await second.locator('#lobby').isVisible(), 'still on the lobby');
      assert(secondErrors.length === 0, `page errors: ${secondErrors.join('; ')}`);
    } finally {
      await Promise.all([first.close(), second.close()]);
      await stopServer(tiny);
    }
  });

  await check('the admin console logs in, lists a room and its player, draws its minimap, and a kick removes the player', 25000, async () => {
    const { page: victim } = await openPage(/** @type {any} */ (browser));
    const { page: admin, errors: adminErrors } = await openPage(/** @type {any} */ (browser));
    try {
      await victim.goto(`${main?.base}/`);
      await victim.fill('#name', 'Kickme');
      await victim.fill('#room', 'admin-e2e');
      await victim.click('#play');
      await victim.waitForFunction(() => /** @type {any} */ (window).skirmish?.state?.phase === 'playing', null, { timeout: 10000 });
      await admin.goto(`${main?.base}/admin`);
      await admin.fill('#token', 'not-the-admin-token');
      await admin.click('#login-button');
      await admin.waitForFunction(() => /Bearer/.test(document.getElementById('status')?.textContent ?? ''), null, { timeout: 5000 });
      assert(await admin.locator('#console').isHidden(), 'a wrong token shows no console');
      await admin.fill('#token', ADMIN_TOKEN);
      await admin.click('#login-button');
      await admin.waitForSelector('#room-rows tr[data-room="admin-e2e"]', { timeout: 5000 });
      const player = '#player-rows tr[data-room="admin-e2e"][data-name="Kickme"]';
      await admin.waitForSelector(player, { timeout: 5000 });
      // The selected room's live minimap draws its ships.
      await admin.selectOption('#map-room', 'admin-e2e');
      await admin.waitForFunction(
        () => {
          const map = document.getElementById('minimap');
          return map?.dataset.room === 'admin-e2e' && Number(map.dataset.ships ?? 0) >= 1;
        },
        null,
        { timeout: 5000 },
      );
      const stored = await admin.evaluate(() => sessionStorage.getItem('skirmish-admin-token'));
      assert(stored === ADMIN_TOKEN, 'the token is kept in sessionStorage');
      await admin.screenshot({ path: `${RESULTS}admin.png` });
      admin.once('dialog', (dialog) => dialog.accept('e2e kick'));
      await admin.click(`${player} button.kick`);
      await admin.waitForSelector(player, { state: 'detached', timeout: 5000 });
      await admin.waitForSelector('#audit-rows tr', { timeout: 5000 });
      const audit = await admin.locator('#audit-rows tr').first().locator('td').allTextContents();
      assert(audit[2] === 'kick' && audit[4] === 'e2e kick', `audit row: ${audit.join(' | ')}`);
      await victim.waitForFunction(() => /** @type {any} */ (window).skirmish?.state?.phase !== 'playing', null, { timeout: 5000 });
      assert(adminErrors.length === 0, `page errors: ${adminErrors.join('; ')}`);
    } finally {
      await Promise.all([victim.close(), admin.close()]);
    }
  });

  // A cluster: three nodes (3 bots per room) behind nginx as deploy/nginx ships it.
  cluster = await startCluster(startServer, stopServer, ['--bots', '3']);
  if (cluster) {
    const lb = /** @type {import('./cluster.mjs').Cluster} */ (cluster);
    console.log(`# cluster: nginx at ${lb.base} in front of nodes ${lb.ids.join(', ')}`);
    const wsBase = lb.base.replace(/^http/, 'ws');
    const { page: clustered, errors: clusterErrors } = await openPage(/** @type {any} */ (browser));
    /** @type {string[]} */
    const sockets = [];
    clustered.on('websocket', (ws) => sockets.push(ws.url()));
    /** @type {string[]} */
    const matchmakes = [];
    clustered.on('request', (r) => {
      if (r.url().endsWith('/api/matchmake')) matchmakes.push(r.url());
    });
    /** @type {any} */
    let target = null;

    await check('through nginx, the lobby lists every node\'s room and a game plays on the room\'s owner', 25000, async () => {
      await clustered.goto(`${lb.base}/`);
      await until(async () => (await clustered.locator('#room-rows tr').count()) >= 3, 10000, 'a room of each node listed');
      const rooms = await (await fetch(`${lb.base}/api/rooms`)).json();
      target = rooms.find((/** @type {any} */ r) => r.node === 'c');
      assert(target, `a room of node c: ${JSON.stringify(rooms)}`);
      await clustered.fill('#name', 'Clustered');
      await clustered.click(`#room-rows tr[data-room="${target.id}"] button.join`);
      const start = await until(async () => {
        const st = await gameState(clustered);
        return st.phase === 'playing' && st.predicted && st.ships.length >= 4 ? st : null;
      }, 10000, 'a game with 4 ships');
      assert(start.room === target.id, `room ${start.room}`);
      assert(matchmakes[0] === `${lb.base}/api/matchmake`, `matchmade through the balancer: ${matchmakes}`);
      const owner = `${wsBase}/node/c/ws?room=${target.id}&seat=`;
      assert(sockets.at(-1)?.startsWith(owner), `the socket went to the owner's path: ${sockets}`);
      const ownAt = (/** @type {any} */ st) => st.ships.find((/** @type {any} */ p) => p.own);
      const key = ownAt(start).x < start.rules.arena_w / 2 ? 'KeyD' : 'KeyA';
      await clustered.keyboard.down(key);
      await sleep(1000);
      await clustered.keyboard.up(key);
      await sleep(500);
      const after = await gameState(clustered);
      assert(after.tick > start.tick + 20, `ticks ${start.tick} -> ${after.tick}`);
      assert(Math.abs(ownAt(after).x - ownAt(start).x) > 50 || ownAt(after).hp < ownAt(start).hp, 'the server ship moved (or was hit)');
    });

    await check('through nginx, a reloaded page resumes its ship on the owner through matchmaking', 25000, async () => {
      const before = await gameState(clustered);
      assert(before.phase === 'playing', 'playing before the reload');
      await clustered.reload();
      await clustered.click('#play');
      const after = await until(async () => {
        const st = await gameState(clustered);
        return st.phase === 'playing' && st.resumed && st.ship === before.ship ? st : null;
      }, 10000, 'the same ship, resumed');
      assert(after.room === target.id, `room ${after.room}`);
      assert(sockets.at(-1)?.startsWith(`${wsBase}/node/c/ws?room=${target.id}`), `resumed on the owner: ${sockets.at(-1)}`);
      assert(!sockets.at(-1)?.includes('seat='), 'a resume takes no seat');
    });

    await check('through nginx, a long-poll game joins on the owner and its polls follow the session', 25000, async () => {
      const { page: polled, errors: pollErrors } = await openPage(/** @type {any} */ (browser));
      /** @type {string[]} */
      const urls = [];
      polled.on('request', (r) => urls.push(r.url()));
      try {
        await polled.goto(`${lb.base}/?transport=longpoll`);
        await polled.fill('#name', 'PollyLB');
        await polled.fill('#room', target.id);
        await polled.click('#play');
        const start = await until(async () => {
          const st = await gameState(polled);
          return st.phase === 'playing' && st.transport === 'longpoll' && st.ships.length >= 4 ? st : null;
        }, 10000, 'a long-poll game with 4 ships');
        await sleep(1500);
        const after = await gameState(polled);
        assert(after.tick > start.tick + 20, `ticks ${start.tick} -> ${after.tick}`);
        const owner = `${lb.base}/node/c/api/`;
        assert(urls.some((u) => u.startsWith(`${owner}rooms/${target.id}/join`)), 'joined on the owner');
        assert(urls.some((u) => u.startsWith(`${owner}sessions/`) && u.includes('/state')), `polls went to the owner: ${urls.filter((u) => u.includes('/state')).slice(0, 2)}`);
        assert(pollErrors.length === 0, `page errors: ${pollErrors.join('; ')}`);
      } finally {
        await polled.close();
      }
    });
    await check('through nginx, a node killed under a game: the page says why and plays again on another node', 30000, async () => {
      const before = await gameState(clustered);
      assert(before.phase === 'playing' && before.room === target.id, `playing in ${target.id} before the kill: ${before.phase} ${before.room}`);
      // Every banner line from now on: the reason may show only briefly.
      await clustered.evaluate(() => {
        const w = /** @type {any} */ (window);
        const text = /** @type {HTMLElement} */ (document.getElementById('banner-text'));
        w.bannerLines = [];
        new MutationObserver(() => w.bannerLines.push(text.textContent)).observe(text, { childList: true, characterData: true, subtree: true });
      });
      await lb.kill('c');
      const lines = () => clustered.evaluate(() => /** @type {any} */ (window).bannerLines);
      const after = await until(async () => {
        const st = await gameState(clustered);
        return st.phase === 'playing' && st.room !== target.id && st.ships.length >= 4 ? st : null;
      }, 25000, 'a new game in another room').catch(async (err) => {
        const st = await gameState(clustered);
        throw new Error(`${err.message}: ${st.phase} in ${st.room}, banner ${JSON.stringify(await lines())}, sockets ${sockets.slice(-3)}, matchmakes ${matchmakes.length}`);
      });
      const said = await lines();
      assert(
        said.some((/** @type {string} */ l) => l.includes('Your room was lost with its server.') && l.includes('Finding you a new game')),
        `the page said why: ${JSON.stringify(said)}`,
      );
      assert(/\/node\/[ab]\/ws\?/.test(sockets.at(-1) ?? ''), `the new game is on a live node: ${sockets.at(-1)}`);
      await sleep(1000);
      const later = await gameState(clustered);
      assert(later.phase === 'playing' && later.tick > after.tick + 10, `plays on: ticks ${after.tick} -> ${later.tick}`);
    });
    if (clusterErrors.length > 0) {
      tally.failed++;
      console.log(`not ok - the clustered page threw: ${clusterErrors.join('; ')}`);
    }
  }

  if (errors.length > 0) {
    tally.failed++;
    console.log(`not ok - the game page threw: ${errors.join('; ')}`);
  }
} catch (err) {
  tally.failed++;
  console.log(`not ok - setup: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
} finally {
  await browser?.close().catch(() => {});
  await Promise.all([stopServer(main), stopServer(crowd), cluster?.stop()]);
}

console.log(`${tally.passed} passed, ${tally.failed} failed`);
process.exit(tally.failed > 0 || tally.passed === 0 ? 1 : 0);
