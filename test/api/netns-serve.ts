/**
 * `berth serve` inside a throwaway network namespace (`berth-t-<random>`, lo up, nothing else):
 * the server, its containers' monitors, bridges, veths and nftables rules live there and vanish
 * with it. Clients (docker CLI, docker-compose) reach it over its unix socket from anywhere;
 * `sh` runs a command inside the namespace (curl to a published port, say).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxEngine, type BusyboxEngine } from '../helpers/engine.js';
import { BERTH_MAIN, FRONT } from '../helpers/worker.js';
import { run, spawnResult as spawnRun } from '../network/engine-util.js';
import { cannotServe, DOCKER, httpOn } from './util.js';

export interface Result { code: number | null; out: string; err: string }

export interface NsServed extends BusyboxEngine {
  ns: string;
  socket: string;
  /** `docker -H unix://SOCKET ARGS…` */
  docker(args: string[], o?: { input?: string; timeoutMs?: number }): Promise<Result>;
  /** Any command with DOCKER_HOST set (docker-compose, say), in `cwd`. */
  client(cmd: string[], o?: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Result>;
  http(method: string, path: string, body?: unknown): ReturnType<typeof httpOn>;
  /** Run a command in the namespace: stdout (throws on failure unless allowFail). */
  sh(cmd: string[], o?: { allowFail?: boolean }): string;
  /** The server's stderr so far. */
  serverLog(): string;
}

export function cannotServeNet(): string | undefined {
  const why = cannotServe();
  if (why) return why;
  if (!existsSync('/usr/bin/nsenter') && !existsSync('/bin/nsenter')) return 'no nsenter';
  if (!existsSync('/usr/sbin/nft') && !existsSync('/sbin/nft')) return 'no nft';
  if (!existsSync(FRONT)) return `the CLI is not built (${FRONT})`;
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function withNsServer(fn: (s: NsServed) => Promise<void>, o: { bridge?: string } = {}): Promise<void> {
  const name = `berth-t-${randomBytes(3).toString('hex')}`;
  const ns = `/run/netns/${name}`;
  const tmp = mkdtempSync(join(tmpdir(), 'berth-nsserve-'));
  let e: BusyboxEngine | undefined;
  let server: ChildProcess | undefined;
  let log = '';
  try {
    run(['ip', 'netns', 'add', name]);
    run(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
    const resolvConf = join(tmp, 'resolv.conf');
    writeFileSync(resolvConf, 'nameserver 127.0.0.53\n');
    e = await busyboxEngine({ bridge: o.bridge ?? 'none' });
    const env = { ...e.env, BERTH_BRIDGE: o.bridge ?? 'none', BERTH_RESOLV_CONF: resolvConf, BERTH_NO_WORKER: '1' };
    const socket = join(e.runRoot, 'api.sock');
    server = spawn('nsenter', [`--net=${ns}`, '--', process.execPath, BERTH_MAIN, 'serve', '-H', `unix://${socket}`], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    server.stderr!.on('data', (d: Buffer) => { log += d.toString(); if (process.env.BERTH_API_DEBUG) process.stderr.write(d); });
    let up = false;
    for (let i = 0; i < 200 && !up; i++) {
      if (existsSync(socket)) {
        try { up = (await httpOn(socket, 'GET', '/_ping')).status === 200; } catch { /* not yet */ }
      }
      if (server.exitCode !== null) break;
      if (!up) await sleep(50);
    }
    if (!up) throw new Error(`berth serve did not come up: ${log}`);
    const home = join(tmp, 'home');
    const clientEnv = { PATH: process.env.PATH, HOME: home, DOCKER_CONFIG: home, DOCKER_HOST: `unix://${socket}`, COMPOSE_HTTP_TIMEOUT: '120' };
    await fn({
      ...e, ns, socket,
      docker: (args, x = {}) => spawnRun([DOCKER, ...args], clientEnv, x),
      client: (cmd, x = {}) => spawnRun(cmd, { ...clientEnv, ...x.env }, x),
      http: (m, p, b) => httpOn(socket, m, p, b),
      sh: (cmd, x = {}) => run(['nsenter', `--net=${ns}`, '--', ...cmd], x.allowFail),
      serverLog: () => log,
    });
  } finally {
    const t0 = Date.now();
    const lap = (what: string) => { if (process.env.BERTH_API_DEBUG) process.stderr.write(`netns-serve cleanup: ${what} at ${Date.now() - t0} ms\n`); };
    if (server && server.exitCode === null && e) {
      // containers out through the server first (a failed test leaves them running)
      const ids = await spawnRun([DOCKER, '-H', `unix://${join(e.runRoot, 'api.sock')}`, 'ps', '-aq'], { PATH: process.env.PATH, HOME: tmp, DOCKER_CONFIG: tmp }).catch(() => undefined);
      const list = ids?.out.split('\n').filter(Boolean) ?? [];
      if (list.length) await spawnRun([DOCKER, '-H', `unix://${join(e.runRoot, 'api.sock')}`, 'rm', '-f', ...list], { PATH: process.env.PATH, HOME: tmp, DOCKER_CONFIG: tmp }).catch(() => undefined);
      lap('containers removed through the server');
    }
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((r) => server!.once('exit', r));
    }
    lap('server stopped');
    if (e) {
      // containers out from inside the namespace (their links and rules live there)
      const env = { ...e.env, BERTH_BRIDGE: o.bridge ?? 'none', BERTH_NO_WORKER: '1' };
      try {
        const ids = execFileSync('nsenter', [`--net=${ns}`, '--', FRONT, 'ps', '-aq'], { env, encoding: 'utf8' }).split('\n').filter(Boolean);
        if (ids.length) execFileSync('nsenter', [`--net=${ns}`, '--', FRONT, 'rm', '-f', ...ids], { env, stdio: 'ignore' });
      } catch { /* the engine's cleanup removes what is left */ }
      lap('containers removed');
      await e.cleanup();
      lap('engine cleaned up');
    }
    run(['ip', 'netns', 'del', name], true);
    rmSync(tmp, { recursive: true, force: true });
  }
}
