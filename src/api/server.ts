/**
 * The Docker Engine API server: HTTP/1.1 on unix sockets (0660 root:GROUP, the docker group by
 * default when it exists, else 0600) and TCP (loopback, or any address with TLS; plain on a public
 * address only when asked). TLS as dockerd's: a server certificate, and with `verify` a client
 * certificate signed by the CA. A thin adapter over the engine: containers belong to their
 * monitors, so a server that dies loses none.
 *
 * Robustness: request bodies are read before their handler runs, bounded in size (413) and time
 * (408), and checked against their Go types (400 naming the field); streamed bodies (build, load,
 * import, archive upload) and hijacked connections (attach, exec) are exempt. Headers must arrive
 * within `headersTimeoutMs`, which also closes connections that never send a request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { chmodSync, chownSync, existsSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { BerthError } from '../lib/index.js';
import type { EngineCore } from '../engine/index.js';
import { handleUpgrade } from './attach.js';
import { answering, ApiError, COMMON_HEADERS, parseJSON, preloadBody, sendError, setParsed, splitVersion, type BodyLimits } from './http.js';
import { ROUTES } from './routes.js';
import { bodySchema, checkBody } from './schema.js';

/** node:https (and tls under it), loaded only for a TLS listener: a server without one keeps them out of memory. */
const httpsModule = (): typeof import('node:https') => createRequire(import.meta.url)('node:https') as typeof import('node:https');

export type Listen = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number; loopback: boolean };

/** PEM files, as dockerd's --tlscacert/--tlscert/--tlskey; `verify` requires client certificates signed by `ca`. */
export interface TlsFiles { ca?: string; cert: string; key: string; verify: boolean }

export interface ServeOptions {
  /** TLS on the TCP listeners */
  tls?: TlsFiles;
  /** the unix sockets' group (name or gid); default docker when it exists */
  group?: string;
  body?: Partial<BodyLimits>;
  /** request headers must arrive within this (default 60 s) */
  headersTimeoutMs?: number;
}

/** BERTH_API_DEBUG=1: one line per request on stderr. */
const DEBUG = !!process.env.BERTH_API_DEBUG;

const usage = (message: string) => new BerthError({ kind: 'usage', op: 'serve', message });

/** `-H unix:///path` or `-H tcp://host:port`; a non-loopback TCP address needs TLS or `allowPublic`. */
export function parseHost(h: string, allowPublic = false): Listen {
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
  if (!loopback && !allowPublic) {
    throw usage(`refusing to listen on ${h} without TLS: the API gives root on this machine to anyone who reaches it; use --tlsverify, loopback or a unix socket (or pass --insecure-tcp)`);
  }
  return { kind: 'tcp', host, port, loopback };
}

/** The unix sockets' group id: `group` (a name or a number; it must exist), else docker's when it exists. */
export function socketGroup(group?: string): number | undefined {
  if (group !== undefined && /^\d+$/.test(group)) return Number(group);
  const name = group ?? 'docker';
  let lines: string[] = [];
  try { lines = readFileSync('/etc/group', 'utf8').split('\n'); } catch { /* no group database */ }
  const gid = Number(lines.find((l) => l.startsWith(`${name}:`))?.split(':')[2] ?? NaN);
  if (Number.isInteger(gid)) return gid;
  if (group !== undefined) throw usage(`group ${group} not found (--group)`);
  return undefined;
}

/** Requests whose body is a stream the handler consumes itself, or whose connection is hijacked. */
const STREAMED: Array<[string, RegExp]> = [
  ['POST', /^\/build$/], ['POST', /^\/images\/load$/], ['POST', /^\/images\/create$/], ['PUT', /^\/containers\/[^/]+\/archive$/],
  ['POST', /^\/containers\/[^/]+\/attach$/], ['POST', /^\/(session|grpc)$/],
];

async function dispatch(core: EngineCore, req: IncomingMessage, res: ServerResponse, limits: BodyLimits): Promise<void> {
  for (const [k, v] of Object.entries(COMMON_HEADERS)) res.setHeader(k, v);
  const url = new URL(req.url ?? '/', 'http://berth');
  const { version, path } = splitVersion(url.pathname);
  const method = req.method ?? 'GET';
  answering(res, { method, path, version });
  if (path === '/_ping' && (method === 'GET' || method === 'HEAD')) {
    res.writeHead(200, {
      'Content-Type': 'text/plain; charset=utf-8', 'Builder-Version': '1', 'Docker-Experimental': 'false', Swarm: 'inactive',
      'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache', 'Content-Length': method === 'GET' ? 2 : 0,
    });
    res.end(method === 'GET' ? 'OK' : undefined);
    return;
  }
  const r = ROUTES.find((x) => x.method === method && x.re.test(path));
  if (!r) throw new ApiError(404, 'page not found');
  if (!STREAMED.some(([m, re]) => m === method && re.test(path))) {
    const body = await preloadBody(req, limits);
    const schema = bodySchema(method, path);
    if (schema) setParsed(req, checkBody(parseJSON(body), schema));
  }
  await r.fn({ core, req, version }, res, url.searchParams, r.re.exec(path)!.slice(1).map(decodeURIComponent));
}

