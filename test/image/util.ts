/** Helpers of the image tests: temp data roots, contexts, a fault-injecting proxy, skopeo JSON. */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeContext, type ImageContext } from '../../src/image/index.js';
import type { Credentials } from '../../src/image/registry/index.js';
import { skopeo } from '../helpers/registry.js';

export function tempRoot(prefix = 'berth-img-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A context on a fresh root with fixed credentials (never the user's docker config). */
export function makeContext(root: string, creds?: Credentials, extra: Partial<ImageContext> = {}): ImageContext {
  return { root, credentials: { get: async () => creds }, retryDelayMs: 20, ...extra };
}

export async function withRoot(fn: (root: string, ctx: ImageContext) => Promise<void>, creds?: Credentials, extra: Partial<ImageContext> = {}): Promise<void> {
  const root = tempRoot();
  const ctx = makeContext(root, creds, extra);
  try {
    await fn(root, ctx);
  } finally {
    await closeContext(ctx);
    rmSync(root, { recursive: true, force: true });
  }
}

export function listDir(p: string): string[] {
  return existsSync(p) ? readdirSync(p) : [];
}

/** What a root holds: committed blobs, image records, tags, ingests, snapshot dirs. */
export function rootState(root: string): { blobs: string[]; images: string[]; tags: string[]; ingests: string[]; snapshots: string[]; tmp: string[] } {
  return {
    blobs: listDir(join(root, 'content/blobs/sha256')),
    images: listDir(join(root, 'images/by-id')),
    tags: listDir(join(root, 'images/tags')),
    ingests: listDir(join(root, 'content/ingest')),
    snapshots: listDir(join(root, 'snapshots/snapshots')),
    tmp: listDir(join(root, 'snapshots/tmp')),
  };
}

export interface ProxyLog {
  method: string;
  url: string;
  range?: string;
  status?: number;
  /** body bytes passed on so far */
  bytes: number;
}

export interface FaultProxy {
  host: string;
  log: ProxyLog[];
  /** cut the body of the next GET whose URL matches after `bytes` bytes */
  cutNext(match: RegExp, bytes: number): void;
  /** answer matching GETs with a redirect to the upstream (as S3-backed registries do) */
  redirect(match: RegExp): void;
  /** pass the next matching GET body on slowly: `chunk` bytes every `ms` milliseconds */
  throttle(match: RegExp, chunk: number, ms: number): void;
  close(): Promise<void>;
}

/** An HTTP proxy in front of a registry that records requests and can break blob downloads. */
export async function faultProxy(upstream: string): Promise<FaultProxy> {
  const log: ProxyLog[] = [];
  const cuts: { match: RegExp; bytes: number }[] = [];
  const redirects: RegExp[] = [];
  const slow: { match: RegExp; chunk: number; ms: number }[] = [];
  const server = http.createServer((req, res) => {
    const entry: ProxyLog = { method: req.method ?? '', url: req.url ?? '', range: req.headers.range, bytes: 0 };
    log.push(entry);
    if (req.method === 'GET' && redirects.some((r) => r.test(req.url ?? ''))) {
      entry.status = 307;
      res.writeHead(307, { Location: `http://${upstream}${req.url}` });
      res.end();
      return;
    }
    const cutIdx = req.method === 'GET' ? cuts.findIndex((c) => c.match.test(req.url ?? '')) : -1;
    const cut = cutIdx >= 0 ? cuts.splice(cutIdx, 1)[0] : undefined;
    const headers = { ...req.headers }; // keep Host: the registry builds upload Locations from it
    const up = http.request(`http://${upstream}${req.url}`, { method: req.method, headers }, (ur) => {
      entry.status = ur.statusCode;
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      const slIdx = req.method === 'GET' ? slow.findIndex((x) => x.match.test(req.url ?? '')) : -1;
      const sl = slIdx >= 0 ? slow.splice(slIdx, 1)[0] : undefined;
      if (sl) {
        const buf: Buffer[] = [];
        let ended = false;
        ur.on('data', (c: Buffer) => buf.push(c));
        ur.on('end', () => { ended = true; });
        const timer = setInterval(() => {
          let want = sl.chunk;
          while (want > 0 && buf.length) {
            const c = buf[0]!;
            const part = c.subarray(0, want);
            if (part.length === c.length) buf.shift(); else buf[0] = c.subarray(want);
            want -= part.length;
            entry.bytes += part.length;
            res.write(part);
          }
          if (ended && !buf.length) { clearInterval(timer); res.end(); }
        }, sl.ms);
        res.on('close', () => { clearInterval(timer); ur.destroy(); });
        return;
      }
      if (!cut) {
        ur.on('data', (c: Buffer) => { entry.bytes += c.length; });
        ur.pipe(res);
        return;
      }
      let sent = 0;
      ur.on('data', (c: Buffer) => {
        if (sent >= cut.bytes) return;
        const part = c.subarray(0, cut.bytes - sent);
        sent += part.length;
        res.write(part);
        if (sent >= cut.bytes) {
          ur.destroy();
          res.socket?.destroy(); // connection reset mid-body
        }
      });
      ur.on('end', () => res.end());
    });
    up.on('error', () => { res.socket?.destroy(); });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    host: `127.0.0.1:${port}`, log,
    cutNext: (match, bytes) => { cuts.push({ match, bytes }); },
    redirect: (match) => { redirects.push(match); },
    throttle: (match, chunk, ms) => { slow.push({ match, chunk, ms }); },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** `skopeo inspect` (or `--raw`/`--config`) as JSON. */
export async function skopeoJSON(args: string[]): Promise<Record<string, unknown>> {
  return JSON.parse(await skopeo(['inspect', '--tls-verify=false', ...args]));
}
