/**
 * What every route of the Docker Engine API shares: the version prefix, moby's JSON errors and
 * headers, query parsing (moby's booleans, filters in map or array form) and request bodies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BerthError, DEFAULT_DETACH_KEYS, parseDetachKeys } from '../lib/index.js';
import type { EngineCore } from '../engine/index.js';
import { adaptBody, API_VERSION, cmpVersion, ENGINE_VERSION, MIN_API_VERSION, type Answering } from './version.js';

export { API_VERSION, ENGINE_VERSION, MIN_API_VERSION };

/** What a route handler gets: the engine and the request. */
export interface ApiContext {
  core: EngineCore;
  req: IncomingMessage;
  /** the API version of the request (1.47 when unversioned) */
  version: string;
}

/** The headers moby's middleware puts on every response. */
export const COMMON_HEADERS: Readonly<Record<string, string>> = {
  'Api-Version': API_VERSION,
  Ostype: 'linux',
  Server: `Docker/${ENGINE_VERSION}-berth (linux)`,
};

/** An error with its HTTP status, sent as `{"message": …}`. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

/** Split `/v1.47/containers/json` into the version (1.47 when absent) and the route path. */
export function splitVersion(pathname: string): { version: string; path: string } {
  const m = /^\/v([0-9.]+)(\/.*)$/.exec(pathname);
  if (!m) return { version: API_VERSION, path: pathname };
  const version = m[1]!;
  if (cmpVersion(version, MIN_API_VERSION) < 0) {
    throw new ApiError(400, `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
  }
  if (cmpVersion(version, API_VERSION) > 0) {
    throw new ApiError(400, `client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
  }
  return { version, path: m[2]! };
}

/** The HTTP status for an engine error, as moby's errdefs map them. */
export function statusOf(err: unknown): number {
  if (err instanceof ApiError) return err.status;
  if (err instanceof BerthError) {
    switch (err.kind) {
      case 'notfound': return 404;
      case 'conflict': return 409;
      case 'usage': case 'invalid': return 400;
      default: return 500;
    }
  }
  return 500;
}

/** The message without berth's CLI prefix (`berth: `). */
export function messageOf(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.replace(/^berth: /, '');
}

/** The request each response answers (set by the server), for the version's answer shapes. */
const ANSWERING = new WeakMap<ServerResponse, Answering>();
export const answering = (res: ServerResponse, a: Answering): void => { ANSWERING.set(res, a); };

export function sendJSON(res: ServerResponse, status: number, body: unknown): void {
  const a = ANSWERING.get(res);
  const data = Buffer.from(JSON.stringify(a && status < 300 ? adaptBody(a, body) : body) + '\n');
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': data.length });
  res.end(data);
}

export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'Content-Length': 0 });
  res.end();
}

/**
 * Close a connection whose client may still be sending: stop writing, discard what arrives for a
 * second (closing at once with unread bytes resets a TCP connection, losing our answer), then close.
 */
function lingeringClose(req: IncomingMessage): void {
  const socket = req.socket;
  req.resume();
  socket.end();
  setTimeout(() => socket.destroy(), 1000).unref();
}

export function sendError(res: ServerResponse, err: unknown): void {
  const status = statusOf(err);
  if (res.headersSent) { res.destroy(); return; }
  // the request's body was not read to its end: this connection cannot carry another request
  if (status === 408 || status === 413) {
    res.setHeader('Connection', 'close');
    res.once('finish', () => lingeringClose(res.req));
  }
  sendJSON(res, status, { message: messageOf(err) || `error ${status}` });
}

/** moby's boolean: false for '', 0, no, false, none; `dflt` when absent. */
export function qBool(q: URLSearchParams, key: string, dflt = false): boolean {
  const v = q.get(key);
  if (v === null) return dflt;
  return !['', '0', 'no', 'false', 'none'].includes(v.toLowerCase());
}

export function qInt(q: URLSearchParams, key: string): number | undefined {
  const v = q.get(key);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new ApiError(400, `invalid value for ${key}: ${JSON.stringify(v)}`);
  return n;
}