/** A client error before any handler (bad request line or headers, headers too slow): JSON as moby's, then close. */
function clientError(err: Error & { code?: string }, socket: Duplex): void {
  if (!socket.writable || err.code === 'ECONNRESET') { socket.destroy(); return; }
  const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_HEADERS_TIMEOUT';
  const [status, text, message] = timeout ? [408, 'Request Timeout', 'timed out waiting for the request headers']
    : err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large', 'request headers too large']
      : [400, 'Bad Request', `malformed HTTP request: ${err.message}`];
  const body = JSON.stringify({ message }) + '\n';
  socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

function tlsOptions(t: TlsFiles): Record<string, unknown> {
  const read = (what: string, p: string) => {
    try { return readFileSync(p); } catch (e) { throw usage(`cannot read the TLS ${what} ${p}: ${(e as Error).message}`); }
  };
  return {
    cert: read('certificate', t.cert), key: read('key', t.key), ca: t.ca ? read('CA certificate', t.ca) : undefined,
    requestCert: t.verify, rejectUnauthorized: t.verify, minVersion: 'TLSv1.2',
    // a hijacked client half-closes (close_notify) after the upgrade and still reads our output
    allowHalfOpen: true,
  };
}

export interface ApiServer {
  servers: Server[];
  close(): Promise<void>;
}

/** Listen on every address; resolves once all listen. */
export async function serve(core: EngineCore, listen: Listen[], opts: ServeOptions = {}): Promise<ApiServer> {
  if (opts.tls?.verify && !opts.tls.ca) throw usage('--tlsverify needs a CA certificate (--tlscacert)');
  const limits: BodyLimits = { maxBytes: 16 << 20, timeoutMs: 60_000, ...opts.body };
  const headersTimeout = opts.headersTimeoutMs ?? 60_000;
  const tls = opts.tls && tlsOptions(opts.tls);
  const gid = listen.some((l) => l.kind === 'unix') ? socketGroup(opts.group) : undefined;
  const servers: Server[] = [];
  const unixPaths: string[] = [];
  const close = async () => {
    await Promise.all(servers.map((s) => new Promise<void>((r) => { s.close(() => r()); s.closeAllConnections(); })));
    for (const p of unixPaths) { try { unlinkSync(p); } catch { /* gone */ } }
  };
  try {
    for (const l of listen) {
      const onRequest = (req: IncomingMessage, res: ServerResponse) => {
        if (DEBUG) {
          const t0 = performance.now();
          process.stderr.write(`berth serve: ${req.method} ${req.url}\n`);
          res.once('close', () => process.stderr.write(`berth serve: ${req.method} ${req.url} -> ${res.statusCode} in ${(performance.now() - t0).toFixed(1)} ms\n`));
        }
        dispatch(core, req, res, limits).catch((err) => sendError(res, err));
      };
      const httpOptions = { maxHeaderSize: 256 << 10, headersTimeout, requestTimeout: 0, connectionsCheckingInterval: Math.min(30_000, headersTimeout / 2) };
      const server: Server = l.kind === 'tcp' && tls ? httpsModule().createServer({ ...httpOptions, ...tls }, onRequest) : createServer(httpOptions, onRequest);
      server.keepAliveTimeout = 30_000;
      server.on('upgrade', (req, socket, head) => {
        if (DEBUG) process.stderr.write(`berth serve: ${req.method} ${req.url} (upgrade)\n`);
        handleUpgrade(core, req, socket, head);
      });
      server.on('clientError', clientError);
      server.on('tlsClientError', (_err, socket) => socket.destroy());
      if (l.kind === 'unix' && existsSync(l.path)) {
        if (!statSync(l.path).isSocket()) throw usage(`${l.path} exists and is not a socket`);
        unlinkSync(l.path);
      }
      // the socket is born 0600 (no window where others may connect), then opened to its group
      const umask = l.kind === 'unix' ? process.umask(0o177) : undefined;
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          if (l.kind === 'unix') server.listen(l.path, () => resolve());
          else server.listen(l.port, l.host, () => resolve());
        });
      } finally {
        if (umask !== undefined) process.umask(umask);
      }
      servers.push(server);
      // an accept failure (EMFILE…) is the listener's problem, not a reason to die
      server.on('error', (e) => process.stderr.write(`berth serve: ${e.message}\n`));
      if (l.kind === 'unix') {
        unixPaths.push(l.path);
        if (gid !== undefined) { chownSync(l.path, 0, gid); chmodSync(l.path, 0o660); }
      }
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { servers, close };
}
