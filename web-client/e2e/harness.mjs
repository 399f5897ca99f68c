// @ts-check
/**
 * @file What every browser check starts: the real server on a free port
 * (`cargo run`, or the binary named by `SKIRMISH_SERVER`) in its own process
 * group, ready once it logs "listening" and stopped by its process group;
 * Debian's Chromium (`CHROMIUM`) with the flags that keep it quiet; and
 * what checks share: a runner that times and counts them, `assert`,
 * polling, and the game page's state and canvas as a test reads them.
 */

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** Seconds a server may take to come up (the first `cargo run` may compile). */
const SERVER_START_S = 300;

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** @param {number} ms */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * @typedef {object} Server
 * @property {import('node:child_process').ChildProcess} proc
 * @property {string} base http://addr
 * @property {string[]} log
 */

/**
 * Starts a server on a free port and resolves once it logs "listening".
 * @param {string[]} args
 * @returns {Promise<Server>}
 */
export function startServer(args) {
  const common = ['--bind', '127.0.0.1:0', '--log-format', 'json', ...args];
  const bin = process.env.SKIRMISH_SERVER;
  const [cmd, argv] = bin ? [bin, common] : ['cargo', ['run', '-q', '-p', 'skirmish-server', '--', ...common]];
  // Its own process group, so SIGTERM reaches the server whatever cargo does.
  const proc = spawn(cmd, argv, { cwd: REPO, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  /** @type {string[]} */
  const log = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" line in ${SERVER_START_S} s:\n${log.join('\n')}`)), SERVER_START_S * 1000);
    let buffered = '';
    proc.stdout?.setEncoding('utf8');
    proc.stdout?.on('data', (chunk) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        log.push(line);
        if (log.length > 200) log.shift();
        try {
          const entry = JSON.parse(line);
          if (entry?.fields?.message === 'listening' && entry.fields.addr) {
            clearTimeout(timer);
            resolve({ proc, base: `http://${entry.fields.addr}`, log });
          }
        } catch {
          // not a JSON line
        }
      }
    });
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (chunk) => log.push(String(chunk).trimEnd()));
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before listening:\n${log.join('\n')}`));
    });
  });
}

/**
 * SIGTERM to the server's process group; SIGKILL if it has not gone in 5 s.
 * @param {Server | null} server
 */
export async function stopServer(server) {
  if (!server || server.proc.exitCode !== null || server.proc.signalCode !== null) return;
  const pid = /** @type {number} */ (server.proc.pid);
  const gone = new Promise((resolve) => server.proc.once('exit', resolve));
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    return;
  }
  const timeout = sleep(5000).then(() => 'timeout');
  if ((await Promise.race([gone, timeout])) === 'timeout') {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

// ---------------------------------------------------------------------------
// Checks: each prints `ok - name` or `not ok - name` and its error, and
// counts itself in `tally`; a file ends with `N passed, M failed`.

/** The checks run so far. */
export const tally = { passed: 0, failed: 0 };

/** The browser window every check's page has. */
export const VIEWPORT = { width: 1280, height: 800 };

/**
 * Runs one check with a time limit, and counts it.
 * @param {string} name
 * @param {number} limitMs
 * @param {() => Promise<void>} fn
 */
export async function check(name, limitMs, fn) {
  const started = Date.now();
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${limitMs} ms`)), limitMs);
      }),
    ]);
    tally.passed++;
    console.log(`ok - ${name} (${Date.now() - started} ms)`);
  } catch (err) {
    tally.failed++;
    console.log(`not ok - ${name} (${Date.now() - started} ms)`);
    console.log(`  ${String(err instanceof Error ? err.stack ?? err.message : err).replace(/\n/g, '\n  ')}`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * @param {unknown} cond
 * @param {string} message
 * @returns {asserts cond}
 */
export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/**
 * `window.skirmish.state`, as plain data.
 * @param {import('playwright-core').Page} page
 * @returns {Promise<any>}
 */
export const gameState = (page) => page.evaluate(() => JSON.parse(JSON.stringify(/** @type {any} */ (window).skirmish.state)));

/**
 * Polls `fn` until it returns a truthy value or `ms` pass.
 * @template T
 * @param {() => Promise<T>} fn
 * @param {number} ms
 * @param {string} what
 * @returns {Promise<T>}
 */
export async function until(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`waited ${ms} ms for ${what}`);
    await sleep(100);
  }
}

/**
 * A page with its uncaught errors collected.
 * @param {import('playwright-core').Browser} browser
 */
export async function openPage(browser) {
  const page = await browser.newPage({ viewport: VIEWPORT });
  /** @type {string[]} */
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  return { page, errors };
}

/**
 * Screen position (CSS pixels) of an arena point on the game canvas, through
 * the camera the page last drew with.
 * @param {import('playwright-core').Page} page
 * @param {number} x arena units
 * @param {number} y arena units
 */
export async function toScreen(page, x, y) {
  return page.evaluate(
    ([ax, ay]) => {
      const canvas = /** @type {HTMLCanvasElement} */ (document.getElementById('arena'));
      const r = canvas.getBoundingClientRect();
      const cam = /** @type {any} */ (window).skirmish.state.camera;
      return {
        x: r.left + ((ax - cam.x0) / (cam.x1 - cam.x0)) * r.width,
        y: r.top + ((ay - cam.y0) / (cam.y1 - cam.y0)) * r.height,
      };
    },
    [x, y],
  );
}