/** `filters=` as key -> values, from `{"k":{"v":true}}` or `{"k":["v"]}`. */
export function qFilters(q: URLSearchParams): Record<string, string[]> {
  const raw = q.get('filters');
  if (!raw) return {};
  let parsed: unknown;
  try { parsed = JSON.parse(raw); } catch { throw new ApiError(400, `invalid filter: ${raw}`); }
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries((parsed ?? {}) as Record<string, unknown>)) {
    if (Array.isArray(v)) out[k] = v.map(String);
    else if (v && typeof v === 'object') out[k] = Object.entries(v).filter(([, on]) => on).map(([x]) => x);
    else throw new ApiError(400, `invalid filter: ${raw}`);
  }
  return out;
}

/** Bodies the server read before the handler ran (`preloadBody`), and their checked JSON. */
const BODIES = new WeakMap<IncomingMessage, Buffer>();
const PARSED = new WeakMap<IncomingMessage, unknown>();

export interface BodyLimits {
  /** bytes (default 16 MiB) */
  maxBytes: number;
  /** the whole body must arrive within this (default 60 s) */
  timeoutMs: number;
}

/**
 * Read a (non-streaming) request body before its handler runs, bounded in size and time: a
 * client that announces or sends more than `maxBytes` gets a 413, one that never finishes a 408.
 */
export function preloadBody(req: IncomingMessage, limits: BodyLimits): Promise<Buffer> {
  const announced = Number(req.headers['content-length'] ?? 0);
  if (announced > limits.maxBytes) {
    return Promise.reject(new ApiError(413, `request body too large: ${announced} bytes, the limit is ${limits.maxBytes}`));
  }
  if (announced === 0 && !req.headers['transfer-encoding']) {
    BODIES.set(req, Buffer.alloc(0));
    return Promise.resolve(Buffer.alloc(0));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err?: Error) => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', finish).off('aborted', onAborted);
      if (err) { req.pause(); reject(err); return; }
      const b = Buffer.concat(chunks);
      BODIES.set(req, b);
      resolve(b);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limits.maxBytes) finish(new ApiError(413, `request body too large: more than ${limits.maxBytes} bytes`));
      else chunks.push(c);
    };
    const onEnd = () => finish();
    const onAborted = () => finish(new ApiError(400, 'the client closed the connection before the end of its request body'));
    const timer = setTimeout(() => finish(new ApiError(408, `timed out reading the request body (${limits.timeoutMs / 1000} s)`)), limits.timeoutMs);
    req.on('data', onData).on('end', onEnd).on('error', finish).on('aborted', onAborted);
  });
}

/** Remember the checked JSON of a preloaded body (`readJSON` returns it). */
export const setParsed = (req: IncomingMessage, v: unknown): void => { PARSED.set(req, v); };

/** The whole request body. */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const pre = BODIES.get(req);
  if (pre) return pre;
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The body as JSON: moby's `invalid JSON: …` (400) when it is not. */
export function parseJSON(b: Buffer): unknown {
  if (b.length === 0) return {};
  try { return JSON.parse(b.toString('utf8')); } catch (e) {
    throw new ApiError(400, `invalid JSON: ${(e as Error).message}`);
  }
}

export async function readJSON<T>(req: IncomingMessage): Promise<T> {
  if (PARSED.has(req)) return PARSED.get(req) as T;
  return (parseJSON(await readBody(req)) ?? {}) as T;
}

/** One frame of Docker's multiplexed stream (1 stdout, 2 stderr, 3 system error). */
export function frame(stream: number, data: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(data.length, 4);
  return Buffer.concat([h, data]);
}

/** The detach keys of an attach or exec (else Docker's ctrl-p,ctrl-q); a malformed spec is a 400. */
export function detachKeysOf(spec: string | null | undefined): Buffer {
  try {
    return parseDetachKeys(spec || DEFAULT_DETACH_KEYS);
  } catch (e) {
    throw new ApiError(400, (e as Error).message);
  }
}
