/** HTTP(S) requests over Node's http/https with keep-alive, timeouts and redirects. */
import type http from 'node:http';
import type https from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';

// Loaded on first use: a command that never talks to a registry (run, ps, …) does not pay for
// http/https/tls at start-up.
const load = createRequire(import.meta.url);
let httpMod: typeof http | undefined;
let httpsMod: typeof https | undefined;
const httpLib = () => (httpMod ??= load('node:http') as typeof http);
const httpsLib = () => (httpsMod ??= load('node:https') as typeof https);
import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import { BerthError } from '../../lib/index.js';

export interface TlsOptions {
  ca?: string[];
  cert?: string;
  key?: string;
  rejectUnauthorized?: boolean;
}

export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: Buffer | string | Readable;
  tls?: TlsOptions;
  /** idle timeout of the socket in ms (default 60 s) */
  timeoutMs?: number;
  /** follow redirects for GET/HEAD (default true) */
  followRedirects?: boolean;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** final URL after redirects */
  url: string;
  body: IncomingMessage;
}

let httpAgentCache: http.Agent | undefined;
const httpAgent = () => (httpAgentCache ??= new (httpLib().Agent)({ keepAlive: true, maxSockets: 32 }));
const httpsAgents = new Map<string, https.Agent>();

/** Agents take their TLS options from their own construction, so each distinct CA list gets its own. */
const caIds = new WeakMap<string[], number>();
let nextCaId = 1;

function idOf(ca: string[] | undefined): number {
  if (!ca) return 0;
  let id = caIds.get(ca);
  if (!id) caIds.set(ca, (id = nextCaId++));
  return id;
}

function agentFor(url: URL, tls?: TlsOptions): http.Agent {
  if (url.protocol === 'http:') return httpAgent();
  const key = `${url.host}|${tls?.rejectUnauthorized === false ? 'insecure' : 'verify'}|${idOf(tls?.ca)}|${tls?.cert ?? ''}`;
  let a = httpsAgents.get(key);
  if (!a) {
    a = new (httpsLib().Agent)({ keepAlive: true, maxSockets: 32, ca: tls?.ca, cert: tls?.cert, key: tls?.key, rejectUnauthorized: tls?.rejectUnauthorized !== false });
    httpsAgents.set(key, a);
  }
  return a;
}

/** Close idle keep-alive sockets (lets a short-lived process exit promptly). */
export function closeIdleConnections(): void {
  httpAgentCache?.destroy();
  httpAgentCache = undefined;
  for (const a of httpsAgents.values()) a.destroy();
  httpsAgents.clear();
}

export function networkError(op: string, method: string, url: string, err: unknown): BerthError {
  if (err instanceof BerthError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  return new BerthError({ kind: 'remote', op, code, message: `${op}: ${method} ${url}: ${e?.message ?? String(err)}`, cause: err });
}

/** Is this a connection-level failure worth retrying (reset, timeout, refused while restarting)? */
export function isTransient(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return ['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED', 'EAI_AGAIN', 'ECONNREFUSED', 'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code ?? '')
    || /socket hang up|aborted|premature close|timed out/i.test((err as Error)?.message ?? '');
}

function once(req: HttpRequest, url: URL, op: string): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? httpsLib() : httpLib();
    const headers: Record<string, string> = { 'User-Agent': 'berth/0.1', ...req.headers };
    const body = req.body;
    if (Buffer.isBuffer(body) || typeof body === 'string') headers['Content-Length'] = String(Buffer.byteLength(body));
    const r = mod.request(url, {
      method: req.method, headers, agent: agentFor(url, req.tls), signal: req.signal,
      ...(url.protocol === 'https:' ? { ca: req.tls?.ca, cert: req.tls?.cert, key: req.tls?.key, rejectUnauthorized: req.tls?.rejectUnauthorized !== false, ...(isIP(url.hostname.replace(/^\[|\]$/g, '')) ? {} : { servername: url.hostname }) } : {}),
    });
    const timeout = req.timeoutMs ?? 60_000;
    r.setTimeout(timeout, () => r.destroy(Object.assign(new Error(`no response for ${timeout / 1000}s (timed out)`), { code: 'ETIMEDOUT' })));
    r.on('error', (err) => reject(networkError(op, req.method, url.href, err)));
    r.on('response', (res) => {
      res.setTimeout?.(timeout, () => res.destroy(Object.assign(new Error(`no data for ${timeout / 1000}s (timed out)`), { code: 'ETIMEDOUT' })));
      resolve({ status: res.statusCode ?? 0, headers: res.headers, url: url.href, body: res });
    });
    if (body instanceof Readable) {
      body.on('error', (err) => r.destroy(err));
      body.pipe(r);
    } else {
      r.end(body);
    }
  });
}

/** Send a request; GET/HEAD follow up to 10 redirects (Authorization is dropped when the host changes). */
export async function httpRequest(req: HttpRequest, op: string): Promise<HttpResponse> {
  let url = new URL(req.url);
  const origin = url.origin;
  let headers = { ...req.headers };
  const follow = req.followRedirects ?? (req.method === 'GET' || req.method === 'HEAD');
  for (let hops = 0; ; hops++) {
    const res = await once({ ...req, headers, tls: url.origin === origin ? req.tls : { ca: req.tls?.ca } }, url, op);
    if (!follow || ![301, 302, 303, 307, 308].includes(res.status) || !res.headers.location) return res;
    drain(res);
    if (hops >= 10) throw new BerthError({ kind: 'remote', op, message: `${op}: ${req.method} ${req.url}: too many redirects` });
    const next = new URL(res.headers.location, url);
    if (next.protocol !== 'https:' && next.protocol !== 'http:') throw new BerthError({ kind: 'remote', op, message: `${op}: redirect to unsupported URL ${next.href}` });
    if (next.origin !== origin) {
      headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
    }
    url = next;
  }
}

/** Discard a response body (keeps the keep-alive connection usable). */
export function drain(res: HttpResponse): void {
  res.body.on('error', () => {});
  res.body.resume();
}

/** Read a whole (small) body, refusing more than `limit` bytes. */
export async function readBody(res: HttpResponse, limit: number, op: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of res.body) {
      n += (c as Buffer).length;
      if (n > limit) {
        res.body.destroy();
        throw new BerthError({ kind: 'remote', op, message: `${op}: response from ${res.url} is larger than ${limit} bytes` });
      }
      chunks.push(c as Buffer);
    }
  } catch (err) {
    throw networkError(op, 'GET', res.url, err);
  }
  return Buffer.concat(chunks);
}

/** A short text of an error response, for messages (registry JSON errors are summarised). */
export async function errorText(res: HttpResponse, op: string): Promise<string> {
  let text = '';
  try {
    text = (await readBody(res, 64 * 1024, op)).toString('utf8');
  } catch { /* ignore */ }
  try {
    const j = JSON.parse(text) as { errors?: { code?: string; message?: string; detail?: unknown }[] };
    if (Array.isArray(j.errors) && j.errors.length) {
      return j.errors.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
    }
  } catch { /* not JSON */ }
  text = text.trim().replace(/\s+/g, ' ');
  return text.length > 200 ? text.slice(0, 200) + '…' : text || `HTTP ${res.status}`;
}
