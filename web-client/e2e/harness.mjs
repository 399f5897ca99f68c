// @ts-check
/**
 * @file What every browser check starts: the real server on a free port
 * (`cargo run`, or the binary named by `SKIRMISH_SERVER`) in its own process
 * group, ready once it logs "listening" and stopped by its process group;
 * and Debian's Chromium (`CHROMIUM`) with the flags that keep it quiet.
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
