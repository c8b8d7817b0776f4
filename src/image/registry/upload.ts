/**
 * Blob upload: existence check (HEAD), cross-repository mount (POST ?mount=&from=), monolithic
 * (POST + PUT ?digest=) and chunked (PATCH with Content-Range, then PUT ?digest=) uploads.
 */
import type { Readable } from 'node:stream';
import { BerthError } from '../../lib/index.js';
import type { Descriptor } from '../manifest.js';
import { repoScope } from './auth.js';
import type { EndpointState, RegistryClient } from './client.js';
import { drain } from './http.js';

export interface UploadOptions {
  /** repository of the same registry that may already hold the blob (tried as a mount) */
  mountFrom?: string;
  /** chunk size for PATCH uploads; 0 = monolithic PUT (default) */
  chunkSize?: number;
  /** open the blob's bytes from `start` to `end` (inclusive) */
  open: (start: number, end: number) => Readable;
  onProgress?: (bytes: number) => void;
}

export type UploadResult = 'exists' | 'mounted' | 'uploaded';

function pushEndpoint(client: RegistryClient): EndpointState {
  return client.endpoints('push').at(-1)!;
}

/** Does the repository already have this blob? */
export async function blobExists(client: RegistryClient, repo: string, digest: string): Promise<boolean> {
  const op = `push ${client.domain}/${repo}: blob ${digest}`;
  const st = pushEndpoint(client);
  const res = await client.request(st, { method: 'HEAD', path: `${repo}/blobs/${digest}`, scopes: [repoScope(repo, ['pull', 'push'])] }, op);
  drain(res);
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  return client.fail(res, op, `blob ${digest}`);
}

function location(st: EndpointState, client: RegistryClient, loc: string | undefined, op: string): string {
  if (!loc) throw new BerthError({ kind: 'remote', op, message: `${op}: the registry gave no upload Location` });
  return new URL(loc, client.baseURL(st)).href;
}

function withDigest(loc: string, digest: string): string {
  const u = new URL(loc);
  u.searchParams.set('digest', digest);
  return u.href;
}

/** Upload a blob unless present; mounts from `mountFrom` when possible. */
export async function uploadBlob(client: RegistryClient, repo: string, desc: Descriptor, opts: UploadOptions): Promise<UploadResult> {
  const op = `push ${client.domain}/${repo}: blob ${desc.digest}`;
  const st = pushEndpoint(client);
  if (await blobExists(client, repo, desc.digest)) return 'exists';
  const scopes = [repoScope(repo, ['pull', 'push'])];
  let loc: string;
  if (opts.mountFrom && opts.mountFrom !== repo) {
    const res = await client.request(st, {
      method: 'POST', path: `${repo}/blobs/uploads/?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(opts.mountFrom)}`,
      scopes: [...scopes, repoScope(opts.mountFrom, ['pull'])], body: Buffer.alloc(0),
    }, op);
    drain(res);
    if (res.status === 201) return 'mounted';
    if (res.status !== 202) return client.fail(res, op, `mount from ${opts.mountFrom}`);
    loc = location(st, client, res.headers.location, op);
  } else {
    const res = await client.request(st, { method: 'POST', path: `${repo}/blobs/uploads/`, scopes, body: Buffer.alloc(0) }, op);
    if (res.status !== 202) return client.fail(res, op, 'start upload');
    drain(res);
    loc = location(st, client, res.headers.location, op);
  }
  const chunk = opts.chunkSize ?? 0;
  if (chunk <= 0 || desc.size <= chunk) {
    const res = await client.request(st, {
      method: 'PUT', path: withDigest(loc, desc.digest), scopes, retry: false, followRedirects: false,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(desc.size) },
      body: () => counted(opts.open(0, desc.size - 1), opts.onProgress, 0),
    }, op);
    if (res.status !== 201) return client.fail(res, op, 'upload');
    drain(res);
    return 'uploaded';
  }
  for (let start = 0; start < desc.size; start += chunk) {
    const end = Math.min(start + chunk, desc.size) - 1;
    const res = await client.request(st, {
      method: 'PATCH', path: loc, scopes, retry: false, followRedirects: false,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(end - start + 1), 'Content-Range': `${start}-${end}` },
      body: () => counted(opts.open(start, end), opts.onProgress, start),
    }, op);
    if (res.status !== 202) return client.fail(res, op, `upload chunk ${start}-${end}`);
    drain(res);
    loc = location(st, client, res.headers.location ?? loc, op);
  }
  const res = await client.request(st, { method: 'PUT', path: withDigest(loc, desc.digest), scopes, body: Buffer.alloc(0), followRedirects: false }, op);
  if (res.status !== 201) return client.fail(res, op, 'finish upload');
  drain(res);
  return 'uploaded';
}

function counted(r: Readable, onProgress: ((n: number) => void) | undefined, base: number): Readable {
  if (!onProgress) return r;
  let n = base;
  r.on('data', (c: Buffer) => { n += c.length; onProgress(n); });
  return r;
}
