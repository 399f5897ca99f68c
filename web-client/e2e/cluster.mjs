// @ts-check
/**
 * @file A cluster for the browser end to end: Debian's `redis-server`, three
 * real server nodes, and Debian's `nginx` in front of them running the
 * shipped `deploy/nginx/skirmish.conf` (round robin, no stickiness, one
 * `/node/<id>/` path per node, which each node's `--public-url` names). Only
 * what an operator writes for their own cluster is generated: the nodes'
 * addresses (in `skirmish-nodes.conf`'s form), the listen line, and a main
 * config keeping nginx's files in a temp dir; as every test client is
 * 127.0.0.1, the per-client edge limits are raised. nginx runs in the
 * foreground as one process and everything is killed by its pid.
 * `scripts/test.sh` installs redis-server and nginx when missing.
 */

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SHIPPED = fileURLToPath(new URL('../../deploy/nginx/skirmish.conf', import.meta.url));
/** Milliseconds redis, nginx and the nodes' leases may take to be ready. */
const READY_MS = 30000;

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** @returns {Promise<number>} a loopback port free now */
async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {net.AddressInfo} */ (server.address());
  await new Promise((resolve) => server.close(() => resolve(undefined)));
  return port;
}

/**
 * The binary `name` on PATH, or in /usr/sbin (not on a non-root PATH); null
 * when neither runs.
 * @param {string} name
 * @param {string} flag a harmless flag it accepts
 */
function binary(name, flag) {
  for (const candidate of [name, `/usr/sbin/${name}`]) {
    if (!spawnSync(candidate, [flag], { stdio: 'ignore' }).error) return candidate;
  }
  return null;
}

/**
 * Resolves once `port` accepts a connection, or rejects past `READY_MS`.
 * @param {number} port
 * @param {import('node:child_process').ChildProcess} proc dies first: reject
 * @param {() => string} why what to show when it fails
 */
async function listening(port, proc, why) {
  const end = Date.now() + READY_MS;
  for (;;) {
    const up = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) return;
    if (proc.exitCode !== null || Date.now() > end) throw new Error(`not listening on ${port}: ${why()}`);
    await sleep(50);
  }
}

/**
 * nginx's files for `nodes` behind port `port`, written to `dir`.
 * @param {string} dir
 * @param {number} port
 * @param {{ id: string, addr: string }[]} nodes
 */
function writeNginxConfig(dir, port, nodes) {
  const upstreams = [
    'upstream skirmish {',
    ...nodes.map((n) => `    server ${n.addr} max_fails=1 fail_timeout=10s;`),
    '    keepalive 64;',
    '}',
    ...nodes.map((n) => `upstream skirmish_node_${n.id} { server ${n.addr}; keepalive 16; }`),
    'map $skirmish_node $skirmish_node_upstream {',
    '    default "";',
    ...nodes.map((n) => `    ${n.id} skirmish_node_${n.id};`),
    '}',
  ];
  writeFileSync(join(dir, 'skirmish-nodes.conf'), `${upstreams.join('\n')}\n`);
  const shipped = readFileSync(SHIPPED, 'utf8');
  if (shipped.split('    listen 80;\n').length !== 2) throw new Error('deploy/nginx/skirmish.conf: expected one "listen 80;" line');
  const config = shipped
    .replace('    listen 80;\n', `    listen 127.0.0.1:${port};\n`)
    .replace('limit_conn skirmish_conn 512;', 'limit_conn skirmish_conn 4096;')
    .replace('rate=10r/s', 'rate=1000r/s');
  writeFileSync(join(dir, 'skirmish.conf'), config);
  const main = [
    'master_process off;',
    'worker_processes 1;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    'events { worker_connections 4096; }',
    'http {',
    '    access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `    ${t}_temp_path ${dir}/${t};`),
    `    include ${dir}/skirmish-nodes.conf;`,
    `    include ${dir}/skirmish.conf;`,
    '}',
  ];
  writeFileSync(join(dir, 'nginx.conf'), `${main.join('\n')}\n`);
}

