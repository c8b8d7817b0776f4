/**
 * The Docker Engine API server: HTTP/1.1 on unix sockets (0660 root:docker when that group
 * exists, else 0600) and loopback TCP. A thin adapter over the engine: containers belong to their
 * monitors, so a server that dies loses none.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmodSync, chownSync, existsSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { isIP } from 'node:net';
import { BerthError } from '../lib/index.js';
import type { EngineCore } from '../engine/index.js';
import { handleUpgrade } from './attach.js';
import { ApiError, COMMON_HEADERS, sendError, splitVersion } from './http.js';
import { ROUTES } from './routes.js';

export type Listen = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** BERTH_API_DEBUG=1: one line per request on stderr. */
const DEBUG = !!process.env.BERTH_API_DEBUG;

const usage = (message: string) => new BerthError({ kind: 'usage', op: 'serve', message });

/** `-H unix:///path` or `-H tcp://host:port`; a non-loopback TCP address needs `insecure`. */
export function parseHost(h: string, insecure = false): Listen {
  if (h.startsWith('unix://')) {
    const path = h.slice('unix://'.length);
    if (!path.startsWith('/')) throw usage(`invalid unix socket address: ${h}`);
    return { kind: 'unix', path };
  }
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:/]*):(\d+)$/.exec(h);
  if (!m) throw usage(`invalid listen address: ${h} (want unix:///PATH or tcp://HOST:PORT)`);
  const host = m[1]!.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(m[2]);
  if (port > 65535) throw usage(`invalid port in ${h}`);
  const loopback = host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
  if (!loopback && !insecure) {
    throw usage(`refusing to listen on ${h}: the API gives root on this machine to anyone who reaches it; listen on loopback or a unix socket (or pass --insecure-tcp)`);
  }
  return { kind: 'tcp', host, port };
}

/** The docker group's id, when it exists. */
function dockerGid(): number | undefined {
  try {
    const line = readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.startsWith('docker:'));
    const gid = line ? Number(line.split(':')[2]) : NaN;
    return Number.isInteger(gid) ? gid : undefined;
  } catch { return undefined; }
}

async function dispatch(core: EngineCore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  for (const [k, v] of Object.entries(COMMON_HEADERS)) res.setHeader(k, v);
  const url = new URL(req.url ?? '/', 'http://berth');
  const { version, path } = splitVersion(url.pathname);
  if (path === '/_ping' && (req.method === 'GET' || req.method === 'HEAD')) {
    res.writeHead(200, {
      'Content-Type': 'text/plain; charset=utf-8', 'Builder-Version': '1', 'Docker-Experimental': 'false', Swarm: 'inactive',
      'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache', 'Content-Length': req.method === 'GET' ? 2 : 0,
    });
    res.end(req.method === 'GET' ? 'OK' : undefined);
    return;
  }
  for (const r of ROUTES) {
    if (r.method !== req.method) continue;
    const m = r.re.exec(path);
    if (!m) continue;
    await r.fn({ core, req, version }, res, url.searchParams, m.slice(1).map(decodeURIComponent));
    return;
  }
  throw new ApiError(404, 'page not found');
}

export interface ApiServer {
  servers: Server[];
  close(): Promise<void>;
}

/** Listen on every address; resolves once all listen. */
export async function serve(core: EngineCore, listen: Listen[]): Promise<ApiServer> {
  const servers: Server[] = [];
  const unixPaths: string[] = [];
  for (const l of listen) {
    const server = createServer((req, res) => {
      if (DEBUG) process.stderr.write(`berth serve: ${req.method} ${req.url}\n`);
      dispatch(core, req, res).catch((err) => sendError(res, err));
    });
    server.requestTimeout = 0;
    server.keepAliveTimeout = 30_000;
    server.on('upgrade', (req, socket, head) => {
      if (DEBUG) process.stderr.write(`berth serve: ${req.method} ${req.url} (upgrade)\n`);
      handleUpgrade(core, req, socket, head);
    });
    server.on('clientError', (_err, socket) => { if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'); });
    if (l.kind === 'unix' && existsSync(l.path)) {
      if (!statSync(l.path).isSocket()) throw usage(`${l.path} exists and is not a socket`);
      unlinkSync(l.path);
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (l.kind === 'unix') server.listen(l.path, () => resolve());
      else server.listen(l.port, l.host, () => resolve());
    });
    if (l.kind === 'unix') {
      const gid = dockerGid();
      if (gid !== undefined) { chownSync(l.path, 0, gid); chmodSync(l.path, 0o660); } else chmodSync(l.path, 0o600);
      unixPaths.push(l.path);
    }
    servers.push(server);
  }
  return {
    servers,
    async close() {
      await Promise.all(servers.map((s) => new Promise<void>((r) => { s.close(() => r()); s.closeAllConnections(); })));
      for (const p of unixPaths) { try { unlinkSync(p); } catch { /* gone */ } }
    },
  };
}
