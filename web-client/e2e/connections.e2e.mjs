// @ts-check
/**
 * @file The browser's six-connections-per-host limit, measured in Debian's
 * Chromium: one page opens ten SSE feeds, then ten long polls, on one
 * origin; once over HTTP/1.1 (Chromium started with `--disable-http2`) and
 * once over HTTP/2 (ALPN h2), against the same TLS server (a self-signed
 * certificate made here with openssl, `--ignore-certificate-errors`).
 *
 * Checks that over HTTP/1.1 exactly six feeds open and the other four wait
 * until feeds are closed, and that the last four of ten polls answer one
 * poll wait after the first six; and that over HTTP/2 all ten of each are
 * live at once. Prints the measured table (docs/transports-study.md,
 * "The six-connection limit in a browser"). About ten seconds:
 * `node web-client/e2e/connections.e2e.mjs`. Exits non-zero on a failure.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

import { CHROMIUM, CHROMIUM_ARGS, startServer, stopServer } from './harness.mjs';

/** Feeds and polls the page opens at once. */
const OPEN = 10;
/** Chromium's connections per host over HTTP/1.1. */
const PER_HOST = 6;
/** How long the page waits for feeds before closing some. */
const HOLD_MS = 2000;
/** Each long poll's wait, in seconds: an idle room answers after it. */
const POLL_WAIT_S = 2;

/**
 * A self-signed certificate for localhost in a temp dir.
 * @returns {{ dir: string, cert: string, key: string }}
 */
function selfSigned() {
  const dir = mkdtempSync(join(tmpdir(), 'skirmish-connections-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const made = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost',
    '-keyout', key, '-out', cert,
  ], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`openssl: ${made.stderr}`);
  return { dir, cert, key };
}

/**
 * Runs in the page: opens OPEN feeds of `room`, notes when each delivers
 * its opening snapshot, closes the first four after `hold` ms, and notes
 * when the waiting ones open then.
 * @param {{ room: string, open: number, hold: number }} args
 */
async function feedsInPage({ room, open, hold }) {
  const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));
  const t0 = performance.now();
  /** @type {(number | null)[]} */
  const opened = new Array(open).fill(null);
  const sources = [];
  for (let i = 0; i < open; i++) {
    const source = new EventSource(`/api/rooms/${room}/events`);
    source.addEventListener('snapshot', () => {
      if (opened[i] === null) opened[i] = Math.round(performance.now() - t0);
    });
    sources.push(source);
  }
  await sleep(hold);
  const atHold = opened.slice();
  const closedAt = Math.round(performance.now() - t0);
  for (const source of sources.slice(0, open - 6)) source.close();
  const deadline = performance.now() + 5000;
  while (opened.some((t) => t === null) && performance.now() < deadline) await sleep(20);
  for (const source of sources) source.close();
  return { atHold, opened, closedAt };
}

/**
 * Runs in the page: ten long polls of an idle room at once, each asking
 * for what comes after now; returns when each answered.
 * @param {{ room: string, open: number, wait: number }} args
 */
async function pollsInPage({ room, open, wait }) {
  const first = await (await fetch(`/api/rooms/${room}/poll`)).json();
  const t0 = performance.now();
  return Promise.all(
    Array.from({ length: open }, async () => {
      // no-store: Chromium's cache lets one request per URL through at a
      // time and parks identical GETs behind it (ten identical polls
      // answer one wait apart over either protocol without it).
      const answer = await fetch(`/api/rooms/${room}/poll?after=${first.next}&timeout=${wait}`, {
        cache: 'no-store',
      });
      await answer.json();
      return Math.round(performance.now() - t0);
    }),
  );
}

/**
 * One browser, one page of the server's origin: the feeds, then the polls.
 * @param {string} base https://localhost:port
 * @param {boolean} http2
 */
async function measure(base, http2) {
  const args = [...CHROMIUM_ARGS, '--ignore-certificate-errors'];
  if (!http2) args.push('--disable-http2');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args });
  try {
    const page = await browser.newPage();
    await page.goto(`${base}/api/rooms`);
    const protocol = await page.evaluate(() => {
      const [nav] = /** @type {PerformanceNavigationTiming[]} */ (performance.getEntriesByType('navigation'));
      return nav?.nextHopProtocol ?? '';
    });
    const feeds = await page.evaluate(feedsInPage, { room: 'main', open: OPEN, hold: HOLD_MS });
    const polls = await page.evaluate(pollsInPage, { room: 'main', open: OPEN, wait: POLL_WAIT_S });
    return { protocol, feeds, polls };
  } finally {
    await browser.close();
  }
}

let failed = 0;
/**
 * @param {boolean} ok
 * @param {string} what
 */
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failed++;
}

const { dir, cert, key } = selfSigned();
/** @type {import('./harness.mjs').Server | null} */
let server = null;
try {
  server = await startServer(['--bots', '0', '--tls-cert', cert, '--tls-key', key]);
  const base = server.base.replace('http://127.0.0.1', 'https://localhost');
  const h1 = await measure(base, false);
  const h2 = await measure(base, true);
  const waitMs = POLL_WAIT_S * 1000;
  for (const [name, run] of [['HTTP/1.1', h1], ['HTTP/2', h2]]) {
    const r = /** @type {typeof h1} */ (run);
    const live = r.feeds.atHold.filter((t) => t !== null).length;
    const late = r.feeds.opened.slice(live).map((t) => (t === null ? 'never' : `${t - r.feeds.closedAt} ms after 4 closed`));
    const sorted = [...r.polls].sort((a, b) => a - b);
    console.log(
      `| ${name} (${r.protocol}) | ${live} of ${OPEN} feeds open at ${HOLD_MS} ms ` +
        `(first in ${Math.min(...r.feeds.atHold.filter((t) => t !== null).map(Number))} ms` +
        `${late.length ? `; the rest ${late.join(', ')}` : ''}) ` +
        `| polls answered at ${sorted.join(', ')} ms (wait ${waitMs} ms) |`,
    );
  }
  check(h1.protocol === 'http/1.1', `Chromium with --disable-http2 spoke ${h1.protocol}`);
  check(h2.protocol === 'h2', `Chromium spoke ${h2.protocol} by ALPN`);
  const h1Live = h1.feeds.atHold.filter((t) => t !== null).length;
  check(h1Live === PER_HOST, `HTTP/1.1: ${h1Live} of ${OPEN} feeds open, the rest stall`);
  check(
    h1.feeds.opened.every((t) => t !== null && (t < HOLD_MS || t >= h1.feeds.closedAt)),
    'HTTP/1.1: a stalled feed opens only once another is closed',
  );
  const h1Late = h1.polls.filter((t) => t >= 2 * waitMs - 200).length;
  check(h1Late === OPEN - PER_HOST, `HTTP/1.1: ${h1Late} polls waited for a free connection (two waits)`);
  check(h2.feeds.atHold.every((t) => t !== null), `HTTP/2: all ${OPEN} feeds open at once`);
  check(h2.polls.every((t) => t < 2 * waitMs - 200), `HTTP/2: all ${OPEN} polls answered after one wait`);
} catch (err) {
  console.log(`FAIL ${err instanceof Error ? err.stack : err}`);
  failed++;
} finally {
  await stopServer(server);
  rmSync(dir, { recursive: true, force: true });
}
console.log(failed ? `${failed} failed` : 'all passed');
process.exitCode = failed ? 1 : 0;