/**
 * @typedef {object} Cluster
 * @property {string} base http://127.0.0.1:PORT, nginx
 * @property {string[]} ids the node ids
 * @property {() => Promise<void>} stop
 * @property {(id: string) => Promise<void>} kill SIGKILLs node `id` (its
 *   process group, by pid: a crash, no goodbye to the cluster) and waits
 *   for it to exit
 */

/**
 * Starts redis, three nodes (with `startServer`, given the node flags) and
 * nginx; null, with the reason printed, when redis-server or nginx is not
 * installed.
 * @param {(args: string[]) => Promise<{ base: string, proc: import('node:child_process').ChildProcess }>} startServer
 * @param {(server: any) => Promise<void>} stopServer
 * @param {string[]} extra flags for every node
 * @returns {Promise<Cluster | null>}
 */
export async function startCluster(startServer, stopServer, extra) {
  const redisBin = binary('redis-server', '--version');
  const nginxBin = binary('nginx', '-v');
  if (!redisBin || !nginxBin) {
    console.log(`# SKIPPED the cluster checks: ${redisBin ? '' : 'redis-server '}${nginxBin ? '' : 'nginx '}not installed (scripts/test.sh installs them)`);
    return null;
  }
  const dir = mkdtempSync(join(tmpdir(), 'skirmish-e2e-cluster-'));
  /** @type {import('node:child_process').ChildProcess[]} */
  const procs = [];
  /** @type {any[]} */
  const servers = [];
  const stop = async () => {
    for (const proc of procs) if (proc.exitCode === null) proc.kill('SIGKILL');
    await Promise.all(servers.map(stopServer));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const redisPort = await freePort();
    const redis = spawn(redisBin, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    procs.push(redis);
    await listening(redisPort, redis, () => 'redis-server exited');

    const port = await freePort();
    const ids = ['a', 'b', 'c'];
    const started = await Promise.all(
      ids.map((id) =>
        startServer([
          '--redis', `redis://127.0.0.1:${redisPort}`,
          '--redis-prefix', 'e2e',
          '--node-id', id,
          '--public-url', `http://127.0.0.1:${port}/node/${id}`,
          '--lease-refresh-ms', '500',
          '--lease-ttl-ms', '2000',
          // Every client reaches the nodes from nginx's address.
          '--max-connections-per-ip', '4096',
          '--matchmakes-per-sec', '1000',
          '--new-rooms-per-ip-per-min', '1000',
          ...extra,
        ]),
      ),
    );
    servers.push(...started);
    const nodes = started.map((s, i) => ({ id: ids[i], addr: new URL(s.base).host }));
    writeNginxConfig(dir, port, nodes);
    const nginx = spawn(nginxBin, ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    procs.push(nginx);
    /** @type {string[]} */
    const nginxErr = [];
    nginx.stderr?.on('data', (chunk) => nginxErr.push(String(chunk)));
    await listening(port, nginx, () => nginxErr.join(''));
    const base = `http://127.0.0.1:${port}`;
    // Every node holds its lease before the browser comes.
    const end = Date.now() + READY_MS;
    for (const id of ids) {
      while ((await fetch(`${base}/node/${id}/readyz`).then((r) => r.status, () => 0)) !== 200) {
        if (Date.now() > end) throw new Error(`node ${id} never ready`);
        await sleep(100);
      }
    }
    /** @param {string} id */
    const kill = async (id) => {
      const { proc } = started[ids.indexOf(id)];
      const gone = new Promise((resolve) => proc.once('exit', resolve));
      process.kill(-(/** @type {number} */ (proc.pid)), 'SIGKILL');
      await gone;
    };
    return { base, ids, stop, kill };
  } catch (err) {
    await stop();
    throw err;
  }
}
