/**
 * `berth serve` on a temp unix socket over a busybox engine (test/helpers/engine.ts), driven by the
 * real docker CLI (/usr/local/bin/docker) and by plain HTTP requests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxEngine, type BusyboxEngine } from '../helpers/engine.js';
import { haveBusybox } from '../helpers/rootfs.js';
import { BERTH_MAIN } from '../helpers/worker.js';

export const DOCKER = '/usr/local/bin/docker';

export interface Served extends BusyboxEngine {
  socket: string;
  server: ChildProcess;
  /** Run `docker -H unix://SOCKET ARGS…`. */
  docker(args: string[], o?: { input?: string; timeoutMs?: number }): Promise<{ code: number | null; out: string; err: string }>;
  /** A plain HTTP request on the socket. */
  http(method: string, path: string, body?: unknown): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>;
  /** Start the server again (after a kill). */
  restart(): Promise<void>;
  /** What the server wrote on stderr so far. */
  serverErr(): string;
}

export function cannotServe(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!existsSync(DOCKER)) return `no docker CLI at ${DOCKER}`;
  if (!existsSync(BERTH_MAIN)) return `the CLI is not built (${BERTH_MAIN})`;
  if (!haveBusybox()) return 'no busybox';
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function httpOn(socket: string, method: string, path: string, body?: unknown): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request({ socketPath: socket, method, path, headers: data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** Split a multiplexed body (logs without follow) into stdout and stderr, checking each frame header. */
export function demuxBuffer(b: Buffer): { out: string; err: string } {
  let out = '';
  let err = '';
  for (let i = 0; i < b.length;) {
    if (b.length - i < 8) throw new Error(`a cut frame header at ${i}`);
    const type = b[i]!;
    if (b[i + 1] || b[i + 2] || b[i + 3]) throw new Error(`a frame header with non-zero padding at ${i}`);
    const len = b.readUInt32BE(i + 4);
    const payload = b.subarray(i + 8, i + 8 + len).toString();
    if (type === 1) out += payload; else if (type === 2) err += payload; else throw new Error(`frame type ${type} at ${i}`);
    i += 8 + len;
  }
  return { out, err };
}

export interface ServeOptions {
  /** more `berth serve` arguments (e.g. another `-H tcp://…` with TLS flags) */
  serveArgs?: string[];
}

/** The resident memory of a process, in bytes. */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

export async function withServer(fn: (s: Served) => Promise<void>, opts: ServeOptions = {}): Promise<void> {
  const e = await busyboxEngine();
  const socket = join(e.runRoot, 'api.sock');
  const dockerConfig = mkdtempSync(join(tmpdir(), 'berth-dockercfg-'));
  let server!: ChildProcess;
  let serverErr = '';
  const start = async () => {
    server = spawn(process.execPath, [BERTH_MAIN, 'serve', '-H', `unix://${socket}`, ...(opts.serveArgs ?? [])], { env: { ...e.env, BERTH_NO_WORKER: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    const from = serverErr.length;
    server.stderr!.on('data', (d: Buffer) => { serverErr += d.toString(); if (process.env.BERTH_API_DEBUG) process.stderr.write(d); });
    for (let i = 0; i < 200; i++) {
      // with more listeners, all are up once it says so (the unix socket may answer before a TCP one listens)
      if (existsSync(socket) && (!opts.serveArgs || serverErr.includes('API listening', from))) {
        try { if ((await httpOn(socket, 'GET', '/_ping')).status === 200) return; } catch { /* not yet */ }
      }
      if (server.exitCode !== null) break;
      await sleep(50);
    }
    throw new Error(`berth serve did not come up: ${serverErr}`);
  };
  const docker: Served['docker'] = (args, o = {}) => new Promise((resolve) => {
    const child = spawn(DOCKER, ['-H', `unix://${socket}`, ...args], { env: { PATH: process.env.PATH, HOME: dockerConfig, DOCKER_CONFIG: dockerConfig }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 30000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out, err }); });
    child.stdin.on('error', () => undefined); // the client may exit without reading its stdin
    child.stdin.end(o.input ?? '');
  });
  try {
    await start();
    await fn({ ...e, socket, server, docker, http: (m, p, b) => httpOn(socket, m, p, b), restart: start, serverErr: () => serverErr });
  } finally {
    if (server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
    }
    rmSync(dockerConfig, { recursive: true, force: true });
    await e.cleanup();
  }
}
