/**
 * What every route of the Docker Engine API shares: the version prefix, moby's JSON errors and
 * headers, query parsing (moby's booleans, filters in map or array form) and request bodies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BerthError } from '../lib/index.js';
import type { EngineCore } from '../engine/index.js';

/** What a route handler gets: the engine and the request. */
export interface ApiContext {
  core: EngineCore;
  req: IncomingMessage;
  /** the API version of the request (1.47 when unversioned) */
  version: string;
}

export const API_VERSION = '1.47';
export const MIN_API_VERSION = '1.24';
export const ENGINE_VERSION = '0.1.0';

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

const cmpVersion = (a: string, b: string): number => {
  const [a1 = 0, a2 = 0] = a.split('.').map(Number);
  const [b1 = 0, b2 = 0] = b.split('.').map(Number);
  return a1 !== b1 ? a1 - b1 : a2 - b2;
};

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

export function sendJSON(res: ServerResponse, status: number, body: unknown): void {
  const data = Buffer.from(JSON.stringify(body) + '\n');
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': data.length });
  res.end(data);
}

export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'Content-Length': 0 });
  res.end();
}

export function sendError(res: ServerResponse, err: unknown): void {
  const status = statusOf(err);
  if (res.headersSent) { res.destroy(); return; }
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

/** The whole request body. */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function readJSON<T>(req: IncomingMessage): Promise<T> {
  const b = await readBody(req);
  if (b.length === 0) return {} as T;
  try { return JSON.parse(b.toString('utf8')) as T; } catch (e) {
    throw new ApiError(400, `invalid JSON: ${(e as Error).message}`);
  }
}

/** One frame of Docker's multiplexed stream (1 stdout, 2 stderr, 3 system error). */
export function frame(stream: number, data: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(data.length, 4);
  return Buffer.concat([h, data]);
}
